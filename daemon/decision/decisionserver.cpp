// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 BFG developers
#include "daemon/decision/decisionserver.h"

#include <google/protobuf/util/json_util.h>

#include <QJsonArray>
#include <QJsonObject>
#include <QUrlQuery>

#include "bfg/v1/api.pb.h"
#include "bfg/v1/cluster.pb.h"
#include "common/logging.h"
#include "common/protocol.h"
#include "daemon/http/httpservice.h"
#include "daemon/store/database.h"
#include "daemon/store/nodetable.h"

using namespace Qt::Literals::StringLiterals;

namespace bfg {

namespace {
constexpr int StaleReports = 3; // a node silent this many intervals is not eligible

QString stateName(v1::NodeState state)
{
    switch (state) {
    case v1::NODE_DRAINING:
        return u"draining"_s;
    case v1::NODE_DRAINED:
        return u"drained"_s;
    default:
        return u"active"_s;
    }
}

QString bearerToken(const QHttpServerRequest &request)
{
    const QByteArray header = request.value(QByteArrayLiteral("authorization"));
    if (!header.startsWith("Bearer "))
        return {};
    return QString::fromLatin1(header.mid(7).trimmed());
}
} // namespace

DecisionServer::DecisionServer(DecisionOptions options, QObject *parent)
    : QObject(parent)
    , m_options(std::move(options))
    , m_signer(m_options.secret)
    , m_policy(m_options.allowedLoadPercent, qint64(m_options.reportIntervalMs) * StaleReports)
{}

DecisionServer::~DecisionServer() = default;

QUrl DecisionServer::url() const
{
    QUrl url;
    url.setScheme(u"http"_s);
    url.setHost(m_options.address.toString());
    url.setPort(m_port);
    return url;
}

bool DecisionServer::start(QString *error)
{
    m_database = std::make_unique<Database>();
    if (!m_database->open(m_options.storePath, Database::Schema::Decision, error)) {
        *error = u"decision store: "_s + *error;
        return false;
    }
    m_nodeTable = std::make_unique<NodeTable>(m_database->db());
    QString loadError;
    for (const NodeRecord &node : m_nodeTable->all(&loadError))
        m_nodes.append({node, 0});
    if (!loadError.isEmpty()) {
        *error = u"decision store: "_s + loadError;
        return false;
    }

    m_http = new HttpService(u"decision"_s, this);
    m_http->setMaxBodyBytes(64 * 1024);
    m_http->addRoute(QHttpServerRequest::Method::Get, u"/v1/assign"_s,
                     [this](const QHttpServerRequest &request, const QStringList &,
                            const HttpReplyPtr &reply) { assign(request, reply); });
    m_http->addRoute(QHttpServerRequest::Method::Post, u"/v1/nodes/{}/report"_s,
                     [this](const QHttpServerRequest &request, const QStringList &args,
                            const HttpReplyPtr &reply) { report(request, args.first(), reply); });
    m_http->addRoute(QHttpServerRequest::Method::Get, u"/v1/cluster"_s,
                     [this](const QHttpServerRequest &, const QStringList &, const HttpReplyPtr &reply) {
                         cluster(reply);
                     });
    m_port = m_http->listen(m_options.address, m_options.port);
    if (m_port == 0) {
        *error = u"decision: cannot listen on %1:%2"_s.arg(m_options.address.toString()).arg(m_options.port);
        return false;
    }
    qCInfo(lcDecision) << "decision listening on" << url().toString() << "allowed load"
                       << m_policy.allowedLoadPercent() << "% nodes known:" << m_nodes.size();
    return true;
}

void DecisionServer::assign(const QHttpServerRequest &request, const HttpReplyPtr &reply)
{
    const QUrlQuery query = request.query();
    const QString user = query.queryItemValue(u"user"_s, QUrl::FullyDecoded);
    const QString affinity = query.queryItemValue(u"affinity"_s, QUrl::FullyDecoded);
    if (!protocol::isValidUserId(user)) {
        reply->sendError({400, u"bad_request"_s, u"user must be 1-128 characters of A-Z a-z 0-9 . _ @ -"_s});
        return;
    }
    if (affinity.size() > 256) {
        reply->sendError({400, u"bad_request"_s, u"affinity is longer than 256 characters"_s});
        return;
    }
    const qint64 nowMs = protocol::nowMs();
    const int index = m_policy.choose(m_nodes, affinity, nowMs, *QRandomGenerator::global());
    if (index < 0) {
        qCDebug(lcDecision) << "no eligible node for" << user;
        reply->sendError({503, u"no_capacity"_s, u"no push node can take a client now; retry later"_s,
                          1 + int(QRandomGenerator::global()->bounded(2))});
        return;
    }
    NodeLoad &chosen = m_nodes[index];
    ++chosen.reserved;

    const qint64 nowSeconds = nowMs / 1000;
    TokenClaims claims;
    claims.subject = user;
    claims.scope = TokenSigner::ConnectScope;
    claims.streams = {protocol::userStream(user)};
    claims.issuedAt = nowSeconds;
    claims.expiresAt = nowSeconds + m_options.tokenTtlSeconds;
    const QByteArray token = m_signer.sign(claims);

    if (reply->wantsProtobuf()) {
        v1::AssignResponse response;
        response.set_uri(chosen.node.uri.toStdString());
        response.set_node(chosen.node.id.toStdString());
        response.set_token(token.toStdString());
        response.set_expires(claims.expiresAt);
        response.set_publish_uri(chosen.node.publishUri.toStdString());
        reply->sendProtobuf(response);
    } else {
        reply->sendJson({{u"uri"_s, chosen.node.uri},
                         {u"node"_s, chosen.node.id},
                         {u"token"_s, QString::fromLatin1(token)},
                         {u"expires"_s, claims.expiresAt},
                         {u"publish_uri"_s, chosen.node.publishUri}});
    }
}

void DecisionServer::report(const QHttpServerRequest &request, const QString &nodeId,
                            const HttpReplyPtr &reply)
{
    const TokenCheck check = m_signer.verify(bearerToken(request).toLatin1(), protocol::nowMs() / 1000);
    if (!check.ok()) {
        reply->sendError({401, u"unauthorized"_s, u"node report: "_s + TokenSigner::errorText(check.error)});
        return;
    }
    if (check.claims.scope != TokenSigner::NodeScope || check.claims.subject != nodeId) {
        reply->sendError({403, u"forbidden"_s, u"this token may not report for node %1"_s.arg(nodeId)});
        return;
    }

    v1::NodeReport report;
    const QByteArray body = request.body();
    const bool parsed = HttpService::isProtobuf(request)
                            ? protocol::decode(body, &report)
                            : google::protobuf::util::JsonStringToMessage(body.toStdString(), &report).ok();
    if (!parsed) {
        reply->sendError({400, u"bad_request"_s, u"body is not a NodeReport"_s});
        return;
    }
    if (QString::fromStdString(report.node_id()) != nodeId || report.uri().empty()) {
        reply->sendError({400, u"bad_request"_s, u"report must carry node_id = %1 and a uri"_s.arg(nodeId)});
        return;
    }

    auto it =
        std::find_if(m_nodes.begin(), m_nodes.end(), [&](const NodeLoad &n) { return n.node.id == nodeId; });
    if (it == m_nodes.end()) {
        NodeLoad fresh;
        fresh.node.id = nodeId;
        it = m_nodes.insert(
            std::lower_bound(m_nodes.begin(), m_nodes.end(), nodeId,
                             [](const NodeLoad &n, const QString &id) { return n.node.id < id; }),
            fresh);
        qCInfo(lcDecision) << "new push node" << nodeId << QString::fromStdString(report.uri());
    }
    NodeRecord &node = it->node;
    node.uri = QString::fromStdString(report.uri());
    node.publishUri = QString::fromStdString(report.publish_uri());
    node.region = QString::fromStdString(report.region());
    node.capacity = int(std::min<quint32>(report.capacity(), 100'000'000));
    node.connections = int(std::min<quint32>(report.connections(), 100'000'000));
    node.state = stateName(report.state());
    node.deliveredPerSec = report.delivered_per_sec();
    node.latencyP50Ms = report.latency_p50_ms();
    node.latencyP99Ms = report.latency_p99_ms();
    node.lastReportMs = protocol::nowMs();
    it->reserved = 0; // the report's connection count now includes them

    QString storeError;
    if (!m_nodeTable->saveReport(node, &storeError))
        qCWarning(lcDecision) << "cannot store report of" << nodeId << storeError;

    v1::ReportReply answer;
    answer.set_command(node.adminState == u"draining"_s ? v1::NODE_COMMAND_DRAIN : v1::NODE_COMMAND_NONE);
    answer.set_report_interval_ms(quint32(m_options.reportIntervalMs));
    if (reply->wantsProtobuf())
        reply->sendProtobuf(answer);
    else
        reply->sendJson({{u"command"_s, answer.command() == v1::NODE_COMMAND_DRAIN ? u"drain"_s : u"none"_s},
                         {u"report_interval_ms"_s, m_options.reportIntervalMs}});
}

void DecisionServer::cluster(const HttpReplyPtr &reply)
{
    const qint64 nowMs = protocol::nowMs();
    QJsonArray nodes;
    qint64 connections = 0;
    for (const NodeLoad &load : std::as_const(m_nodes)) {
        const NodeRecord &node = load.node;
        connections += node.connections;
        nodes.append(
            QJsonObject{{u"id"_s, node.id},
                        {u"uri"_s, node.uri},
                        {u"publish_uri"_s, node.publishUri},
                        {u"region"_s, node.region},
                        {u"state"_s, node.state},
                        {u"admin_state"_s, node.adminState},
                        {u"capacity"_s, node.capacity},
                        {u"connections"_s, node.connections},
                        {u"reserved"_s, load.reserved},
                        {u"delivered_per_sec"_s, node.deliveredPerSec},
                        {u"latency_p50_ms"_s, node.latencyP50Ms},
                        {u"latency_p99_ms"_s, node.latencyP99Ms},
                        {u"last_report_age_ms"_s, node.lastReportMs ? nowMs - node.lastReportMs : -1},
                        {u"eligible"_s, m_policy.isEligible(load, nowMs)}});
    }
    reply->sendJson({{u"allowed_load"_s, m_policy.allowedLoadPercent()},
                     {u"connections"_s, connections},
                     {u"nodes"_s, nodes}});
}

} // namespace bfg
