// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 BFG developers
//
// "Several decision servers can run at once over one PostgreSQL database;
// clients hold an ordered list of decision URLs and fall back in turn, so
// none is a single point of failure" (DESIGN.md, "Roles"). A real
// PostgreSQL, two decision-only bfgd processes (A and B) on it, one
// push-only bfgd reporting to both, and the real bfg-probe: what an
// operator changes through A is what B serves, and a thousand users
// connecting through "A,B" all get every message once and in order while
// A is killed -9 in the middle of their ramp.
#include <QCoreApplication>
#include <QDir>
#include <QElapsedTimer>
#include <QFile>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QNetworkAccessManager>
#include <QNetworkReply>
#include <QNetworkRequest>
#include <QProcess>
#include <QTemporaryDir>
#include <QTest>

#include "tests/support/bfgdprocess.h"
#include "tests/support/testhttp.h"
#include "tests/support/postgresserver.h"

using namespace Qt::Literals::StringLiterals;
using bfg::test::BfgdProcess;
using bfg::test::PostgresServer;

namespace {
constexpr int WaitMs = 10000;
constexpr int ProbeUsers = 1000;
constexpr int KillAfterConnections = 200;
const QByteArray OpsKey = QByteArrayLiteral("fallback-ops-key-5e2d81c7a9");

// Processes (other than this one) whose command line mentions `path`.
QList<qint64> processesUsing(const QString &path)
{
    QList<qint64> pids;
    const QByteArray needle = path.toLocal8Bit();
    const QDir proc(u"/proc"_s);
    for (const QString &entry : proc.entryList(QDir::Dirs | QDir::NoDotAndDotDot)) {
        bool isPid = false;
        const qint64 pid = entry.toLongLong(&isPid);
        if (!isPid || pid == QCoreApplication::applicationPid())
            continue;
        QFile cmdline(proc.filePath(entry + u"/cmdline"_s));
        if (cmdline.open(QIODevice::ReadOnly) && cmdline.readAll().contains(needle))
            pids.append(pid);
    }
    return pids;
}
} // namespace

class TestDecisionFallback : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void initTestCase();
    void cleanupTestCase();

    void keysAreSharedThroughTheStore();
    void changeThroughOneServerIsServedByTheOther();
    void drainThroughOneServerStopsAssignmentsOnTheOther();
    void generatedKeysOfTwoServersOnOneStoreBothWork();
    // Runs last: kills decision server A.
    void clientsRideOutTheLossOfTheFirstDecisionServer();

private:
    using HttpResult = bfg::test::HttpResult;
    HttpResult http(const QByteArray &method, const QUrl &url, const QByteArray &key,
                    const QByteArray &body = {});
    QJsonObject cluster(const BfgdProcess &decision, const QByteArray &key = OpsKey)
    {
        return http("GET", decision.decisionUrl().resolved(QUrl(u"/v1/cluster"_s)), key).json();
    }
    QJsonObject pushNode(const BfgdProcess &decision);
    int assignStatus(const BfgdProcess &decision, const QString &user);
    static QStringList decisionArgs(const QString &store, const QString &secret, bool withKeys = true);

    PostgresServer m_postgres;
    QString m_secret = bfg::test::randomSecret();
    std::unique_ptr<BfgdProcess> m_decisionA;
    std::unique_ptr<BfgdProcess> m_decisionB;
    std::unique_ptr<BfgdProcess> m_push;
    QList<QString> m_dataDirs; // of every bfgd started, to check that none is left
    QNetworkAccessManager m_network;
};

TestDecisionFallback::HttpResult TestDecisionFallback::http(const QByteArray &method, const QUrl &url,
                                                            const QByteArray &key, const QByteArray &body)
{
    bfg::test::HttpCall call;
    call.method = method;
    call.url = url;
    call.body = body;
    call.contentType = body.isEmpty() ? QByteArray() : QByteArrayLiteral("application/json");
    call.authorization = key.isEmpty() ? QByteArray() : bfg::test::bearer(key);
    return bfg::test::httpCall(m_network, call, 5000);
}

QJsonObject TestDecisionFallback::pushNode(const BfgdProcess &decision)
{
    for (const QJsonValue &node : cluster(decision).value(u"nodes"_s).toArray()) {
        if (node.toObject().value(u"id"_s).toString() == m_push->nodeId())
            return node.toObject();
    }
    return {};
}

int TestDecisionFallback::assignStatus(const BfgdProcess &decision, const QString &user)
{
    return http("GET", decision.decisionUrl().resolved(QUrl(u"/v1/assign?user="_s + user)), {}).status;
}

