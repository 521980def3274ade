// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 BFG developers
//
// The decision server's admin API as the console and curl use it, against a
// real bfgd (decision + push) with two configured keys: "viewer" may read,
// "ops" may also change. Every endpoint with good and bad input, who may
// call it, what the change does to the cluster and to assignments, the
// audit trail it leaves, the live snapshot stream, the assignment rate limit
// and capacity learning from latency (with push nodes faked through the
// node report endpoint).
#include <QFile>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QNetworkAccessManager>
#include <QNetworkReply>
#include <QNetworkRequest>
#include <QSet>
#include <QTest>
#include <QUrlQuery>
#include <QWebSocket>

#include "bfg/v1/cluster.pb.h"
#include "common/protocol.h"
#include "common/token.h"
#include "tests/support/bfgdprocess.h"
#include "tests/support/testhttp.h"

using namespace Qt::Literals::StringLiterals;
using bfg::test::BfgdProcess;
namespace v1 = bfg::v1;
namespace protocol = bfg::protocol;

namespace {
constexpr int WaitMs = 10000;
const QByteArray ViewerKey = QByteArrayLiteral("viewer-key-4f1c9a7e2b");
const QByteArray OpsKey = QByteArrayLiteral("ops-key-8d3e6b0a5c71");
const QByteArray JsonType = QByteArrayLiteral("application/json");
const QByteArray ProtobufType = QByteArrayLiteral("application/x-protobuf");
const QString UnknownNode = u"no-such-node"_s;
const QString NodePlaceholder = u"{node}"_s; // replaced by the real push node's id

using bfg::test::HttpResult;

// An "old"/"new" audit value as text, whether the server writes "80" or 80.
QString auditText(const QJsonValue &value)
{
    return value.isDouble() ? QString::number(value.toInteger()) : value.toString();
}

QJsonObject findNode(const QJsonObject &cluster, const QString &id)
{
    for (const QJsonValue &node : cluster.value(u"nodes"_s).toArray()) {
        if (node.toObject().value(u"id"_s).toString() == id)
            return node.toObject();
    }
    return {};
}

using bfg::test::bearer;
} // namespace

class TestAdminApi : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void initTestCase();

    void requestsWithoutAValidKeyAreUnauthorized_data();
    void requestsWithoutAValidKeyAreUnauthorized();
    void readKeyMayLookButNotChange_data();
    void readKeyMayLookButNotChange();
    void configuredKeysReplaceTheGeneratedOne();
    void adminTokensAreScoped_data();
    void adminTokensAreScoped();
    void clusterJsonHasSnakeCaseNamesAndNumbers();
    void clusterAsProtobufParsesAsClusterSnapshot();

    void allowedLoadRejectsBadInput_data();
    void allowedLoadRejectsBadInput();
    void allowedLoadChangeIsAppliedAndAudited();
    void auditLogFiltersBySinceAndLimit();
    void auditQueryRejectsBadInput_data();
    void auditQueryRejectsBadInput();

    void capacityRejectsBadInput_data();
    void capacityRejectsBadInput();
    void capacityOfAnUnknownNodeIsNotFound();
    void capacityOverrideBecomesTheEffectiveCapacity();

    void drainOrUndrainOfAnUnknownNodeIsNotFound_data();
    void drainOrUndrainOfAnUnknownNodeIsNotFound();
    void encodedNodeIdsAreDecoded();
    void drainedNodeGetsNoClientsUntilUndrained();

    void forgettingAnUnknownNodeIsNotFound();
    void forgettingAServingNodeIsRefused();
    void forgettingAFakedNode_data();
    void forgettingAFakedNode();

    void adminStreamSendsASnapshotEverySecond_data();
    void adminStreamSendsASnapshotEverySecond();
    void adminStreamWithoutAValidKeyIsClosed_data();
    void adminStreamWithoutAValidKeyIsClosed();

    void suggestedCapacityIsTheFewestConnectionsOverTheSlo_data();
    void suggestedCapacityIsTheFewestConnectionsOverTheSlo();

    void assignmentsBeyondTheBurstAreRateLimited_data();
    void assignmentsBeyondTheBurstAreRateLimited();
    void generatedKeyIsAnOperatorKeyNamedAdmin();
    void operatorChangesAndLearnedCapacitySurviveARestart();

private:
    // `authorization` is the whole header value, e.g. bearer(OpsKey); empty: none.
    HttpResult http(const QByteArray &method, const QUrl &base, const QString &path,
                    const QByteArray &authorization, const QByteArray &body = {},
                    const QByteArray &accept = {});
    HttpResult get(const QString &path, const QByteArray &key = OpsKey)
    {
        return http("GET", m_bfgd.decisionUrl(), path, bearer(key));
    }
    // When the decision server last heard from node `id` (its clock, ms).
    qint64 lastReportAtMs(const QString &id)
    {
        const QJsonObject cluster = this->cluster();
        const QJsonObject node = findNode(cluster, id);
        return node.isEmpty()
                   ? -1
                   : cluster.value(u"at_ms"_s).toInteger() - node.value(u"last_report_age_ms"_s).toInteger();
    }
    // A point in time after every audit entry written so far.
    static qint64 auditMark();
    QJsonObject cluster() { return get(u"/v1/cluster"_s).json(); }
    QJsonObject node(const QString &id) { return findNode(cluster(), id); }
    QJsonArray auditSince(qint64 sinceMs)
    {
        return get(u"/v1/audit?since=%1"_s.arg(sinceMs)).json().value(u"entries"_s).toArray();
    }
    HttpResult assign(const QUrl &decision, const QString &user);
    // Reports as push node `id` would (the node endpoint, signed with the secret).
    HttpResult reportAs(const QString &id, int capacity, int connections, double latencyP99Ms = 1);
    QString withNode(QString path) const { return path.replace(NodePlaceholder, m_bfgd.nodeId()); }

    BfgdProcess m_bfgd{{u"--set"_s, u"decision/admin_keys=viewer:read:%1,ops:operator:%2"_s.arg(
                                        QString::fromLatin1(ViewerKey), QString::fromLatin1(OpsKey))}};
    QNetworkAccessManager m_network;
    QByteArray m_secret;
};

HttpResult TestAdminApi::http(const QByteArray &method, const QUrl &base, const QString &path,
                              const QByteArray &authorization, const QByteArray &body,
                              const QByteArray &accept)
{
    bfg::test::HttpCall call;
    call.method = method;
    call.url = base.resolved(QUrl(path));
    call.body = body;
    call.contentType = body.isEmpty() ? QByteArray() : JsonType;
    call.authorization = authorization;
    call.accept = accept;
    return bfg::test::httpCall(m_network, call, WaitMs);
}

HttpResult TestAdminApi::assign(const QUrl &decision, const QString &user)
{
    return http("GET", decision, u"/v1/assign?user="_s + user, {});
}

