// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 BFG developers
//
// `bfg-probe scenario chat` against real bfgd processes, briefly and with
// small rooms: every member receives every room message once, in one
// order, and every sender its acks (the JSON summary's figures); typing
// indicators are counted apart; a dropped connection resumes the rooms
// and sends unacked messages again without duplicates; a message hidden by
// the probe's test hook is lost; publishing the token does not grant fails
// the run; shards split the rooms (progress lines with the chat's figures)
// and merge into one verdict; and on a two-node Redis cluster --affinity
// room puts each room's members on one node while the usual policy spreads
// them.
#include <QFile>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QTemporaryDir>
#include <QTest>

#include "tests/support/bfgdprocess.h"
#include "tests/support/localcluster.h"
#include "tests/support/probeprocess.h"
#include "tests/support/redisserver.h"

using namespace Qt::Literals::StringLiterals;
using bfg::test::BfgdProcess;
using bfg::test::runProbe;

namespace {
constexpr int ProbeTimeoutMs = 120000;

qint64 number(const QJsonObject &object, const QString &key)
{
    return object.value(key).toInteger(-1);
}

const QStringList ChatSettings = {u"--set"_s, u"decision/public_streams=room:*"_s, u"--set"_s,
                                  u"decision/client_publish=room:*"_s};
} // namespace

class TestChatScenario : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void initTestCase();
    void cleanupTestCase();
    void everyMemberGetsEveryRoomMessageOnceInOrder();
    void droppedConnectionsResumeRoomsWithoutDuplicates();
    void aMessageThatNeverArrivesIsLost();
    void publishingTheTokenDoesNotGrantFails();
    void shardsSplitTheRoomsAndMerge();
    void affinityPutsEachRoomOnOneNode();
    void badUsageExitsWithTwo_data();
    void badUsageExitsWithTwo();

private:
    QStringList chat(const QUrl &decision, int rooms, int members, double rate, double durationS) const;
    void verifyPassed(const bfg::test::ProbeRun &run, int users);

    std::unique_ptr<BfgdProcess> m_bfgd;
};

void TestChatScenario::initTestCase()
{
    m_bfgd = std::make_unique<BfgdProcess>(ChatSettings);
    QString error;
    QVERIFY2(m_bfgd->start(&error), qPrintable(error));
}

void TestChatScenario::cleanupTestCase()
{
    QCOMPARE(m_bfgd->stop(), 0);
}

QStringList TestChatScenario::chat(const QUrl &decision, int rooms, int members, double rate,
                                   double durationS) const
{
    return {u"scenario"_s,   u"chat"_s,
            u"--decision"_s, decision.toString(),
            u"--rooms"_s,    QString::number(rooms),
            u"--members"_s,  QString::number(members),
            u"--rate"_s,     QString::number(rate),
            u"--duration"_s, QString::number(durationS),
            u"--ramp-ms"_s,  u"200"_s};
}

void TestChatScenario::verifyPassed(const bfg::test::ProbeRun &run, int users)
{
    const QByteArray output = run.stdoutText + run.stderrText;
    QVERIFY2(!run.summary.isEmpty(), output.constData());
    QVERIFY2(run.summary.value(u"verdict"_s).toString() == u"pass"_s, output.constData());
    QCOMPARE(run.exitCode, 0);
    QCOMPARE(run.summary.value(u"scenario"_s).toString(), u"chat"_s);
    QCOMPARE(run.summary.value(u"users_live"_s).toInt(), users);
    QVERIFY(number(run.summary, u"published"_s) > 0);
    QCOMPARE(number(run.summary, u"published"_s), number(run.summary, u"sent"_s));
    QCOMPARE(number(run.summary, u"unacked"_s), 0);
    QCOMPARE(number(run.summary, u"rejected"_s), 0);
    QCOMPARE(number(run.summary, u"lost"_s), 0);
    QCOMPARE(number(run.summary, u"duplicated"_s), 0);
    QCOMPARE(number(run.summary, u"reordered"_s), 0);
    QCOMPARE(number(run.summary, u"misdelivered"_s), 0);
    const QJsonObject chat = run.summary.value(u"chat"_s).toObject();
    QCOMPARE(number(chat, u"order_disagreements"_s), 0);
    QCOMPARE(number(chat, u"subscriptions_refused"_s), 0);
    // Every member of a room receives every message of it, its own included.
    QCOMPARE(number(run.summary, u"received"_s),
             number(run.summary, u"published"_s) * number(chat, u"members"_s));
    QCOMPARE(number(chat, u"expected"_s), number(run.summary, u"received"_s));
    QCOMPARE(number(run.summary.value(u"latency_histogram"_s).toObject(), u"count"_s),
             number(run.summary, u"received"_s));
    QCOMPARE(number(chat.value(u"ack_histogram"_s).toObject(), u"count"_s),
             number(run.summary, u"published"_s));
}

