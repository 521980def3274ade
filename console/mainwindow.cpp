// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 BFG developers
#include "console/mainwindow.h"

#include <QAbstractButton>
#include <QActionGroup>
#include <QApplication>
#include <QCloseEvent>
#include <QDateTime>
#include <QDockWidget>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QLabel>
#include <QMenu>
#include <QMenuBar>
#include <QMessageBox>
#include <QPushButton>
#include <QSettings>
#include <QSlider>
#include <QSpinBox>
#include <QSplitter>
#include <QStatusBar>
#include <QStyle>
#include <QStyleFactory>
#include <QTableView>
#include <QToolBar>

#include "common/protocol.h"
#include "console/chartspanel.h"
#include "console/connectdialog.h"
#include "console/core/adminclient.h"
#include "console/core/auditmodel.h"
#include "console/core/clusterhistory.h"
#include "console/core/credentialstore.h"
#include "console/core/nodesortmodel.h"
#include "console/core/nodetablemodel.h"
#include "console/core/recentclusters.h"
#include "console/nodeactions.h"

using namespace Qt::Literals::StringLiterals;

namespace bfg {

namespace {
constexpr int AuditIntervalMs = 5000;
constexpr int StatusIntervalMs = 500;

QPalette darkPalette()
{
    QPalette palette;
    const QColor window(37, 37, 38);
    const QColor base(30, 30, 30);
    const QColor text(230, 230, 230);
    const QColor disabled(128, 128, 128);
    palette.setColor(QPalette::Window, window);
    palette.setColor(QPalette::WindowText, text);
    palette.setColor(QPalette::Base, base);
    palette.setColor(QPalette::AlternateBase, QColor(45, 45, 48));
    palette.setColor(QPalette::ToolTipBase, QColor(60, 60, 60));
    palette.setColor(QPalette::ToolTipText, text);
    palette.setColor(QPalette::PlaceholderText, disabled);
    palette.setColor(QPalette::Text, text);
    palette.setColor(QPalette::Button, window);
    palette.setColor(QPalette::ButtonText, text);
    palette.setColor(QPalette::BrightText, QColor(255, 90, 90));
    palette.setColor(QPalette::Link, QColor(90, 160, 255));
    palette.setColor(QPalette::Highlight, QColor(38, 110, 200));
    palette.setColor(QPalette::HighlightedText, Qt::white);
    palette.setColor(QPalette::Light, QColor(70, 70, 72));
    palette.setColor(QPalette::Midlight, QColor(55, 55, 57));
    palette.setColor(QPalette::Mid, QColor(45, 45, 47));
    palette.setColor(QPalette::Dark, QColor(20, 20, 20));
    palette.setColor(QPalette::Shadow, Qt::black);
    for (const auto role : {QPalette::WindowText, QPalette::Text, QPalette::ButtonText})
        palette.setColor(QPalette::Disabled, role, disabled);
    return palette;
}

QString timeText(qint64 ms)
{
    return QDateTime::fromMSecsSinceEpoch(ms).toString(u"HH:mm:ss"_s);
}
} // namespace

MainWindow::MainWindow(QSettings *settings, CredentialStore *credentials, QWidget *parent)
    : QMainWindow(parent)
    , m_settings(settings)
    , m_credentials(credentials)
    , m_client(new AdminClient(this))
    , m_nodes(new NodeTableModel(this))
    , m_sorted(new NodeSortModel(this))
    , m_audit(new AuditModel(this))
    , m_history(new ClusterHistory(ClusterHistory::DefaultSamples, this))
    , m_actions(new NodeActions(m_client, m_nodes, this))
{
    m_systemStyle = QApplication::style()->name();
    m_systemPalette = QApplication::palette();
    setWindowTitle(u"BFG console"_s);
    setWindowIcon(QIcon(u":/icons/bfg-console.svg"_s));
    setObjectName(u"mainWindow"_s);

    m_sorted->setSourceModel(m_nodes);
    m_nodesView = new QTableView(this);
    m_nodesView->setObjectName(u"nodesView"_s);
    m_nodesView->setModel(m_sorted);
    m_nodesView->setSortingEnabled(true);
    m_nodesView->sortByColumn(NodeTableModel::NodeColumn, Qt::AscendingOrder);
    m_nodesView->setSelectionBehavior(QAbstractItemView::SelectRows);
    m_nodesView->setSelectionMode(QAbstractItemView::SingleSelection);
    m_nodesView->setAlternatingRowColors(true);
    m_nodesView->setContextMenuPolicy(Qt::ActionsContextMenu);
    m_nodesView->verticalHeader()->hide();
    m_nodesView->horizontalHeader()->setStretchLastSection(true);
    m_nodesView->horizontalHeader()->setSectionResizeMode(QHeaderView::Interactive);
    connect(m_nodesView->selectionModel(), &QItemSelectionModel::selectionChanged, this,
            &MainWindow::selectionChanged);

    m_charts = new ChartsPanel(m_history, this);
    m_splitter = new QSplitter(Qt::Vertical, this);
    m_splitter->setObjectName(u"mainSplitter"_s);
    m_splitter->addWidget(m_nodesView);
    m_splitter->addWidget(m_charts);
    m_splitter->setStretchFactor(0, 2);
    m_splitter->setStretchFactor(1, 3);
    m_splitter->setChildrenCollapsible(false);
    // Room for a handful of nodes and the totals before the table scrolls.
    m_nodesView->setMinimumHeight(m_nodesView->verticalHeader()->defaultSectionSize() * 4);
    setCentralWidget(m_splitter);

    m_auditView = new QTableView(this);
    m_auditView->setObjectName(u"auditView"_s);
    m_auditView->setModel(m_audit);
    m_auditView->verticalHeader()->hide();
    m_auditView->horizontalHeader()->setStretchLastSection(true);
    m_auditView->setSelectionBehavior(QAbstractItemView::SelectRows);
    m_auditView->setAlternatingRowColors(true);
    auto *auditDock = new QDockWidget(u"Audit log"_s, this);
    auditDock->setObjectName(u"auditDock"_s);
    auditDock->setWidget(m_auditView);
    addDockWidget(Qt::BottomDockWidgetArea, auditDock);
    resizeDocks({auditDock}, {140}, Qt::Vertical);

    createActions();

    m_connectionLabel = new QLabel(u"Not connected"_s, this);
    m_connectionLabel->setObjectName(u"connectionLabel"_s);
    m_updateLabel = new QLabel(this);
    m_updateLabel->setObjectName(u"updateLabel"_s);
    statusBar()->addWidget(m_connectionLabel, 1);
    statusBar()->addPermanentWidget(m_updateLabel);

    connect(m_client, &AdminClient::snapshotReceived, this, &MainWindow::applySnapshot);
    connect(m_client, &AdminClient::stateChanged, this, [this](AdminClient::State state) {
        updateStatus();
        updateAllowedLoadControl();
        if (state == AdminClient::State::Connected)
            fetchAudit();
    });
    connect(m_client, &AdminClient::keyRejected, this, [this](const QString &reason) {
        updateStatus();
        showFailure(reason + u"\n\nConnect again with another admin key (File → Connect…)."_s);
    });
    connect(m_actions, &NodeActions::succeeded, this, [this](const QString &message) {
        statusBar()->showMessage(message, 5000);
        fetchAudit();
    });
    connect(m_actions, &NodeActions::failed, this, &MainWindow::showFailure);
    connect(m_credentials, &CredentialStore::keychainUnavailable, this,
            [this](const QString &warning) { statusBar()->showMessage(warning, 30000); });

    m_statusTimer.setInterval(StatusIntervalMs);
    connect(&m_statusTimer, &QTimer::timeout, this, &MainWindow::updateStatus);
    m_statusTimer.start();
    m_auditTimer.setInterval(AuditIntervalMs);
    connect(&m_auditTimer, &QTimer::timeout, this, [this] { fetchAudit(); });
    m_auditTimer.start();

    resize(1280, 860);
    restoreWindowState();
}

MainWindow::~MainWindow() = default;

void MainWindow::createActions()
{
    auto *connectAction = new QAction(QIcon(u":/icons/connect.svg"_s), u"&Connect…"_s, this);
    connectAction->setObjectName(u"connectAction"_s);
    connectAction->setShortcut(QKeySequence::Open);
    connectAction->setStatusTip(u"Connect to a cluster: its decision servers and an admin key"_s);
    connect(connectAction, &QAction::triggered, this, [this] { openConnectDialog(); });
    auto *quitAction = new QAction(u"&Quit"_s, this);
    quitAction->setShortcut(QKeySequence::Quit);
    connect(quitAction, &QAction::triggered, this, &QWidget::close);

    QMenu *fileMenu = menuBar()->addMenu(u"&File"_s);
    fileMenu->addAction(connectAction);
    fileMenu->addSeparator();
    fileMenu->addAction(quitAction);

    QMenu *nodeMenu = menuBar()->addMenu(u"&Node"_s);
    nodeMenu->addActions(m_actions->actions());
    m_nodesView->addActions(m_actions->actions());

    QMenu *viewMenu = menuBar()->addMenu(u"&View"_s);
    QAction *auditToggle = findChild<QDockWidget *>(u"auditDock"_s)->toggleViewAction();
    auditToggle->setShortcut(Qt::CTRL | Qt::Key_L);
    auditToggle->setIcon(QIcon(u":/icons/audit.svg"_s));
    viewMenu->addAction(auditToggle);
    QMenu *themeMenu = viewMenu->addMenu(u"&Theme"_s);
    auto *themes = new QActionGroup(this);
    const auto addTheme = [this, themeMenu, themes](const QString &text, Theme theme) {
        QAction *action = themeMenu->addAction(text);
        action->setCheckable(true);
        action->setData(int(theme));
        themes->addAction(action);
        connect(action, &QAction::triggered, this, [this, theme] { setTheme(theme); });
    };
    addTheme(u"&System"_s, Theme::System);
    addTheme(u"&Light"_s, Theme::Light);
    addTheme(u"&Dark"_s, Theme::Dark);

    QMenu *helpMenu = menuBar()->addMenu(u"&Help"_s);
    helpMenu->addAction(u"&About BFG console"_s, this, [this] {
        QMessageBox::about(this, u"About BFG console"_s,
                           u"<b>BFG console</b> %1<p>Watch and steer a BFG push cluster through its decision "
                           u"servers' admin API.</p>"_s.arg(QStringLiteral(BFG_VERSION)));
    });

    QToolBar *toolBar = addToolBar(u"Cluster"_s);
    toolBar->setObjectName(u"clusterToolBar"_s);
    toolBar->setToolButtonStyle(Qt::ToolButtonTextBesideIcon);
    toolBar->addAction(connectAction);
    toolBar->addSeparator();
    toolBar->addActions(m_actions->actions());
    toolBar->addSeparator();
    createAllowedLoadControl(toolBar);
}

void MainWindow::createAllowedLoadControl(QToolBar *toolBar)
{
    auto *box = new QWidget(toolBar);
    auto *layout = new QHBoxLayout(box);
    layout->setContentsMargins(6, 0, 6, 0);
    auto *icon = new QLabel(box);
    icon->setPixmap(QIcon(u":/icons/allowed-load.svg"_s).pixmap(20, 20));
    auto *label = new QLabel(u"&Allowed load"_s, box);
    m_loadSlider = new QSlider(Qt::Horizontal, box);
    m_loadSlider->setObjectName(u"allowedLoadSlider"_s);
    m_loadSlider->setRange(1, 100);
    m_loadSlider->setPageStep(5);
    m_loadSlider->setMinimumWidth(160);
    m_loadSpin = new QSpinBox(box);
    m_loadSpin->setObjectName(u"allowedLoadSpin"_s);
    m_loadSpin->setRange(1, 100);
    m_loadSpin->setSuffix(u" %"_s);
    label->setBuddy(m_loadSpin);
    m_loadApply = new QPushButton(u"Apply…"_s, box);
    m_loadApply->setObjectName(u"applyAllowedLoad"_s);
    m_loadApply->setToolTip(
        u"Set the cluster's allowed load: nodes above it take no new users (Ctrl+Return)"_s);
    m_loadApply->setShortcut(Qt::CTRL | Qt::Key_Return);
    m_loadApply->setEnabled(false);
    const QString tip = u"The share of each node's capacity the decision servers fill before they stop "
                        u"sending it new users"_s;
    for (QWidget *widget : {static_cast<QWidget *>(m_loadSlider), static_cast<QWidget *>(m_loadSpin)})
        widget->setToolTip(tip);
    for (QWidget *widget :
         {static_cast<QWidget *>(icon), static_cast<QWidget *>(label), static_cast<QWidget *>(m_loadSlider),
          static_cast<QWidget *>(m_loadSpin), static_cast<QWidget *>(m_loadApply)})
        layout->addWidget(widget);
    toolBar->addWidget(box);

    // Slider and spin box are two views of one value (as qBittorrent's speed limit dialog).
    connect(m_loadSlider, &QSlider::valueChanged, m_loadSpin, &QSpinBox::setValue);
    connect(m_loadSpin, &QSpinBox::valueChanged, m_loadSlider, &QSlider::setValue);
    connect(m_loadSpin, &QSpinBox::valueChanged, this, &MainWindow::updateAllowedLoadControl);
    connect(m_loadApply, &QPushButton::clicked, this, &MainWindow::applyAllowedLoad);
    m_loadSlider->setEnabled(false);
    m_loadSpin->setEnabled(false);
}

void MainWindow::connectToCluster(const QList<QUrl> &decisionUrls, const QByteArray &adminKey)
{
    m_nodes->clear();
    m_audit->clear();
    m_history->clear();
    m_serverAllowedLoad = -1;
    m_applyingLoad = false;
    updateAllowedLoadControl();
    setWindowTitle(u"BFG console — %1"_s.arg(decisionUrls.value(0).toString()));
    m_client->connectTo(decisionUrls, adminKey);
    updateStatus();
}

void MainWindow::openConnectDialog(const QStringList &decisionUrls)
{
    RecentClusters recent(m_settings);
    ConnectDialog dialog(m_credentials, &recent, this);
    if (!decisionUrls.isEmpty())
        dialog.setDecisionUrls(decisionUrls);
    if (dialog.exec() != QDialog::Accepted)
        return;
    QList<QUrl> urls;
    for (const QString &text : dialog.decisionUrls())
        if (const QUrl url = AdminClient::normalizedUrl(text); url.isValid())
            urls.append(url);
    connectToCluster(urls, dialog.token().toUtf8());
    if (!dialog.clusterName().isEmpty())
        setWindowTitle(u"BFG console — %1"_s.arg(dialog.clusterName()));
}

void MainWindow::applySnapshot(const v1::ClusterSnapshot &snapshot)
{
    const bool first = m_nodes->rowCount() == 0;
    m_nodes->setSnapshot(snapshot);
    if (first && !m_headerRestored) {
        m_nodesView->resizeColumnsToContents();
        // Room for the longest state a node will show, not only today's.
        const int stateWidth =
            m_nodesView->fontMetrics().horizontalAdvance(u"draining · 10,000 of 10,000 left"_s) + 40;
        m_nodesView->setColumnWidth(
            NodeTableModel::StateColumn,
            std::max(stateWidth, m_nodesView->columnWidth(NodeTableModel::StateColumn)));
    }
    m_history->append(snapshot);
    m_actions->updateEnabled();

    const int allowed = int(snapshot.allowed_load());
    const bool editing = m_serverAllowedLoad > 0 && m_loadSpin->value() != m_serverAllowedLoad;
    if (!editing && allowed != m_loadSpin->value()) {
        const QSignalBlocker blockSpin(m_loadSpin);
        const QSignalBlocker blockSlider(m_loadSlider);
        m_loadSpin->setValue(allowed);
        m_loadSlider->setValue(allowed);
    }
    m_serverAllowedLoad = allowed;
    updateAllowedLoadControl();
    updateStatus();
}

void MainWindow::applyAllowedLoad()
{
    const int percent = m_loadSpin->value();
    QMessageBox box(QMessageBox::Question, u"Allowed load"_s, m_nodes->describeAllowedLoadChange(percent),
                    QMessageBox::Yes | QMessageBox::Cancel, this);
    box.setObjectName(u"allowedLoadConfirmation"_s);
    box.button(QMessageBox::Yes)->setText(u"Set %1 %"_s.arg(percent));
    box.setDefaultButton(QMessageBox::Cancel);
    if (box.exec() != QMessageBox::Yes)
        return;
    m_applyingLoad = true;
    updateAllowedLoadControl();
    m_client->setAllowedLoad(percent, [this, percent](const AdminResult &result) {
        m_applyingLoad = false;
        if (!result.ok) {
            updateAllowedLoadControl();
            showFailure(u"Setting the allowed load to %1 % failed: %2"_s.arg(percent).arg(result.message));
            return;
        }
        // The next snapshot confirms it; until then, this is the server's value.
        m_serverAllowedLoad = percent;
        updateAllowedLoadControl();
        statusBar()->showMessage(u"Allowed load set to %1 %"_s.arg(percent), 5000);
        fetchAudit();
    });
}

void MainWindow::updateAllowedLoadControl()
{
    // Usable only on a live view of the cluster, and one change at a time.
    const bool live = m_client->state() == AdminClient::State::Connected && m_serverAllowedLoad > 0;
    m_loadSlider->setEnabled(live && !m_applyingLoad);
    m_loadSpin->setEnabled(live && !m_applyingLoad);
    m_loadApply->setEnabled(live && !m_applyingLoad && m_loadSpin->value() != m_serverAllowedLoad);
}

void MainWindow::updateStatus()
{
    const qint64 nowMs = protocol::nowMs();
    const QString url = m_client->currentUrl().toString();
    switch (m_client->state()) {
    case AdminClient::State::Disconnected:
        m_connectionLabel->setText(m_client->lastError().isEmpty() ? u"Not connected"_s
                                                                   : m_client->lastError());
        break;
    case AdminClient::State::Connecting:
        m_connectionLabel->setText(u"Connecting to %1…"_s.arg(url));
        break;
    case AdminClient::State::Connected:
        m_connectionLabel->setText(u"Connected to %1"_s.arg(url));
        break;
    case AdminClient::State::Waiting: {
        const qint64 leftMs = std::max<qint64>(0, m_client->nextAttemptMs() - nowMs);
        m_connectionLabel->setText(u"Reconnecting in %1 s (attempt %2) · %3"_s.arg(
            QString::number(leftMs / 1000.0, 'f', 1), QString::number(m_client->failedRounds() + 1),
            m_client->lastError()));
        break;
    }
    }
    const qint64 lastMs = m_client->lastUpdateMs();
    m_updateLabel->setText(lastMs ? u"Last update %1 (%2 s ago)"_s.arg(
                                        timeText(lastMs), QString::number((nowMs - lastMs) / 1000.0, 'f', 1))
                                  : QString());
}

void MainWindow::fetchAudit(qint64 sinceMs)
{
    if (m_client->state() != AdminClient::State::Connected || m_auditInFlight)
        return;
    m_auditInFlight = true;
    const QList<QUrl> cluster = m_client->decisionUrls();
    m_client->fetchAudit(sinceMs >= 0 ? sinceMs : m_audit->nextSinceMs(),
                         [this, cluster](const AdminResult &result, const QList<AuditRecord> &records) {
                             m_auditInFlight = false;
                             if (!result.ok || cluster != m_client->decisionUrls())
                                 return;
                             const bool wasEmpty = m_audit->rowCount() == 0;
                             const int added = m_audit->merge(records);
                             if (wasEmpty && added > 0)
                                 m_auditView->resizeColumnsToContents();
                             // A full page: there is more; fetch on from its end at once.
                             if (added > 0 && records.size() >= 1000)
                                 fetchAudit(records.last().atMs);
                         });
}

void MainWindow::selectionChanged()
{
    const QModelIndexList rows = m_nodesView->selectionModel()->selectedRows();
    m_actions->setCurrentNode(rows.isEmpty() ? QString()
                                             : rows.first().data(NodeTableModel::NodeIdRole).toString());
}

void MainWindow::showFailure(const QString &message)
{
    statusBar()->showMessage(message, 10000);
    QMessageBox::warning(this, u"BFG console"_s, message);
}

void MainWindow::setTheme(Theme theme)
{
    // Light and dark are Fusion's, which follows a palette faithfully; System
    // is the style and palette the console started with.
    const QString style = theme == Theme::System ? m_systemStyle : u"fusion"_s;
    if (QApplication::style()->name().compare(style, Qt::CaseInsensitive) != 0)
        QApplication::setStyle(QStyleFactory::create(style));
    if (theme == Theme::System)
        QApplication::setPalette(m_systemPalette);
    else
        QApplication::setPalette(theme == Theme::Dark ? darkPalette()
                                                      : QApplication::style()->standardPalette());
    m_settings->setValue(u"view/theme"_s, int(theme));
    for (QAction *action : findChildren<QAction *>())
        if (action->isCheckable() && action->data().isValid() && action->actionGroup())
            action->setChecked(action->data().toInt() == int(theme));
}

void MainWindow::restoreWindowState()
{
    m_settings->beginGroup(u"window"_s);
    restoreGeometry(m_settings->value(u"geometry"_s).toByteArray());
    QMainWindow::restoreState(m_settings->value(u"state"_s).toByteArray());
    m_splitter->restoreState(m_settings->value(u"splitter"_s).toByteArray());
    m_headerRestored =
        m_nodesView->horizontalHeader()->restoreState(m_settings->value(u"nodesHeader"_s).toByteArray());
    m_settings->endGroup();
    setTheme(Theme(m_settings->value(u"view/theme"_s, int(Theme::System)).toInt()));
}

void MainWindow::closeEvent(QCloseEvent *event)
{
    m_settings->beginGroup(u"window"_s);
    m_settings->setValue(u"geometry"_s, saveGeometry());
    m_settings->setValue(u"state"_s, saveState());
    m_settings->setValue(u"splitter"_s, m_splitter->saveState());
    m_settings->setValue(u"nodesHeader"_s, m_nodesView->horizontalHeader()->saveState());
    m_settings->endGroup();
    m_settings->sync();
    QMainWindow::closeEvent(event);
}

} // namespace bfg
