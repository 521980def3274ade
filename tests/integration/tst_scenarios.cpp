// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 BFG developers
//
// `bfg-probe scenario NAME` against a real bfgd, each briefly and with small
// numbers: the verdict and the figures each scenario promises (bursts at
// the raised rate, every user back after a storm, churned users resuming
// with nothing lost, a soak's drains and memory samples), a message hidden
// by the probe's test hook reported as lost, and the shards of one run
// merged into one verdict.
#include <QFile>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QTemporaryDir>
#include <QTest>

#include "tests/support/bfgdprocess.h"
#include "tests/support/probeprocess.h"

using namespace Qt::Literals::StringLiterals;
using bfg::test::BfgdProcess;
using bfg::test::runProbe;

namespace {
constexpr int ProbeTimeoutMs = 120000;

qint64 number(const QJsonObject &object, const QString &key)
{
    return object.value(key).toInteger(-1);
}
} // namespace

class TestScenarios : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void initTestCase();
    void cleanupTestCase();
    void steadyPassesAndCountsEverything();
    void aMessageThatNeverArrivesIsLost();
    void burstPublishesAtTheRaisedRate();
    void stormBringsEveryUserBack();
    void churnedUsersResumeWithNothingLost();
    void soakDropsDrainsAndSamplesMemory();
    void shardsMergeIntoOneVerdict();
    void badUsageExitsWithTwo_data();
    void badUsageExitsWithTwo();

private:
    QStringList common(int users, double rate, double durationS) const;
    void verifyPassed(const bfg::test::ProbeRun &run, int users);

    std::unique_ptr<BfgdProcess> m_bfgd;
};

void TestScenarios::initTestCase()
{
    m_bfgd = std::make_unique<BfgdProcess>();
    QString error;
    QVERIFY2(m_bfgd->start(&error), qPrintable(error));
}

void TestScenarios::cleanupTestCase()
{
    QCOMPARE(m_bfgd->stop(), 0);
}

QStringList TestScenarios::common(int users, double rate, double durationS) const
{
    return {u"--decision"_s, m_bfgd->decisionUrl().toString(),
            u"--users"_s,    QString::number(users),
            u"--rate"_s,     QString::number(rate),
            u"--duration"_s, QString::number(durationS),
            u"--ramp-ms"_s,  u"200"_s};
}

void TestScenarios::verifyPassed(const bfg::test::ProbeRun &run, int users)
{
    const QByteArray output = run.stdoutText + run.stderrText;
    QVERIFY2(!run.summary.isEmpty(), output.constData());
    QCOMPARE(run.summary.value(u"verdict"_s).toString(), u"pass"_s);
    QCOMPARE(run.exitCode, 0);
    QCOMPARE(run.summary.value(u"users_live"_s).toInt(), users);
    QVERIFY(number(run.summary, u"published"_s) > 0);
    QCOMPARE(number(run.summary, u"received"_s), number(run.summary, u"published"_s));
    QCOMPARE(number(run.summary, u"lost"_s), 0);
    QCOMPARE(number(run.summary, u"duplicated"_s), 0);
    QCOMPARE(number(run.summary, u"reordered"_s), 0);
}

void TestScenarios::steadyPassesAndCountsEverything()
{
    const auto run = runProbe(QStringList{u"scenario"_s, u"steady"_s} + common(20, 5, 2), ProbeTimeoutMs);
    verifyPassed(run, 20);
    QCOMPARE(run.summary.value(u"scenario"_s).toString(), u"steady"_s);
    // 20 users x 5 msg/s x 2 s, give or take a tick.
    QVERIFY2(qAbs(number(run.summary, u"published"_s) - 200) <= 20,
             qPrintable(QString::number(number(run.summary, u"published"_s))));
    QCOMPARE(number(run.summary.value(u"latency_histogram"_s).toObject(), u"count"_s),
             number(run.summary, u"received"_s));
    QVERIFY(run.stdoutText.contains("verdict: PASS"));
}

void TestScenarios::aMessageThatNeverArrivesIsLost()
{
    // The hook makes the probe ignore the 7th message it receives, as if it
    // never came: the verdict must say so.
    qputenv("BFG_PROBE_TEST_DROP_NTH", "7");
    const auto run = runProbe(QStringList{u"scenario"_s, u"steady"_s} + common(10, 5, 2), ProbeTimeoutMs);
    qunsetenv("BFG_PROBE_TEST_DROP_NTH");
    QVERIFY2(!run.summary.isEmpty(), run.stderrText.constData());
    QCOMPARE(run.summary.value(u"verdict"_s).toString(), u"fail"_s);
    QCOMPARE(run.exitCode, 1);
    QCOMPARE(number(run.summary, u"lost"_s), 1);
    QCOMPARE(number(run.summary, u"received"_s), number(run.summary, u"published"_s) - 1);
    QVERIFY(run.stdoutText.contains("verdict: FAIL (1 lost)"));
}