void TestChatScenario::everyMemberGetsEveryRoomMessageOnceInOrder()
{
    // 4 rooms x 3 members x 5 msg/s for 2 s, and 2 typing indicators a second each.
    const auto run = runProbe(
        chat(m_bfgd->decisionUrl(), 4, 3, 5, 2) + QStringList{u"--typing-rate"_s, u"2"_s}, ProbeTimeoutMs);
    verifyPassed(run, 12);
    QVERIFY2(qAbs(number(run.summary, u"published"_s) - 120) <= 15,
             qPrintable(QString::number(number(run.summary, u"published"_s))));
    const QJsonObject chat = run.summary.value(u"chat"_s).toObject();
    QCOMPARE(chat.value(u"rooms"_s).toInt(), 4);
    QCOMPARE(chat.value(u"affinity"_s).toString(), u"none"_s);
    // Typing indicators: acked with seq 0, never in the room's sequence, counted apart.
    const QJsonObject ephemeral = chat.value(u"ephemeral"_s).toObject();
    QVERIFY2(number(ephemeral, u"sent"_s) >= 30, qPrintable(QString::number(number(ephemeral, u"sent"_s))));
    QCOMPARE(number(ephemeral, u"acked"_s), number(ephemeral, u"sent"_s));
    QCOMPARE(number(ephemeral, u"refused"_s), 0);
    // Nobody is behind here: each reaches the room's other two members (the sender's own copy too).
    QVERIFY(number(ephemeral, u"received"_s) >= 2 * number(ephemeral, u"acked"_s));
    QCOMPARE(number(ephemeral, u"dropped"_s), 0);
    QCOMPARE(number(ephemeral.value(u"histogram"_s).toObject(), u"count"_s),
             number(ephemeral, u"received"_s));
    // One node: every user and every room on it.
    const QJsonObject nodes = chat.value(u"users_per_node"_s).toObject();
    QCOMPARE(nodes.size(), 1);
    QCOMPARE(nodes.value(m_bfgd->nodeId()).toInt(), 12);
    QCOMPARE(chat.value(u"rooms_by_nodes"_s).toObject(), (QJsonObject{{u"1"_s, 4}}));
    QVERIFY(run.stdoutText.contains("verdict: PASS"));
    QVERIFY(run.stdoutText.contains("order disagreements 0"));
}

void TestChatScenario::droppedConnectionsResumeRoomsWithoutDuplicates()
{
    // Every connection aborted 1 s in, messages in flight: the members resume their rooms
    // from the Hello and send what was not acked again, under the same ids.
    const auto run = runProbe(chat(m_bfgd->decisionUrl(), 3, 4, 10, 3) + QStringList{u"--drop-at"_s, u"1"_s},
                              ProbeTimeoutMs);
    verifyPassed(run, 12);
    const QJsonObject chat = run.summary.value(u"chat"_s).toObject();
    QCOMPARE(chat.value(u"resumes"_s).toInt(), 12);
    QCOMPARE(chat.value(u"recovered"_s).toInt(), 12);
    QCOMPARE(chat.value(u"not_recovered"_s).toInt(), 0);
    QCOMPARE(run.summary.value(u"drops"_s).toObject().value(u"recovery_s"_s).toArray().size(), 1);
}

void TestChatScenario::aMessageThatNeverArrivesIsLost()
{
    qputenv("BFG_PROBE_TEST_DROP_NTH", "9");
    const auto run = runProbe(chat(m_bfgd->decisionUrl(), 2, 3, 4, 2), ProbeTimeoutMs);
    qunsetenv("BFG_PROBE_TEST_DROP_NTH");
    QVERIFY2(!run.summary.isEmpty(), run.stderrText.constData());
    QCOMPARE(run.summary.value(u"verdict"_s).toString(), u"fail"_s);
    QCOMPARE(run.exitCode, 1);
    QCOMPARE(number(run.summary, u"lost"_s), 1);
    QCOMPARE(number(run.summary, u"received"_s), number(run.summary, u"published"_s) * 3 - 1);
    QVERIFY(run.stdoutText.contains("verdict: FAIL (1 lost)"));
}

