// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 BFG developers
//
// Draining a push node, as an operator does it: through the decision
// server's admin API, or with SIGTERM to the node. A decision-only bfgd,
// push-only bfgd nodes reporting to it and the real bfg-probe: every client
// of the drained node ends up on the other one, none is lost on the way,
// and a draining node turns newcomers away with a Reconnect (DRAINING).
//
// Each push node has a broker of its own, so a user moved to another node
// cannot replay its history there: the probe only connects and listens
// (--no-publish) and the tests check connections, not messages.
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QTest>
#include <QWebSocket>

#include "bfg/v1/frames.pb.h"
#include "common/protocol.h"
#include "tests/support/localcluster.h"
#include "tests/support/probeprocess.h"

using namespace Qt::Literals::StringLiterals;
using bfg::test::BfgdProcess;

namespace {
constexpr int WaitMs = 10000;
constexpr int ConnectMs = 30000; // every probe user live
constexpr int DrainMs = 20000;   // every client moved off a drained node
constexpr int ProbeUsers = 300;
} // namespace

class TestDrain : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void cleanup();

    void drainMovesEveryClientToTheOtherNode();
    void sigtermDrainsBeforeExiting();
    void newClientsAreTurnedAwayWhileDraining();

private:
    using HttpResult = bfg::test::HttpResult;
    HttpResult http(const QByteArray &method, const QString &path) { return m_cluster->admin(method, path); }
    int connections(const BfgdProcess &push) { return m_cluster->connections(push); }
    QString state(const BfgdProcess &push) { return m_cluster->state(push); }
    bool eligible(const BfgdProcess &push) { return m_cluster->eligible(push); }
    QJsonObject node(const BfgdProcess &push) { return m_cluster->node(push); }

    // A decision server and `pushNodes` push nodes reporting to it, each
    // eligible; fails the test otherwise.
    void startCluster(int pushNodes);
    void startProbe();
    // Decision + push nodes A and B, and the probe's users spread over both.
    void startTwoNodesWithEveryUserConnected();
    // Interrupts the probe (it prints and writes its summary) and reads it.
    QJsonObject stopProbe();

    std::unique_ptr<bfg::test::LocalCluster> m_cluster;
    std::unique_ptr<bfg::test::ProbeProcess> m_probe;
};

void TestDrain::startCluster(int pushNodes)
{
    QString error;
    m_cluster = std::make_unique<bfg::test::LocalCluster>();
    QVERIFY2(m_cluster->startDecision(&error), qPrintable(error));
    for (int i = 0; i < pushNodes; ++i)
        QVERIFY2(m_cluster->addPushNode(&error), qPrintable(error));
    for (int i = 0; i < pushNodes; ++i) {
        const BfgdProcess &push = m_cluster->push(i);
        QTRY_VERIFY_WITH_TIMEOUT(eligible(push), WaitMs);
        QCOMPARE(state(push), u"active"_s);
    }
}

void TestDrain::startProbe()
{
    m_probe = std::make_unique<bfg::test::ProbeProcess>();
    QString error;
    // Long enough to outlast every test; stopProbe() interrupts it.
    QVERIFY2(m_probe->start({u"--decision"_s, m_cluster->decision().decisionUrl().toString(), u"--users"_s,
                             QString::number(ProbeUsers), u"--no-publish"_s, u"--duration"_s, u"120"_s,
                             u"--ramp-ms"_s, u"1000"_s, u"--quiet"_s},
                            &error),
             qPrintable(error));
}

QJsonObject TestDrain::stopProbe()
{
    m_probe->interrupt();
    const QJsonObject summary = m_probe->finish(30000);
    qInfo().noquote() << "probe:" << QString::fromUtf8(m_probe->output()).trimmed();
    return summary;
}

void TestDrain::cleanup()
{
    m_probe.reset();
    m_cluster.reset();
}

void TestDrain::startTwoNodesWithEveryUserConnected()
{
    startCluster(2);
    if (QTest::currentTestFailed())
        return;
    startProbe();
    if (QTest::currentTestFailed())
        return;
    const BfgdProcess &a = m_cluster->push(0);
    const BfgdProcess &b = m_cluster->push(1);
    QTRY_COMPARE_WITH_TIMEOUT(connections(a) + connections(b), ProbeUsers, ConnectMs);
    QVERIFY(connections(a) > 0);
    QVERIFY(connections(b) > 0);
}

