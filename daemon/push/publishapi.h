// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 BFG developers
//
// POST /v1/publish on a push node: takes one message (JSON) or a batch
// (JSON {"items": [...]} or Protobuf PublishRequest), hands it to the
// broker and answers with each message's sequence number once the broker
// has stored it. Idempotent on the message id. Also GET /v1/health.
#pragma once

#include <map>

#include <QObject>

#include "common/token.h"
#include "common/tokenbucket.h"
#include "daemon/http/httpservice.h"
#include "daemon/metrics/metrichistogram.h"
#include "daemon/push/pushmetrics.h"
#include "daemon/push/pushoptions.h"

class QHttpServerRequest;

namespace bfg {

class Broker;
class HttpReply;
class HttpService;
class MetricsWriter;

class PublishApi : public QObject
{
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(PublishApi)

public:
    PublishApi(const PushOptions &options, Broker *broker, QObject *parent = nullptr);

    bool start(QString *error);
    quint16 port() const { return m_port; }
    HttpService *http() const { return m_http; }

    // For GET /metrics, on this object's (the main) thread: the publish
    // families, and how often the publish limits were hit.
    void writeMetrics(MetricsWriter &writer) const;
    quint64 limitCount(PushLimit limit) const;

    // New settings (a reload): publish keys, secrets, the request rate.
    void reconfigure(const PushOptions &options);

    // Who may publish what: a configured publish key may publish anywhere; a
    // publish token (bfgd --issue-token publish) to the streams it names.
    struct Grant
    {
        bool ok = false;
        HttpError error;     // when !ok
        QStringList streams; // when ok and limited; empty: every stream
        QByteArray who;      // whose request budget it uses: the key, the token's subject or the address
    };

private:
    void publish(const QHttpServerRequest &request, const std::shared_ptr<HttpReply> &reply);
    Grant authorize(const QHttpServerRequest &request) const;
    void refuse(const HttpReplyPtr &reply, const HttpError &error);

    PushOptions m_options;
    TokenSigner m_signer;
    KeyedTokenBuckets m_requests; // push/publish_requests_per_s
    Broker *m_broker;
    HttpService *m_http = nullptr;
    quint16 m_port = 0;

    // Metrics; this thread only, as is the scrape.
    std::map<int, quint64> m_requestsByStatus;
    quint64 m_published = 0;
    quint64 m_duplicates = 0;
    quint64 m_rateLimited = 0;
    quint64 m_payloadTooLarge = 0;
    quint64 m_pending = 0; // handed to the broker, not answered yet
    MetricHistogram m_publishDuration{MetricHistogram::latencyBounds()};
};

} // namespace bfg