QStringList TestDecisionFallback::decisionArgs(const QString &store, const QString &secret, bool withKeys)
{
    QStringList args{u"--role"_s, u"decision"_s,
                     u"--set"_s,  u"decision/store="_s + store,
                     u"--set"_s,  u"general/secret="_s + secret};
    if (withKeys)
        args << u"--set"_s << u"decision/admin_keys=ops:operator:"_s + QString::fromLatin1(OpsKey);
    return args;
}

void TestDecisionFallback::initTestCase()
{
    QString error;
    QVERIFY2(m_postgres.start(&error), qPrintable(error));
    QVERIFY2(m_postgres.createDatabase(u"bfg_fallback"_s, &error), qPrintable(error));
    const QString store = m_postgres.url(u"bfg_fallback"_s);

    // Started one after the other: both migrate the same database. Only A
    // is configured with the operator key; B learns it from the store (and
    // generates a key of its own, "admin").
    m_decisionA = std::make_unique<BfgdProcess>(decisionArgs(store, m_secret));
    m_dataDirs.append(m_decisionA->dataDir());
    QVERIFY2(m_decisionA->start(&error), qPrintable(error));
    m_decisionB = std::make_unique<BfgdProcess>(decisionArgs(store, m_secret, false));
    m_dataDirs.append(m_decisionB->dataDir());
    QVERIFY2(m_decisionB->start(&error), qPrintable(error));
    QVERIFY(m_decisionA->decisionUrl().isValid());
    QVERIFY(m_decisionB->decisionUrl().isValid());
    QVERIFY(m_decisionA->decisionUrl() != m_decisionB->decisionUrl());

    m_push = std::make_unique<BfgdProcess>(
        QStringList{u"--role"_s, u"push"_s, u"--set"_s, u"general/secret="_s + m_secret, u"--decision-url"_s,
                    m_decisionA->decisionUrl().toString() + u',' + m_decisionB->decisionUrl().toString()});
    m_dataDirs.append(m_push->dataDir());
    QVERIFY2(m_push->start(&error), qPrintable(error));
    QVERIFY(m_push->pushUrl().isValid());
    QVERIFY(!m_push->nodeId().isEmpty());

    // The node reports to both; each decision server sees it eligible.
    QTRY_VERIFY_WITH_TIMEOUT(pushNode(*m_decisionA).value(u"eligible"_s).toBool(), WaitMs);
    QTRY_VERIFY_WITH_TIMEOUT(pushNode(*m_decisionB).value(u"eligible"_s).toBool(), WaitMs);
}

void TestDecisionFallback::cleanupTestCase()
{
    for (auto *process : {m_push.get(), m_decisionB.get(), m_decisionA.get()}) {
        if (process && process->isRunning())
            process->stop();
    }
    m_push.reset();
    m_decisionB.reset();
    m_decisionA.reset();
    m_postgres.stop();
    QVERIFY(!m_postgres.isRunning());
    for (const QString &dir : std::as_const(m_dataDirs))
        QVERIFY2(processesUsing(dir).isEmpty(), qPrintable(u"a bfgd of %1 is still running"_s.arg(dir)));
}

void TestDecisionFallback::keysAreSharedThroughTheStore()
{
    const QUrl clusterOnA = m_decisionA->decisionUrl().resolved(QUrl(u"/v1/cluster"_s));
    const QUrl clusterOnB = m_decisionB->decisionUrl().resolved(QUrl(u"/v1/cluster"_s));
    // A's configured key on B, which was not given it.
    QCOMPARE(http("GET", clusterOnB, OpsKey).status, 200);
    // B's generated key on A, once A has reloaded the keys (every second).
    const QByteArray keyOfB = m_decisionB->adminKey();
    QVERIFY(keyOfB.size() >= 16);
    QTRY_COMPARE_WITH_TIMEOUT(http("GET", clusterOnA, keyOfB).status, 200, 5000);
    QCOMPARE(http("GET", clusterOnB, keyOfB).status, 200);
    QCOMPARE(http("GET", clusterOnA, OpsKey).status, 200);
    // Keys nobody configured work nowhere.
    QCOMPARE(http("GET", clusterOnA, "fallback-unknown-key-000000").status, 401);
    QCOMPARE(http("GET", clusterOnB, "fallback-unknown-key-000000").status, 401);
}

