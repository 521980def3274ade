// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 BFG developers
//
// The console's admin client against real bfgd processes (decision and
// push in one): the snapshot stream and its state, every admin call read
// back from the server, errors as the operator sees them, a refused key,
// and falling back along the decision list when a server is gone, never
// answers, or stops streaming.
#include <QSignalSpy>
#include <QTcpServer>
#include <QTcpSocket>
#include <QTest>

#include "console/core/adminclient.h"
#include "tests/support/bfgdprocess.h"
#include "tests/support/testhttp.h"

using namespace Qt::Literals::StringLiterals;
using bfg::AdminClient;
using bfg::AdminResult;
using bfg::AuditRecord;
using bfg::test::BfgdProcess;
namespace v1 = bfg::v1;

namespace {
constexpr int WaitMs = 15000;

// Calls `call` with a callback and waits for its result.
template<typename Call>
AdminResult await(Call call)
{
    AdminResult result;
    bool done = false;
    call([&](const AdminResult &answer) {
        result = answer;
        done = true;
    });
    if (!QTest::qWaitFor([&] { return done; }, WaitMs))
        result.message = u"no answer"_s;
    return result;
}

// A URL where nothing listens.
QUrl deadUrl()
{
    return QUrl(u"http://127.0.0.1:%1"_s.arg(bfg::test::freeLoopbackPort()));
}
} // namespace

class TestAdminClient : public QObject
{
    Q_OBJECT

private:
    std::unique_ptr<BfgdProcess> m_bfgd;
    v1::ClusterSnapshot m_last;

    QString nodeId() const { return m_bfgd->nodeId(); }

    // Connects `client` to the shared bfgd and waits for its node to report.
    void connectAndWaitForNode(AdminClient &client)
    {
        m_last.Clear(); // only this client's snapshots count
        connect(&client, &AdminClient::snapshotReceived, this,
                [this](const v1::ClusterSnapshot &snapshot) { m_last = snapshot; });
        client.connectTo({m_bfgd->decisionUrl()}, m_bfgd->adminKey());
        QTRY_COMPARE_WITH_TIMEOUT(client.state(), AdminClient::State::Connected, WaitMs);
        QTRY_VERIFY_WITH_TIMEOUT(m_last.nodes_size() == 1 && m_last.nodes(0).last_report_age_ms() >= 0,
                                 WaitMs);
    }

    const v1::NodeStatus &node() const { return m_last.nodes(0); }

private Q_SLOTS:
    void initTestCase()
    {
        m_bfgd = std::make_unique<BfgdProcess>();
        QString error;
        QVERIFY2(m_bfgd->start(&error), qPrintable(error));
    }

    void normalizedUrls_data()
    {
        QTest::addColumn<QString>("text");
        QTest::addColumn<QString>("expected");
        QTest::addRow("full") << u"http://10.0.0.5:8080"_s << u"http://10.0.0.5:8080"_s;
        QTest::addRow("trailing slash") << u" https://bfg.example/ "_s << u"https://bfg.example"_s;
        QTest::addRow("host:port") << u"10.0.0.5:8080"_s << u"http://10.0.0.5:8080"_s;
        QTest::addRow("behind a path") << u"https://ops.example/bfg/"_s << u"https://ops.example/bfg"_s;
        QTest::addRow("not http") << u"ftp://10.0.0.5"_s << QString();
        QTest::addRow("no host") << u"http://"_s << QString();
        QTest::addRow("empty") << u""_s << QString();
        QTest::addRow("query") << u"http://a:1/?x=1"_s << QString();
    }

    void normalizedUrls()
    {
        QFETCH(QString, text);
        QFETCH(QString, expected);
        const QUrl url = AdminClient::normalizedUrl(text);
        QCOMPARE(url.isValid() ? url.toString() : QString(), expected);
    }

    void streamsSnapshotsEverySecond()
    {
        AdminClient client;
        QSignalSpy states(&client, &AdminClient::stateChanged);
        QSignalSpy snapshots(&client, &AdminClient::snapshotReceived);
        connectAndWaitForNode(client);
        QCOMPARE(states.first().first().value<AdminClient::State>(), AdminClient::State::Connecting);
        QCOMPARE(client.currentUrl(), m_bfgd->decisionUrl());
        QCOMPARE(QString::fromStdString(node().id()), nodeId());
        const qsizetype before = snapshots.count();
        QTRY_VERIFY_WITH_TIMEOUT(snapshots.count() >= before + 2, WaitMs);
        QVERIFY(client.lastUpdateMs() > 0);
        QVERIFY(client.lastError().isEmpty());
        QVERIFY(m_last.report_interval_ms() > 0);
        QVERIFY(!node().down());
    }