void TestScenarios::burstPublishesAtTheRaisedRate()
{
    // Periods of 2 s, the last second of each x10: 20 users publish 2 msg/s
    // for 2 s and 20 msg/s for 2 s.
    const auto run = runProbe(QStringList{u"scenario"_s, u"burst"_s, u"--burst-every"_s, u"2"_s,
                                          u"--burst-length"_s, u"1"_s, u"--burst-factor"_s, u"10"_s} +
                                  common(20, 2, 4),
                              ProbeTimeoutMs);
    verifyPassed(run, 20);
    const QJsonObject burst = run.summary.value(u"burst"_s).toObject();
    const qint64 inBursts = number(burst, u"sent"_s);
    QVERIFY2(inBursts >= 600 && inBursts <= 1000, qPrintable(QString::number(inBursts))); // ~800
    const qint64 quiet = number(run.summary, u"published"_s) - inBursts;
    QVERIFY2(quiet >= 40 && quiet <= 160, qPrintable(QString::number(quiet))); // ~80
    QVERIFY(number(burst.value(u"histogram"_s).toObject(), u"count"_s) > 0);
    QVERIFY(number(burst.value(u"quiet_histogram"_s).toObject(), u"count"_s) > 0);
}

void TestScenarios::stormBringsEveryUserBack()
{
    const int users = 100;
    const auto run = runProbe(QStringList{u"scenario"_s, u"storm"_s, u"--storm-at"_s, u"1"_s, u"--storms"_s,
                                          u"2"_s, u"--storm-every"_s, u"2"_s} +
                                  common(users, 1, 6),
                              ProbeTimeoutMs);
    verifyPassed(run, users);
    const QJsonObject drops = run.summary.value(u"drops"_s).toObject();
    const QJsonArray recovery = drops.value(u"recovery_s"_s).toArray();
    QCOMPARE(recovery.size(), 2);
    for (const QJsonValue &seconds : recovery)
        QVERIFY2(seconds.toDouble() > 0 && seconds.toDouble() < 6,
                 qPrintable(QString::number(seconds.toDouble())));
    QCOMPARE(drops.value(u"users_not_back"_s).toInt(), 0);
    // Every user resumed twice, recovering what it missed.
    QCOMPARE(run.summary.value(u"recovered"_s).toInt(), 2 * users);
    // Each came back through the decision server: the first assignments and two more each.
    const QJsonObject answers = run.summary.value(u"decision_answers"_s).toObject();
    QVERIFY2(number(answers, u"200"_s) >= 3 * users, QJsonDocument(answers).toJson().constData());
}

void TestScenarios::churnedUsersResumeWithNothingLost()
{
    // 10 users a second leave for half a second while 4 msg/s keep coming:
    // every message published while they were away reaches them on return.
    const auto run = runProbe(
        QStringList{u"scenario"_s, u"churn"_s, u"--churn-rate"_s, u"10"_s, u"--churn-away"_s, u"0.5"_s} +
            common(20, 4, 4),
        ProbeTimeoutMs);
    verifyPassed(run, 20);
    const QJsonObject churn = run.summary.value(u"churn"_s).toObject();
    QVERIFY2(number(churn, u"left"_s) >= 25, qPrintable(QString::number(number(churn, u"left"_s)))); // ~40
    QCOMPARE(number(churn, u"came_back"_s), number(churn, u"left"_s));
    QCOMPARE(number(churn, u"away"_s), 0);
    QCOMPARE(number(run.summary, u"recovered"_s), number(churn, u"left"_s));
    QCOMPARE(number(run.summary, u"not_recovered"_s), 0);
}

void TestScenarios::soakDropsDrainsAndSamplesMemory()
{
    const auto run = runProbe(
        QStringList{u"scenario"_s, u"soak"_s, u"--drop-every"_s, u"2"_s, u"--drain-every"_s, u"3"_s,
                    u"--drain-for"_s, u"1"_s, u"--admin-key"_s, QString::fromLatin1(m_bfgd->adminKey()),
                    u"--watch-pid"_s, QString::number(m_bfgd->processId()), u"--report-every"_s, u"1"_s} +
            common(20, 2, 7),
        ProbeTimeoutMs);
    verifyPassed(run, 20);
    QCOMPARE(run.summary.value(u"drains"_s).toObject().value(u"done"_s).toInt(), 2);
    QCOMPARE(run.summary.value(u"drains"_s).toObject().value(u"failed"_s).toInt(), 0);
    QCOMPARE(run.summary.value(u"drops"_s).toObject().value(u"recovery_s"_s).toArray().size(), 3);
    // The probe and bfgd, sampled every second.
    const QJsonArray processes = run.summary.value(u"processes"_s).toArray();
    QCOMPARE(processes.size(), 2);
    const QJsonObject bfgd = processes.at(1).toObject();
    QCOMPARE(bfgd.value(u"name"_s).toString(), u"pid %1"_s.arg(m_bfgd->processId()));
    QVERIFY(number(bfgd, u"max_rss_kb"_s) > 1000);
    QVERIFY2(bfgd.value(u"rss_samples"_s).toArray().size() >= 6,
             qPrintable(QString::number(bfgd.value(u"rss_samples"_s).toArray().size())));
    // The node is undrained again: later users are admitted.
    QCOMPARE(runProbe(common(5, 1, 1), ProbeTimeoutMs).exitCode, 0);
}

