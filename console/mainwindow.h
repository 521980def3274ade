// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 BFG developers
//
// The console's main window: the nodes table with its totals, the charts,
// the allowed-load control, the node actions, the audit log and a status
// bar that says which decision server it is on and how fresh the view is.
// Everything it shows comes from one AdminClient's snapshot stream.
#pragma once

#include <QMainWindow>
#include <QPalette>
#include <QTimer>

class QLabel;
class QToolBar;
class QPushButton;
class QSettings;
class QSlider;
class QSpinBox;
class QSplitter;
class QTableView;
class QUrl;

namespace bfg {

class AdminClient;
class AuditModel;
class ChartsPanel;
class ClusterHistory;
class CredentialStore;
class NodeActions;
class NodeSortModel;
class NodeTableModel;
class RecentClusters;
namespace v1 {
class ClusterSnapshot;
}

class MainWindow : public QMainWindow
{
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(MainWindow)

public:
    // `settings` keeps window state and recent clusters (never secrets).
    MainWindow(QSettings *settings, CredentialStore *credentials, QWidget *parent = nullptr);
    ~MainWindow() override;

    void connectToCluster(const QList<QUrl> &decisionUrls, const QByteArray &adminKey);
    // Shows the connect dialog (on `decisionUrls` when given, else on the
    // newest recent cluster); connects when the operator accepts.
    void openConnectDialog(const QStringList &decisionUrls = {});

    AdminClient *client() const { return m_client; }
    NodeActions *nodeActions() const { return m_actions; }
    ClusterHistory *history() const { return m_history; }

    enum class Theme { System, Light, Dark };
    void setTheme(Theme theme);

protected:
    void closeEvent(QCloseEvent *event) override;

private:
    void createActions();
    void createAllowedLoadControl(QToolBar *toolBar);
    void applySnapshot(const v1::ClusterSnapshot &snapshot);
    void applyAllowedLoad();
    void updateStatus();
    // GET /v1/audit from `sinceMs` (-1: where the audit model says) and merge.
    void fetchAudit(qint64 sinceMs = -1);
    void selectionChanged();
    void showFailure(const QString &message);
    void restoreWindowState();
    void updateAllowedLoadControl();

    QSettings *m_settings;
    CredentialStore *m_credentials;
    AdminClient *m_client;
    NodeTableModel *m_nodes;
    NodeSortModel *m_sorted;
    AuditModel *m_audit;
    ClusterHistory *m_history;
    NodeActions *m_actions;
    QTableView *m_nodesView;
    QTableView *m_auditView;
    ChartsPanel *m_charts;
    QSplitter *m_splitter;
    QSlider *m_loadSlider;
    QSpinBox *m_loadSpin;
    QPushButton *m_loadApply;
    QLabel *m_connectionLabel;
    QLabel *m_updateLabel;
    QTimer m_statusTimer;
    QTimer m_auditTimer;
    QString m_systemStyle;
    QPalette m_systemPalette;
    bool m_applyingLoad = false;
    bool m_auditInFlight = false;
    bool m_headerRestored = false;
    int m_serverAllowedLoad = -1;
};

} // namespace bfg
