// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 BFG developers
//
// End to end on one machine: a real bfgd (decision + push, SQLite, local
// broker) and the real bfg-probe, which publishes through the publish API
// and checks every message each simulated user receives. The promise under
// test: every acknowledged message arrives once and in order, through
// dropped connections and restarts of bfgd.
#include <QEventLoop>
#include <QJsonDocument>
#include <QJsonObject>
#include <QNetworkAccessManager>
#include <QNetworkReply>
#include <QProcess>
#include <QTemporaryDir>
#include <QTest>

#include "tests/support/bfgdprocess.h"

using namespace Qt::Literals::StringLiterals;
using bfg::test::BfgdProcess;

class TestDelivery : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void steadyTrafficArrivesOnceInOrder_data();
    void steadyTrafficArrivesOnceInOrder();
    void droppedConnectionsResumeWithoutLoss_data();
    void droppedConnectionsResumeWithoutLoss();
    void restartOfBfgdLosesNothing_data();
    void restartOfBfgdLosesNothing();

private:
    int clusterConnections(const BfgdProcess &bfgd);
    void verifyClean(const QJsonObject &summary, int users);
};

int TestDelivery::clusterConnections(const BfgdProcess &bfgd)
{
    QNetworkAccessManager network;
    QNetworkRequest request(bfgd.decisionUrl().resolved(QUrl(u"/v1/cluster"_s)));
    request.setRawHeader("Authorization", "Bearer " + bfgd.adminKey());
    QNetworkReply *reply = network.get(request);
    QEventLoop loop;
    connect(reply, &QNetworkReply::finished, &loop, &QEventLoop::quit);
    loop.exec();
    reply->deleteLater();
    return QJsonDocument::fromJson(reply->readAll()).object().value(u"connections"_s).toInt(-1);
}

void TestDelivery::verifyClean(const QJsonObject &summary, int users)
{
    QCOMPARE(summary.value(u"users_live"_s).toInt(), users);
    QVERIFY2(summary.value(u"published"_s).toInteger() > 0, "the probe published nothing");
    QCOMPARE(summary.value(u"lost"_s).toInteger(), 0);
    QCOMPARE(summary.value(u"duplicated"_s).toInteger(), 0);
    QCOMPARE(summary.value(u"reordered"_s).toInteger(), 0);
    QCOMPARE(summary.value(u"misdelivered"_s).toInteger(), 0);
    // Everything acknowledged was received (the probe is the only publisher).
    QVERIFY(summary.value(u"received"_s).toInteger() >= summary.value(u"published"_s).toInteger());
    QCOMPARE(summary.value(u"verdict"_s).toString(), u"pass"_s);
}

void TestDelivery::steadyTrafficArrivesOnceInOrder_data()
{
    QTest::addColumn<QStringList>("probeArgs");
    QTest::addRow("probe on its epoll event loop (default)") << QStringList();
    QTest::addRow("probe on Qt's event loop") << QStringList{u"--event-loop"_s, u"qt"_s};
}

void TestDelivery::steadyTrafficArrivesOnceInOrder()
{
    QFETCH(QStringList, probeArgs);
    BfgdProcess bfgd;
    QString error;
    QVERIFY2(bfgd.start(&error), qPrintable(error));

    const auto run =
        bfg::test::runProbe(QStringList{u"--decision"_s, bfgd.decisionUrl().toString(), u"--users"_s,
                                        u"200"_s, u"--rate"_s, u"2"_s, u"--duration"_s, u"10"_s}
                                << probeArgs,
                            90000);
    QVERIFY2(run.exitCode == 0, QByteArray(run.stdoutText + run.stderrText).constData());
    verifyClean(run.summary, 200);
    // 200 users x 2 msg/s x 10 s, give or take the edges of the run.
    QVERIFY(run.summary.value(u"published"_s).toInteger() >= 3000);
    QVERIFY(bfgd.isRunning());
}

void TestDelivery::droppedConnectionsResumeWithoutLoss_data()
{
    QTest::addColumn<QStringList>("probeArgs");
    QTest::addRow("default connect limit") << QStringList();
    // Every reconnect waits its turn behind the others: all must still come back.
    QTest::addRow("one user connecting at a time") << QStringList{u"--max-connecting"_s, u"1"_s};
}

void TestDelivery::droppedConnectionsResumeWithoutLoss()
{
    QFETCH(QStringList, probeArgs);
    BfgdProcess bfgd;
    QString error;
    QVERIFY2(bfgd.start(&error), qPrintable(error));

    const auto run = bfg::test::runProbe(QStringList{u"--decision"_s, bfgd.decisionUrl().toString(),
                                                     u"--users"_s, u"200"_s, u"--rate"_s, u"2"_s,
                                                     u"--duration"_s, u"10"_s, u"--drop-at"_s, u"4"_s}
                                             << probeArgs,
                                         90000);
    QVERIFY2(run.exitCode == 0, QByteArray(run.stdoutText + run.stderrText).constData());
    verifyClean(run.summary, 200);
    QVERIFY2(run.summary.value(u"resumes"_s).toInt() >= 200, run.stdoutText.constData());
    QVERIFY(run.summary.value(u"recovered"_s).toInt() >= 200);
    QCOMPARE(run.summary.value(u"not_recovered"_s).toInt(), 0);
}

void TestDelivery::restartOfBfgdLosesNothing_data()
{
    QTest::addColumn<bool>("crash");
    QTest::addRow("graceful stop (SIGTERM)") << false;
    QTest::addRow("crash (SIGKILL)") << true;
}

void TestDelivery::restartOfBfgdLosesNothing()
{
    QFETCH(bool, crash);
    constexpr int users = 200;
    BfgdProcess bfgd;
    QString error;
    QVERIFY2(bfgd.start(&error), qPrintable(error));

    QTemporaryDir dir;
    const QString jsonPath = dir.filePath(u"probe.json"_s);
    QProcess probe;
    probe.start(bfg::test::probePath(),
                {u"--decision"_s, bfgd.decisionUrl().toString(), u"--users"_s, QString::number(users),
                 u"--rate"_s, u"2"_s, u"--duration"_s, u"12"_s, u"--json"_s, jsonPath, u"--quiet"_s});
    QVERIFY(probe.waitForStarted());

    // Mid-run: once every user is connected and traffic flows.
    QTRY_COMPARE_WITH_TIMEOUT(clusterConnections(bfgd), users, 30000);
    if (crash)
        bfgd.kill();
    else
        QCOMPARE(bfgd.stop(), 0);
    QVERIFY2(bfgd.start(&error), qPrintable(error));

    QVERIFY(probe.waitForFinished(90000));
    const QByteArray output = probe.readAllStandardOutput() + probe.readAllStandardError();
    QFile json(jsonPath);
    QVERIFY2(json.open(QIODevice::ReadOnly), output.constData());
    const QJsonObject summary = QJsonDocument::fromJson(json.readAll()).object();
    QVERIFY2(probe.exitCode() == 0, output.constData());
    verifyClean(summary, users);
    // Every user came back to the restarted node and got its gap replayed.
    QVERIFY2(summary.value(u"resumes"_s).toInt() >= users, output.constData());
    QCOMPARE(summary.value(u"not_recovered"_s).toInt(), 0);
}

QTEST_GUILESS_MAIN(TestDelivery)
#include "tst_delivery.moc"
