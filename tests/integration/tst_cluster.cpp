// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 BFG developers
//
// The multi-node cluster on a real Redis keeps its promises: streams,
// history and fan-out live in Redis, so a client resumes on any push node
// without losing anything, and a publish through any node's API reaches
// readers on every node. One decision-only bfgd, three push-only bfgd nodes
// with broker/type = redis, a redis-server with AOF started by the fixture,
// and the real bfg-probe (BFG_TEST_USERS users, 1000 by default, 4 msg/s
// each) checking every message while the test drains a node, kills one,
// restarts Redis, publishes across nodes and adds a node.
//
// Each scenario gets a cluster and a Redis of its own: they are
// destructive, and a failure stays with the scenario that caused it. The
// probe runs until the test has seen the cluster settle and some traffic
// after it, then is interrupted (it stops publishing and waits for
// delivery) and its verdict read. Each scenario prints its figures.
#include <QElapsedTimer>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QNetworkAccessManager>
#include <QRandomGenerator>
#include <QTest>
#include <QWebSocket>

#include "bfg/v1/frames.pb.h"
#include "common/backoff.h"
#include "common/protocol.h"
#include "tests/support/localcluster.h"
#include "tests/support/probeprocess.h"
#include "tests/support/redisserver.h"

using namespace Qt::Literals::StringLiterals;
using bfg::test::BfgdProcess;
using bfg::test::HttpResult;

namespace {
constexpr int PushNodes = 3;
constexpr int ReportIntervalMs = 500;
constexpr double RatePerUser = 4;
constexpr int RampMs = 2000;
constexpr int WaitMs = 10000;       // a node eligible, a request answered
constexpr int LiveMs = 120000;      // every probe user live at the start
constexpr int SettleMs = 60000;     // a drain, a Redis return: only a hang takes longer
constexpr int TrafficMs = 60000;    // the messages of TrafficAfterS after the cluster settled
constexpr int FinishMs = 120000;    // the probe's end: delivery of the last messages, its report
constexpr double TrafficAfterS = 5; // seconds' worth of messages received after settling
// A killed node's clients: the decision server drops the node after three
// silent report intervals; a client that drew it until then waits at most
// the backoff cap before its next try, then connects, resumes and is live.
constexpr int KillBoundMs = 3 * ReportIntervalMs + bfg::Backoff::DefaultCapMs + 10000;
// "A new node takes assignments within two report intervals", with slack.
constexpr int NewNodeBoundMs = 3 * ReportIntervalMs + 2000;
constexpr int CrossNodeMessages = 40; // per reader, published in batches of CrossNodeBatch
constexpr int CrossNodeBatch = 10;

int probeUsers()
{
    bool ok = false;
    const int users = qEnvironmentVariableIntValue("BFG_TEST_USERS", &ok);
    return ok && users > 0 ? users : 1000;
}

QString uniqueSuffix()
{
    return QString::number(QRandomGenerator::global()->generate() & 0xffffff, 16);
}

// A client that connects to the push node it is told to (connect tokens
// name the user, not the node), with a raw WebSocket, and records what it
// receives.
struct RawReader
{
    QString user;
    const BfgdProcess *node = nullptr;    // where it reads
    const BfgdProcess *publish = nullptr; // whose publish API feeds it
    std::unique_ptr<QWebSocket> socket;
    QString welcomeNode;
    QString epoch;
    QList<bfg::v1::Message> messages;
    QString problem; // an error frame, an undecodable frame
};
} // namespace

class TestCluster : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void initTestCase();
    void init();
    void cleanup();

    void drainMidRunLosesNothing();
    void killedNodeUsersResumeElsewhereWithinTheBackoffBound();
    void redisRestartPausesPublishesAndLosesNothing();
    void publishThroughOneNodeReachesReadersOnTheOthers();
    void addedNodeTakesNewAssignments();

