// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 BFG developers
#include "console/connectdialog.h"

#include <QCheckBox>
#include <QComboBox>
#include <QDialogButtonBox>
#include <QFormLayout>
#include <QHBoxLayout>
#include <QKeyEvent>
#include <QLabel>
#include <QLineEdit>
#include <QPlainTextEdit>
#include <QPushButton>
#include <QTextBlock>
#include <QToolButton>
#include <QUrl>
#include <QVBoxLayout>

#include "console/core/adminclient.h"
#include "console/core/credentialstore.h"

using namespace Qt::Literals::StringLiterals;

namespace bfg {

namespace {
QString labelFor(const RecentCluster &cluster)
{
    const QString urls = cluster.decisionUrls.join(u", "_s);
    return cluster.name.isEmpty() ? urls : ConnectDialog::tr("%1 (%2)").arg(cluster.name, urls);
}

QStringList nonBlankLines(const QString &text)
{
    QStringList lines;
    for (const QString &line : text.split(u'\n')) {
        const QString trimmed = line.trimmed();
        if (!trimmed.isEmpty())
            lines.append(trimmed);
    }
    return lines;
}

// `onLight` on a light window, `onDark` on a dark one: readable in both themes.
void setTextColor(QLabel *label, const QColor &onLight, const QColor &onDark)
{
    QPalette palette = label->palette();
    const bool dark = palette.color(QPalette::Window).lightness() < 128;
    palette.setColor(QPalette::WindowText, dark ? onDark : onLight);
    label->setPalette(palette);
}
} // namespace

ConnectDialog::ConnectDialog(CredentialStore *credentials, RecentClusters *recent, QWidget *parent)
    : QDialog(parent)
    , m_credentials(credentials)
    , m_recent(recent)
    , m_recentClusters(recent->clusters())
    , m_recentCombo(new QComboBox(this))
    , m_nameEdit(new QLineEdit(this))
    , m_urlsEdit(new QPlainTextEdit(this))
    , m_tokenEdit(new QLineEdit(this))
    , m_showTokenButton(new QToolButton(this))
    , m_rememberCheck(new QCheckBox(tr("Re&member token in keychain"), this))
    , m_warningLabel(new QLabel(this))
    , m_errorLabel(new QLabel(this))
{
    Q_ASSERT(credentials && recent);
    setWindowTitle(tr("Connect to a Cluster"));
    setMinimumWidth(480);

    m_recentCombo->setObjectName(u"recentCombo"_s);
    for (int i = 0; i < m_recentClusters.size(); ++i)
        m_recentCombo->addItem(labelFor(m_recentClusters.at(i)), i);
    m_recentCombo->addItem(tr("New cluster"), -1);
    // Long URL lists must not stretch the dialog; the popup shows them whole.
    m_recentCombo->setSizeAdjustPolicy(QComboBox::AdjustToMinimumContentsLengthWithIcon);
    m_recentCombo->setMinimumContentsLength(30);

    m_nameEdit->setObjectName(u"nameEdit"_s);
    m_nameEdit->setPlaceholderText(tr("Optional, e.g. production"));

    m_urlsEdit->setObjectName(u"urlsEdit"_s);
    m_urlsEdit->setTabChangesFocus(true);
    m_urlsEdit->setLineWrapMode(QPlainTextEdit::NoWrap);
    m_urlsEdit->setPlaceholderText(
        u"https://decision-1.example.net:8443\nhttps://decision-2.example.net:8443"_s);
    m_urlsEdit->setToolTip(
        tr("One decision server per line, in the order to try them. Ctrl+Enter connects."));
    const int margins = 2 * (m_urlsEdit->frameWidth() + int(m_urlsEdit->document()->documentMargin()));
    m_urlsEdit->setMinimumHeight(4 * m_urlsEdit->fontMetrics().lineSpacing() + margins);
    m_urlsEdit->installEventFilter(this);

    m_tokenEdit->setObjectName(u"tokenEdit"_s);
    m_tokenEdit->setEchoMode(QLineEdit::Password);
    m_showTokenButton->setObjectName(u"showTokenButton"_s);
    m_showTokenButton->setText(tr("&Show"));
    m_showTokenButton->setCheckable(true);
    m_showTokenButton->setToolTip(tr("Show or hide the token"));

    m_rememberCheck->setObjectName(u"rememberCheck"_s);
    m_rememberCheck->setChecked(true);
    m_rememberCheck->setToolTip(tr("Keep the token in the system keychain for the next time. "
                                   "Unchecked, a token stored earlier for these URLs is removed."));

    m_warningLabel->setObjectName(u"warningLabel"_s);
    m_warningLabel->setWordWrap(true);
    m_warningLabel->hide();
    setTextColor(m_warningLabel, QColor(0x9a, 0x67, 0x00), QColor(0xe3, 0xb3, 0x41));

    m_errorLabel->setObjectName(u"errorLabel"_s);
    m_errorLabel->setWordWrap(true);
    m_errorLabel->hide();
    setTextColor(m_errorLabel, QColor(0xc0, 0x1c, 0x28), QColor(0xff, 0x7b, 0x72));

    auto *buttons = new QDialogButtonBox(QDialogButtonBox::Ok | QDialogButtonBox::Cancel, this);
    QPushButton *connectButton = buttons->button(QDialogButtonBox::Ok);
    connectButton->setText(tr("Connect"));
    connectButton->setDefault(true);

    auto *form = new QFormLayout;
    form->addRow(tr("&Recent:"), m_recentCombo);
    form->addRow(tr("&Name:"), m_nameEdit);
    form->addRow(tr("&Decision URLs:"), m_urlsEdit);
    auto *tokenLabel = new QLabel(tr("Admin &token:"), this);
    tokenLabel->setBuddy(m_tokenEdit);
    auto *tokenRow = new QHBoxLayout;
    tokenRow->addWidget(m_tokenEdit);
    tokenRow->addWidget(m_showTokenButton);
    form->addRow(tokenLabel, tokenRow);
    form->addRow(QString(), m_rememberCheck);

    auto *layout = new QVBoxLayout(this);
    layout->addLayout(form);
    layout->addWidget(m_warningLabel);
    layout->addWidget(m_errorLabel);
    layout->addStretch();
    layout->addWidget(buttons);

    setTabOrder(m_recentCombo, m_nameEdit);
    setTabOrder(m_nameEdit, m_urlsEdit);
    setTabOrder(m_urlsEdit, m_tokenEdit);
    setTabOrder(m_tokenEdit, m_showTokenButton);
    setTabOrder(m_showTokenButton, m_rememberCheck);
    setTabOrder(m_rememberCheck, buttons);

    connect(buttons, &QDialogButtonBox::accepted, this, &ConnectDialog::accept);
    connect(buttons, &QDialogButtonBox::rejected, this, &ConnectDialog::reject);
    connect(m_recentCombo, &QComboBox::currentIndexChanged, this, &ConnectDialog::showRecent);
    // Choosing the current cluster again, after its URLs were edited, brings it back; QComboBox
    // reports no change of index then.
    connect(m_recentCombo, &QComboBox::activated, this, [this](int comboIndex) {
        const int index = m_recentCombo->itemData(comboIndex).toInt();
        if (index >= 0 && index < m_recentClusters.size() &&
            RecentClusters::keyFor(decisionUrls()) !=
                RecentClusters::keyFor(m_recentClusters.at(index).decisionUrls))
            showRecent(comboIndex);
    });
    connect(m_urlsEdit, &QPlainTextEdit::textChanged, this, &ConnectDialog::urlsEdited);
    connect(m_tokenEdit, &QLineEdit::textEdited, this, [this] {
        // The operator's own token from now on: neither a late read nor a URL change replaces it.
        ++m_tokenRequest;
        m_filledKey.clear();
        m_errorLabel->hide();
    });
    connect(m_showTokenButton, &QToolButton::toggled, this, [this](bool shown) {
        m_tokenEdit->setEchoMode(shown ? QLineEdit::Normal : QLineEdit::Password);
        m_showTokenButton->setText(shown ? tr("&Hide") : tr("&Show"));
    });
    connect(m_credentials, &CredentialStore::keychainUnavailable, this, &ConnectDialog::showWarning);
    if (!m_credentials->isKeychainAvailable())
        showWarning(m_credentials->warning());
    else if (m_recentClusters.isEmpty())
        // Nothing to read yet: ask anyway, so that a missing keychain is said
        // before the operator types a key, not after the dialog has closed.
        m_credentials->readToken(u"bfg-console/keychain-check"_s, this, [](const QString &) {});

    // The newest recent cluster is item 0; with none, "New cluster" is.
    m_recentCombo->setCurrentIndex(0);
    showRecent(0);
    if (m_recentClusters.isEmpty())
        m_urlsEdit->setFocus();
    else
        m_tokenEdit->setFocus();
}

void ConnectDialog::setDecisionUrls(const QStringList &urls)
{
    m_recentCombo->setCurrentIndex(m_recentCombo->count() - 1); // "New cluster"
    m_urlsEdit->setPlainText(urls.join(u'\n'));
    m_tokenEdit->setFocus();
}

QStringList ConnectDialog::decisionUrls() const
{
    return nonBlankLines(m_urlsEdit->toPlainText());
}

QString ConnectDialog::token() const
{
    return m_tokenEdit->text().trimmed();
}

QString ConnectDialog::clusterName() const
{
    return m_nameEdit->text().trimmed();
}

void ConnectDialog::accept()
{
    const Problem problem = validate();
    if (!problem.message.isEmpty()) {
        showProblem(problem);
        return;
    }
    const QStringList urls = decisionUrls();
    const QString key = RecentClusters::keyFor(urls);
    m_recent->remember({clusterName(), urls});
    if (m_rememberCheck->isChecked()) {
        // The dialog may be gone before the keychain answers; a session-only outcome reaches the
        // console through CredentialStore::keychainUnavailable and warning().
        m_credentials->storeToken(key, token(), m_credentials, [](bool) {});
    } else {
        m_credentials->forgetToken(key);
    }
    QDialog::accept();
}

bool ConnectDialog::eventFilter(QObject *watched, QEvent *event)
{
    // Enter is a new line in the URL editor; Ctrl+Enter connects from there as Enter does elsewhere.
    if (watched == m_urlsEdit && event->type() == QEvent::KeyPress) {
        const auto *keyEvent = static_cast<QKeyEvent *>(event);
        const bool enter = keyEvent->key() == Qt::Key_Return || keyEvent->key() == Qt::Key_Enter;
        if (enter && keyEvent->modifiers().testFlag(Qt::ControlModifier)) {
            accept();
            return true;
        }
    }
    return QDialog::eventFilter(watched, event);
}

void ConnectDialog::showRecent(int comboIndex)
{
    m_errorLabel->hide();
    bool ok = false;
    const int index = m_recentCombo->itemData(comboIndex).toInt(&ok);
    if (!ok || index < 0 || index >= m_recentClusters.size()) {
        m_nameEdit->clear();
        m_urlsEdit->clear();
        m_tokenEdit->clear();
        return;
    }
    const RecentCluster &cluster = m_recentClusters.at(index);
    m_nameEdit->setText(cluster.name);
    m_urlsEdit->setPlainText(cluster.decisionUrls.join(u'\n'));
    m_tokenEdit->clear();
    const QString key = RecentClusters::keyFor(cluster.decisionUrls);
    const quint64 request = ++m_tokenRequest;
    m_credentials->readToken(key, this, [this, request, key](const QString &token) {
        if (request != m_tokenRequest || token.isEmpty() || !m_tokenEdit->text().isEmpty())
            return; // another cluster chosen, URLs edited or a token typed meanwhile
        m_tokenEdit->setText(token);
        m_filledKey = key;
    });
}

void ConnectDialog::urlsEdited()
{
    ++m_tokenRequest; // a token still on its way was read for other URLs
    m_errorLabel->hide();
    if (!m_filledKey.isEmpty() && RecentClusters::keyFor(decisionUrls()) != m_filledKey) {
        // Don't send one cluster's stored token to other servers unless the operator types it.
        m_tokenEdit->clear();
        m_filledKey.clear();
    }
}

void ConnectDialog::showWarning(const QString &warning)
{
    m_warningLabel->setText(warning);
    m_warningLabel->setVisible(!warning.isEmpty());
}

void ConnectDialog::showProblem(const Problem &problem)
{
    m_errorLabel->setText(problem.message);
    m_errorLabel->show();
    if (problem.line >= 0) {
        QTextCursor cursor(m_urlsEdit->document()->findBlockByNumber(problem.line));
        cursor.movePosition(QTextCursor::EndOfBlock, QTextCursor::KeepAnchor);
        m_urlsEdit->setTextCursor(cursor);
    }
    if (problem.widget)
        problem.widget->setFocus();
}

ConnectDialog::Problem ConnectDialog::validate() const
{
    const QStringList lines = m_urlsEdit->toPlainText().split(u'\n');
    int urlCount = 0;
    for (int i = 0; i < lines.size(); ++i) {
        const QString line = lines.at(i).trimmed();
        if (line.isEmpty())
            continue;
        ++urlCount;
        // The admin client's own rule: what passes here is what it connects to.
        if (!AdminClient::normalizedUrl(line).isValid() || !line.contains(u"://"_s)) {
            return {tr("Line %1: “%2” is not an http:// or https:// URL with a host (and no query).")
                        .arg(QString::number(i + 1), line),
                    m_urlsEdit, i};
        }
    }
    if (urlCount == 0)
        return {tr("Enter at least one decision URL, one per line."), m_urlsEdit, -1};
    if (token().isEmpty())
        return {tr("Enter the admin token."), m_tokenEdit, -1};
    return {};
}

} // namespace bfg