HttpResult TestAdminApi::reportAs(const QString &id, int capacity, int connections, double latencyP99Ms)
{
    v1::NodeReport report;
    report.set_node_id(id.toStdString());
    report.set_uri(u"ws://127.0.0.1:1/v1/ws#%1"_s.arg(id).toStdString());
    report.set_publish_uri("http://127.0.0.1:1");
    report.set_capacity(quint32(capacity));
    report.set_connections(quint32(connections));
    report.set_state(v1::NODE_ACTIVE);
    report.set_latency_p50_ms(latencyP99Ms / 2);
    report.set_latency_p99_ms(latencyP99Ms);
    report.set_sent_at_ms(protocol::nowMs());

    bfg::TokenClaims claims;
    claims.subject = id;
    claims.scope = bfg::TokenSigner::NodeScope;
    claims.issuedAt = protocol::nowMs() / 1000;
    claims.expiresAt = claims.issuedAt + 60;

    QNetworkRequest request(m_bfgd.decisionUrl().resolved(QUrl(u"/v1/nodes/%1/report"_s.arg(id))));
    request.setHeader(QNetworkRequest::ContentTypeHeader, ProtobufType);
    request.setRawHeader("Authorization", bearer(bfg::TokenSigner(m_secret).sign(claims)));
    QNetworkReply *reply = m_network.post(request, protocol::encode(report));
    HttpResult result;
    if (QTest::qWaitFor([reply] { return reply->isFinished(); }, WaitMs)) {
        result.status = reply->attribute(QNetworkRequest::HttpStatusCodeAttribute).toInt();
        result.body = reply->readAll();
    }
    reply->deleteLater();
    return result;
}

qint64 TestAdminApi::auditMark()
{
    const qint64 markMs = protocol::nowMs() + 1;
    const bool reached = QTest::qWaitFor([markMs] { return protocol::nowMs() >= markMs; }, 1000);
    Q_ASSERT(reached); // a millisecond always passes
    Q_UNUSED(reached)
    return markMs;
}

void TestAdminApi::initTestCase()
{
    QString error;
    QVERIFY2(m_bfgd.start(&error), qPrintable(error));
    QFile secret(m_bfgd.dataDir() + u"/secret"_s);
    QVERIFY2(secret.open(QIODevice::ReadOnly), qPrintable(secret.fileName()));
    m_secret = secret.readAll().trimmed();
    QVERIFY(!m_secret.isEmpty());
    // The push node of this bfgd has reported and takes clients.
    QTRY_VERIFY_WITH_TIMEOUT(node(m_bfgd.nodeId()).value(u"eligible"_s).toBool(), WaitMs);
}

void TestAdminApi::requestsWithoutAValidKeyAreUnauthorized_data()
{
    QTest::addColumn<QByteArray>("method");
    QTest::addColumn<QString>("path");
    QTest::addColumn<QByteArray>("body");
    QTest::addColumn<QByteArray>("authorization"); // the header's value; empty: none

    const struct
    {
        const char *name;
        QByteArray method;
        QString path;
        QByteArray body;
    } endpoints[] = {
        {"cluster", "GET", u"/v1/cluster"_s, {}},
        {"allowed load", "PUT", u"/v1/cluster/allowed-load"_s, R"({"allowed_load": 50})"},
        {"capacity", "PUT", u"/v1/nodes/{node}/capacity"_s, R"({"capacity": 5})"},
        {"drain", "POST", u"/v1/nodes/{node}/drain"_s, {}},
        {"undrain", "POST", u"/v1/nodes/{node}/undrain"_s, {}},
        {"forget", "DELETE", u"/v1/nodes/{node}"_s, {}},
        {"audit", "GET", u"/v1/audit"_s, {}},
    };
    const struct
    {
        const char *name;
        QByteArray authorization;
    } keys[] = {
        {"no key", {}},
        {"unknown key", bearer("not-a-key-of-this-server")},
        {"key with one character changed", bearer("ops-key-8d3e6b0a5c72")},
        {"empty bearer", "Bearer "},
        {"key without the scheme", OpsKey},
        {"basic auth", "Basic " + OpsKey.toBase64()},
    };
    for (const auto &endpoint : endpoints) {
        for (const auto &key : keys)
            QTest::addRow("%s, %s", endpoint.name, key.name)
                << endpoint.method << endpoint.path << endpoint.body << key.authorization;
    }
}

void TestAdminApi::requestsWithoutAValidKeyAreUnauthorized()
{
    QFETCH(QByteArray, method);
    QFETCH(QString, path);
    QFETCH(QByteArray, body);
    QFETCH(QByteArray, authorization);

    const QJsonObject before = node(m_bfgd.nodeId());
    const HttpResult result = http(method, m_bfgd.decisionUrl(), withNode(path), authorization, body);
    QCOMPARE(result.status, 401);
    QCOMPARE(result.contentType, JsonType);
    QCOMPARE(result.errorCode(), u"unauthorized"_s);
    QVERIFY(!result.json().value(u"error"_s).toObject().value(u"message"_s).toString().isEmpty());

    // Nothing changed.
    const QJsonObject cluster = this->cluster();
    QCOMPARE(cluster.value(u"allowed_load"_s).toInt(), 80);
    const QJsonObject after = findNode(cluster, m_bfgd.nodeId());
    QVERIFY(!after.isEmpty());
    QCOMPARE(after.value(u"admin_state"_s).toString(), before.value(u"admin_state"_s).toString());
    QCOMPARE(after.value(u"capacity"_s).toInteger(), before.value(u"capacity"_s).toInteger());
}

// An admin token of `scope` for `subject`, signed with the server's secret
// unless `secret` says otherwise, expiring in `lifetime` seconds.
static QByteArray adminToken(const QByteArray &secret, const QString &scope, const QString &subject,
                             qint64 lifetime = 3600)
{
    bfg::TokenClaims claims;
    claims.scope = scope;
    claims.subject = subject;
    claims.issuedAt = bfg::protocol::nowMs() / 1000 - 7200;
    claims.expiresAt = claims.issuedAt + 7200 + lifetime;
    return bfg::TokenSigner(secret).sign(claims);
}

void TestAdminApi::adminTokensAreScoped_data()
{
    QTest::addColumn<QString>("scope");
    QTest::addColumn<int>("lifetime");
    QTest::addColumn<bool>("otherSecret");
    QTest::addColumn<int>("readStatus");   // GET /v1/cluster
    QTest::addColumn<int>("changeStatus"); // PUT /v1/cluster/allowed-load
    QTest::addColumn<QString>("code");     // of the refusal, when there is one
    const QString read = bfg::TokenSigner::AdminReadScope;
    const QString write = bfg::TokenSigner::AdminWriteScope;
    QTest::addRow("admin:read reads") << read << 3600 << false << 200 << 403 << u"forbidden"_s;
    QTest::addRow("admin:write changes") << write << 3600 << false << 200 << 200 << QString();
    QTest::addRow("expired") << write << -60 << false << 401 << 401 << u"token_expired"_s;
    QTest::addRow("signed elsewhere") << write << 3600 << true << 401 << 401 << u"token_tampered"_s;
    QTest::addRow("publish token") << bfg::TokenSigner::PublishScope << 3600 << false << 403 << 403
                                   << u"wrong_scope"_s;
    QTest::addRow("connect token") << bfg::TokenSigner::ConnectScope << 3600 << false << 403 << 403
                                   << u"wrong_scope"_s;
}

