// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 BFG developers
#include "daemon/decision/decisionserver.h"

#include <google/protobuf/util/json_util.h>

#include <QElapsedTimer>
#include <QHostInfo>
#include <QUrlQuery>

#include "bfg/v1/api.pb.h"
#include "bfg/v1/cluster.pb.h"
#include "common/logging.h"
#include "common/protocol.h"
#include "daemon/decision/adminapi.h"
#include "daemon/decision/clusterstate.h"
#include "daemon/http/httpservice.h"
#include "daemon/http/protojson.h"
#include "daemon/tls/servertls.h"
#include "daemon/metrics/metricswriter.h"

using namespace Qt::Literals::StringLiterals;

namespace bfg {

namespace {
QByteArray bearerToken(const QHttpServerRequest &request)
{
    const QByteArray header = request.value(QByteArrayLiteral("authorization"));
    return header.startsWith("Bearer ") ? header.mid(7).trimmed() : QByteArray();
}
} // namespace

DecisionServer::DecisionServer(DecisionOptions options, QObject *parent)
    : QObject(parent)
    , m_options(std::move(options))
    , m_signer(m_options.secret, m_options.previousSecrets)
    , m_assignBucket(m_options.assignRatePerSecond, m_options.assignBurst)
{}

DecisionServer::~DecisionServer() = default;

QUrl DecisionServer::url() const
{
    QUrl url;
    url.setScheme(m_options.tls ? u"https"_s : u"http"_s);
    url.setHost(m_options.address.toString());
    url.setPort(m_port);
    return url;
}

bool DecisionServer::start(QString *error)
{
    m_http = new HttpService(u"decision"_s, this);
    m_http->setMaxBodyBytes(64 * 1024);
    if (m_options.tls)
        m_http->setTls(m_options.tls->qtConfiguration());
    QString listenError;
    m_port = m_http->listen(m_options.address, m_options.port, &listenError);
    if (m_port == 0) {
        *error = u"decision: cannot listen on %1:%2: %3"_s.arg(m_options.address.toString())
                     .arg(m_options.port)
                     .arg(listenError);
        return false;
    }
    if (m_options.decisionId.isEmpty())
        m_options.decisionId = QHostInfo::localHostName() + u'-' + QString::number(m_port);

    m_state = std::make_unique<ClusterState>(m_options);
    if (!m_state->open(error)) {
        *error = u"decision store: "_s + *error;
        return false;
    }

    m_http->addRoute(QHttpServerRequest::Method::Get, u"/v1/assign"_s,
                     [this](const QHttpServerRequest &request, const QStringList &,
                            const HttpReplyPtr &reply) { assign(request, reply); });
    m_http->addRoute(QHttpServerRequest::Method::Post, u"/v1/nodes/{}/report"_s,
                     [this](const QHttpServerRequest &request, const QStringList &args,
                            const HttpReplyPtr &reply) { report(request, args.first(), reply); });
    m_admin = new AdminApi(m_state.get(), m_http, &m_signer, this);
    m_metrics.addCollector([this](MetricsWriter &writer) { writeMetrics(writer); });
    m_metrics.serve(m_http, m_options.metricsKey);

    m_reloadTimer.setInterval(m_options.reportIntervalMs);
    connect(&m_reloadTimer, &QTimer::timeout, this, [this] { m_state->reload(); });
    m_reloadTimer.start();
    qCInfo(lcDecision).noquote() << logEvent(
        "listening", {{"decision", m_options.decisionId},
                      {"url", url().toString()},
                      {"allowed_load", QString::number(m_state->policy().allowedLoadPercent())},
                      {"nodes", QString::number(m_state->nodes().size())}});
    return true;
}

void DecisionServer::shutdown(std::function<void()> done)
{
    if (m_stopping || !m_http) {
        done();
        return;
    }
    m_stopping = true;
    m_reloadTimer.stop();
    m_http->stopListening();
    if (m_admin)
        m_admin->closeStreams();
    auto finish = [this, done = std::move(done)](int open, qint64 waitedMs) {
        if (open > 0)
            qCWarning(lcDecision) << "stopped waiting after" << waitedMs << "ms:" << open
                                  << "connections still busy are cut";
        else
            qCInfo(lcDecision) << "every request answered: stopped";
        done();
    };
    qCInfo(lcDecision) << "stopping: no new connections";
    // The first look comes a turn of the loop later, once what clients sent
    // before the signal has been read.
    auto *poll = new QTimer(this);
    auto waited = std::make_shared<QElapsedTimer>();
    waited->start();
    auto first = std::make_shared<bool>(true);
    connect(poll, &QTimer::timeout, this, [this, poll, waited, first, finish] {
        const int open = m_http->closeIdleConnections();
        if (open > 0 && std::exchange(*first, false))
            qCInfo(lcDecision) << "waiting at most" << StopGraceMs << "ms for" << open
                               << "connections with a request in progress";
        if (open > 0 && waited->elapsed() < StopGraceMs)
            return;
        poll->deleteLater();
        finish(open, waited->elapsed());
    });
    poll->start(20);
}

bool DecisionServer::reconfigure(const DecisionOptions &fresh, QString *error)
{
    // The one step that can fail comes first: nothing else changes if it does.
    // The store is not touched when the keys are the same.
    if (m_options.adminKeys != fresh.adminKeys &&
        !m_state->replaceConfiguredKeys(m_options.adminKeys, fresh.adminKeys, error))
        return false;
    m_options.adminKeys = fresh.adminKeys;
    m_options.secret = fresh.secret;
    m_options.previousSecrets = fresh.previousSecrets;
    m_signer = TokenSigner(m_options.secret, m_options.previousSecrets);
    m_options.tokenTtlSeconds = fresh.tokenTtlSeconds;
    m_options.publicStreams = fresh.publicStreams;
    m_options.clientPublish = fresh.clientPublish;
    if (m_options.tls && fresh.tls) { // a renewed certificate, for new connections
        m_options.tls = fresh.tls;
        m_http->setTls(m_options.tls->qtConfiguration());
    }
    m_options.assignRatePerSecond = fresh.assignRatePerSecond;
    m_options.assignBurst = fresh.assignBurst;
    m_assignBucket.configure(m_options.assignRatePerSecond, m_options.assignBurst);
    m_options.latencySloMs = fresh.latencySloMs;
    if (fresh.allowedLoadPercent != m_options.allowedLoadPercent) {
        m_options.allowedLoadPercent = fresh.allowedLoadPercent;
        m_state->setConfiguredAllowedLoad(fresh.allowedLoadPercent);
        if (m_state->policy().allowedLoadPercent() != fresh.allowedLoadPercent)
            qCWarning(lcDecision) << "decision/allowed_load" << fresh.allowedLoadPercent
                                  << "% is not in effect: an operator set"
                                  << m_state->policy().allowedLoadPercent()
                                  << "% through the admin API, which stays";
    }
    return true;
}

int DecisionServer::nodeCount() const
{
    return m_state ? int(m_state->nodes().size()) : 0;
}

int DecisionServer::eligibleNodeCount() const
{
    if (!m_state)
        return 0;
    const qint64 nowMs = protocol::nowMs();
    return int(std::count_if(m_state->nodes().cbegin(), m_state->nodes().cend(), [&](const NodeLoad &load) {
        return m_state->policy().isEligible(load, nowMs);
    }));
}

int DecisionServer::allowedLoadPercent() const
{
    return m_state ? m_state->policy().allowedLoadPercent() : m_options.allowedLoadPercent;
}

void DecisionServer::assign(const QHttpServerRequest &request, const HttpReplyPtr &reply)
{
    const QUrlQuery query = request.query();
    const QString user = query.queryItemValue(u"user"_s, QUrl::FullyDecoded);
    const QString affinity = query.queryItemValue(u"affinity"_s, QUrl::FullyDecoded);
    const QString region = query.queryItemValue(u"region"_s, QUrl::FullyDecoded);
    if (!protocol::isValidUserId(user)) {
        ++m_assignments[BadRequest];
        reply->sendError({400, u"bad_request"_s, u"user must be 1-128 characters of A-Z a-z 0-9 . _ @ -"_s});
        return;
    }
    if (affinity.size() > 256 || region.size() > 64) {
        ++m_assignments[BadRequest];
        reply->sendError({400, u"bad_request"_s, u"affinity (256) or region (64) is too long"_s});
        return;
    }
    const qint64 nowMs = protocol::nowMs();
    if (const qint64 waitMs = m_assignBucket.take(nowMs)) {
        ++m_assignments[RateLimited];
        reply->sendError({429, u"too_many_requests"_s, u"assignments are rate limited; retry later"_s,
                          int((waitMs + 999) / 1000) + int(QRandomGenerator::global()->bounded(2))});
        return;
    }
    QList<NodeLoad> &nodes = m_state->nodes();
    const int index = m_state->policy().choose(nodes, affinity, region, nowMs, *QRandomGenerator::global());
    if (index < 0) {
        qCDebug(lcDecision) << "no eligible node for" << user;
        ++m_assignments[NoCapacity];
        reply->sendError({503, u"no_capacity"_s, u"no push node can take a client now; retry later"_s,
                          1 + int(QRandomGenerator::global()->bounded(2))});
        return;
    }
    NodeLoad &chosen = nodes[index];
    ++chosen.reserved;
    ++m_assignments[Assigned];

    const qint64 nowSeconds = nowMs / 1000;
    TokenClaims claims;
    claims.subject = user;
    claims.scope = TokenSigner::ConnectScope;
    claims.streams = QStringList{protocol::userStream(user)} + m_options.publicStreams;
    claims.publish = m_options.clientPublish;
    claims.issuedAt = nowSeconds;
    claims.expiresAt = nowSeconds + m_options.tokenTtlSeconds;

    v1::AssignResponse response;
    response.set_uri(chosen.node.uri.toStdString());
    response.set_node(chosen.node.id.toStdString());
    response.set_token(m_signer.sign(claims).toStdString());
    response.set_expires(claims.expiresAt);
    response.set_publish_uri(chosen.node.publishUri.toStdString());
    if (reply->wantsProtobuf())
        reply->sendProtobuf(response);
    else
        reply->sendJson(jsonFromProto(response));
}

void DecisionServer::report(const QHttpServerRequest &request, const QString &nodeId,
                            const HttpReplyPtr &reply)
{
    const TokenCheck check = m_signer.verify(bearerToken(request), protocol::nowMs() / 1000);
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
    m_state->applyReport(report, protocol::nowMs());

    const NodeLoad *node = m_state->find(nodeId);
    // Commands follow the operator's wish until the node's state matches it.
    v1::ReportReply answer;
    if (node && node->node.adminState == u"draining"_s && report.state() == v1::NODE_ACTIVE)
        answer.set_command(v1::NODE_COMMAND_DRAIN);
    else if (node && node->node.adminState == u"active"_s && report.state() != v1::NODE_ACTIVE)
        answer.set_command(v1::NODE_COMMAND_UNDRAIN);
    answer.set_report_interval_ms(quint32(m_options.reportIntervalMs));
    if (reply->wantsProtobuf())
        reply->sendProtobuf(answer);
    else
        reply->sendJson(jsonFromProto(answer));
}

void DecisionServer::writeMetrics(MetricsWriter &writer)
{
    using Type = MetricsWriter::Type;
    writer.family("bfg_decision_assignments_total", Type::Counter,
                  "Answers to GET /v1/assign by HTTP status: 200 assigned, 400 bad request, 429 above "
                  "decision/assign_rate, 503 no eligible node.");
    const std::pair<Outcome, QByteArray> statuses[] = {
        {Assigned, "200"}, {BadRequest, "400"}, {RateLimited, "429"}, {NoCapacity, "503"}};
    for (const auto &[outcome, status] : statuses)
        writer.sample(m_assignments[outcome], {{"status", status}});

    // The cluster as this server sees it (every decision server on one
    // database sees the same).
    const qint64 nowMs = protocol::nowMs();
    const LoadPolicy &policy = m_state->policy();
    quint64 active = 0, draining = 0, drained = 0, down = 0, eligible = 0, connections = 0, capacity = 0;
    for (const NodeLoad &load : std::as_const(m_state->nodes())) {
        if (policy.isSilent(load, nowMs))
            ++down;
        else if (load.node.state == u"draining"_s)
            ++draining;
        else if (load.node.state == u"drained"_s)
            ++drained;
        else
            ++active;
        eligible += policy.isEligible(load, nowMs) ? 1 : 0;
        connections += quint64(std::max(0, load.node.connections));
        capacity += quint64(std::max(0, load.node.effectiveCapacity()));
    }
    writer.family("bfg_decision_nodes", Type::Gauge,
                  "Push nodes known, by state: active, draining, drained, or down (no report for three "
                  "report intervals).");
    writer.sample(active, {{"state", "active"}});
    writer.sample(draining, {{"state", "draining"}});
    writer.sample(drained, {{"state", "drained"}});
    writer.sample(down, {{"state", "down"}});
    writer.gauge("bfg_decision_eligible_nodes", "Push nodes that would take a new client now.",
                 double(eligible));
    writer.gauge("bfg_decision_allowed_load_ratio",
                 "The allowed load: the share of each node's capacity open to new clients (0-1).",
                 policy.allowedLoadPercent() / 100.0);
    writer.gauge("bfg_decision_cluster_connections",
                 "Connections on all push nodes, from their last reports.", double(connections));
    writer.gauge("bfg_decision_cluster_capacity_connections",
                 "Sum of the push nodes' capacities (the operator's override where set).", double(capacity));

    writer.family("bfg_limit_exceeded_total", Type::Counter,
                  "Requests or connections refused or closed because they went past a configured limit.");
    writer.sample(m_assignments[RateLimited], {{"limit", "assign_rate"}});
    writer.sample(m_http->bodyTooLargeCount(), {{"limit", "body_size"}});
}

} // namespace bfg
