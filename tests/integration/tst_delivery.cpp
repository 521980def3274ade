// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 BFG developers
//
// End to end on one machine: a real bfgd (decision + push, SQLite, local
// broker) and the real bfg-probe, which publishes through the publish API
// and checks every message each simulated user receives. The promise under
// test: every acknowledged message arrives once and in order, through
// dropped connections and restarts of bfgd.
#include <QEventLoop>
#include <QFile>
#include <QHostAddress>
#include <QJsonDocument>
#include <QJsonObject>
#include <QMap>
#include <QNetworkAccessManager>
#include <QNetworkReply>
#include <QProcess>
#include <QTemporaryDir>
#include <QTest>
#include <QtEndian>

#include "tests/support/bfgdprocess.h"
#include "tests/support/probeprocess.h"

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
    void sharedStreamReachesEveryUserOnceInOrder();
    void restartOfBfgdLosesNothing_data();
    void restartOfBfgdLosesNothing();
    void usersConnectFromTheSourceAddressesGiven();

private:
    int clusterConnections(const BfgdProcess &bfgd);
    QMap<QString, int> peersOfPort(quint16 port);
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

// How many established connections to local `port` come from each remote address, as the
// node's end of each shows it (/proc/net/tcp: IPv4).
QMap<QString, int> TestDelivery::peersOfPort(quint16 port)
{
    QMap<QString, int> peers;
    QFile table(u"/proc/net/tcp"_s);
    if (!table.open(QIODevice::ReadOnly))
        return peers;
    // readAll(): the file has no size, atEnd() would end the loop early.
    const QList<QByteArray> lines = table.readAll().split('\n');
    for (const QByteArray &line : lines) {
        // "0: 0100007F:AF93 0200007F:9C41 01 ...": addresses as the kernel's 32-bit values in
        // hex; the first line names the columns.
        const QList<QByteArray> fields = line.simplified().split(' ');
        if (fields.size() < 4 || fields.at(3) != "01") // ESTABLISHED
            continue;
        bool ok = false;
        if (fields.at(1).split(':').value(1).toUInt(&ok, 16) != port || !ok)
            continue;
        const quint32 raw = fields.at(2).split(':').value(0).toUInt(&ok, 16);
        if (ok)
            ++peers[QHostAddress(qFromBigEndian(raw)).toString()];
    }
    return peers;
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

void TestDelivery::sharedStreamReachesEveryUserOnceInOrder()
{
    BfgdProcess bfgd({u"--set"_s, u"decision/public_streams=fx:all"_s});
    QString error;
    QVERIFY2(bfgd.start(&error), qPrintable(error));

    // Every user reads fx:all besides its own stream, through a drop and resume.
    const auto run =
        bfg::test::runProbe({u"--decision"_s, bfgd.decisionUrl().toString(), u"--users"_s, u"100"_s,
                             u"--rate"_s, u"1"_s, u"--shared-stream"_s, u"fx:all"_s, u"--shared-rate"_s,
                             u"20"_s, u"--duration"_s, u"6"_s, u"--drop-at"_s, u"3"_s},
                            90000);
    QVERIFY2(run.exitCode == 0, QByteArray(run.stdoutText + run.stderrText).constData());
    verifyClean(run.summary, 100);
    const QJsonObject shared = run.summary.value(u"shared"_s).toObject();
    QCOMPARE(shared.value(u"stream"_s).toString(), u"fx:all"_s);
    const qint64 published = shared.value(u"acked_seq"_s).toInteger();
    QVERIFY2(published >= 100, run.stdoutText.constData()); // 20 msg/s for 6 s
    // Every user reached the last seq published, and each got each message once.
    QCOMPARE(shared.value(u"min_seq"_s).toInteger(), published);
    QCOMPARE(shared.value(u"received"_s).toInteger(), 100 * published);
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

void TestDelivery::usersConnectFromTheSourceAddressesGiven()
{
    constexpr int users = 20;
    BfgdProcess bfgd;
    QString error;
    QVERIFY2(bfgd.start(&error), qPrintable(error));

    bfg::test::ProbeProcess probe;
    QVERIFY2(probe.start({u"--decision"_s, bfgd.decisionUrl().toString(), u"--users"_s,
                          QString::number(users), u"--rate"_s, u"2"_s, u"--duration"_s, u"60"_s,
                          u"--source-address"_s, u"127.0.0.2,127.0.0.3"_s},
                         &error),
             qPrintable(error));
    QTRY_COMPARE_WITH_TIMEOUT(probe.progress().live, users, 30000);

    // Given out in turn: half the node's WebSocket peers are each address.
    const QMap<QString, int> peers = peersOfPort(quint16(bfgd.pushUrl().port()));
    QCOMPARE(peers.value(u"127.0.0.2"_s), users / 2);
    QCOMPARE(peers.value(u"127.0.0.3"_s), users / 2);
    QCOMPARE(peers.size(), 2);

    // Publishing starts once all are live: let some messages through first.
    QTRY_VERIFY_WITH_TIMEOUT(probe.progress().received > 0, 30000);
    probe.interrupt();
    const QJsonObject summary = probe.finish(30000);
    QVERIFY2(!summary.isEmpty(), probe.output().constData());
    QCOMPARE(summary.value(u"exit_code"_s).toInt(), 0);
    verifyClean(summary, users);
}

QTEST_GUILESS_MAIN(TestDelivery)
#include "tst_delivery.moc"
