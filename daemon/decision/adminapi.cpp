// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 BFG developers
#include "daemon/decision/adminapi.h"

#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QUrlQuery>
#include <QWebSocket>

#include "common/logging.h"
#include "common/protocol.h"
#include "daemon/decision/clusterstate.h"
#include "daemon/http/httpservice.h"
#include "daemon/http/protojson.h"

using namespace Qt::Literals::StringLiterals;

namespace bfg {

namespace {
constexpr int StreamIntervalMs = 1000;
constexpr int MaxAuditEntries = 1000;
const QString AdminStreamPath = u"/v1/admin/stream"_s;
using Method = QHttpServerRequest::Method;

QByteArray bearer(const QByteArray &header)
{
    return header.startsWith("Bearer ") ? header.mid(7).trimmed() : QByteArray();
}

// {"<field>": <whole number in [minimum, maximum]>} from a JSON body.
std::optional<int> wholeNumberField(const QByteArray &body, const QString &field, int minimum, int maximum,
                                    HttpError *error)
{
    const QJsonObject object = QJsonDocument::fromJson(body).object();
    const QJsonValue value = object.value(field);
    const double number = value.toDouble(-1);
    if (!value.isDouble() || number != double(qint64(number)) || number < minimum || number > maximum) {
        *error = {
            400, u"bad_request"_s,
            u"body must be {\"%1\": a whole number from %2 to %3}"_s.arg(field).arg(minimum).arg(maximum)};
        return std::nullopt;
    }
    return int(number);
}

HttpError storeError(const QString &error)
{
    return {503, u"store_unavailable"_s, u"the decision store failed: "_s + error, 1};
}

HttpError unknownNode(const QString &id)
{
    return {404, u"unknown_node"_s, u"no node %1"_s.arg(id)};
}

// Answers a ClusterState node change: 1 done (with `done`), 0 unknown node, -1 store error.
void answerNodeChange(const HttpReplyPtr &reply, int result, const QString &error, const QString &id,
                      const QJsonObject &done)
{
    if (result < 0)
        reply->sendError(storeError(error));
    else if (result == 0)
        reply->sendError(unknownNode(id));
    else
        reply->sendJson(done);
}
} // namespace

AdminApi::AdminApi(ClusterState *state, HttpService *http, const TokenSigner *signer, QObject *parent)
    : QObject(parent)
    , m_state(state)
    , m_http(http)
    , m_signer(signer)
{
    http->addRoute(Method::Get, u"/v1/cluster"_s,
                   [this](const QHttpServerRequest &request, const QStringList &, const HttpReplyPtr &reply) {
                       if (authorize(request, false, reply))
                           cluster(reply);
                   });
    http->addRoute(Method::Put, u"/v1/cluster/allowed-load"_s,
                   [this](const QHttpServerRequest &request, const QStringList &, const HttpReplyPtr &reply) {
                       setAllowedLoad(request, reply);
                   });
    http->addRoute(Method::Put, u"/v1/nodes/{}/capacity"_s,
                   [this](const QHttpServerRequest &request, const QStringList &args,
                          const HttpReplyPtr &reply) { setCapacity(request, args.first(), reply); });
    http->addRoute(
        Method::Post, u"/v1/nodes/{}/drain"_s,
        [this](const QHttpServerRequest &request, const QStringList &args, const HttpReplyPtr &reply) {
            setAdminState(request, args.first(), u"draining"_s, reply);
        });
    http->addRoute(
        Method::Post, u"/v1/nodes/{}/undrain"_s,
        [this](const QHttpServerRequest &request, const QStringList &args, const HttpReplyPtr &reply) {
            setAdminState(request, args.first(), u"active"_s, reply);
        });
    http->addRoute(Method::Delete, u"/v1/nodes/{}"_s,
                   [this](const QHttpServerRequest &request, const QStringList &args,
                          const HttpReplyPtr &reply) { forget(request, args.first(), reply); });
    http->addRoute(Method::Get, u"/v1/audit"_s,
                   [this](const QHttpServerRequest &request, const QStringList &, const HttpReplyPtr &reply) {
                       audit(request, reply);
                   });

    // The stream is a WebSocket upgrade on the same port; the HTTP server
    // hands over every upgrade, and acceptStreams() checks path and key.
    http->addWebSocketPath(AdminStreamPath);
    connect(http, &QAbstractHttpServer::newWebSocketConnection, this, &AdminApi::acceptStreams);
    m_streamTimer.setInterval(StreamIntervalMs);
    connect(&m_streamTimer, &QTimer::timeout, this, &AdminApi::broadcast);
}

std::optional<AdminKey> AdminApi::authenticate(const QByteArray &authorization, HttpError *error) const
{
    const QByteArray presented = bearer(authorization);
    if (auto key = m_state->authenticate(presented))
        return key;
    if (presented.count('.') != 2) { // not a token: no key or a wrong one
        *error = {401, u"unauthorized"_s,
                  u"the admin API needs Authorization: Bearer <admin key or token>"_s};
        return std::nullopt;
    }
    const TokenCheck check = m_signer->verify(presented, protocol::nowMs() / 1000);
    if (!check.ok()) {
        *error = tokenRefusal(check.error);
        return std::nullopt;
    }
    const QString &scope = check.claims.scope;
    if (scope != TokenSigner::AdminReadScope && scope != TokenSigner::AdminWriteScope) {
        *error = {403, u"wrong_scope"_s, u"a %1 token cannot use the admin API"_s.arg(scope)};
        return std::nullopt;
    }
    return AdminKey{u"token:"_s + check.claims.subject,
                    scope == TokenSigner::AdminWriteScope ? ClusterState::OperatorScope
                                                          : ClusterState::ReadScope,
                    {}};
}

std::optional<AdminKey> AdminApi::authorize(const QHttpServerRequest &request, bool change,
                                            const HttpReplyPtr &reply) const
{
    HttpError error;
    const auto key = authenticate(request.value(QByteArrayLiteral("authorization")), &error);
    if (!key) {
        reply->sendError(error);
        return std::nullopt;
    }
    if (change && key->scope != ClusterState::OperatorScope) {
        reply->sendError(
            {403, u"forbidden"_s,
             u"%1 may only read; changes need an operator key or an admin:write token"_s.arg(key->name)});
        return std::nullopt;
    }
    return key;
}

void AdminApi::cluster(const HttpReplyPtr &reply)
{
    const v1::ClusterSnapshot snapshot = m_state->snapshot(protocol::nowMs());
    if (reply->wantsProtobuf())
        reply->sendProtobuf(snapshot);
    else
        reply->sendJson(jsonFromProto(snapshot));
}

void AdminApi::setAllowedLoad(const QHttpServerRequest &request, const HttpReplyPtr &reply)
{
    const auto key = authorize(request, true, reply);
    if (!key)
        return;
    HttpError problem;
    const auto percent = wholeNumberField(request.body(), u"allowed_load"_s, 1, 100, &problem);
    if (!percent) {
        reply->sendError(problem);
        return;
    }
    QString error;
    if (m_state->setAllowedLoad(*percent, key->name, &error) < 0) {
        reply->sendError(storeError(error));
        return;
    }
    reply->sendJson({{u"allowed_load"_s, *percent}});
}

void AdminApi::setCapacity(const QHttpServerRequest &request, const QString &id, const HttpReplyPtr &reply)
{
    const auto key = authorize(request, true, reply);
    if (!key)
        return;
    HttpError problem;
    const auto capacity = wholeNumberField(request.body(), u"capacity"_s, 1, 10'000'000, &problem);
    if (!capacity) {
        reply->sendError(problem);
        return;
    }
    QString error;
    const int result = m_state->setCapacity(id, *capacity, key->name, &error);
    answerNodeChange(reply, result, error, id, {{u"node"_s, id}, {u"capacity"_s, *capacity}});
}

void AdminApi::setAdminState(const QHttpServerRequest &request, const QString &id, const QString &adminState,
                             const HttpReplyPtr &reply)
{
    const auto key = authorize(request, true, reply);
    if (!key)
        return;
    QString error;
    const int result = m_state->setAdminState(id, adminState, key->name, &error);
    answerNodeChange(reply, result, error, id, {{u"node"_s, id}, {u"admin_state"_s, adminState}});
}

void AdminApi::forget(const QHttpServerRequest &request, const QString &id, const HttpReplyPtr &reply)
{
    const auto key = authorize(request, true, reply);
    if (!key)
        return;
    const NodeLoad *load = m_state->find(id);
    if (!load) {
        reply->sendError(unknownNode(id));
        return;
    }
    const qint64 nowMs = protocol::nowMs();
    const bool silent = nowMs - load->node.lastReportMs > 10LL * 60 * 1000;
    const bool drainedEmpty = load->node.adminState == u"draining"_s && load->node.connections == 0;
    if (!silent && !drainedEmpty) {
        reply->sendError(
            {409, u"conflict"_s,
             u"node %1 still serves clients: drain it first (or forget it after 10 minutes of silence)"_s.arg(
                 id)});
        return;
    }
    QString error;
    const int result = m_state->forget(id, key->name, &error);
    answerNodeChange(reply, result, error, id, {{u"node"_s, id}, {u"forgotten"_s, true}});
}

void AdminApi::audit(const QHttpServerRequest &request, const HttpReplyPtr &reply)
{
    if (!authorize(request, false, reply))
        return;
    const QUrlQuery query = request.query();
    bool ok = true;
    const QString sinceText = query.queryItemValue(u"since"_s);
    const qint64 since = sinceText.isEmpty() ? 0 : sinceText.toLongLong(&ok);
    if (!ok || since < 0) {
        reply->sendError({400, u"bad_request"_s, u"since must be ms since the Unix epoch"_s});
        return;
    }
    const QString limitText = query.queryItemValue(u"limit"_s);
    const int limit = limitText.isEmpty() ? MaxAuditEntries : limitText.toInt(&ok);
    if (!ok || limit < 1 || limit > MaxAuditEntries) {
        reply->sendError({400, u"bad_request"_s, u"limit must be from 1 to %1"_s.arg(MaxAuditEntries)});
        return;
    }
    QString error;
    const QList<AuditEntry> entries = m_state->audit(since, limit, &error);
    if (!error.isEmpty()) {
        reply->sendError(storeError(error));
        return;
    }
    QJsonArray array;
    for (const AuditEntry &entry : entries)
        array.append(QJsonObject{{u"id"_s, entry.id},
                                 {u"at_ms"_s, entry.atMs},
                                 {u"actor"_s, entry.actor},
                                 {u"action"_s, entry.action},
                                 {u"target"_s, entry.target},
                                 {u"old"_s, entry.oldValue},
                                 {u"new"_s, entry.newValue}});
    reply->sendJson({{u"entries"_s, array}});
}

void AdminApi::acceptStreams()
{
    while (m_http->hasPendingWebSocketConnections()) {
        QWebSocket *socket = m_http->nextPendingWebSocketConnection().release();
        socket->setParent(this);
        connect(socket, &QWebSocket::disconnected, this, [this, socket] {
            m_streams.removeOne(socket);
            socket->deleteLater();
            if (m_streams.isEmpty())
                m_streamTimer.stop();
        });
        const QUrl url = socket->requestUrl();
        HttpError error;
        const auto key = authenticate(socket->request().rawHeader("Authorization"), &error);
        if (url.path() != AdminStreamPath) {
            socket->close(QWebSocketProtocol::CloseCode(v1::BAD_REQUEST), u"unknown path"_s);
            continue;
        }
        if (!key) {
            socket->close(QWebSocketProtocol::CloseCode(v1::BAD_TOKEN), error.message);
            continue;
        }
        m_streams.append(socket);
        socket->sendBinaryMessage(protocol::encode(m_state->snapshot(protocol::nowMs())));
        if (!m_streamTimer.isActive())
            m_streamTimer.start();
    }
}

void AdminApi::closeStreams()
{
    m_streamTimer.stop();
    const QList<QWebSocket *> streams = m_streams;
    for (QWebSocket *socket : streams)
        socket->close(QWebSocketProtocol::CloseCodeGoingAway, u"decision server shutting down"_s);
}

void AdminApi::broadcast()
{
    const QByteArray frame = protocol::encode(m_state->snapshot(protocol::nowMs()));
    for (QWebSocket *socket : std::as_const(m_streams))
        socket->sendBinaryMessage(frame);
}

} // namespace bfg