    void callsChangeTheCluster()
    {
        AdminClient client;
        connectAndWaitForNode(client);

        QVERIFY(await([&](auto done) { client.setAllowedLoad(55, done); }).ok);
        QTRY_COMPARE_WITH_TIMEOUT(m_last.allowed_load(), 55u, WaitMs);

        QVERIFY(await([&](auto done) { client.setCapacity(nodeId(), 1234, done); }).ok);
        QTRY_COMPARE_WITH_TIMEOUT(node().capacity(), 1234u, WaitMs);
        QCOMPARE(node().capacity_override(), 1234u);

        QVERIFY(await([&](auto done) { client.drain(nodeId(), done); }).ok);
        QTRY_COMPARE_WITH_TIMEOUT(node().admin_state(), std::string("draining"), WaitMs);
        QTRY_COMPARE_WITH_TIMEOUT(node().state(), std::string("drained"), WaitMs); // no clients: at once
        QVERIFY(!node().eligible());

        QVERIFY(await([&](auto done) { client.undrain(nodeId(), done); }).ok);
        QTRY_COMPARE_WITH_TIMEOUT(node().state(), std::string("active"), WaitMs);
        QTRY_VERIFY_WITH_TIMEOUT(node().eligible(), WaitMs);

        // Every change is in the audit log, under the key's name.
        QList<AuditRecord> records;
        const AdminResult audit = await([&](auto done) {
            client.fetchAudit(0, [&records, done](const AdminResult &result, const QList<AuditRecord> &page) {
                records = page;
                done(result);
            });
        });
        QVERIFY2(audit.ok, qPrintable(audit.message));
        QStringList actions;
        for (const AuditRecord &record : records) {
            actions.append(record.action);
            QVERIFY(record.actor.startsWith(u"admin-"_s));
            QVERIFY(record.atMs > 0);
        }
        QVERIFY2(actions.join(u' ').contains(u"set_allowed_load set_capacity drain undrain"_s),
                 qPrintable(actions.join(u' ')));
        QCOMPARE(records.last().newValue, u"active"_s);
        QVERIFY(await([&](auto done) { client.setAllowedLoad(80, done); }).ok);
    }

    void refusalsCarryTheServersReason()
    {
        AdminClient client;
        connectAndWaitForNode(client);
        // A node that serves (it reports, it is not drained) cannot be forgotten.
        const AdminResult forget = await([&](auto done) { client.forget(nodeId(), done); });
        QVERIFY(!forget.ok);
        QCOMPARE(forget.httpStatus, 409);
        QCOMPARE(forget.code, u"conflict"_s);
        QVERIFY2(forget.message.contains(u"drain it first"_s), qPrintable(forget.message));

        const AdminResult unknown = await([&](auto done) { client.drain(u"no/such node"_s, done); });
        QCOMPARE(unknown.httpStatus, 404);
        QCOMPARE(unknown.code, u"unknown_node"_s);
        QVERIFY2(unknown.message.contains(u"no/such node"_s), qPrintable(unknown.message));

        const AdminResult bad = await([&](auto done) { client.setAllowedLoad(0, done); });
        QCOMPARE(bad.httpStatus, 400);
        QCOMPARE(bad.code, u"bad_request"_s);
    }

    void aRefusedKeyIsNotRetried()
    {
        AdminClient client;
        QSignalSpy rejected(&client, &AdminClient::keyRejected);
        client.connectTo({m_bfgd->decisionUrl()}, QByteArrayLiteral("not-the-key"));
        QTRY_COMPARE_WITH_TIMEOUT(rejected.count(), 1, WaitMs);
        QCOMPARE(client.state(), AdminClient::State::Disconnected);
        QVERIFY2(client.lastError().contains(u"refused"_s), qPrintable(client.lastError()));
        // And it stays down: no state change at all for a while (the retry delay starts at 0.5 s).
        QSignalSpy states(&client, &AdminClient::stateChanged);
        QVERIFY(!states.wait(1500));
        QCOMPARE(client.state(), AdminClient::State::Disconnected);
        QCOMPARE(rejected.count(), 1);

        const AdminResult call = await([&](auto done) { client.setAllowedLoad(50, done); });
        QCOMPARE(call.httpStatus, 401);
    }