private:
    BfgdProcess &push(int index) const { return m_cluster->push(index); }
    // Starts the probe publishing through `publishVia`'s API and waits until
    // every user is live and publishing has begun.
    void startProbe(const BfgdProcess &publishVia);
    // Waits for TrafficAfterS seconds' worth of messages to arrive, then
    // interrupts the probe and reads its summary.
    QJsonObject finishProbe();
    void verifyClean(const QJsonObject &summary);
    void printFigures(const char *scenario, const QString &event, const QJsonObject &summary);
    // Every user live by the probe's count, after the reconnects of `moved`
    // users beyond `reconnectsBefore`.
    bool everyUserBackLive(qint64 reconnectsBefore, int moved);
    // Connections of every push node, as the decision server last heard.
    int reportedConnections();
    HttpResult publish(const BfgdProcess &via, const QByteArray &json);
    void connectReader(RawReader *reader);

    int m_users = probeUsers();
    std::unique_ptr<bfg::test::RedisServer> m_redis;
    std::unique_ptr<bfg::test::LocalCluster> m_cluster;
    std::unique_ptr<bfg::test::ProbeProcess> m_probe;
    QNetworkAccessManager m_network;
};

void TestCluster::initTestCase()
{
    qInfo("%d probe users at %g msg/s each (BFG_TEST_USERS), %d push nodes, report interval %d ms", m_users,
          RatePerUser, PushNodes, ReportIntervalMs);
}

void TestCluster::init()
{
    QString error;
    m_redis = std::make_unique<bfg::test::RedisServer>();
    QVERIFY2(m_redis->start(&error), qPrintable(error));
    const QString interval = u"decision/report_interval_ms=%1"_s.arg(ReportIntervalMs);
    m_cluster = std::make_unique<bfg::test::LocalCluster>(
        QStringList{u"--set"_s, interval},
        QStringList{u"--set"_s, interval, u"--set"_s, u"broker/type=redis"_s, u"--set"_s,
                    u"broker/redis_address=127.0.0.1:%1"_s.arg(m_redis->port())});
    QVERIFY2(m_cluster->startDecision(&error), qPrintable(error));
    for (int i = 0; i < PushNodes; ++i)
        QVERIFY2(m_cluster->addPushNode(&error), qPrintable(error));
    for (int i = 0; i < PushNodes; ++i) {
        QTRY_VERIFY_WITH_TIMEOUT(m_cluster->eligible(push(i)), WaitMs);
        QTRY_COMPARE_WITH_TIMEOUT(m_cluster->broker(push(i)), u"redis up"_s, WaitMs);
    }
}

void TestCluster::cleanup()
{
    if (QTest::currentTestFailed() && m_probe)
        qInfo().noquote() << "probe output:\n" << QString::fromUtf8(m_probe->output()).right(4000);
    m_probe.reset();
    if (QTest::currentTestFailed() && m_cluster) {
        for (int i = 0; i < m_cluster->pushCount(); ++i)
            qInfo().noquote() << "log of push node" << push(i).nodeId() << ":\n"
                              << QString::fromUtf8(push(i).output()).right(3000);
    }
    m_cluster.reset();
    m_redis.reset();
}

void TestCluster::startProbe(const BfgdProcess &publishVia)
{
    m_probe = std::make_unique<bfg::test::ProbeProcess>();
    QString error;
    // Runs until finishProbe() interrupts it.
    QVERIFY2(m_probe->start({u"--decision"_s, m_cluster->decision().decisionUrl().toString(), u"--users"_s,
                             QString::number(m_users), u"--rate"_s, QString::number(RatePerUser),
                             u"--duration"_s, u"3600"_s, u"--ramp-ms"_s, QString::number(RampMs),
                             u"--publish"_s, publishVia.publishUrl().toString()},
                            &error),
             qPrintable(error));
    // "N of N users live after X ms": publishing begins.
    QTRY_VERIFY_WITH_TIMEOUT(m_probe->output().contains(" users live after ") || !m_probe->isRunning(),
                             LiveMs);
    const QByteArray allLive =
        QByteArray::number(m_users) + " of " + QByteArray::number(m_users) + " users live";
    QVERIFY2(m_probe->output().contains(allLive), m_probe->output().constData());
    // And as the nodes report it (within a report interval), so that the
    // figures taken from the cluster view count every user.
    QTRY_COMPARE_WITH_TIMEOUT(reportedConnections(), m_users, WaitMs);
}

