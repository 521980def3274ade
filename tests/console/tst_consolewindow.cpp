// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 BFG developers
//
// The console's main window under the offscreen platform against a real
// cluster (one decision bfgd, two push nodes): the table fills from the
// live stream; the allowed-load control, after its confirmation, changes
// the server's value; the drain and undrain buttons change the node's
// state; the audit pane shows who did it; window state is remembered.
#include <QAbstractButton>
#include <QApplication>
#include <QChart>
#include <QChartView>
#include <QCheckBox>
#include <QFile>
#include <QLabel>
#include <QLineEdit>
#include <QPlainTextEdit>
#include <QMessageBox>
#include <QPushButton>
#include <QSettings>
#include <QScopeGuard>
#include <QSpinBox>
#include <QTableView>
#include <QTemporaryDir>
#include <QTest>
#include <QTimer>
#include <QToolBar>

#include "console/chartspanel.h"
#include "console/connectdialog.h"
#include "console/core/adminclient.h"
#include "console/core/clusterhistory.h"
#include "console/core/credentialstore.h"
#include "console/core/nodetablemodel.h"
#include "console/mainwindow.h"
#include "console/nodeactions.h"
#include "tests/support/localcluster.h"

using namespace Qt::Literals::StringLiterals;
using bfg::MainWindow;
using bfg::NodeTableModel;
using bfg::test::LocalCluster;

namespace {
constexpr int WaitMs = 15000;

// Answers the next confirmation box with its affirmative button and
// remembers what it said.
class ConfirmationAnswerer : public QObject
{
public:
    explicit ConfirmationAnswerer(const QString &objectName)
        : m_objectName(objectName)
    {
        m_timer.setInterval(20);
        QObject::connect(&m_timer, &QTimer::timeout, this, [this] {
            auto *box = qobject_cast<QMessageBox *>(QApplication::activeModalWidget());
            if (!box)
                return;
            m_seenName = box->objectName();
            m_text = box->text() + u'\n' + box->informativeText();
            m_timer.stop();
            // Not the expected question (an error box has no Yes): close it, the test fails on wasExpected().
            if (QAbstractButton *yes = box->button(QMessageBox::Yes); yes && wasExpected())
                yes->click();
            else
                box->reject();
        });
        m_timer.start();
    }
    bool answered() const { return !m_seenName.isEmpty(); }
    QString text() const { return m_text; }
    bool wasExpected() const { return m_seenName == m_objectName; }

private:
    QString m_objectName;
    QString m_seenName;
    QString m_text;
    QTimer m_timer;
};
} // namespace

class TestConsoleWindow : public QObject
{
    Q_OBJECT

private:
    LocalCluster m_cluster;
    QTemporaryDir m_dir;
    std::unique_ptr<QSettings> m_settings;
    std::unique_ptr<bfg::CredentialStore> m_credentials;
    std::unique_ptr<MainWindow> m_window;

    QTableView *nodesView() const { return m_window->findChild<QTableView *>(u"nodesView"_s); }
    QString settingsPath() const { return m_dir.filePath(u"bfg-console.ini"_s); }

    // The row of `nodeId` in the view (sorted as the operator left it).
    int viewRow(const QString &nodeId) const
    {
        const QAbstractItemModel *model = nodesView()->model();
        for (int row = 0; row < model->rowCount(); ++row)
            if (model->index(row, 0).data(NodeTableModel::NodeIdRole).toString() == nodeId)
                return row;
        return -1;
    }

    QString stateCell(const QString &nodeId) const
    {
        const int row = viewRow(nodeId);
        return row < 0 ? QString()
                       : nodesView()->model()->index(row, NodeTableModel::StateColumn).data().toString();
    }

    QAbstractButton *toolButton(QAction *action) const
    {
        return qobject_cast<QAbstractButton *>(
            m_window->findChild<QToolBar *>(u"clusterToolBar"_s)->widgetForAction(action));
    }