void TestChatScenario::publishingTheTokenDoesNotGrantFails()
{
    // Rooms may be read, not written: every publish is refused, the sessions go on.
    BfgdProcess readOnly({u"--set"_s, u"decision/public_streams=room:*"_s});
    QString error;
    QVERIFY2(readOnly.start(&error), qPrintable(error));
    const auto run = runProbe(chat(readOnly.decisionUrl(), 2, 2, 4, 1), ProbeTimeoutMs);
    QVERIFY2(!run.summary.isEmpty(), run.stderrText.constData());
    QCOMPARE(run.exitCode, 1);
    QCOMPARE(number(run.summary, u"published"_s), 0);
    QVERIFY(number(run.summary, u"rejected"_s) > 0);
    QCOMPARE(number(run.summary, u"rejected"_s), number(run.summary, u"sent"_s));
    QCOMPARE(run.summary.value(u"users_live_at_end"_s).toInt(), 4);
    QCOMPARE(number(run.summary, u"reconnects"_s), 0);
    QVERIFY(run.stdoutText.contains("publishes refused by the node"));
    QVERIFY(run.stderrText.contains("3502"));
    QCOMPARE(readOnly.stop(), 0);

    // Without read grants the rooms themselves are refused: nobody goes live.
    BfgdProcess none;
    QVERIFY2(none.start(&error), qPrintable(error));
    const auto refused = runProbe(chat(none.decisionUrl(), 1, 2, 1, 1), ProbeTimeoutMs);
    QVERIFY2(!refused.summary.isEmpty(), refused.stderrText.constData());
    QCOMPARE(refused.exitCode, 1);
    QCOMPARE(refused.summary.value(u"users_live"_s).toInt(), 0);
    QCOMPARE(refused.summary.value(u"chat"_s).toObject().value(u"subscriptions_refused"_s).toInt(), 2);
    QCOMPARE(none.stop(), 0);
}

void TestChatScenario::shardsSplitTheRoomsAndMerge()
{
    QTemporaryDir dir;
    QStringList files;
    for (int shard = 0; shard < 2; ++shard) {
        bfg::test::ProbeProcess probe;
        QString error;
        QVERIFY2(
            probe.start(chat(m_bfgd->decisionUrl(), 3, 2, 4, 1) +
                            QStringList{u"--shard"_s, u"%1/2"_s.arg(shard), u"--user-prefix"_s, u"cm-"_s},
                        &error),
            qPrintable(error));
        const QJsonObject summary = probe.finish(ProbeTimeoutMs);
        QVERIFY2(!summary.isEmpty(), probe.output().constData());
        QCOMPARE(summary.value(u"verdict"_s).toString(), u"pass"_s);
        // Whole rooms: 2 and 1.
        QCOMPARE(summary.value(u"chat"_s).toObject().value(u"rooms"_s).toInt(), shard == 0 ? 2 : 1);
        QCOMPARE(summary.value(u"users"_s).toInt(), shard == 0 ? 4 : 2);
        // The progress line: the usual fields, then the chat's.
        QVERIFY(probe.progress().valid);
        QVERIFY2(probe.output().contains(" acked=") && probe.output().contains(" disagree=0"),
                 probe.output().constData());
        QFile file(dir.filePath(u"shard%1.json"_s.arg(shard)));
        QVERIFY(file.open(QIODevice::WriteOnly));
        file.write(QJsonDocument(summary).toJson());
        files << file.fileName();
    }
    const auto merged = runProbe(QStringList{u"merge"_s} + files, ProbeTimeoutMs);
    QVERIFY2(!merged.summary.isEmpty(), merged.stderrText.constData());
    QCOMPARE(merged.exitCode, 0);
    QCOMPARE(merged.summary.value(u"users"_s).toInt(), 6);
    const QJsonObject chat = merged.summary.value(u"chat"_s).toObject();
    QCOMPARE(chat.value(u"rooms"_s).toInt(), 3);
    QCOMPARE(chat.value(u"users_per_node"_s).toObject().value(m_bfgd->nodeId()).toInt(), 6);
    QCOMPARE(number(merged.summary, u"received"_s), number(merged.summary, u"published"_s) * 2);
}