void TestAdminApi::adminTokensAreScoped()
{
    QFETCH(QString, scope);
    QFETCH(int, lifetime);
    QFETCH(bool, otherSecret);
    QFETCH(int, readStatus);
    QFETCH(int, changeStatus);
    QFETCH(QString, code);

    const QByteArray token = adminToken(
        otherSecret ? QByteArray("another-secret-of-32-characters!") : m_secret, scope, u"carol"_s, lifetime);
    const HttpResult read = http("GET", m_bfgd.decisionUrl(), u"/v1/cluster"_s, bearer(token));
    QCOMPARE(read.status, readStatus);
    if (readStatus != 200)
        QCOMPARE(read.errorCode(), code);

    const qint64 mark = auditMark();
    const HttpResult change = http("PUT", m_bfgd.decisionUrl(), u"/v1/cluster/allowed-load"_s, bearer(token),
                                   R"({"allowed_load": 70})");
    QCOMPARE(change.status, changeStatus);
    const QJsonArray entries = auditSince(mark);
    if (changeStatus == 200) {
        // Applied, and the audit log names the token's subject.
        QCOMPARE(cluster().value(u"allowed_load"_s).toInt(), 70);
        QVERIFY(!entries.isEmpty());
        QCOMPARE(entries.last().toObject().value(u"actor"_s).toString(), u"token:carol"_s);
        QCOMPARE(http("PUT", m_bfgd.decisionUrl(), u"/v1/cluster/allowed-load"_s, bearer(OpsKey),
                      R"({"allowed_load": 80})")
                     .status,
                 200);
    } else {
        QCOMPARE(change.errorCode(), code);
        QCOMPARE(cluster().value(u"allowed_load"_s).toInt(), 80);
        QVERIFY(entries.isEmpty());
    }
}

void TestAdminApi::readKeyMayLookButNotChange_data()
{
    QTest::addColumn<QByteArray>("method");
    QTest::addColumn<QString>("path");
    QTest::addColumn<QByteArray>("body");
    QTest::addColumn<int>("status");

    QTest::addRow("cluster") << QByteArray("GET") << u"/v1/cluster"_s << QByteArray() << 200;
    QTest::addRow("audit") << QByteArray("GET") << u"/v1/audit"_s << QByteArray() << 200;
    QTest::addRow("audit with since and limit")
        << QByteArray("GET") << u"/v1/audit?since=0&limit=5"_s << QByteArray() << 200;
    QTest::addRow("allowed load") << QByteArray("PUT") << u"/v1/cluster/allowed-load"_s
                                  << QByteArray(R"({"allowed_load": 50})") << 403;
    QTest::addRow("capacity") << QByteArray("PUT") << u"/v1/nodes/{node}/capacity"_s
                              << QByteArray(R"({"capacity": 5})") << 403;
    QTest::addRow("drain") << QByteArray("POST") << u"/v1/nodes/{node}/drain"_s << QByteArray() << 403;
    QTest::addRow("undrain") << QByteArray("POST") << u"/v1/nodes/{node}/undrain"_s << QByteArray() << 403;
    QTest::addRow("forget") << QByteArray("DELETE") << u"/v1/nodes/{node}"_s << QByteArray() << 403;
    QTest::addRow("forget an unknown node")
        << QByteArray("DELETE") << u"/v1/nodes/no-such-node"_s << QByteArray() << 403;
}

void TestAdminApi::readKeyMayLookButNotChange()
{
    QFETCH(QByteArray, method);
    QFETCH(QString, path);
    QFETCH(QByteArray, body);
    QFETCH(int, status);

    const qint64 startMs = auditMark();
    const QJsonObject before = node(m_bfgd.nodeId());
    const HttpResult result = http(method, m_bfgd.decisionUrl(), withNode(path), bearer(ViewerKey), body);
    QVERIFY2(result.status == status, qPrintable(result.describe()));
    QCOMPARE(result.contentType, JsonType);
    if (status == 403) {
        QCOMPARE(result.errorCode(), u"forbidden"_s);
    } else {
        QVERIFY(!result.json().isEmpty());
        QVERIFY(!result.json().contains(u"error"_s));
    }

    // Nothing changed, and nothing was audited.
    const QJsonObject cluster = this->cluster();
    QCOMPARE(cluster.value(u"allowed_load"_s).toInt(), 80);
    const QJsonObject after = findNode(cluster, m_bfgd.nodeId());
    QCOMPARE(after.value(u"admin_state"_s).toString(), before.value(u"admin_state"_s).toString());
    QCOMPARE(after.value(u"capacity"_s).toInteger(), before.value(u"capacity"_s).toInteger());
    QCOMPARE(auditSince(startMs).size(), 0);
}

void TestAdminApi::configuredKeysReplaceTheGeneratedOne()
{
    // With keys configured, bfgd writes no key file of its own ...
    QVERIFY(!QFile::exists(m_bfgd.dataDir() + u"/admin-key"_s));
    // ... and the operator key may change things (allowed load to what it is).
    const HttpResult result = http("PUT", m_bfgd.decisionUrl(), u"/v1/cluster/allowed-load"_s, bearer(OpsKey),
                                   R"({"allowed_load": 80})");
    QVERIFY2(result.status == 200, qPrintable(result.describe()));
}

void TestAdminApi::clusterJsonHasSnakeCaseNamesAndNumbers()
{
    const HttpResult result = get(u"/v1/cluster"_s, ViewerKey);
    QCOMPARE(result.status, 200);
    QCOMPARE(result.contentType, JsonType);
    const QJsonObject cluster = result.json();
    for (const QString &field : {u"at_ms"_s, u"allowed_load"_s, u"connections"_s, u"capacity"_s})
        QVERIFY2(cluster.value(field).isDouble(), qPrintable(field));
    QCOMPARE(cluster.value(u"allowed_load"_s).toInt(), 80);
    QVERIFY(cluster.value(u"at_ms"_s).toInteger() > 1'600'000'000'000);
    QVERIFY(cluster.value(u"nodes"_s).isArray());

    const QJsonObject node = findNode(cluster, m_bfgd.nodeId());
    QVERIFY2(!node.isEmpty(), result.body.constData());
    for (const QString &field : {u"id"_s, u"uri"_s, u"state"_s, u"admin_state"_s})
        QVERIFY2(node.value(field).isString(), qPrintable(field));
    for (const QString &field : {u"capacity"_s, u"reported_capacity"_s, u"capacity_override"_s,
                                 u"suggested_capacity"_s, u"connections"_s, u"last_report_age_ms"_s})
        QVERIFY2(node.value(field).isDouble(), qPrintable(field));
    QVERIFY(node.value(u"eligible"_s).isBool());
    QCOMPARE(node.value(u"down"_s), QJsonValue(false)); // it reports
    QCOMPARE(cluster.value(u"report_interval_ms"_s).toInt(), 1000);
    QCOMPARE(node.value(u"state"_s).toString(), u"active"_s);
    QCOMPARE(node.value(u"admin_state"_s).toString(), u"active"_s);
    QCOMPARE(node.value(u"reported_capacity"_s).toInt(), 10000); // push/capacity's default
    QCOMPARE(node.value(u"capacity"_s).toInt(), 10000);
    QCOMPARE(node.value(u"capacity_override"_s).toInt(), 0);
    QCOMPARE(node.value(u"uri"_s).toString(), m_bfgd.pushUrl().toString());
    const qint64 age = node.value(u"last_report_age_ms"_s).toInteger();
    QVERIFY2(age >= 0 && age < 3000, qPrintable(QString::number(age)));
}

