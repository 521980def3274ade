// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 BFG developers
//
// What the integration suites share to talk to a real bfgd or another
// server on loopback: one blocking-with-an-event-loop HTTP call with its
// result, and a free loopback port for servers that cannot take port 0.
#pragma once

#include <QJsonObject>
#include <QList>
#include <QUrl>

class QNetworkAccessManager;

namespace bfg::v1 {
class AssignResponse;
}

namespace bfg::test {

struct HttpCall
{
    QByteArray method = "GET";
    QUrl url;
    QByteArray body;
    QByteArray contentType;   // sent when not empty
    QByteArray authorization; // the whole header value, e.g. "Bearer <key>"; sent when not empty
    QByteArray accept;        // sent when not empty
    QList<std::pair<QByteArray, QByteArray>> headers; // any others
};

struct HttpResult
{
    bool finished = false; // false: no answer within the timeout
    int status = 0;        // 0: no HTTP answer (refused, reset, timeout)
    QByteArray contentType;
    QByteArray retryAfter;
    QByteArray body;

    QJsonObject json() const;
    QString errorCode() const; // error.code of a JSON error body
    QString describe() const;  // for failure messages
};

// GET /v1/assign?user=<user> on `decision` as protobuf until a node is
// assigned (503 until the first node has reported); empty after `timeoutMs`.
bfg::v1::AssignResponse assignUntilReady(QNetworkAccessManager &network, const QUrl &decision,
                                         const QString &user, int timeoutMs = 10000);

// Sends `call` and waits (running the event loop) for the answer.
HttpResult httpCall(QNetworkAccessManager &network, const HttpCall &call, int timeoutMs = 10000);
QByteArray bearer(const QByteArray &key);

// A port that was free on 127.0.0.1 a moment ago (for servers that must be
// told their port: redis-server, postgres).
quint16 freeLoopbackPort();

} // namespace bfg::test