void TestDecisionFallback::changeThroughOneServerIsServedByTheOther()
{
    QCOMPARE(cluster(*m_decisionB).value(u"allowed_load"_s).toInt(), 80);

    const HttpResult changed =
        http("PUT", m_decisionA->decisionUrl().resolved(QUrl(u"/v1/cluster/allowed-load"_s)), OpsKey,
             R"({"allowed_load": 42})");
    QVERIFY2(changed.status == 200, changed.body.constData());
    QCOMPARE(cluster(*m_decisionA).value(u"allowed_load"_s).toInt(), 42);
    // B reloads from the store once a report interval (1 s).
    QTRY_COMPARE_WITH_TIMEOUT(cluster(*m_decisionB).value(u"allowed_load"_s).toInt(), 42, 3000);

    // The change made on A is in the audit log B serves.
    const QJsonObject audit =
        http("GET", m_decisionB->decisionUrl().resolved(QUrl(u"/v1/audit"_s)), OpsKey).json();
    bool found = false;
    for (const QJsonValue &value : audit.value(u"entries"_s).toArray()) {
        const QJsonObject entry = value.toObject();
        found |= entry.value(u"action"_s).toString() == u"set_allowed_load"_s &&
                 entry.value(u"actor"_s).toString() == u"ops"_s;
    }
    QVERIFY2(found, QJsonDocument(audit).toJson().constData());

    // Capacity set through B is effective on A.
    const HttpResult capacity = http(
        "PUT", m_decisionB->decisionUrl().resolved(QUrl(u"/v1/nodes/%1/capacity"_s.arg(m_push->nodeId()))),
        OpsKey, R"({"capacity": 5000})");
    QVERIFY2(capacity.status == 200, capacity.body.constData());
    QTRY_COMPARE_WITH_TIMEOUT(pushNode(*m_decisionA).value(u"capacity"_s).toInt(), 5000, 3000);

    // Back to the defaults for the probe run.
    QCOMPARE(http("PUT", m_decisionB->decisionUrl().resolved(QUrl(u"/v1/cluster/allowed-load"_s)), OpsKey,
                  R"({"allowed_load": 80})")
                 .status,
             200);
    QCOMPARE(http("PUT",
                  m_decisionA->decisionUrl().resolved(QUrl(u"/v1/nodes/%1/capacity"_s.arg(m_push->nodeId()))),
                  OpsKey, R"({"capacity": 10000})")
                 .status,
             200);
    QTRY_COMPARE_WITH_TIMEOUT(cluster(*m_decisionA).value(u"allowed_load"_s).toInt(), 80, 3000);
    QTRY_COMPARE_WITH_TIMEOUT(pushNode(*m_decisionB).value(u"capacity"_s).toInt(), 10000, 3000);
}

void TestDecisionFallback::drainThroughOneServerStopsAssignmentsOnTheOther()
{
    QCOMPARE(assignStatus(*m_decisionB, u"before-drain"_s), 200);
    const QUrl node = m_decisionA->decisionUrl().resolved(QUrl(u"/v1/nodes/%1/"_s.arg(m_push->nodeId())));
    QCOMPARE(http("POST", node.resolved(QUrl(u"drain"_s)), OpsKey).status, 200);
    QTRY_COMPARE_WITH_TIMEOUT(pushNode(*m_decisionB).value(u"admin_state"_s).toString(), u"draining"_s, 3000);
    QCOMPARE(assignStatus(*m_decisionB, u"during-drain"_s), 503);

    QCOMPARE(http("POST", node.resolved(QUrl(u"undrain"_s)), OpsKey).status, 200);
    QTRY_COMPARE_WITH_TIMEOUT(pushNode(*m_decisionB).value(u"admin_state"_s).toString(), u"active"_s, 3000);
    QTRY_COMPARE_WITH_TIMEOUT(assignStatus(*m_decisionB, u"after-undrain"_s), 200, 3000);
}

void TestDecisionFallback::generatedKeysOfTwoServersOnOneStoreBothWork()
{
    // Two more decision servers on a database of their own, with no keys
    // configured: each writes an operator key into its data directory.
    QString error;
    QVERIFY2(m_postgres.createDatabase(u"bfg_generated_keys"_s, &error), qPrintable(error));
    const QString store = m_postgres.url(u"bfg_generated_keys"_s);
    BfgdProcess first(decisionArgs(store, m_secret, false));
    m_dataDirs.append(first.dataDir());
    QVERIFY2(first.start(&error), qPrintable(error));
    BfgdProcess second(decisionArgs(store, m_secret, false));
    m_dataDirs.append(second.dataDir());
    QVERIFY2(second.start(&error), qPrintable(error));
    const QByteArray firstKey = first.adminKey();
    const QByteArray secondKey = second.adminKey();
    QVERIFY(firstKey.size() >= 16 && secondKey.size() >= 16);
    QVERIFY(firstKey != secondKey);

    // A change through the second with its own key; once the first serves it
    // to that key, the first has reloaded settings and keys from the store.
    const HttpResult changed = http("PUT", second.decisionUrl().resolved(QUrl(u"/v1/cluster/allowed-load"_s)),
                                    secondKey, R"({"allowed_load": 70})");
    QVERIFY2(changed.status == 200, changed.body.constData());
    QTRY_COMPARE_WITH_TIMEOUT(cluster(first, secondKey).value(u"allowed_load"_s).toInt(), 70, 5000);

    // Then each key works on each server.
    for (const BfgdProcess *server : {&first, &second}) {
        for (const BfgdProcess *owner : {&first, &second}) {
            const int status =
                http("GET", server->decisionUrl().resolved(QUrl(u"/v1/cluster"_s)), owner->adminKey()).status;
            QVERIFY2(status == 200,
                     qPrintable(u"key of %1 on %2: HTTP %3"_s
                                    .arg(owner->decisionUrl().toString(), server->decisionUrl().toString())
                                    .arg(status)));
        }
    }
}