void TestAdminApi::clusterAsProtobufParsesAsClusterSnapshot()
{
    const HttpResult result =
        http("GET", m_bfgd.decisionUrl(), u"/v1/cluster"_s, bearer(ViewerKey), {}, ProtobufType);
    QCOMPARE(result.status, 200);
    QCOMPARE(result.contentType, ProtobufType);
    v1::ClusterSnapshot snapshot;
    QVERIFY(snapshot.ParseFromArray(result.body.constData(), int(result.body.size())));
    QCOMPARE(snapshot.allowed_load(), 80u);
    QVERIFY(snapshot.at_ms() > 1'600'000'000'000);
    const auto it =
        std::find_if(snapshot.nodes().begin(), snapshot.nodes().end(), [this](const v1::NodeStatus &n) {
            return QString::fromStdString(n.id()) == m_bfgd.nodeId();
        });
    QVERIFY(it != snapshot.nodes().end());
    QCOMPARE(it->capacity(), 10000u);
    QCOMPARE(QString::fromStdString(it->admin_state()), u"active"_s);
    QCOMPARE(QString::fromStdString(it->uri()), m_bfgd.pushUrl().toString());
    // Same view as the JSON one.
    QCOMPARE(qint64(snapshot.nodes_size()), cluster().value(u"nodes"_s).toArray().size());
}

void TestAdminApi::allowedLoadRejectsBadInput_data()
{
    QTest::addColumn<QByteArray>("body");

    QTest::addRow("0") << QByteArray(R"({"allowed_load": 0})");
    QTest::addRow("101") << QByteArray(R"({"allowed_load": 101})");
    QTest::addRow("negative") << QByteArray(R"({"allowed_load": -5})");
    QTest::addRow("huge") << QByteArray(R"({"allowed_load": 1e12})");
    QTest::addRow("fraction 50.5") << QByteArray(R"({"allowed_load": 50.5})");
    QTest::addRow("text abc") << QByteArray(R"({"allowed_load": "abc"})");
    QTest::addRow("number as text") << QByteArray(R"({"allowed_load": "55"})");
    QTest::addRow("null") << QByteArray(R"({"allowed_load": null})");
    QTest::addRow("boolean") << QByteArray(R"({"allowed_load": true})");
    QTest::addRow("other field") << QByteArray(R"({"allowed": 55})");
    QTest::addRow("empty object") << QByteArray("{}");
    QTest::addRow("missing body") << QByteArray();
    QTest::addRow("bare number") << QByteArray("55");
    QTest::addRow("array") << QByteArray("[55]");
    QTest::addRow("not JSON") << QByteArray("allowed_load=55");
    QTest::addRow("truncated JSON") << QByteArray(R"({"allowed_load": 5)");
}

void TestAdminApi::allowedLoadRejectsBadInput()
{
    QFETCH(QByteArray, body);

    const qint64 startMs = auditMark();
    const HttpResult result =
        http("PUT", m_bfgd.decisionUrl(), u"/v1/cluster/allowed-load"_s, bearer(OpsKey), body);
    QVERIFY2(result.status == 400, qPrintable(result.describe()));
    QCOMPARE(result.contentType, JsonType);
    QCOMPARE(result.errorCode(), u"bad_request"_s);
    QCOMPARE(cluster().value(u"allowed_load"_s).toInt(), 80);
    QCOMPARE(auditSince(startMs).size(), 0);
}

void TestAdminApi::allowedLoadChangeIsAppliedAndAudited()
{
    QCOMPARE(cluster().value(u"allowed_load"_s).toInt(), 80);
    const qint64 startMs = auditMark();

    const HttpResult result = http("PUT", m_bfgd.decisionUrl(), u"/v1/cluster/allowed-load"_s, bearer(OpsKey),
                                   R"({"allowed_load": 55})");
    QVERIFY2(result.status == 200, qPrintable(result.describe()));
    QCOMPARE(result.contentType, JsonType);

    const QJsonObject cluster = this->cluster();
    QVERIFY(cluster.value(u"allowed_load"_s).isDouble());
    QCOMPARE(cluster.value(u"allowed_load"_s).toInt(), 55);
    // The read key sees it as well.
    QCOMPARE(get(u"/v1/cluster"_s, ViewerKey).json().value(u"allowed_load"_s).toInt(), 55);

    const QJsonArray entries = auditSince(startMs);
    QCOMPARE(entries.size(), 1);
    const QJsonObject entry = entries.first().toObject();
    QCOMPARE(entry.value(u"actor"_s).toString(), u"ops"_s);
    QCOMPARE(entry.value(u"action"_s).toString(), u"set_allowed_load"_s);
    QCOMPARE(auditText(entry.value(u"old"_s)), u"80"_s);
    QCOMPARE(auditText(entry.value(u"new"_s)), u"55"_s);
    QVERIFY(entry.value(u"id"_s).isDouble());
    QVERIFY(entry.value(u"target"_s).isString());
    const qint64 atMs = entry.value(u"at_ms"_s).toInteger();
    QVERIFY2(atMs >= startMs && atMs <= protocol::nowMs(), qPrintable(QString::number(atMs - startMs)));

    // The limits themselves are accepted.
    for (int percent : {1, 100, 80}) {
        const HttpResult edge =
            http("PUT", m_bfgd.decisionUrl(), u"/v1/cluster/allowed-load"_s, bearer(OpsKey),
                 QByteArray(R"({"allowed_load": )") + QByteArray::number(percent) + '}');
        QVERIFY2(edge.status == 200, qPrintable(edge.describe()));
        QCOMPARE(this->cluster().value(u"allowed_load"_s).toInt(), percent);
    }
    QCOMPARE(auditSince(startMs).size(), 4);
}

