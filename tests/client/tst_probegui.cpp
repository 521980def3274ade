// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 BFG developers
//
// bfg-probe --gui's window under the offscreen platform against a real
// bfgd (with a small push/max_send_queue_bytes): typed-in decision URL and
// user id, Connect, live; published messages in the table with their
// stream and seq and counted received, none lost; Drop connection and
// Switch decision servers come back live with a recovered resume; Pause reading stops the table, makes
// the node close the client with 3003 SLOW_CONSUMER once reading resumes,
// and the resume replays the rest.
#include <QAbstractItemModel>
#include <QApplication>
#include <QElapsedTimer>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QLabel>
#include <QLineEdit>
#include <QNetworkAccessManager>
#include <QNetworkReply>
#include <QNetworkRequest>
#include <QPushButton>
#include <QRandomGenerator>
#include <QTableView>
#include <QTest>

#include "client/gui/messagetablemodel.h"
#include "client/gui/probewindow.h"
#include "client/probeoptions.h"
#include "tests/support/bfgdprocess.h"

using namespace Qt::Literals::StringLiterals;
using bfg::probe::MessageTableModel;
using bfg::probe::ProbeWindow;

namespace {
constexpr int WaitMs = 15000;
// What the paused client is sent: more than the kernel holds for one connection on
// loopback (the node's send buffer grows to net.ipv4.tcp_wmem's 4 MB, the client's
// receive buffer stays small while it does not read), in requests of 32 kB, half the
// node's queue limit.
constexpr int PausedBatches = 200;
constexpr int ItemsPerBatch = 4;
constexpr int ItemBytes = 8000;
} // namespace

class TestProbeGui : public QObject
{
    Q_OBJECT

private:
    bfg::test::BfgdProcess m_bfgd{
        {u"--set"_s, u"push/max_send_queue_bytes=65536"_s, u"--set"_s, u"broker/history_size=5000"_s}};
    std::unique_ptr<ProbeWindow> m_window;
    QNetworkAccessManager m_network;
    QString m_userId;
    int m_published = 0;

    template<typename T>
    T *child(const QString &name) const
    {
        T *widget = m_window->findChild<T *>(name);
        if (!widget)
            qFatal("no widget %s", qPrintable(name));
        return widget;
    }
    QString text(const QString &labelName) const { return child<QLabel>(labelName)->text(); }
    QAbstractItemModel *messages() const { return child<QTableView>(u"messagesView"_s)->model(); }
    QString cell(int row, int column) const { return messages()->index(row, column).data().toString(); }

    void publishThroughWindow(const QString &message)
    {
        child<QLineEdit>(u"publishTextEdit"_s)->setText(message);
        QTest::mouseClick(child<QPushButton>(u"publishButton"_s), Qt::LeftButton);
        ++m_published;
    }

private Q_SLOTS:
    void initTestCase()
    {
        QString error;
        QVERIFY2(m_bfgd.start(&error), qPrintable(error));
        m_userId = u"qa-%1"_s.arg(QRandomGenerator::global()->generate(), 8, 16, QChar(u'0'));
        m_window = std::make_unique<ProbeWindow>(bfg::probe::ProbeOptions{});
        m_window->show();
        QVERIFY(QTest::qWaitForWindowExposed(m_window.get()));
    }

    void cleanupTestCase() { m_window.reset(); }

    void connectShowsPublishedMessages()
    {
        QCOMPARE(text(u"stateLabel"_s), u"Not connected"_s);
        QTest::keyClicks(child<QLineEdit>(u"decisionEdit"_s), m_bfgd.decisionUrl().toString());
        QTest::keyClicks(child<QLineEdit>(u"userEdit"_s), m_userId);
        QTest::mouseClick(child<QPushButton>(u"connectButton"_s), Qt::LeftButton);
        QTRY_COMPARE_WITH_TIMEOUT(text(u"stateLabel"_s), u"Live"_s, WaitMs);
        QVERIFY2(text(u"nodeLabel"_s).contains(m_bfgd.nodeId()), qPrintable(text(u"nodeLabel"_s)));

        for (int i = 1; i <= 3; ++i)
            publishThroughWindow(u"hello %1"_s.arg(i));
        QTRY_COMPARE_WITH_TIMEOUT(messages()->rowCount(), 3, WaitMs);
        for (int row = 0; row < 3; ++row) {
            QCOMPARE(cell(row, MessageTableModel::StreamColumn), u"user:"_s + m_userId);
            QCOMPARE(cell(row, MessageTableModel::SeqColumn), QString::number(row + 1));
            QCOMPARE(cell(row, MessageTableModel::PayloadColumn), u"hello %1"_s.arg(row + 1));
        }
        QTRY_COMPARE(text(u"receivedValue"_s), u"3"_s);
        QCOMPARE(text(u"lostValue"_s), u"0"_s);
        QCOMPARE(text(u"duplicatedValue"_s), u"0"_s);
        QCOMPARE(text(u"reorderedValue"_s), u"0"_s);
    }