void TestDrain::drainMovesEveryClientToTheOtherNode()
{
    startTwoNodesWithEveryUserConnected();
    if (QTest::currentTestFailed())
        return;
    const BfgdProcess &a = m_cluster->push(0);
    const BfgdProcess &b = m_cluster->push(1);

    const HttpResult drained = http("POST", u"/v1/nodes/%1/drain"_s.arg(a.nodeId()));
    QVERIFY2(drained.status == 200, drained.body.constData());
    QCOMPARE(node(a).value(u"admin_state"_s).toString(), u"draining"_s);
    QVERIFY(!eligible(a));

    // The node tells D it has drained, and its clients are all on B.
    QTRY_COMPARE_WITH_TIMEOUT(state(a), u"drained"_s, DrainMs);
    QCOMPARE(connections(a), 0);
    QVERIFY(!eligible(a));
    QTRY_COMPARE_WITH_TIMEOUT(connections(b), ProbeUsers, DrainMs);
    QCOMPARE(connections(a), 0);

    // The operator's action is on record.
    bool audited = false;
    const QJsonObject audit = http("GET", u"/v1/audit?since=0"_s).json();
    for (const QJsonValue &value : audit.value(u"entries"_s).toArray()) {
        const QJsonObject entry = value.toObject();
        audited |= entry.value(u"action"_s).toString() == u"drain"_s &&
                   entry.value(u"target"_s).toString() == a.nodeId();
    }
    QVERIFY2(audited, QJsonDocument(audit).toJson().constData());

    // Undrained, the node takes clients again.
    const HttpResult undrained = http("POST", u"/v1/nodes/%1/undrain"_s.arg(a.nodeId()));
    QVERIFY2(undrained.status == 200, undrained.body.constData());
    QTRY_COMPARE_WITH_TIMEOUT(state(a), u"active"_s, WaitMs);
    QTRY_VERIFY_WITH_TIMEOUT(eligible(a), WaitMs);
    QCOMPARE(node(a).value(u"admin_state"_s).toString(), u"active"_s);

    const QJsonObject summary = stopProbe();
    QVERIFY2(!summary.isEmpty(), "the probe wrote no summary");
    QCOMPARE(summary.value(u"users_live"_s).toInt(), ProbeUsers);
    QCOMPARE(summary.value(u"users_live_at_end"_s).toInt(), ProbeUsers);
    QCOMPARE(summary.value(u"failed_clients"_s).toInt(), 0);
    QCOMPARE(summary.value(u"verdict"_s).toString(), u"pass"_s);
    QCOMPARE(summary.value(u"exit_code"_s).toInt(), 0);
    // Every client of A came back through the decision server.
    QVERIFY(summary.value(u"reconnects"_s).toInteger() > 0);
}

void TestDrain::sigtermDrainsBeforeExiting()
{
    startTwoNodesWithEveryUserConnected();
    if (QTest::currentTestFailed())
        return;
    BfgdProcess &a = m_cluster->push(0);
    const BfgdProcess &b = m_cluster->push(1);

    // Graceful: drained (well within push/drain_timeout_ms), then exit 0.
    QCOMPARE(a.stop(), 0);
    QVERIFY(!a.isRunning());
    const QByteArray log = a.output();
    QVERIFY2(log.contains("event=drained ") && !log.contains("event=drain_timeout"), log.constData());

    QTRY_COMPARE_WITH_TIMEOUT(connections(b), ProbeUsers, DrainMs);

    const QJsonObject summary = stopProbe();
    QVERIFY2(!summary.isEmpty(), "the probe wrote no summary");
    QCOMPARE(summary.value(u"users_live_at_end"_s).toInt(), ProbeUsers);
    QCOMPARE(summary.value(u"failed_clients"_s).toInt(), 0);
    QCOMPARE(summary.value(u"verdict"_s).toString(), u"pass"_s);
    QCOMPARE(summary.value(u"exit_code"_s).toInt(), 0);
}

void TestDrain::newClientsAreTurnedAwayWhileDraining()
{
    startCluster(1);
    if (QTest::currentTestFailed())
        return;
    const BfgdProcess &push = m_cluster->push(0);

    // A token fetched before the drain (connect tokens last a minute).
    const HttpResult assigned = http("GET", u"/v1/assign?user=drain-newcomer"_s);
    QVERIFY2(assigned.status == 200, assigned.body.constData());
    const QString token = assigned.json().value(u"token"_s).toString();
    const QUrl uri(assigned.json().value(u"uri"_s).toString());
    QVERIFY(!token.isEmpty());
    QVERIFY(uri.isValid());

    const HttpResult drained = http("POST", u"/v1/nodes/%1/drain"_s.arg(push.nodeId()));
    QVERIFY2(drained.status == 200, drained.body.constData());
    QTRY_COMPARE_WITH_TIMEOUT(http("GET", u"/v1/assign?user=drain-latecomer"_s).status, 503, WaitMs);
    // The node got the command: it reports itself drained (it had no client).
    QTRY_COMPARE_WITH_TIMEOUT(state(push), u"drained"_s, WaitMs);

    QWebSocket socket;
    QList<QByteArray> frames;
    connect(&socket, &QWebSocket::binaryMessageReceived, this,
            [&frames](const QByteArray &frame) { frames.append(frame); });
    socket.open(uri);
    QTRY_COMPARE_WITH_TIMEOUT(socket.state(), QAbstractSocket::ConnectedState, WaitMs);

    bfg::v1::ClientFrame hello;
    hello.mutable_hello()->set_token(token.toStdString());
    hello.mutable_hello()->set_client("tst_drain");
    socket.sendBinaryMessage(bfg::protocol::encode(hello));

    QTRY_VERIFY_WITH_TIMEOUT(!frames.isEmpty(), WaitMs);
    bfg::v1::ServerFrame frame;
    QVERIFY(bfg::protocol::decode(frames.constFirst(), &frame));
    QCOMPARE(frame.kind_case(), bfg::v1::ServerFrame::kReconnect);
    QCOMPARE(frame.reconnect().code(), bfg::v1::DRAINING);
    QVERIFY(frame.reconnect().retry_after_ms() < 60000);

    QTRY_COMPARE_WITH_TIMEOUT(socket.state(), QAbstractSocket::UnconnectedState, WaitMs);
    QCOMPARE(int(socket.closeCode()), int(bfg::v1::DRAINING));
    QCOMPARE(frames.size(), 1); // no Welcome: the client was not taken
    QCOMPARE(connections(push), 0);
}

QTEST_GUILESS_MAIN(TestDrain)
#include "tst_drain.moc"