    void openWindow()
    {
        m_window = std::make_unique<MainWindow>(m_settings.get(), m_credentials.get());
        m_window->show();
        m_window->connectToCluster({m_cluster.decision().decisionUrl()}, m_cluster.decision().adminKey());
    }

private Q_SLOTS:
    void initTestCase()
    {
        QString error;
        QVERIFY2(m_cluster.startDecision(&error), qPrintable(error));
        QVERIFY2(m_cluster.addPushNode(&error), qPrintable(error));
        QVERIFY2(m_cluster.addPushNode(&error), qPrintable(error));
        QVERIFY(m_dir.isValid());
        m_settings = std::make_unique<QSettings>(settingsPath(), QSettings::IniFormat);
        m_credentials = std::make_unique<bfg::CredentialStore>(u"bfg-console-test"_s);
        openWindow();
    }

    void cleanupTestCase()
    {
        m_window.reset();
        m_cluster.stop();
    }

    void tableFillsFromTheCluster()
    {
        QTRY_COMPARE_WITH_TIMEOUT(nodesView()->model()->rowCount(), 3, WaitMs); // two nodes and the totals
        QVERIFY(viewRow(m_cluster.push(0).nodeId()) >= 0);
        QVERIFY(viewRow(m_cluster.push(1).nodeId()) >= 0);
        QCOMPARE(nodesView()->model()->index(2, 0).data().toString(), u"Total (2 nodes)"_s);
        QTRY_COMPARE_WITH_TIMEOUT(stateCell(m_cluster.push(0).nodeId()), u"active"_s, WaitMs);
        const QString status = m_window->findChild<QLabel *>(u"connectionLabel"_s)->text();
        QVERIFY2(status.contains(u"Connected to "_s + m_cluster.decision().decisionUrl().toString()),
                 qPrintable(status));
        QTRY_VERIFY_WITH_TIMEOUT(
            m_window->findChild<QLabel *>(u"updateLabel"_s)->text().startsWith(u"Last update"_s), WaitMs);
    }

    void allowedLoadThroughTheWidget()
    {
        auto *spin = m_window->findChild<QSpinBox *>(u"allowedLoadSpin"_s);
        auto *apply = m_window->findChild<QPushButton *>(u"applyAllowedLoad"_s);
        QTRY_COMPARE_WITH_TIMEOUT(spin->value(), 80, WaitMs); // the server's default
        QVERIFY(!apply->isEnabled());
        spin->setValue(60);
        QVERIFY(apply->isEnabled());

        ConfirmationAnswerer answerer(u"allowedLoadConfirmation"_s);
        QTest::mouseClick(apply, Qt::LeftButton);
        QVERIFY(answerer.answered());
        QVERIFY(answerer.wasExpected());
        QVERIFY2(answerer.text().contains(u"from 80 % to 60 %"_s), qPrintable(answerer.text()));
        QTRY_COMPARE_WITH_TIMEOUT(
            m_cluster.admin("GET", u"/v1/cluster"_s).json().value(u"allowed_load"_s).toInt(), 60, WaitMs);
        QTRY_VERIFY_WITH_TIMEOUT(!apply->isEnabled(), WaitMs);
        QCOMPARE(spin->value(), 60);

        // A change made elsewhere (another operator) shows up in the control.
        QCOMPARE(m_cluster.admin("PUT", u"/v1/cluster/allowed-load"_s, R"({"allowed_load": 75})").status,
                 200);
        QTRY_COMPARE_WITH_TIMEOUT(spin->value(), 75, WaitMs);
        QVERIFY(!apply->isEnabled());
    }