    void fallsBackPastAServerThatIsDown()
    {
        AdminClient client;
        const QUrl dead = deadUrl();
        client.connectTo({dead, m_bfgd->decisionUrl()}, m_bfgd->adminKey());
        QTRY_COMPARE_WITH_TIMEOUT(client.state(), AdminClient::State::Connected, WaitMs);
        QCOMPARE(client.currentUrl(), m_bfgd->decisionUrl());
        // Calls go to the server the stream is on.
        QVERIFY(await([&](auto done) { client.setAllowedLoad(80, done); }).ok);
    }

    void abandonsAServerThatNeverAnswers()
    {
        // Accepts TCP connections and says nothing: the handshake never ends.
        QTcpServer blackHole;
        QVERIFY(blackHole.listen(QHostAddress::LocalHost));
        QList<QTcpSocket *> held;
        connect(&blackHole, &QTcpServer::newConnection, this,
                [&] { held.append(blackHole.nextPendingConnection()); });
        AdminClient client;
        client.connectTo({QUrl(u"http://127.0.0.1:%1"_s.arg(blackHole.serverPort())), m_bfgd->decisionUrl()},
                         m_bfgd->adminKey());
        QTRY_VERIFY_WITH_TIMEOUT(!held.isEmpty(), WaitMs);
        QCOMPARE(client.state(), AdminClient::State::Connecting);
        QTRY_COMPARE_WITH_TIMEOUT(client.state(), AdminClient::State::Connected,
                                  AdminClient::SilenceLimitMs + WaitMs);
        QCOMPARE(client.currentUrl(), m_bfgd->decisionUrl());
        QVERIFY2(client.lastError().isEmpty(), qPrintable(client.lastError()));
    }

    void movesToTheNextServerWhenOneGoesAwayAndWaitsWhenAllAre()
    {
        BfgdProcess second;
        QString error;
        QVERIFY2(second.start(&error), qPrintable(error));
        // Two separate bfgd, each with its own key (one cluster's decision
        // servers share theirs through the store).
        AdminClient client;
        client.connectTo({second.decisionUrl(), m_bfgd->decisionUrl()}, second.adminKey());
        QTRY_COMPARE_WITH_TIMEOUT(client.state(), AdminClient::State::Connected, WaitMs);
        QCOMPARE(client.currentUrl(), second.decisionUrl());

        second.kill();
        // It moves on to the other server, which refuses this key: the client says so and stops.
        QSignalSpy rejected(&client, &AdminClient::keyRejected);
        QTRY_COMPARE_WITH_TIMEOUT(rejected.count(), 1, WaitMs);
        QVERIFY2(client.lastError().contains(m_bfgd->decisionUrl().toString()),
                 qPrintable(client.lastError()));

        // With the right key and the second server gone: it falls back to the
        // first; once that is gone too it waits, retries, and is back when it returns.
        client.connectTo({second.decisionUrl(), m_bfgd->decisionUrl()}, m_bfgd->adminKey());
        QTRY_COMPARE_WITH_TIMEOUT(client.state(), AdminClient::State::Connected, WaitMs);
        QCOMPARE(client.currentUrl(), m_bfgd->decisionUrl());
        m_bfgd->kill();
        QTRY_COMPARE_WITH_TIMEOUT(client.state(), AdminClient::State::Waiting, WaitMs);
        QVERIFY(client.failedRounds() >= 1);
        QVERIFY(client.nextAttemptMs() > 0);
        QVERIFY(!client.lastError().isEmpty());
        const AdminResult call = await([&](auto done) { client.setAllowedLoad(70, done); });
        QVERIFY(!call.ok);
        QCOMPARE(call.httpStatus, 0);
        QCOMPARE(call.code, u"unreachable"_s);
        QVERIFY2(m_bfgd->start(&error), qPrintable(error)); // same ports, same data: same key
        QTRY_COMPARE_WITH_TIMEOUT(client.state(), AdminClient::State::Connected, 30000);
        QCOMPARE(client.currentUrl(), m_bfgd->decisionUrl());
    }
};

QTEST_GUILESS_MAIN(TestAdminClient)
#include "tst_adminclient.moc"