void TestChatScenario::affinityPutsEachRoomOnOneNode()
{
    bfg::test::RedisServer redis;
    QString error;
    QVERIFY2(redis.start(&error), qPrintable(error));
    bfg::test::LocalCluster cluster(ChatSettings, {u"--set"_s, u"broker/type=redis"_s, u"--set"_s,
                                                   u"broker/redis_address=127.0.0.1:%1"_s.arg(redis.port())});
    QVERIFY2(cluster.startDecision(&error), qPrintable(error));
    for (int i = 0; i < 2; ++i)
        QVERIFY2(cluster.addPushNode(&error), qPrintable(error));
    QTRY_VERIFY_WITH_TIMEOUT(cluster.eligible(cluster.push(0)) && cluster.eligible(cluster.push(1)), 10000);

    // 6 rooms of 4: with affinity every room on one node; members on two nodes still agree.
    const int rooms = 6;
    const auto withAffinity = runProbe(chat(cluster.decision().decisionUrl(), rooms, 4, 4, 2) +
                                           QStringList{u"--affinity"_s, u"room"_s},
                                       ProbeTimeoutMs);
    verifyPassed(withAffinity, rooms * 4);
    const QJsonObject figures = withAffinity.summary.value(u"chat"_s).toObject();
    QCOMPARE(figures.value(u"affinity"_s).toString(), u"room"_s);
    QCOMPARE(figures.value(u"rooms_by_nodes"_s).toObject(), (QJsonObject{{u"1"_s, rooms}}));

    // Without it, the users are spread over both nodes, and so are rooms.
    const auto without = runProbe(chat(cluster.decision().decisionUrl(), rooms, 4, 4, 2), ProbeTimeoutMs);
    verifyPassed(without, rooms * 4);
    const QJsonObject spread = without.summary.value(u"chat"_s).toObject();
    QCOMPARE(spread.value(u"users_per_node"_s).toObject().size(), 2);
    QVERIFY2(spread.value(u"rooms_by_nodes"_s).toObject().value(u"2"_s).toInt() > 0,
             QJsonDocument(spread.value(u"rooms_by_nodes"_s).toObject()).toJson().constData());
    cluster.stop();
}

void TestChatScenario::badUsageExitsWithTwo_data()
{
    QTest::addColumn<QStringList>("args");
    QTest::addColumn<QByteArray>("message");
    const QStringList base{u"scenario"_s, u"chat"_s, u"--decision"_s, u"http://127.0.0.1:1"_s};
    QTest::newRow("users") << base + QStringList{u"--users"_s, u"10"_s} << QByteArray("--rooms x --members");
    QTest::newRow("affinity") << base + QStringList{u"--affinity"_s, u"node"_s}
                              << QByteArray("--affinity: expected room or none");
    QTest::newRow("rooms") << base + QStringList{u"--rooms"_s, u"0"_s} << QByteArray("--rooms");
    QTest::newRow("members") << base + QStringList{u"--members"_s, u"2.5"_s} << QByteArray("whole numbers");
    QTest::newRow("publish api") << base + QStringList{u"--publish"_s, u"http://127.0.0.1:2"_s}
                                 << QByteArray("does not apply to `scenario chat`");
    QTest::newRow("shards above rooms")
        << base + QStringList{u"--rooms"_s, u"2"_s, u"--shard"_s, u"2/3"_s} << QByteArray("n <= --rooms");
    QTest::newRow("chat option elsewhere")
        << QStringList{u"scenario"_s,           u"steady"_s,  u"--decision"_s,
                       u"http://127.0.0.1:1"_s, u"--rooms"_s, u"3"_s}
        << QByteArray("--rooms belongs to `scenario chat`");
}

void TestChatScenario::badUsageExitsWithTwo()
{
    QFETCH(QStringList, args);
    QFETCH(QByteArray, message);
    const auto run = runProbe(args, 10000);
    QCOMPARE(run.exitCode, 2);
    QVERIFY2(run.stderrText.contains(message), run.stderrText.constData());
}

QTEST_GUILESS_MAIN(TestChatScenario)
#include "tst_chatscenario.moc"