    void drainAndUndrainThroughTheButtons()
    {
        const QString id = m_cluster.push(0).nodeId();
        bfg::NodeActions *actions = m_window->nodeActions();
        QTRY_VERIFY_WITH_TIMEOUT(viewRow(id) >= 0, WaitMs);
        nodesView()->selectRow(viewRow(id));
        QCOMPARE(actions->currentNode(), id);
        QAbstractButton *drain = toolButton(actions->drainAction());
        QVERIFY(drain && drain->isEnabled());
        QVERIFY(!actions->undrainAction()->isEnabled());

        ConfirmationAnswerer answerer(u"drainConfirmation"_s);
        QTest::mouseClick(drain, Qt::LeftButton);
        QVERIFY(answerer.answered());
        QVERIFY(answerer.wasExpected());
        QVERIFY2(answerer.text().contains(id), qPrintable(answerer.text()));
        QTRY_COMPARE_WITH_TIMEOUT(m_cluster.node(m_cluster.push(0)).value(u"admin_state"_s).toString(),
                                  u"draining"_s, WaitMs);
        // No users on it: it is drained at its next report, and the table says so.
        QTRY_COMPARE_WITH_TIMEOUT(stateCell(id), u"drained"_s, WaitMs);
        QVERIFY(m_cluster.state(m_cluster.push(1)) == u"active"_s);
        QTRY_VERIFY_WITH_TIMEOUT(actions->undrainAction()->isEnabled(), WaitMs);
        QVERIFY(!actions->drainAction()->isEnabled());

        // The audit pane shows it, under the key's name.
        auto *audit = m_window->findChild<QTableView *>(u"auditView"_s);
        QTRY_VERIFY_WITH_TIMEOUT(audit->model()->rowCount() >= 1, WaitMs);
        QTRY_COMPARE_WITH_TIMEOUT(audit->model()->index(0, 2).data().toString(), u"drain"_s, WaitMs);
        QCOMPARE(audit->model()->index(0, 3).data().toString(), id);
        QVERIFY(audit->model()->index(0, 1).data().toString().startsWith(u"admin-"_s));

        QTest::mouseClick(toolButton(actions->undrainAction()),
                          Qt::LeftButton); // not destructive: no question
        QTRY_COMPARE_WITH_TIMEOUT(m_cluster.state(m_cluster.push(0)), u"active"_s, WaitMs);
        QTRY_COMPARE_WITH_TIMEOUT(stateCell(id), u"active"_s, WaitMs);
    }

    void themesReachTheChartsAndAreRemembered()
    {
        const QPalette startup = QApplication::palette();
        auto *chart = m_window->findChild<QChartView *>(u"connectionsChart"_s)->chart();
        m_window->setTheme(MainWindow::Theme::Dark);
        QVERIFY(QApplication::palette().color(QPalette::Base).lightness() < 80);
        QVERIFY(QApplication::palette().color(QPalette::Text).lightness() > 180);
        QTRY_COMPARE(chart->theme(), QChart::ChartThemeDark); // the charts follow the palette
        m_window->setTheme(MainWindow::Theme::Light);
        QVERIFY(QApplication::palette().color(QPalette::Base).lightness() > 180);
        QTRY_COMPARE(chart->theme(), QChart::ChartThemeLight);
        QCOMPARE(m_settings->value(u"view/theme"_s).toInt(), int(MainWindow::Theme::Light));
        // System is the palette the console started with, not a style's default.
        m_window->setTheme(MainWindow::Theme::System);
        QCOMPARE(QApplication::palette().color(QPalette::Window), startup.color(QPalette::Window));
    }

    void chartsFollowNodesLeavingAndJoining()
    {
        // Many nodes, then few (the rest aged out of the window), then one more:
        // the panel keeps one line per node and its colours stay in range.
        bfg::ClusterHistory history(4);
        bfg::ChartsPanel panel(&history);
        panel.resize(900, 700);
        panel.show();
        const auto append = [&history](int nodes, int at) {
            bfg::v1::ClusterSnapshot snapshot;
            snapshot.set_at_ms(1'000'000 + at * 1000);
            for (int i = 0; i < nodes; ++i) {
                bfg::v1::NodeStatus *node = snapshot.add_nodes();
                node->set_id(u"n%1"_s.arg(i, 3, 10, QChar(u'0')).toStdString());
                node->set_connections(quint32(10 * i));
                node->set_latency_p99_ms(i);
            }
            history.append(snapshot);
        };
        auto *connections = panel.findChild<QChartView *>(u"connectionsChart"_s)->chart();
        int at = 0;
        append(70, at++);
        QTRY_COMPARE(connections->series().size(), 70);
        for (int i = 0; i < 5; ++i)
            append(10, at++);
        QTRY_COMPARE(connections->series().size(), 10);
        append(11, at++);
        QTRY_COMPARE(connections->series().size(), 11);
        history.clear();
        QTRY_COMPARE(connections->series().size(), 0);
    }