int TestCluster::reportedConnections()
{
    int sum = 0;
    for (const QJsonValue &node : m_cluster->nodes())
        sum += node.toObject().value(u"connections"_s).toInt();
    return sum;
}

QJsonObject TestCluster::finishProbe()
{
    const qint64 received = m_probe->progress().received;
    const auto target = qint64(TrafficAfterS * RatePerUser * m_users) + received;
    if (!QTest::qWaitFor([&] { return m_probe->progress().received >= target || !m_probe->isRunning(); },
                         TrafficMs))
        qWarning("the probe received fewer than %lld messages in %d ms", target - received, TrafficMs);
    m_probe->interrupt();
    return m_probe->finish(FinishMs);
}

void TestCluster::verifyClean(const QJsonObject &summary)
{
    QVERIFY2(!summary.isEmpty(), "the probe wrote no summary");
    const QByteArray text = QJsonDocument(summary).toJson();
    QVERIFY2(summary.value(u"users_live"_s).toInt() == m_users, text.constData());
    QVERIFY2(summary.value(u"users_live_at_end"_s).toInt() == m_users, text.constData());
    QVERIFY2(summary.value(u"failed_clients"_s).toInt() == 0, text.constData());
    QVERIFY2(summary.value(u"published"_s).toInteger() > 0, text.constData());
    QVERIFY2(summary.value(u"rejected"_s).toInteger() == 0, text.constData());
    QVERIFY2(summary.value(u"lost"_s).toInteger() == 0, text.constData());
    QVERIFY2(summary.value(u"lost_undelivered"_s).toInteger() == 0, text.constData());
    QVERIFY2(summary.value(u"duplicated"_s).toInteger() == 0, text.constData());
    QVERIFY2(summary.value(u"reordered"_s).toInteger() == 0, text.constData());
    QVERIFY2(summary.value(u"misdelivered"_s).toInteger() == 0, text.constData());
    QVERIFY2(summary.value(u"wrong_epoch"_s).toInteger() == 0, text.constData());
    // Redis keeps every stream's history: a client resumes on any node.
    QVERIFY2(summary.value(u"not_recovered"_s).toInt() == 0, text.constData());
    // Every acknowledged publish was received (the probe is the only publisher).
    QVERIFY2(summary.value(u"received"_s).toInteger() >= summary.value(u"published"_s).toInteger(),
             text.constData());
    QVERIFY2(summary.value(u"verdict"_s).toString() == u"pass"_s, text.constData());
    QVERIFY2(summary.value(u"exit_code"_s).toInt() == 0, text.constData());
}

void TestCluster::printFigures(const char *scenario, const QString &event, const QJsonObject &summary)
{
    const auto figure = [&summary](const char *key) { return summary.value(QLatin1String(key)).toInteger(); };
    qInfo("%s: %s", scenario, qPrintable(event));
    qInfo("%s: messages published (acked) %lld, received and checked %lld; lost %lld, duplicated %lld, "
          "reordered %lld, misdelivered %lld; resumes %lld (%lld recovered, %lld not), reconnects %lld, "
          "publish retries %lld, unacked %lld; latency p50 %.1f ms, p99 %.1f ms, max %.1f ms",
          scenario, figure("published"), figure("received"), figure("lost"), figure("duplicated"),
          figure("reordered"), figure("misdelivered"), figure("resumes"), figure("recovered"),
          figure("not_recovered"), figure("reconnects"), figure("publish_retries"), figure("unacked"),
          summary.value(u"latency_ms"_s).toObject().value(u"p50"_s).toDouble(),
          summary.value(u"latency_ms"_s).toObject().value(u"p99"_s).toDouble(),
          summary.value(u"latency_ms"_s).toObject().value(u"max"_s).toDouble());
}

bool TestCluster::everyUserBackLive(qint64 reconnectsBefore, int moved)
{
    const bfg::test::ProbeProgress progress = m_probe->progress();
    return progress.live == m_users && progress.reconnects >= reconnectsBefore + moved;
}

