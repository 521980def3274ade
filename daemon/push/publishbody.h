// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 BFG developers
//
// The body of POST /v1/publish, parsed and checked without a server: JSON
// (one message {"stream", "text" | "payload_b64", "id"} or {"items": [...]})
// or a Protobuf bfg.v1.PublishRequest, then the limits every item must meet.
// PublishApi answers with what it returns; the publish fuzzer feeds it bytes.
#pragma once

#include <vector>

#include <QByteArrayView>
#include <QString>

#include "daemon/broker/broker.h"

namespace bfg {

struct PublishLimits
{
    int maxBatch = 1000;         // items per request
    int maxPayloadBytes = 65024; // per item
    int maxIdChars = 128;
};

// Items to publish, or why the body is refused (an HTTP status, a machine
// code such as "bad_request", and a message for people).
struct PublishBody
{
    std::vector<PublishItem> items;
    bool single = false; // a JSON body with one message, answered without "results"
    int status = 0;      // 0: ok
    QString code;
    QString message;
    bool ok() const { return status == 0; }
};

PublishBody parsePublishBody(QByteArrayView body, bool protobuf, const PublishLimits &limits);

} // namespace bfg
