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
#include "daemon/push/publishbody.h"

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
    if (!check.ok()) {
        const QString code = check.error == TokenError::Expired     ? u"token_expired"_s
                             : check.error == TokenError::Malformed ? u"bad_token"_s
                                                                    : u"token_tampered"_s;
        return refused({401, code, TokenSigner::errorText(check.error)});
    }
    if (check.claims.scope != TokenSigner::PublishScope)
        return refused({403, u"wrong_scope"_s, u"a %1 token cannot publish"_s.arg(check.claims.scope)});
    return {true, {}, check.claims.streams, "token:" + check.claims.subject.toUtf8()};
}

void PublishApi::publish(const QHttpServerRequest &request, const HttpReplyPtr &reply)
{
    const Grant grant = authorize(request);
    if (!grant.ok) {
        reply->sendError(grant.error);
        return;
    }
    if (const qint64 waitMs = m_requests.take(grant.who, protocol::nowMs()); waitMs > 0) {
        reply->sendError({429, u"rate_limited"_s,
                          u"more than %1 publish requests a second"_s.arg(m_options.publishRequestsPerSecond),
                          int((waitMs + 999) / 1000)});
        return;
    }

    PublishLimits limits;
    limits.maxBatch = m_options.maxPublishBatch;
    limits.maxPayloadBytes = m_options.maxFrameBytes - 512;
    PublishBody body = parsePublishBody(request.body(), HttpService::isProtobuf(request), limits);
    if (!body.ok()) {
        reply->sendError({body.status, body.code, body.message});
        return;
    }
    // All or nothing: one item outside the token's streams refuses the batch.
    for (const PublishItem &item : body.items) {
        if (!grant.streams.isEmpty() && !TokenSigner::grants(grant.streams, item.stream, true)) {
            reply->sendError(
                {403, u"not_entitled"_s, u"the token does not grant publishing to %1"_s.arg(item.stream)});
            return;
        }
    }

    const bool single = body.single;
    m_broker->publish(std::move(body.items), this,
                      [reply, single](const std::vector<PublishResult> &results, const QString &error) {
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

} // namespace bfg