HttpResult TestCluster::publish(const BfgdProcess &via, const QByteArray &json)
{
    bfg::test::HttpCall call;
    call.method = "POST";
    call.url = via.publishUrl().resolved(QUrl(u"/v1/publish"_s));
    call.body = json;
    call.contentType = "application/json";
    return bfg::test::httpCall(m_network, call, 5000);
}

void TestCluster::drainMidRunLosesNothing()
{
    const BfgdProcess &a = push(0);
    // Through the node being drained: its users move, its publish API stays,
    // and everything it takes reaches readers on the other nodes.
    startProbe(a);
    if (QTest::currentTestFailed())
        return;
    const int moved = m_cluster->connections(a);
    QVERIFY2(moved > 0, "no probe user on node A");
    const qint64 reconnectsBefore = m_probe->progress().reconnects;

    QElapsedTimer settle;
    settle.start();
    const HttpResult drained = m_cluster->admin("POST", u"/v1/nodes/%1/drain"_s.arg(a.nodeId()));
    QVERIFY2(drained.status == 200, qPrintable(drained.describe()));
    QTRY_VERIFY_WITH_TIMEOUT(
        m_cluster->state(a) == u"drained"_s && everyUserBackLive(reconnectsBefore, moved), SettleMs);
    const qint64 settleMs = settle.elapsed();
    QCOMPARE(m_cluster->connections(a), 0);
    QVERIFY(!m_cluster->eligible(a));
    QTRY_COMPARE_WITH_TIMEOUT(m_cluster->connections(push(1)) + m_cluster->connections(push(2)), m_users,
                              WaitMs);

    const QJsonObject summary = finishProbe();
    printFigures(
        "drain",
        u"%1 users moved off node A, drained with every user live again after %2 ms"_s.arg(moved).arg(
            settleMs),
        summary);
    verifyClean(summary);
    QVERIFY(summary.value(u"resumes"_s).toInt() >= moved);
}

void TestCluster::killedNodeUsersResumeElsewhereWithinTheBackoffBound()
{
    BfgdProcess &b = push(1);
    startProbe(push(2));
    if (QTest::currentTestFailed())
        return;
    const int moved = m_cluster->connections(b);
    QVERIFY2(moved > 0, "no probe user on node B");
    const qint64 reconnectsBefore = m_probe->progress().reconnects;

    QElapsedTimer settle;
    settle.start();
    b.kill();
    QVERIFY(!b.isRunning());
    // By the probe's count, and as the surviving nodes report it.
    QTRY_VERIFY_WITH_TIMEOUT(everyUserBackLive(reconnectsBefore, moved), KillBoundMs);
    const qint64 liveMs = settle.elapsed();
    QTRY_VERIFY_WITH_TIMEOUT(m_cluster->connections(push(0)) + m_cluster->connections(push(2)) == m_users,
                             KillBoundMs);
    const qint64 reportedMs = settle.elapsed();
    QVERIFY2(liveMs <= KillBoundMs, qPrintable(u"%1 ms"_s.arg(liveMs)));
    QTRY_VERIFY_WITH_TIMEOUT(!m_cluster->eligible(b), WaitMs);

    const QJsonObject summary = finishProbe();
    printFigures("kill -9",
                 u"%1 users of node B (killed) live again on A and C after %2 ms (bound %3 ms), "
                 "reported by A and C after %4 ms"_s.arg(moved)
                     .arg(liveMs)
                     .arg(KillBoundMs)
                     .arg(reportedMs),
                 summary);
    verifyClean(summary);
    QVERIFY(summary.value(u"resumes"_s).toInt() >= moved);
}

