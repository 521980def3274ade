// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 BFG developers
#include "daemon/push/publishapi.h"

#include <QJsonArray>
#include <QJsonObject>

#include "bfg/v1/api.pb.h"
#include "common/logging.h"
#include "common/protocol.h"
#include "daemon/broker/broker.h"
#include "daemon/http/httpservice.h"
#include "daemon/metrics/metricswriter.h"
#include "daemon/push/publishbody.h"
#include "daemon/tls/servertls.h"

using namespace Qt::Literals::StringLiterals;

namespace bfg {

namespace {
QJsonObject resultToJson(const PublishResult &result)
{
    return {{u"stream"_s, result.stream},
            {u"seq"_s, qint64(result.seq)},
            {u"epoch"_s, result.epoch},
            {u"duplicate"_s, result.duplicate}};
}
} // namespace

PublishApi::PublishApi(const PushOptions &options, Broker *broker, QObject *parent)
    : QObject(parent)
    , m_options(options)
    , m_signer(options.secret, options.previousSecrets)
    , m_requests(options.publishRequestsPerSecond, options.publishRequestsPerSecond)
    , m_broker(broker)
{}

bool PublishApi::start(QString *error)
{
    m_http = new HttpService(u"publish"_s, this);
    m_http->setMaxBodyBytes(qint64(m_options.maxPublishBatch) * (m_options.maxFrameBytes + 256));
    m_http->addRoute(QHttpServerRequest::Method::Post, u"/v1/publish"_s,
                     [this](const QHttpServerRequest &request, const QStringList &,
                            const HttpReplyPtr &reply) { publish(request, reply); });
    m_http->addRoute(QHttpServerRequest::Method::Get, u"/v1/health"_s,
                     [this](const QHttpServerRequest &, const QStringList &, const HttpReplyPtr &reply) {
                         reply->sendJson({{u"status"_s, u"ok"_s}, {u"node"_s, m_options.nodeId}});
                     });
    if (m_options.tls)
        m_http->setTls(m_options.tls->qtConfiguration());
    QString listenError;
    m_port = m_http->listen(m_options.httpAddress, m_options.httpPort, &listenError);
    if (m_port == 0) {
        *error = u"publish API: cannot listen on %1:%2: %3"_s.arg(m_options.httpAddress.toString())
                     .arg(m_options.httpPort)
                     .arg(listenError);
        return false;
    }
    if (m_options.publishKeys.isEmpty())
        qCWarning(lcPush) << "publish API is open to anyone who can reach it: set push/publish_keys";
    return true;
}

void PublishApi::reconfigure(const PushOptions &options)
{
    const bool wasOpen = m_options.publishKeys.isEmpty();
    m_options = options;
    m_signer = TokenSigner(options.secret, options.previousSecrets);
    m_requests.configure(options.publishRequestsPerSecond, options.publishRequestsPerSecond);
    if (m_options.tls)
        m_http->setTls(m_options.tls->qtConfiguration());
    if (!wasOpen && m_options.publishKeys.isEmpty())
        qCWarning(lcPush) << "publish API is open to anyone who can reach it: set push/publish_keys";
}

namespace {
PublishApi::Grant refused(HttpError error)
{
    PublishApi::Grant grant;
    grant.error = std::move(error);
    return grant;
}
} // namespace

PublishApi::Grant PublishApi::authorize(const QHttpServerRequest &request) const
{
    const QByteArray header = request.value(QByteArrayLiteral("authorization"));
    if (!header.startsWith("Bearer ")) {
        if (m_options.publishKeys.isEmpty()) // an open API (a warning at start says so)
            return {true, {}, {}, "address:" + request.remoteAddress().toString().toUtf8()};
        return refused({401, u"unauthorized"_s, u"publishing needs Authorization: Bearer <key or token>"_s});
    }
    const QByteArray presented = header.mid(7).trimmed();
    bool keyMatches = false;
    for (const QString &key : m_options.publishKeys)
        keyMatches |= protocol::constantTimeEquals(presented, key.toUtf8());
    if (keyMatches)
        return {true, {}, {}, "key:" + presented};
    if (presented.count('.') != 2) // not a token: a wrong key
        return refused({401, u"unauthorized"_s, u"unknown publish key"_s});
    const TokenCheck check = m_signer.verify(presented, protocol::nowMs() / 1000);
    if (!check.ok())
        return refused(tokenRefusal(check.error));
    if (check.claims.scope != TokenSigner::PublishScope)
        return refused({403, u"wrong_scope"_s, u"a %1 token cannot publish"_s.arg(check.claims.scope)});
    return {true, {}, check.claims.streams, "token:" + check.claims.subject.toUtf8()};
}

void PublishApi::refuse(const HttpReplyPtr &reply, const HttpError &error)
{
    ++m_requestsByStatus[error.status];
    reply->sendError(error);
}

void PublishApi::publish(const QHttpServerRequest &request, const HttpReplyPtr &reply)
{
    const qint64 startUs = protocol::nowUs();
    const Grant grant = authorize(request);
    if (!grant.ok) {
        refuse(reply, grant.error);
        return;
    }
    if (const qint64 waitMs = m_requests.take(grant.who, protocol::nowMs()); waitMs > 0) {
        ++m_rateLimited;
        refuse(reply, {429, u"rate_limited"_s,
                       u"more than %1 publish requests a second"_s.arg(m_options.publishRequestsPerSecond),
                       int((waitMs + 999) / 1000)});
        return;
    }

    PublishLimits limits;
    limits.maxBatch = m_options.maxPublishBatch;
    limits.maxPayloadBytes = m_options.maxFrameBytes - 512;
    PublishBody body = parsePublishBody(request.body(), HttpService::isProtobuf(request), limits);
    if (!body.ok()) {
        if (body.code == u"payload_too_large"_s)
            ++m_payloadTooLarge;
        refuse(reply, {body.status, body.code, body.message});
        return;
    }
    // All or nothing: one item outside the token's streams refuses the batch.
    for (const PublishItem &item : body.items) {
        if (!grant.streams.isEmpty() && !TokenSigner::grants(grant.streams, item.stream, true)) {
            refuse(reply,
                   {403, u"not_entitled"_s, u"the token does not grant publishing to %1"_s.arg(item.stream)});
            return;
        }
    }

    const bool single = body.single;
    ++m_pending;
    m_broker->publish(
        std::move(body.items), this,
        [this, reply, single, startUs](const std::vector<PublishResult> &results, const QString &error) {
            --m_pending;
            m_publishDuration.record(double(protocol::nowUs() - startUs) / 1e6);
            ++m_requestsByStatus[error.isEmpty() ? 200 : 503];
            for (const PublishResult &result : results)
                ++(result.duplicate ? m_duplicates : m_published);
            if (!error.isEmpty()) {
                reply->sendError({503, u"unavailable"_s, error, 1});
            } else if (reply->wantsProtobuf()) {
                v1::PublishResponse response;
                for (const PublishResult &result : results) {
                    v1::PublishResult *out = response.add_results();
                    out->set_stream(result.stream.toStdString());
                    out->set_seq(result.seq);
                    out->set_epoch(result.epoch.toStdString());
                    out->set_duplicate(result.duplicate);
                }
                reply->sendProtobuf(response);
            } else if (single) {
                reply->sendJson(resultToJson(results.front()));
            } else {
                QJsonArray array;
                for (const PublishResult &result : results)
                    array.append(resultToJson(result));
                reply->sendJson({{u"results"_s, array}});
            }
        });
}

quint64 PublishApi::limitCount(PushLimit limit) const
{
    switch (limit) {
    case PushLimit::PublishRate:
        return m_rateLimited;
    case PushLimit::BodySize:
        return m_http ? m_http->bodyTooLargeCount() : 0;
    case PushLimit::PayloadSize:
        return m_payloadTooLarge;
    default:
        return 0;
    }
}

void PublishApi::writeMetrics(MetricsWriter &writer) const
{
    using Type = MetricsWriter::Type;
    writer.counter(
        "bfg_push_messages_published_total",
        "Messages stored through this node's publish API (duplicates of a message id not counted).",
        m_published);
    writer.counter("bfg_push_publish_duplicates_total",
                   "Published messages answered as duplicates of an earlier message id (not stored again).",
                   m_duplicates);
    writer.family("bfg_push_publish_requests_total", Type::Counter,
                  "POST /v1/publish requests by HTTP status (413 for a body above the limit is in "
                  "bfg_limit_exceeded_total{limit=\"body_size\"} only).");
    std::map<int, quint64> byStatus = m_requestsByStatus;
    for (const int status : {200, 400, 401, 403, 429, 503})
        byStatus.emplace(status, 0); // there from the start, so that rate() sees the first one
    for (const auto &[status, count] : byStatus)
        writer.sample(count, {{"status", QByteArray::number(status)}});
    writer.family("bfg_push_publish_duration_seconds", Type::Histogram,
                  "Publish requests from their arrival to the broker's answer (stored, or failed).");
    writer.histogram(m_publishDuration.snapshot());
    writer.gauge("bfg_broker_pending_publishes",
                 "Publish requests handed to the broker and not answered yet: its backlog.",
                 double(m_pending));
}

} // namespace bfg
