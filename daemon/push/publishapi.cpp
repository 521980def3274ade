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

bool PublishApi::isAuthorized(const QHttpServerRequest &request) const
{
    if (m_options.publishKeys.isEmpty())
        return true;
    const QByteArray header = request.value(QByteArrayLiteral("authorization"));
    if (!header.startsWith("Bearer "))
        return false;
    const QByteArray presented = header.mid(7).trimmed();
    bool match = false;
    for (const QString &key : m_options.publishKeys)
        match |= protocol::constantTimeEquals(presented, key.toUtf8());
    return match;
}

void PublishApi::publish(const QHttpServerRequest &request, const HttpReplyPtr &reply)
{
    if (!isAuthorized(request)) {
        reply->sendError({401, u"unauthorized"_s, u"publishing needs Authorization: Bearer <publish key>"_s});
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