void TestCluster::redisRestartPausesPublishesAndLosesNothing()
{
    const BfgdProcess &b = push(1);
    startProbe(push(0));
    if (QTest::currentTestFailed())
        return;

    // The fixture's restart() is stop() then start() on the same port and
    // AOF; done in two steps here so that the outage lasts until the test
    // has seen what it looks like from outside: every node reporting its
    // broker down (within a report interval), publishes refused.
    QElapsedTimer outage;
    outage.start();
    m_redis->stop();
    QVERIFY(!m_redis->isRunning());
    // Polled with qWaitFor, not QTRY: each look is a new call, and the one
    // that saw it is the one to report.
    QStringList seen;
    const bool sawDown = QTest::qWaitFor(
        [&] {
            seen.clear();
            int down = 0;
            for (int i = 0; i < PushNodes; ++i) {
                seen << m_cluster->broker(push(i));
                down += !seen.constLast().isEmpty() && seen.constLast() != u"redis up"_s ? 1 : 0;
            }
            return down == PushNodes;
        },
        WaitMs);
    QVERIFY2(sawDown, qPrintable(u"broker states while Redis is down: "_s + seen.join(u" | "_s)));
    int check = 0;
    const auto checkBody = [&check] {
        return u"{\"stream\": \"user:outage-check\", \"text\": \"check\", \"id\": \"check-%1\"}"_s
            .arg(++check)
            .toUtf8();
    };
    HttpResult refused;
    QVERIFY2(QTest::qWaitFor([&] { return (refused = publish(b, checkBody())).status == 503; }, WaitMs),
             qPrintable(refused.describe()));
    QCOMPARE(refused.errorCode(), u"unavailable"_s);
    QVERIFY(!refused.retryAfter.isEmpty());

    QString error;
    QVERIFY2(m_redis->start(&error), qPrintable(error));
    const qint64 outageMs = outage.elapsed();
    QElapsedTimer back;
    back.start();
    HttpResult accepted;
    QVERIFY2(QTest::qWaitFor([&] { return (accepted = publish(b, checkBody())).status == 200; }, SettleMs),
             qPrintable(accepted.describe()));
    const qint64 publishBackMs = back.elapsed();
    for (int i = 0; i < PushNodes; ++i)
        QTRY_COMPARE_WITH_TIMEOUT(m_cluster->broker(push(i)), u"redis up"_s, SettleMs);
    const qint64 upMs = back.elapsed();

    const QJsonObject summary = finishProbe();
    printFigures("redis restart",
                 u"Redis down for %1 ms (broker states seen meanwhile: %2; publishes answered 503 \"%3\"); "
                 "publishes accepted again %4 ms and every node \"redis up\" %5 ms after Redis was back"_s
                     .arg(outageMs)
                     .arg(seen.join(u" | "_s),
                          refused.json().value(u"error"_s).toObject().value(u"message"_s).toString())
                     .arg(publishBackMs)
                     .arg(upMs),
                 summary);
    verifyClean(summary);
    // The probe met the outage and retried with the same message ids.
    QVERIFY(summary.value(u"publish_retries"_s).toInteger() > 0);
}

void TestCluster::connectReader(RawReader *reader)
{
    const HttpResult assigned = m_cluster->assign(reader->user);
    QVERIFY2(assigned.status == 200, qPrintable(assigned.describe()));
    const QByteArray token = assigned.json().value(u"token"_s).toString().toUtf8();
    QVERIFY(!token.isEmpty());

    reader->socket = std::make_unique<QWebSocket>();
    QWebSocket *socket = reader->socket.get();
    connect(socket, &QWebSocket::binaryMessageReceived, this, [reader, socket](const QByteArray &bytes) {
        bfg::v1::ServerFrame frame;
        if (!bfg::protocol::decode(bytes, &frame)) {
            reader->problem = u"undecodable frame"_s;
            return;
        }
        switch (frame.kind_case()) {
        case bfg::v1::ServerFrame::kWelcome:
            reader->welcomeNode = QString::fromStdString(frame.welcome().node_id());
            for (const bfg::v1::StreamState &stream : frame.welcome().streams())
                reader->epoch = QString::fromStdString(stream.epoch());
            break;
        case bfg::v1::ServerFrame::kMessage:
            reader->messages.append(frame.message());
            break;
        case bfg::v1::ServerFrame::kPing: {
            bfg::v1::ClientFrame pong;
            pong.mutable_pong()->set_nonce(frame.ping().nonce());
            socket->sendBinaryMessage(bfg::protocol::encode(pong));
            break;
        }
        default:
            reader->problem = u"unexpected frame %1"_s.arg(int(frame.kind_case()));
            break;
        }
    });
    connect(socket, &QWebSocket::connected, this, [socket, token] {
        bfg::v1::ClientFrame hello;
        hello.mutable_hello()->set_token(token.toStdString());
        hello.mutable_hello()->set_client("tst_cluster");
        socket->sendBinaryMessage(bfg::protocol::encode(hello));
    });
    // The node the test chose, whichever the decision server named.
    socket->open(reader->node->pushUrl());
    QTRY_VERIFY_WITH_TIMEOUT(!reader->welcomeNode.isEmpty() || !reader->problem.isEmpty(), WaitMs);
    QVERIFY2(reader->problem.isEmpty(), qPrintable(reader->problem));
    QCOMPARE(reader->welcomeNode, reader->node->nodeId());
}