    void connectDialogConnectsAndKeepsTheTokenOutOfSettings()
    {
        const QString url = m_cluster.decision().decisionUrl().toString();
        const QString key = QString::fromLatin1(m_cluster.decision().adminKey());
        m_window->client()->disconnectFromCluster();
        bfg::ConnectDialog *seen = nullptr;
        QString warning;
        bool rememberOffered = false;
        // Fill in the dialog as an operator would and press Connect.
        QTimer::singleShot(0, this, [&] {
            QTRY_VERIFY(qobject_cast<bfg::ConnectDialog *>(QApplication::activeModalWidget()));
            seen = qobject_cast<bfg::ConnectDialog *>(QApplication::activeModalWidget());
            auto closeAnyway = qScopeGuard([&] { seen->reject(); }); // a failed check must not hang the test
            seen->findChild<QLineEdit *>(u"nameEdit"_s)->setText(u"test cluster"_s);
            seen->findChild<QPlainTextEdit *>(u"urlsEdit"_s)->setPlainText(url + u"\n"_s);
            seen->findChild<QLineEdit *>(u"tokenEdit"_s)->setText(key);
            rememberOffered = seen->findChild<QCheckBox *>(u"rememberCheck"_s)->isChecked();
            closeAnyway.dismiss();
            seen->accept();
        });
        m_window->openConnectDialog();
        QVERIFY(seen);
        QVERIFY(rememberOffered);
        QTRY_COMPARE_WITH_TIMEOUT(m_window->client()->state(), bfg::AdminClient::State::Connected, WaitMs);
        QCOMPARE(m_window->client()->currentUrl().toString(), url);

        // Remembered without the token: there is no keychain here (no session
        // bus), so the token stays in this session and the dialog says so.
        m_settings->sync();
        QFile file(settingsPath());
        QVERIFY(file.open(QIODevice::ReadOnly));
        const QByteArray written = file.readAll();
        QVERIFY(written.contains(url.toUtf8()));
        QVERIFY(written.contains("test cluster"));
        QVERIFY(!written.contains(key.toUtf8()));
        QTRY_VERIFY_WITH_TIMEOUT(!m_credentials->isKeychainAvailable(), WaitMs);

        QString token;
        QTimer::singleShot(0, this, [&] {
            auto *dialog = qobject_cast<bfg::ConnectDialog *>(QApplication::activeModalWidget());
            QVERIFY(dialog);
            auto closeAnyway = qScopeGuard([dialog] { dialog->reject(); });
            auto *label = dialog->findChild<QLabel *>(u"warningLabel"_s);
            QTRY_VERIFY(!dialog->findChild<QLineEdit *>(u"tokenEdit"_s)->text().isEmpty());
            token = dialog->findChild<QLineEdit *>(u"tokenEdit"_s)->text();
            warning = label->isVisibleTo(dialog) ? label->text() : QString();
        });
        m_window->openConnectDialog();
        QCOMPARE(token, key); // the newest recent cluster, its token from this session
        QVERIFY2(warning.contains(u"session only"_s), qPrintable(warning));
    }

    void windowStateIsRemembered()
    {
        m_window->resize(1333, 911);
        m_window->close();
        m_window.reset();
        m_settings->sync();
        QVERIFY(!QSettings(settingsPath(), QSettings::IniFormat)
                     .value(u"window/geometry"_s)
                     .toByteArray()
                     .isEmpty());
        openWindow();
        QCOMPARE(m_window->size(), QSize(1333, 911));
        QTRY_COMPARE_WITH_TIMEOUT(nodesView()->model()->rowCount(), 3, WaitMs);
    }
};

QTEST_MAIN(TestConsoleWindow)
#include "tst_consolewindow.moc"