    void dropConnectionResumesRecovered()
    {
        QTest::mouseClick(child<QPushButton>(u"dropButton"_s), Qt::LeftButton);
        QVERIFY2(text(u"stateLabel"_s).startsWith(u"Backing off"_s), qPrintable(text(u"stateLabel"_s)));
        QVERIFY2(text(u"closeLabel"_s).contains(u"connection dropped"_s), qPrintable(text(u"closeLabel"_s)));
        QTRY_COMPARE_WITH_TIMEOUT(text(u"recoveredValue"_s), u"1"_s, WaitMs);
        QTRY_COMPARE_WITH_TIMEOUT(text(u"stateLabel"_s), u"Live"_s, WaitMs);
        QCOMPARE(text(u"notRecoveredValue"_s), u"0"_s);

        publishThroughWindow(u"after the drop"_s);
        QTRY_COMPARE_WITH_TIMEOUT(messages()->rowCount(), 4, WaitMs);
        QCOMPARE(cell(3, MessageTableModel::SeqColumn), u"4"_s);
        QTRY_COMPARE(text(u"receivedValue"_s), u"4"_s);
        QCOMPARE(text(u"lostValue"_s), u"0"_s);
        QCOMPARE(text(u"duplicatedValue"_s), u"0"_s);
    }

    void switchDecisionResumesRecovered()
    {
        // The same decision server typed again: the client resolves anew and resumes.
        QTest::mouseClick(child<QPushButton>(u"switchButton"_s), Qt::LeftButton);
        QVERIFY2(text(u"closeLabel"_s).contains(u"switching decision servers"_s),
                 qPrintable(text(u"closeLabel"_s)));
        QTRY_COMPARE_WITH_TIMEOUT(text(u"recoveredValue"_s), u"2"_s, WaitMs);
        QTRY_COMPARE_WITH_TIMEOUT(text(u"stateLabel"_s), u"Live"_s, WaitMs);
        QCOMPARE(text(u"receivedValue"_s), u"4"_s);
        QCOMPARE(text(u"lostValue"_s), u"0"_s);
    }

    void pauseReadingGetsSlowConsumerClose()
    {
        auto *pause = child<QPushButton>(u"pauseButton"_s);
        QTest::mouseClick(pause, Qt::LeftButton);
        QTRY_COMPARE_WITH_TIMEOUT(text(u"stateLabel"_s), u"Live, reading paused"_s, WaitMs);
        const int rowsBefore = messages()->rowCount();

        // Over HTTP, as a backend would publish (six requests at a time: QNetworkAccessManager's).
        QElapsedTimer clock;
        clock.start();
        const QString filler(ItemBytes, u'x');
        int acked = 0;
        int failed = 0;
        for (int batch = 0; batch < PausedBatches; ++batch) {
            QJsonArray items;
            for (int i = 0; i < ItemsPerBatch; ++i)
                items.append(QJsonObject{{u"stream"_s, QString(u"user:"_s + m_userId)}, {u"text"_s, filler}});
            QNetworkRequest request(m_bfgd.publishUrl().resolved(QUrl(u"/v1/publish"_s)));
            request.setHeader(QNetworkRequest::ContentTypeHeader, u"application/json"_s);
            QNetworkReply *reply = m_network.post(
                request, QJsonDocument(QJsonObject{{u"items"_s, items}}).toJson(QJsonDocument::Compact));
            connect(reply, &QNetworkReply::finished, this, [reply, &acked, &failed] {
                (reply->attribute(QNetworkRequest::HttpStatusCodeAttribute).toInt() == 200 ? acked
                                                                                           : failed)++;
                reply->deleteLater();
            });
        }
        QTRY_COMPARE_WITH_TIMEOUT(acked + failed, PausedBatches, 30000);
        QCOMPARE(failed, 0);
        m_published += PausedBatches * ItemsPerBatch;
        qInfo() << "published" << PausedBatches * ItemsPerBatch * ItemBytes / 1000
                << "kB to the paused client in" << clock.elapsed() << "ms";
        // Nothing was read meanwhile (the event loop ran all along).
        QCOMPARE(messages()->rowCount(), rowsBefore);
        QCOMPARE(text(u"stateLabel"_s), u"Live, reading paused"_s);

        QTest::mouseClick(pause, Qt::LeftButton);
        QTRY_VERIFY2_WITH_TIMEOUT(text(u"closeLabel"_s).startsWith(u"3003 SLOW_CONSUMER"_s),
                                  qPrintable(text(u"closeLabel"_s)), WaitMs);
        QTRY_COMPARE_WITH_TIMEOUT(text(u"recoveredValue"_s), u"3"_s, WaitMs);
        QTRY_COMPARE_WITH_TIMEOUT(messages()->rowCount(), m_published, WaitMs);
        QCOMPARE(cell(m_published - 1, MessageTableModel::SeqColumn), QString::number(m_published));
        QTRY_COMPARE(text(u"receivedValue"_s), QString::number(m_published));
        QCOMPARE(text(u"lostValue"_s), u"0"_s);
        QCOMPARE(text(u"duplicatedValue"_s), u"0"_s);
        QCOMPARE(text(u"notRecoveredValue"_s), u"0"_s);
        QCOMPARE(text(u"stateLabel"_s), u"Live"_s);
    }
};

QTEST_MAIN(TestProbeGui)
#include "tst_probegui.moc"
