// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 BFG developers
//
// The dialog the console opens to connect to a cluster: its decision URLs
// in fallback order, the admin token and an optional name, with the recent
// clusters one choice away. It reads and stores tokens through the
// CredentialStore and remembers the cluster (never the token) in
// RecentClusters when accepted; the main window then connects with
// decisionUrls() and token().
#pragma once

#include <QDialog>
#include <QList>
#include <QStringList>

#include "console/core/recentclusters.h"

class QCheckBox;
class QComboBox;
class QLabel;
class QLineEdit;
class QPlainTextEdit;
class QToolButton;

namespace bfg {

class CredentialStore;

class ConnectDialog : public QDialog
{
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(ConnectDialog)

public:
    // Neither is owned; both must outlive the dialog.
    ConnectDialog(CredentialStore *credentials, RecentClusters *recent, QWidget *parent = nullptr);

    // Starts from these URLs (a cluster named on the command line) instead of the newest recent one.
    void setDecisionUrls(const QStringList &urls);

    QStringList
    decisionUrls() const;        // as entered (trimmed, blank lines dropped), validated, in fallback order
    QString token() const;       // trimmed
    QString clusterName() const; // trimmed; may be empty

    void accept() override;

protected:
    bool eventFilter(QObject *watched, QEvent *event) override;

private:
    // What is wrong with the form: nothing when `message` is empty; otherwise the widget to put
    // the focus on and, for the URL editor, the 0-based line to select.
    struct Problem
    {
        QString message;
        QWidget *widget = nullptr;
        int line = -1;
    };

    void showRecent(int comboIndex);
    void urlsEdited();
    void showWarning(const QString &warning);
    void showProblem(const Problem &problem);
    Problem validate() const;

    CredentialStore *m_credentials;
    RecentClusters *m_recent;
    QList<RecentCluster> m_recentClusters; // as shown in the combo
    // Bumped whenever the URLs change: a token read for an earlier choice is then dropped.
    quint64 m_tokenRequest = 0;
    // The cluster key whose stored token fills the token field, until the operator edits either.
    QString m_filledKey;

    QComboBox *m_recentCombo;
    QLineEdit *m_nameEdit;
    QPlainTextEdit *m_urlsEdit;
    QLineEdit *m_tokenEdit;
    QToolButton *m_showTokenButton;
    QCheckBox *m_rememberCheck;
    QLabel *m_warningLabel;
    QLabel *m_errorLabel;
};

} // namespace bfg