void TestCluster::publishThroughOneNodeReachesReadersOnTheOthers()
{
    const BfgdProcess &c = push(2);
    startProbe(c);
    if (QTest::currentTestFailed())
        return;
    // Probe users on A and B read what C's publish API takes.
    const int onA = m_cluster->connections(push(0));
    const int onB = m_cluster->connections(push(1));
    const int onC = m_cluster->connections(c);
    QVERIFY2(onA > 0 && onB > 0, qPrintable(u"probe users on A %1, B %2"_s.arg(onA).arg(onB)));

    // And a reader on each node for each other node's publish API.
    std::vector<std::unique_ptr<RawReader>> readers;
    const QString suffix = uniqueSuffix();
    QStringList pairs;
    for (int on = 0; on < PushNodes; ++on) {
        for (int via = 0; via < PushNodes; ++via) {
            if (on == via)
                continue;
            auto reader = std::make_unique<RawReader>();
            reader->user = u"cross-%1-%2-%3"_s.arg(on).arg(via).arg(suffix);
            reader->node = &push(on);
            reader->publish = &push(via);
            QVERIFY(reader->node->nodeId() != reader->publish->nodeId());
            connectReader(reader.get());
            if (QTest::currentTestFailed())
                return;
            pairs << u"reads on %1, published via %2"_s.arg(reader->node->nodeId(),
                                                            reader->publish->nodeId());
            readers.push_back(std::move(reader));
        }
    }

    // Batches through each reader's publish API, interleaved across readers.
    QHash<const RawReader *, QString> epochs;
    for (int first = 0; first < CrossNodeMessages; first += CrossNodeBatch) {
        for (const auto &reader : readers) {
            QJsonArray items;
            for (int i = first; i < first + CrossNodeBatch; ++i)
                items.append(QJsonObject{{u"stream"_s, QString(u"user:"_s + reader->user)},
                                         {u"text"_s, u"message %1"_s.arg(i + 1)},
                                         {u"id"_s, u"%1-%2"_s.arg(reader->user).arg(i + 1)}});
            const HttpResult published =
                publish(*reader->publish,
                        QJsonDocument(QJsonObject{{u"items"_s, items}}).toJson(QJsonDocument::Compact));
            QVERIFY2(published.status == 200, qPrintable(published.describe()));
            const QJsonArray results = published.json().value(u"results"_s).toArray();
            QCOMPARE(results.size(), CrossNodeBatch);
            for (int i = 0; i < CrossNodeBatch; ++i) {
                QCOMPARE(results[i].toObject().value(u"seq"_s).toInteger(), first + i + 1);
                QVERIFY(!results[i].toObject().value(u"duplicate"_s).toBool());
            }
            epochs.insert(reader.get(), results[0].toObject().value(u"epoch"_s).toString());
        }
    }

    // Every message, once, in order, on the node the reader is on.
    for (const auto &reader : readers) {
        QTRY_VERIFY_WITH_TIMEOUT(reader->messages.size() >= CrossNodeMessages || !reader->problem.isEmpty(),
                                 WaitMs);
        QVERIFY2(reader->problem.isEmpty(), qPrintable(reader->problem));
        QCOMPARE(reader->messages.size(), CrossNodeMessages);
        for (int i = 0; i < CrossNodeMessages; ++i) {
            const bfg::v1::Message &message = reader->messages.at(i);
            QCOMPARE(QString::fromStdString(message.stream()), u"user:"_s + reader->user);
            QCOMPARE(message.seq(), quint64(i + 1));
            QCOMPARE(QString::fromStdString(message.epoch()), epochs.value(reader.get()));
            QCOMPARE(QString::fromStdString(message.payload()), u"message %1"_s.arg(i + 1));
        }
        QCOMPARE(reader->socket->state(), QAbstractSocket::ConnectedState);
    }

    const QJsonObject summary = finishProbe();
    printFigures("cross-node",
                 u"probe publishing via C (%1): its users read on A %2, B %3, C %4; %5 raw readers (%6) "
                 "received their %7 messages each in order: %8 checked"_s.arg(c.nodeId())
                     .arg(onA)
                     .arg(onB)
                     .arg(onC)
                     .arg(readers.size())
                     .arg(pairs.join(u"; "_s))
                     .arg(CrossNodeMessages)
                     .arg(qsizetype(readers.size()) * CrossNodeMessages),
                 summary);
    verifyClean(summary);
}