void TestScenarios::shardsMergeIntoOneVerdict()
{
    // Two processes split 21 users of one run; the second hides one message.
    QTemporaryDir dir;
    QStringList files;
    for (int shard = 0; shard < 2; ++shard) {
        bfg::test::ProbeProcess probe;
        if (shard == 1)
            qputenv("BFG_PROBE_TEST_DROP_NTH", "3");
        QString error;
        QVERIFY2(probe.start(QStringList{u"scenario"_s, u"steady"_s, u"--shard"_s, u"%1/2"_s.arg(shard),
                                         u"--user-prefix"_s, u"merge-"_s} +
                                 common(21, 4, 2),
                             &error),
                 qPrintable(error));
        qunsetenv("BFG_PROBE_TEST_DROP_NTH");
        const QJsonObject summary = probe.finish(ProbeTimeoutMs);
        QVERIFY2(!summary.isEmpty(), probe.output().constData());
        QCOMPARE(summary.value(u"users"_s).toInt(), shard == 0 ? 11 : 10);
        QFile file(dir.filePath(u"shard%1.json"_s.arg(shard)));
        QVERIFY(file.open(QIODevice::WriteOnly));
        file.write(QJsonDocument(summary).toJson());
        files << file.fileName();
    }

    const auto merged = runProbe(QStringList{u"merge"_s} + files, ProbeTimeoutMs);
    QVERIFY2(!merged.summary.isEmpty(), merged.stderrText.constData());
    QCOMPARE(merged.summary.value(u"shards"_s).toInt(), 2);
    QCOMPARE(merged.summary.value(u"users"_s).toInt(), 21);
    QCOMPARE(merged.summary.value(u"users_live"_s).toInt(), 21);
    QCOMPARE(number(merged.summary, u"lost"_s), 1);
    QCOMPARE(merged.summary.value(u"verdict"_s).toString(), u"fail"_s);
    QCOMPARE(merged.exitCode, 1);
    QCOMPARE(number(merged.summary.value(u"latency_histogram"_s).toObject(), u"count"_s),
             number(merged.summary, u"received"_s));

    // The first shard alone passes.
    const auto one = runProbe({u"merge"_s, files.at(0)}, ProbeTimeoutMs);
    QCOMPARE(one.exitCode, 0);
    QCOMPARE(one.summary.value(u"users"_s).toInt(), 11);
}

void TestScenarios::badUsageExitsWithTwo_data()
{
    QTest::addColumn<QStringList>("args");
    QTest::addColumn<QByteArray>("message");
    QTest::newRow("unknown scenario")
        << QStringList{u"scenario"_s, u"hurricane"_s, u"--decision"_s, u"http://127.0.0.1:1"_s}
        << QByteArray("unknown scenario \"hurricane\"");
    QTest::newRow("another scenario's option")
        << QStringList{u"scenario"_s, u"steady"_s,     u"--storms"_s,
                       u"2"_s,        u"--decision"_s, u"http://127.0.0.1:1"_s}
        << QByteArray("--storms belongs to `scenario storm`");
    QTest::newRow("drains without a key")
        << QStringList{u"scenario"_s, u"soak"_s,       u"--drain-every"_s,
                       u"30"_s,       u"--decision"_s, u"http://127.0.0.1:1"_s}
        << QByteArray("--drain-every needs --admin-key");
    QTest::newRow("drained longer than the period")
        << QStringList{u"scenario"_s,    u"soak"_s, u"--drain-every"_s, u"5"_s,
                       u"--admin-key"_s, u"k"_s,    u"--decision"_s,    u"http://127.0.0.1:1"_s}
        << QByteArray("--drain-for must be shorter than --drain-every");
    QTest::newRow("bad shard") << QStringList{u"--shard"_s, u"2/2"_s, u"--decision"_s,
                                              u"http://127.0.0.1:1"_s}
                               << QByteArray("--shard: expected i/n");
    QTest::newRow("merge without files")
        << QStringList{u"merge"_s} << QByteArray("merge: name the --json files");
    QTest::newRow("merge of a missing file")
        << QStringList{u"merge"_s, u"/nonexistent.json"_s} << QByteArray("no such file: /nonexistent.json");
}

void TestScenarios::badUsageExitsWithTwo()
{
    QFETCH(QStringList, args);
    QFETCH(QByteArray, message);
    const auto run = runProbe(args, ProbeTimeoutMs);
    QCOMPARE(run.exitCode, 2);
    QVERIFY2(run.stderrText.contains(message), run.stderrText.constData());
}

QTEST_GUILESS_MAIN(TestScenarios)
#include "tst_scenarios.moc"