void TestAdminApi::auditLogFiltersBySinceAndLimit()
{
    const qint64 startMs = auditMark();
    for (int percent : {70, 75, 80}) {
        const HttpResult result =
            http("PUT", m_bfgd.decisionUrl(), u"/v1/cluster/allowed-load"_s, bearer(OpsKey),
                 QByteArray(R"({"allowed_load": )") + QByteArray::number(percent) + '}');
        QVERIFY2(result.status == 200, qPrintable(result.describe()));
    }

    const QJsonArray all = auditSince(startMs);
    QCOMPARE(all.size(), 3);
    QList<qint64> ids;
    QStringList values;
    for (const QJsonValue &value : all) {
        const QJsonObject entry = value.toObject();
        QVERIFY(entry.value(u"at_ms"_s).toInteger() >= startMs);
        ids.append(entry.value(u"id"_s).toInteger());
        values.append(auditText(entry.value(u"new"_s)));
    }
    QCOMPARE(QSet<qint64>(ids.cbegin(), ids.cend()).size(), 3); // distinct ids
    QStringList sorted = values;
    sorted.sort();
    QCOMPARE(sorted, (QStringList{u"70"_s, u"75"_s, u"80"_s}));

    // Older entries (from the tests before) are there without `since`.
    const QJsonArray everything = get(u"/v1/audit"_s).json().value(u"entries"_s).toArray();
    QVERIFY(everything.size() > 3);
    // Nothing after now.
    QCOMPARE(auditSince(protocol::nowMs() + 60'000).size(), 0);

    const HttpResult limited = get(u"/v1/audit?since=%1&limit=2"_s.arg(startMs));
    QCOMPARE(limited.status, 200);
    const QJsonArray two = limited.json().value(u"entries"_s).toArray();
    QCOMPARE(two.size(), 2);
    for (const QJsonValue &value : two)
        QVERIFY(ids.contains(value.toObject().value(u"id"_s).toInteger()));
}

void TestAdminApi::auditQueryRejectsBadInput_data()
{
    QTest::addColumn<QString>("query");

    QTest::addRow("since is text") << u"since=yesterday"_s;
    QTest::addRow("since is negative") << u"since=-1"_s;
    QTest::addRow("limit 0") << u"limit=0"_s;
    QTest::addRow("limit negative") << u"limit=-3"_s;
    QTest::addRow("limit above 1000") << u"limit=1001"_s;
    QTest::addRow("limit is text") << u"limit=all"_s;
}

void TestAdminApi::auditQueryRejectsBadInput()
{
    QFETCH(QString, query);

    const HttpResult result = get(u"/v1/audit?"_s + query, ViewerKey);
    QVERIFY2(result.status == 400, qPrintable(result.describe()));
    QCOMPARE(result.contentType, JsonType);
    QCOMPARE(result.errorCode(), u"bad_request"_s);
}

void TestAdminApi::capacityRejectsBadInput_data()
{
    QTest::addColumn<QByteArray>("body");

    QTest::addRow("0") << QByteArray(R"({"capacity": 0})");
    QTest::addRow("negative") << QByteArray(R"({"capacity": -10})");
    QTest::addRow("10,000,001") << QByteArray(R"({"capacity": 10000001})");
    QTest::addRow("fraction 2.5") << QByteArray(R"({"capacity": 2.5})");
    QTest::addRow("text abc") << QByteArray(R"({"capacity": "abc"})");
    QTest::addRow("null") << QByteArray(R"({"capacity": null})");
    QTest::addRow("empty object") << QByteArray("{}");
    QTest::addRow("missing body") << QByteArray();
    QTest::addRow("not JSON") << QByteArray("capacity=5");
}

void TestAdminApi::capacityRejectsBadInput()
{
    QFETCH(QByteArray, body);

    const qint64 startMs = auditMark();
    const HttpResult result =
        http("PUT", m_bfgd.decisionUrl(), withNode(u"/v1/nodes/{node}/capacity"_s), bearer(OpsKey), body);
    QVERIFY2(result.status == 400, qPrintable(result.describe()));
    QCOMPARE(result.contentType, JsonType);
    QCOMPARE(result.errorCode(), u"bad_request"_s);
    const QJsonObject node = this->node(m_bfgd.nodeId());
    QCOMPARE(node.value(u"capacity"_s).toInt(), 10000);
    QCOMPARE(node.value(u"capacity_override"_s).toInt(), 0);
    QCOMPARE(auditSince(startMs).size(), 0);
}

void TestAdminApi::capacityOfAnUnknownNodeIsNotFound()
{
    const qint64 startMs = auditMark();
    const HttpResult result = http("PUT", m_bfgd.decisionUrl(), u"/v1/nodes/%1/capacity"_s.arg(UnknownNode),
                                   bearer(OpsKey), R"({"capacity": 100})");
    QVERIFY2(result.status == 404, qPrintable(result.describe()));
    QCOMPARE(result.contentType, JsonType);
    QCOMPARE(result.errorCode(), u"unknown_node"_s);
    QVERIFY(node(UnknownNode).isEmpty()); // not created by the attempt
    QCOMPARE(auditSince(startMs).size(), 0);
}

void TestAdminApi::capacityOverrideBecomesTheEffectiveCapacity()
{
    const QString id = m_bfgd.nodeId();
    const qint64 startMs = auditMark();
    const HttpResult result = http("PUT", m_bfgd.decisionUrl(), withNode(u"/v1/nodes/{node}/capacity"_s),
                                   bearer(OpsKey), R"({"capacity": 1234})");
    QVERIFY2(result.status == 200, qPrintable(result.describe()));

    QJsonObject cluster = this->cluster();
    QJsonObject node = findNode(cluster, id);
    QCOMPARE(node.value(u"capacity"_s).toInt(), 1234);
    QCOMPARE(node.value(u"capacity_override"_s).toInt(), 1234);
    QCOMPARE(node.value(u"reported_capacity"_s).toInt(), 10000);
    QCOMPARE(cluster.value(u"capacity"_s).toInteger(), 1234); // the only node

    const QJsonArray entries = auditSince(startMs);
    QCOMPARE(entries.size(), 1);
    const QJsonObject entry = entries.first().toObject();
    QCOMPARE(entry.value(u"actor"_s).toString(), u"ops"_s);
    QCOMPARE(entry.value(u"action"_s).toString(), u"set_capacity"_s);
    QCOMPARE(entry.value(u"target"_s).toString(), id);
    QCOMPARE(auditText(entry.value(u"old"_s)), u"10000"_s);
    QCOMPARE(auditText(entry.value(u"new"_s)), u"1234"_s);

    // The node's own reports (capacity 10000, once a second) do not undo it.
    const qint64 changedMs = protocol::nowMs();
    QTRY_VERIFY_WITH_TIMEOUT(lastReportAtMs(id) > changedMs, WaitMs);
    node = this->node(id);
    QCOMPARE(node.value(u"capacity"_s).toInt(), 1234);
    QCOMPARE(node.value(u"reported_capacity"_s).toInt(), 10000);

    // The upper limit is accepted.
    const HttpResult largest = http("PUT", m_bfgd.decisionUrl(), withNode(u"/v1/nodes/{node}/capacity"_s),
                                    bearer(OpsKey), R"({"capacity": 10000000})");
    QVERIFY2(largest.status == 200, qPrintable(largest.describe()));
    QCOMPARE(this->node(id).value(u"capacity"_s).toInt(), 10'000'000);
}

void TestAdminApi::drainOrUndrainOfAnUnknownNodeIsNotFound_data()
{
    QTest::addColumn<QString>("action");
    QTest::addRow("drain") << u"drain"_s;
    QTest::addRow("undrain") << u"undrain"_s;
}

void TestAdminApi::drainOrUndrainOfAnUnknownNodeIsNotFound()
{
    QFETCH(QString, action);

    const HttpResult result =
        http("POST", m_bfgd.decisionUrl(), u"/v1/nodes/%1/%2"_s.arg(UnknownNode, action), bearer(OpsKey));
    QVERIFY2(result.status == 404, qPrintable(result.describe()));
    QCOMPARE(result.contentType, JsonType);
    QCOMPARE(result.errorCode(), u"unknown_node"_s);
    QVERIFY(node(UnknownNode).isEmpty());
}

void TestAdminApi::encodedNodeIdsAreDecoded()
{
    // A '/' or a space inside one path segment reaches the handler as part of the id.
    const HttpResult result =
        http("POST", m_bfgd.decisionUrl(), u"/v1/nodes/no%2Fsuch%20node/drain"_s, bearer(OpsKey));
    QVERIFY2(result.status == 404, qPrintable(result.describe()));
    QCOMPARE(result.errorCode(), u"unknown_node"_s);
    const QString message = result.json().value(u"error"_s).toObject().value(u"message"_s).toString();
    QCOMPARE(message, u"no node no/such node"_s);
}

void TestAdminApi::drainedNodeGetsNoClientsUntilUndrained()
{
    const QString id = m_bfgd.nodeId();
    QCOMPARE(cluster().value(u"nodes"_s).toArray().size(), 1);
    QTRY_COMPARE_WITH_TIMEOUT(assign(m_bfgd.decisionUrl(), u"before-drain"_s).status, 200, WaitMs);

    const qint64 startMs = auditMark();
    const HttpResult drained =
        http("POST", m_bfgd.decisionUrl(), withNode(u"/v1/nodes/{node}/drain"_s), bearer(OpsKey));
    QVERIFY2(drained.status == 200, qPrintable(drained.describe()));
    QJsonObject node = this->node(id);
    QCOMPARE(node.value(u"admin_state"_s).toString(), u"draining"_s);
    QCOMPARE(node.value(u"eligible"_s).toBool(), false);

    const HttpResult refused = assign(m_bfgd.decisionUrl(), u"during-drain"_s);
    QVERIFY2(refused.status == 503, qPrintable(refused.describe()));
    QCOMPARE(refused.contentType, JsonType);
    QCOMPARE(refused.errorCode(), u"no_capacity"_s);
    bool ok = false;
    const int retryAfter = refused.retryAfter.toInt(&ok);
    QVERIFY2(ok && retryAfter >= 1, refused.retryAfter.constData());
    // Still refused after the node's next report: the operator's wish sticks.
    QTRY_VERIFY_WITH_TIMEOUT(lastReportAtMs(id) > startMs, WaitMs);
    QCOMPARE(this->node(id).value(u"admin_state"_s).toString(), u"draining"_s);
    QCOMPARE(assign(m_bfgd.decisionUrl(), u"during-drain-2"_s).status, 503);

    const HttpResult undrained =
        http("POST", m_bfgd.decisionUrl(), withNode(u"/v1/nodes/{node}/undrain"_s), bearer(OpsKey));
    QVERIFY2(undrained.status == 200, qPrintable(undrained.describe()));
    node = this->node(id);
    QCOMPARE(node.value(u"admin_state"_s).toString(), u"active"_s);
    QTRY_VERIFY_WITH_TIMEOUT(this->node(id).value(u"eligible"_s).toBool(), WaitMs);
    const HttpResult again = assign(m_bfgd.decisionUrl(), u"after-undrain"_s);
    QVERIFY2(again.status == 200, qPrintable(again.describe()));
    QCOMPARE(again.json().value(u"uri"_s).toString(), m_bfgd.pushUrl().toString());

    // Both changes are audited in order.
    const QJsonArray entries = auditSince(startMs);
    QCOMPARE(entries.size(), 2);
    QStringList actions;
    for (const QJsonValue &value : entries) {
        const QJsonObject entry = value.toObject();
        QCOMPARE(entry.value(u"actor"_s).toString(), u"ops"_s);
        QCOMPARE(entry.value(u"target"_s).toString(), id);
        actions.append(entry.value(u"action"_s).toString());
    }
    actions.sort();
    QCOMPARE(actions, (QStringList{u"drain"_s, u"undrain"_s}));
}

void TestAdminApi::forgettingAnUnknownNodeIsNotFound()
{
    const HttpResult result =
        http("DELETE", m_bfgd.decisionUrl(), u"/v1/nodes/"_s + UnknownNode, bearer(OpsKey));
    QVERIFY2(result.status == 404, qPrintable(result.describe()));
    QCOMPARE(result.contentType, JsonType);
    QCOMPARE(result.errorCode(), u"unknown_node"_s);
}

void TestAdminApi::forgettingAServingNodeIsRefused()
{
    const qint64 startMs = auditMark();
    const HttpResult result =
        http("DELETE", m_bfgd.decisionUrl(), withNode(u"/v1/nodes/{node}"_s), bearer(OpsKey));
    QVERIFY2(result.status == 409, qPrintable(result.describe()));
    QCOMPARE(result.contentType, JsonType);
    QCOMPARE(result.errorCode(), u"conflict"_s);
    const QJsonObject node = this->node(m_bfgd.nodeId());
    QVERIFY(!node.isEmpty());
    QCOMPARE(node.value(u"admin_state"_s).toString(), u"active"_s);
    QCOMPARE(auditSince(startMs).size(), 0);
}

void TestAdminApi::forgettingAFakedNode_data()
{
    QTest::addColumn<int>("connections");
    QTest::addColumn<bool>("drain");
    QTest::addColumn<int>("status");

    QTest::addRow("drained and empty") << 0 << true << 200;
    QTest::addRow("active and empty") << 0 << false << 409;
    QTest::addRow("draining, still with clients") << 5 << true << 409;
}

void TestAdminApi::forgettingAFakedNode()
{
    QFETCH(int, connections);
    QFETCH(bool, drain);
    QFETCH(int, status);

    const QString id = u"fake-forget-%1-%2"_s.arg(connections).arg(drain ? u"drained"_s : u"active"_s);
    const HttpResult reported = reportAs(id, 1000, connections);
    QVERIFY2(reported.status == 200, qPrintable(reported.describe()));
    QCOMPARE(node(id).value(u"connections"_s).toInt(), connections);
    if (drain) {
        const HttpResult drained =
            http("POST", m_bfgd.decisionUrl(), u"/v1/nodes/%1/drain"_s.arg(id), bearer(OpsKey));
        QVERIFY2(drained.status == 200, qPrintable(drained.describe()));
    }

    const qint64 startMs = auditMark();
    const HttpResult forgotten = http("DELETE", m_bfgd.decisionUrl(), u"/v1/nodes/"_s + id, bearer(OpsKey));
    QVERIFY2(forgotten.status == status, qPrintable(forgotten.describe()));
    QCOMPARE(forgotten.contentType, JsonType);
    const QJsonArray entries = auditSince(startMs);
    if (status == 200) {
        QVERIFY(node(id).isEmpty());
        QVERIFY(!node(m_bfgd.nodeId()).isEmpty()); // the others stay
        QCOMPARE(entries.size(), 1);
        const QJsonObject entry = entries.first().toObject();
        QCOMPARE(entry.value(u"actor"_s).toString(), u"ops"_s);
        QCOMPARE(entry.value(u"action"_s).toString(), u"forget"_s);
        QCOMPARE(entry.value(u"target"_s).toString(), id);
        // Gone for good: a second attempt finds nothing.
        QCOMPARE(http("DELETE", m_bfgd.decisionUrl(), u"/v1/nodes/"_s + id, bearer(OpsKey)).status, 404);
    } else {
        QCOMPARE(forgotten.errorCode(), u"conflict"_s);
        QVERIFY(!node(id).isEmpty());
        QCOMPARE(entries.size(), 0);
        // Drain the leftover so that it never takes a client of a later test.
        if (!drain)
            QCOMPARE(
                http("POST", m_bfgd.decisionUrl(), u"/v1/nodes/%1/drain"_s.arg(id), bearer(OpsKey)).status,
                200);
    }
}

void TestAdminApi::adminStreamSendsASnapshotEverySecond_data()
{
    QTest::addColumn<QByteArray>("key");
    QTest::addRow("operator key") << OpsKey;
    QTest::addRow("read key") << ViewerKey;
    QTest::addRow("admin:read token") << adminToken(m_secret, bfg::TokenSigner::AdminReadScope, u"dave"_s);
}

void TestAdminApi::adminStreamSendsASnapshotEverySecond()
{
    QFETCH(QByteArray, key);

    QUrl url = m_bfgd.decisionUrl();
    url.setScheme(u"ws"_s);
    url.setPath(u"/v1/admin/stream"_s);
    QNetworkRequest request(url);
    request.setRawHeader("Authorization", bearer(key));

    QWebSocket socket;
    QList<v1::ClusterSnapshot> snapshots;
    int undecodable = 0;
    connect(&socket, &QWebSocket::binaryMessageReceived, this, [&](const QByteArray &bytes) {
        v1::ClusterSnapshot snapshot;
        if (protocol::decode(bytes, &snapshot))
            snapshots.append(snapshot);
        else
            ++undecodable;
    });
    socket.open(request);
    QTRY_VERIFY_WITH_TIMEOUT(snapshots.size() >= 3, WaitMs);
    QCOMPARE(undecodable, 0);
    QCOMPARE(socket.state(), QAbstractSocket::ConnectedState);

    for (qsizetype i = 0; i < snapshots.size(); ++i) {
        const v1::ClusterSnapshot &snapshot = snapshots.at(i);
        QCOMPARE(snapshot.allowed_load(), 80u);
        const auto it =
            std::find_if(snapshot.nodes().begin(), snapshot.nodes().end(), [this](const v1::NodeStatus &n) {
                return QString::fromStdString(n.id()) == m_bfgd.nodeId();
            });
        QVERIFY(it != snapshot.nodes().end());
        if (i > 0)
            QVERIFY2(snapshot.at_ms() > snapshots.at(i - 1).at_ms(),
                     qPrintable(u"%1 then %2"_s.arg(snapshots.at(i - 1).at_ms()).arg(snapshot.at_ms())));
    }
    // Once a second: the third arrives about two seconds after the first.
    const qint64 spanMs = snapshots.at(2).at_ms() - snapshots.at(0).at_ms();
    QVERIFY2(spanMs >= 1000, qPrintable(QString::number(spanMs)));

    // A change shows up on the stream.
    const int seen = int(snapshots.size());
    QCOMPARE(http("PUT", m_bfgd.decisionUrl(), u"/v1/cluster/allowed-load"_s, bearer(OpsKey),
                  R"({"allowed_load": 65})")
                 .status,
             200);
    QTRY_VERIFY_WITH_TIMEOUT(snapshots.size() > seen && snapshots.last().allowed_load() == 65u, WaitMs);
    QCOMPARE(http("PUT", m_bfgd.decisionUrl(), u"/v1/cluster/allowed-load"_s, bearer(OpsKey),
                  R"({"allowed_load": 80})")
                 .status,
             200);
    socket.close();
}

void TestAdminApi::adminStreamWithoutAValidKeyIsClosed_data()
{
    QTest::addColumn<QByteArray>("authorization");
    QTest::addRow("no key") << QByteArray();
    QTest::addRow("unknown key") << bearer("not-a-key-of-this-server");
    QTest::addRow("key in the wrong scheme") << QByteArray("Basic " + OpsKey.toBase64());
    QTest::addRow("publish token") << bearer(adminToken(m_secret, bfg::TokenSigner::PublishScope, u"crm"_s));
    QTest::addRow("expired admin token")
        << bearer(adminToken(m_secret, bfg::TokenSigner::AdminReadScope, u"dave"_s, -60));
}

void TestAdminApi::adminStreamWithoutAValidKeyIsClosed()
{
    QFETCH(QByteArray, authorization);

    QUrl url = m_bfgd.decisionUrl();
    url.setScheme(u"ws"_s);
    url.setPath(u"/v1/admin/stream"_s);
    QNetworkRequest request(url);
    if (!authorization.isEmpty())
        request.setRawHeader("Authorization", authorization);

    QWebSocket socket;
    int frames = 0;
    bool closed = false;
    connect(&socket, &QWebSocket::binaryMessageReceived, this, [&](const QByteArray &) { ++frames; });
    connect(&socket, &QWebSocket::disconnected, this, [&] { closed = true; });
    socket.open(request);
    QTRY_VERIFY_WITH_TIMEOUT(closed, WaitMs);
    QCOMPARE(int(socket.closeCode()), int(v1::BAD_TOKEN));
    QCOMPARE(int(socket.closeCode()), 3500);
    QCOMPARE(frames, 0);
}

void TestAdminApi::suggestedCapacityIsTheFewestConnectionsOverTheSlo_data()
{
    QTest::addColumn<QList<std::pair<int, double>>>("reports"); // connections, p99 ms
    QTest::addColumn<int>("suggested");

    using Reports = QList<std::pair<int, double>>;
    QTest::addRow("p99 80 ms at 300, then 120 ms at 500") << Reports{{300, 80}, {500, 120}} << 300;
    QTest::addRow("never over the SLO") << Reports{{300, 10}, {500, 49.9}} << 0;
    QTest::addRow("exactly at the SLO is not over it") << Reports{{400, 50}} << 0;
    QTest::addRow("first breach sets it") << Reports{{100, 5}, {300, 51}} << 300;
    QTest::addRow("a breach at fewer connections lowers it") << Reports{{500, 120}, {300, 80}} << 300;
    QTest::addRow("back under the SLO keeps it") << Reports{{300, 80}, {100, 5}, {600, 20}} << 300;
    QTest::addRow("slow with no connections says nothing") << Reports{{0, 500}} << 0;
}

void TestAdminApi::suggestedCapacityIsTheFewestConnectionsOverTheSlo()
{
    using Reports = QList<std::pair<int, double>>;
    QFETCH(Reports, reports);
    QFETCH(int, suggested);

    static int row = 0;
    const QString id = u"fake-learner-%1"_s.arg(++row);
    for (const auto &[connections, p99] : reports) {
        const HttpResult reported = reportAs(id, 1000, connections, p99);
        QVERIFY2(reported.status == 200, qPrintable(reported.describe()));
    }
    const QJsonObject node = this->node(id);
    QCOMPARE(node.value(u"connections"_s).toInt(), reports.last().first);
    QCOMPARE(node.value(u"suggested_capacity"_s).toInt(), suggested);
    // A suggestion only: the effective capacity is still what the node says.
    QCOMPARE(node.value(u"capacity"_s).toInt(), 1000);
    QCOMPARE(node.value(u"reported_capacity"_s).toInt(), 1000);

    // Keep the faked node from taking clients of a later test.
    QCOMPARE(http("POST", m_bfgd.decisionUrl(), u"/v1/nodes/%1/drain"_s.arg(id), bearer(OpsKey)).status, 200);
}

void TestAdminApi::assignmentsBeyondTheBurstAreRateLimited_data()
{
    QTest::addColumn<QString>("rate");
    QTest::addColumn<QString>("burst");
    QTest::addColumn<int>("requests");
    QTest::addColumn<int>("granted"); // the first `granted` succeed, the rest are 429

    QTest::addRow("rate 1, burst 2") << u"1"_s << u"2"_s << 3 << 2;
    QTest::addRow("rate 1, burst 5") << u"1"_s << u"5"_s << 7 << 5;
    QTest::addRow("rate 0 is unlimited") << u"0"_s << u"1"_s << 60 << 60;
}

void TestAdminApi::assignmentsBeyondTheBurstAreRateLimited()
{
    QFETCH(QString, rate);
    QFETCH(QString, burst);
    QFETCH(int, requests);
    QFETCH(int, granted);

    BfgdProcess bfgd(
        {u"--set"_s, u"decision/assign_rate="_s + rate, u"--set"_s, u"decision/assign_burst="_s + burst});
    QString error;
    QVERIFY2(bfgd.start(&error), qPrintable(error));
    // Wait for the node through the admin API: that takes no assignment token.
    QTRY_VERIFY_WITH_TIMEOUT(
        findNode(http("GET", bfgd.decisionUrl(), u"/v1/cluster"_s, bearer(bfgd.adminKey())).json(),
                 bfgd.nodeId())
            .value(u"eligible"_s)
            .toBool(),
        WaitMs);

    QList<HttpResult> results;
    for (int i = 0; i < requests; ++i)
        results.append(assign(bfgd.decisionUrl(), u"user-%1"_s.arg(i)));
    for (int i = 0; i < requests; ++i) {
        const HttpResult &result = results.at(i);
        if (i < granted) {
            QVERIFY2(result.status == 200, qPrintable(u"request %1: "_s.arg(i + 1) + result.describe()));
            QVERIFY(!result.json().value(u"token"_s).toString().isEmpty());
            continue;
        }
        QVERIFY2(result.status == 429, qPrintable(u"request %1: "_s.arg(i + 1) + result.describe()));
        QCOMPARE(result.contentType, JsonType);
        QCOMPARE(result.errorCode(), u"too_many_requests"_s);
        bool ok = false;
        const int retryAfter = result.retryAfter.toInt(&ok);
        QVERIFY2(ok && retryAfter >= 1 && retryAfter <= 3, result.retryAfter.constData());
    }
    // The admin API is not rate limited.
    QCOMPARE(http("GET", bfgd.decisionUrl(), u"/v1/cluster"_s, bearer(bfgd.adminKey())).status, 200);
}

void TestAdminApi::generatedKeyIsAnOperatorKeyNamedAdmin()
{
    BfgdProcess bfgd;
    QString error;
    QVERIFY2(bfgd.start(&error), qPrintable(error));
    const QByteArray key = bfgd.adminKey();
    QVERIFY2(key.size() >= 16, key.constData());
    // Another server's keys are not valid here.
    QCOMPARE(http("GET", bfgd.decisionUrl(), u"/v1/cluster"_s, bearer(OpsKey)).status, 401);

    const qint64 startMs = auditMark();
    const HttpResult result = http("PUT", bfgd.decisionUrl(), u"/v1/cluster/allowed-load"_s, bearer(key),
                                   R"({"allowed_load": 60})");
    QVERIFY2(result.status == 200, qPrintable(result.describe()));
    const HttpResult audit =
        http("GET", bfgd.decisionUrl(), u"/v1/audit?since=%1"_s.arg(startMs), bearer(key));
    const QJsonArray entries = audit.json().value(u"entries"_s).toArray();
    QCOMPARE(entries.size(), 1);
    QVERIFY(entries.first().toObject().value(u"actor"_s).toString().startsWith(u"admin-"_s));
    QCOMPARE(entries.first().toObject().value(u"action"_s).toString(), u"set_allowed_load"_s);

    // The setting survives a restart (it lives in the store).
    QCOMPARE(bfgd.stop(), 0);
    QVERIFY2(bfgd.start(&error), qPrintable(error));
    QCOMPARE(http("GET", bfgd.decisionUrl(), u"/v1/cluster"_s, bearer(bfgd.adminKey()))
                 .json()
                 .value(u"allowed_load"_s)
                 .toInt(),
             60);
}

void TestAdminApi::operatorChangesAndLearnedCapacitySurviveARestart()
{
    const QString id = u"fake-restart"_s;
    QCOMPARE(reportAs(id, 1000, 300, 80).status, 200);
    QCOMPARE(http("PUT", m_bfgd.decisionUrl(), u"/v1/nodes/%1/capacity"_s.arg(id), bearer(OpsKey),
                  R"({"capacity": 400})")
                 .status,
             200);
    QCOMPARE(http("POST", m_bfgd.decisionUrl(), u"/v1/nodes/%1/drain"_s.arg(id), bearer(OpsKey)).status, 200);
    QCOMPARE(http("PUT", m_bfgd.decisionUrl(), u"/v1/cluster/allowed-load"_s, bearer(OpsKey),
                  R"({"allowed_load": 77})")
                 .status,
             200);
    const qint64 auditBefore = get(u"/v1/audit"_s).json().value(u"entries"_s).toArray().size();

    QCOMPARE(m_bfgd.stop(), 0);
    QString error;
    QVERIFY2(m_bfgd.start(&error), qPrintable(error));

    const QJsonObject cluster = this->cluster();
    QCOMPARE(cluster.value(u"allowed_load"_s).toInt(), 77);
    const QJsonObject node = findNode(cluster, id);
    QVERIFY2(!node.isEmpty(), QJsonDocument(cluster).toJson().constData());
    QCOMPARE(node.value(u"suggested_capacity"_s).toInt(), 300);
    QCOMPARE(node.value(u"capacity_override"_s).toInt(), 400);
    QCOMPARE(node.value(u"capacity"_s).toInt(), 400);
    QCOMPARE(node.value(u"admin_state"_s).toString(), u"draining"_s);
    QCOMPARE(get(u"/v1/audit"_s, ViewerKey).json().value(u"entries"_s).toArray().size(), auditBefore);
}

QTEST_GUILESS_MAIN(TestAdminApi)
#include "tst_adminapi.moc"