void TestCluster::addedNodeTakesNewAssignments()
{
    const BfgdProcess &a = push(0);
    startProbe(push(1));
    if (QTest::currentTestFailed())
        return;

    QElapsedTimer started;
    started.start();
    QString error;
    BfgdProcess *d = m_cluster->addPushNode(&error);
    QVERIFY2(d, qPrintable(error));
    const qint64 readyMs = started.elapsed();
    QElapsedTimer sinceReady;
    sinceReady.start();
    int asked = 0;
    const QString newcomer = u"newcomer-"_s + uniqueSuffix() + u'-';
    const bool assigned = QTest::qWaitFor(
        [&] {
            const HttpResult answer = m_cluster->assign(newcomer + QString::number(++asked));
            return answer.json().value(u"node"_s).toString() == d->nodeId();
        },
        SettleMs);
    QVERIFY2(assigned, "the new node got no assignment");
    const qint64 assignedMs = sinceReady.elapsed();
    QVERIFY2(assignedMs <= NewNodeBoundMs,
             qPrintable(u"first assignment %1 ms after the node was ready, bound %2 ms"_s.arg(assignedMs)
                            .arg(NewNodeBoundMs)));
    QCOMPARE(m_cluster->broker(*d), u"redis up"_s);

    // Real clients too: the users of a drained node land partly on it.
    const int moved = m_cluster->connections(a);
    QVERIFY2(moved > 0, "no probe user on node A");
    const qint64 reconnectsBefore = m_probe->progress().reconnects;
    QElapsedTimer settle;
    settle.start();
    const HttpResult drained = m_cluster->admin("POST", u"/v1/nodes/%1/drain"_s.arg(a.nodeId()));
    QVERIFY2(drained.status == 200, qPrintable(drained.describe()));
    QTRY_VERIFY_WITH_TIMEOUT(
        m_cluster->state(a) == u"drained"_s && everyUserBackLive(reconnectsBefore, moved), SettleMs);
    const qint64 settleMs = settle.elapsed();
    QTRY_VERIFY_WITH_TIMEOUT(m_cluster->connections(push(1)) + m_cluster->connections(push(2)) +
                                     m_cluster->connections(*d) ==
                                 m_users,
                             WaitMs);
    const int onD = m_cluster->connections(*d);
    QVERIFY2(onD > 0, "none of the drained node's users landed on the new node");

    const QJsonObject summary = finishProbe();
    printFigures(
        "new node",
        u"node D ready %1 ms after its start, first assigned %2 ms later (%3 assignments asked, bound "
        "%4 ms); draining A moved %5 users, %6 of them to D, every user live again after %7 ms"_s.arg(readyMs)
            .arg(assignedMs)
            .arg(asked)
            .arg(NewNodeBoundMs)
            .arg(moved)
            .arg(onD)
            .arg(settleMs),
        summary);
    verifyClean(summary);
}

QTEST_GUILESS_MAIN(TestCluster)
#include "tst_cluster.moc"
