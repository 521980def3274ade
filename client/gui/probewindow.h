// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 BFG developers
//
// bfg-probe --gui's window: what one user sees. The decision URLs and the
// user id to connect with; the connection's state (with the next retry
// while backing off), node and last close; the checks' counters; the
// messages as they arrive and a latency chart; buttons to drop the
// connection, pause reading, publish to the user and switch decision
// servers. Everything it shows comes from one WatchSession.
#pragma once

#include <QMainWindow>
#include <QTimer>

class QCheckBox;
class QLabel;
class QLineEdit;
class QPlainTextEdit;
class QPushButton;
class QTableView;

namespace bfg {
class PushClient;
}

namespace bfg::probe {

class LatencyChart;
class WatchSession;
struct ProbeOptions;

class ProbeWindow : public QMainWindow
{
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(ProbeWindow)

public:
    // `options`: the fields' starting values (--decision, --user, --publish, --publish-key).
    explicit ProbeWindow(const ProbeOptions &options, QWidget *parent = nullptr);
    ~ProbeWindow() override;

    WatchSession *session() const { return m_session; }

private:
    QWidget *createConnectionBox();
    QWidget *createCountersBox();
    QWidget *createPublishBox();
    void connectOrDisconnect();
    void switchDecision();
    void publish();
    void onClientChanged(PushClient *client);
    void updateState();
    void updateCounters();
    void updateButtons();
    void log(const QString &line);
    // The decision URLs typed in, or an error message in `error`.
    QList<QUrl> decisionUrls(QString *error) const;

    WatchSession *m_session;
    QLineEdit *m_decisionEdit;
    QLineEdit *m_userEdit;
    QPushButton *m_connectButton;
    QPushButton *m_switchButton;
    QPushButton *m_dropButton;
    QPushButton *m_pauseButton;
    QLabel *m_stateLabel;
    QLabel *m_nodeLabel;
    QLabel *m_closeLabel;
    QLabel *m_receivedValue;
    QLabel *m_lostValue;
    QLabel *m_duplicatedValue;
    QLabel *m_reorderedValue;
    QLabel *m_recoveredValue;
    QLabel *m_notRecoveredValue;
    QLineEdit *m_publishUrlEdit;
    QLineEdit *m_publishKeyEdit;
    QLineEdit *m_publishTextEdit;
    QPushButton *m_publishButton;
    QTableView *m_messagesView;
    QCheckBox *m_hexCheck;
    QCheckBox *m_followCheck;
    LatencyChart *m_chart;
    QPlainTextEdit *m_eventLog;
    QTimer m_stateTimer;    // the retry countdown
    QTimer m_countersTimer; // one refresh for a burst of messages
    int m_lastCloseCode = 0;
    QString m_failure;
};

} // namespace bfg::probe