void TestDecisionFallback::clientsRideOutTheLossOfTheFirstDecisionServer()
{
    QTemporaryDir probeDir;
    const QString jsonPath = probeDir.filePath(u"probe.json"_s);
    QProcess probe;
    probe.setProcessChannelMode(QProcess::MergedChannels);
    QByteArray probeOutput;
    connect(&probe, &QProcess::readyRead, this, [&] { probeOutput += probe.readAll(); });
    QElapsedTimer elapsed;
    elapsed.start();
    probe.start(bfg::test::probePath(),
                {u"--decision"_s,
                 m_decisionA->decisionUrl().toString() + u',' + m_decisionB->decisionUrl().toString(),
                 u"--users"_s, QString::number(ProbeUsers), u"--rate"_s, u"1"_s, u"--duration"_s, u"12"_s,
                 u"--ramp-ms"_s, u"6000"_s, u"--json"_s, jsonPath, u"--quiet"_s});
    QVERIFY2(probe.waitForStarted(5000), qPrintable(probe.errorString()));

    // Kill A once part of the users are connected (as the push node tells B)
    // and the rest still have to ask a decision server.
    QTRY_VERIFY_WITH_TIMEOUT(pushNode(*m_decisionB).value(u"connections"_s).toInt() >= KillAfterConnections,
                             30000);
    const int connectedAtKill = pushNode(*m_decisionB).value(u"connections"_s).toInt();
    QVERIFY2(connectedAtKill < ProbeUsers, "every user connected before A was killed: ramp too short");
    m_decisionA->kill();
    QVERIFY(!m_decisionA->isRunning());
    const qint64 killedAtMs = elapsed.elapsed();

    QTRY_VERIFY_WITH_TIMEOUT(probe.state() == QProcess::NotRunning, 180000);
    probeOutput += probe.readAll();
    QFile json(jsonPath);
    QVERIFY2(json.open(QIODevice::ReadOnly), probeOutput.constData());
    const QJsonObject summary = QJsonDocument::fromJson(json.readAll()).object();

    qInfo("decision A killed at %lld ms with %d of %d users connected", killedAtMs, connectedAtKill,
          ProbeUsers);
    qInfo("users live %lld, published %lld, received %lld, lost %lld, reconnects %lld, probe ran %.1f s",
          summary.value(u"users_live"_s).toInteger(), summary.value(u"published"_s).toInteger(),
          summary.value(u"received"_s).toInteger(), summary.value(u"lost"_s).toInteger(),
          summary.value(u"reconnects"_s).toInteger(), double(elapsed.elapsed()) / 1000.0);

    QVERIFY2(probe.exitStatus() == QProcess::NormalExit && probe.exitCode() == 0, probeOutput.constData());
    QCOMPARE(summary.value(u"users_live"_s).toInt(), ProbeUsers);
    QVERIFY(summary.value(u"published"_s).toInteger() > 0);
    QCOMPARE(summary.value(u"lost"_s).toInteger(), 0);
    QCOMPARE(summary.value(u"duplicated"_s).toInteger(), 0);
    QCOMPARE(summary.value(u"reordered"_s).toInteger(), 0);
    QCOMPARE(summary.value(u"misdelivered"_s).toInteger(), 0);
    QVERIFY(summary.value(u"received"_s).toInteger() >= summary.value(u"published"_s).toInteger());
    QCOMPARE(summary.value(u"verdict"_s).toString(), u"pass"_s);

    // B carries on alone: it still assigns and still sees the node.
    QCOMPARE(assignStatus(*m_decisionB, u"after-the-loss"_s), 200);
    QVERIFY(pushNode(*m_decisionB).value(u"eligible"_s).toBool());
}

QTEST_GUILESS_MAIN(TestDecisionFallback)
#include "tst_decisionfallback.moc"
