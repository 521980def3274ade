// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 BFG developers
#include "client/gui/probewindow.h"

#include <QCheckBox>
#include <QDateTime>
#include <QFormLayout>
#include <QGridLayout>
#include <QGroupBox>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QLabel>
#include <QLineEdit>
#include <QPlainTextEdit>
#include <QPushButton>
#include <QSignalBlocker>
#include <QSplitter>
#include <QStatusBar>
#include <QTableView>
#include <QVBoxLayout>

#include "bfg/v1/frames.pb.h"
#include "client/gui/latencychart.h"
#include "client/gui/messagetablemodel.h"
#include "client/gui/watchsession.h"
#include "client/probeoptions.h"
#include "common/protocol.h"
#include "common/pushclient.h"

using namespace Qt::Literals::StringLiterals;

namespace bfg::probe {

namespace {
constexpr int StateIntervalMs = 250;
constexpr int CountersIntervalMs = 100;
constexpr int MaxLogLines = 1000;

QString timeText(qint64 ms)
{
    return QDateTime::fromMSecsSinceEpoch(ms).toString(u"HH:mm:ss"_s);
}

// "3003 SLOW_CONSUMER" for BFG's codes, the number alone for WebSocket's.
QString closeCodeText(int code)
{
    if (v1::ErrorCode_IsValid(code) && code != 0)
        return u"%1 %2"_s.arg(code).arg(QString::fromStdString(v1::ErrorCode_Name(v1::ErrorCode(code))));
    return QString::number(code);
}

QLabel *valueLabel(const QString &objectName, QWidget *parent)
{
    auto *label = new QLabel(u"0"_s, parent);
    label->setObjectName(objectName);
    label->setAlignment(Qt::AlignRight | Qt::AlignVCenter);
    label->setMinimumWidth(label->fontMetrics().horizontalAdvance(u"0000000"_s));
    return label;
}
} // namespace

ProbeWindow::ProbeWindow(const ProbeOptions &options, QWidget *parent)
    : QMainWindow(parent)
    , m_session(new WatchSession(this))
{
    setWindowTitle(u"BFG probe"_s);
    setObjectName(u"probeWindow"_s);

    auto *top = new QWidget(this);
    auto *topLayout = new QHBoxLayout(top);
    topLayout->setContentsMargins(0, 0, 0, 0);
    topLayout->addWidget(createConnectionBox(), 3);
    auto *right = new QVBoxLayout;
    right->addWidget(createCountersBox());
    right->addWidget(createPublishBox());
    topLayout->addLayout(right, 2);

    auto *messages = new QWidget(this);
    auto *messagesLayout = new QVBoxLayout(messages);
    messagesLayout->setContentsMargins(0, 0, 0, 0);
    auto *messagesBar = new QHBoxLayout;
    m_hexCheck = new QCheckBox(u"Payload as &hex"_s, messages);
    m_hexCheck->setObjectName(u"hexCheck"_s);
    m_followCheck = new QCheckBox(u"&Follow the newest"_s, messages);
    m_followCheck->setChecked(true);
    auto *boundLabel = new QLabel(
        u"Messages received (the last %L1 are kept)"_s.arg(m_session->messages()->maxRows()), messages);
    messagesBar->addWidget(boundLabel, 1);
    messagesBar->addWidget(m_hexCheck);
    messagesBar->addWidget(m_followCheck);
    messagesLayout->addLayout(messagesBar);
    m_messagesView = new QTableView(messages);
    m_messagesView->setObjectName(u"messagesView"_s);
    m_messagesView->setModel(m_session->messages());
    m_messagesView->verticalHeader()->hide();
    m_messagesView->horizontalHeader()->setStretchLastSection(true);
    m_messagesView->setSelectionBehavior(QAbstractItemView::SelectRows);
    m_messagesView->setAlternatingRowColors(true);
    m_messagesView->setWordWrap(false);
    m_messagesView->verticalHeader()->setDefaultSectionSize(m_messagesView->fontMetrics().height() + 6);
    const int digit = m_messagesView->fontMetrics().horizontalAdvance(u'0');
    m_messagesView->setColumnWidth(MessageTableModel::TimeColumn, digit * 16);
    m_messagesView->setColumnWidth(MessageTableModel::StreamColumn, digit * 24);
    m_messagesView->setColumnWidth(MessageTableModel::SeqColumn, digit * 10);
    m_messagesView->setColumnWidth(MessageTableModel::LatencyColumn, digit * 14);
    messagesLayout->addWidget(m_messagesView);
    connect(m_hexCheck, &QCheckBox::toggled, this, [this](bool hex) {
        m_session->messages()->setPayloadMode(hex ? MessageTableModel::PayloadMode::Hex
                                                  : MessageTableModel::PayloadMode::Text);
    });
    connect(m_session->messages(), &QAbstractItemModel::rowsInserted, this, [this] {
        if (m_followCheck->isChecked())
            m_messagesView->scrollToBottom();
    });

    m_chart = new LatencyChart(m_session, this);
    m_chart->setObjectName(u"latencyChart"_s);
    m_eventLog = new QPlainTextEdit(this);
    m_eventLog->setObjectName(u"eventLog"_s);
    m_eventLog->setReadOnly(true);
    m_eventLog->setMaximumBlockCount(MaxLogLines);
    m_eventLog->setPlaceholderText(u"Connection events"_s);
    auto *bottom = new QSplitter(Qt::Horizontal, this);
    bottom->addWidget(m_chart);
    bottom->addWidget(m_eventLog);
    bottom->setStretchFactor(0, 3);
    bottom->setStretchFactor(1, 2);

    auto *splitter = new QSplitter(Qt::Vertical, this);
    splitter->addWidget(top);
    splitter->addWidget(messages);
    splitter->addWidget(bottom);
    splitter->setStretchFactor(1, 3);
    splitter->setStretchFactor(2, 1);
    splitter->setChildrenCollapsible(false);
    setCentralWidget(splitter);

    // The starting values from the command line.
    QStringList urls;
    for (const QUrl &url : options.decisionUrls)
        urls.append(url.toString());
    m_decisionEdit->setText(urls.join(u", "_s));
    m_userEdit->setText(options.guiUserId);
    if (!options.publishUrl.isEmpty())
        m_publishUrlEdit->setText(options.publishUrl.toString());
    m_publishKeyEdit->setText(QString::fromUtf8(options.publishKey));

    connect(m_session, &WatchSession::clientChanged, this, &ProbeWindow::onClientChanged);
    connect(m_session, &WatchSession::countersChanged, this, [this] {
        if (!m_countersTimer.isActive())
            m_countersTimer.start();
    });
    connect(m_session, &WatchSession::published, this,
            [this](quint64 seq) { statusBar()->showMessage(u"Published: seq %1"_s.arg(seq), 5000); });
    connect(m_session, &WatchSession::publishFailed, this, [this](const QString &error) {
        statusBar()->showMessage(u"Publish failed: "_s + error, 10000);
        log(u"publish failed: "_s + error);
    });
    m_countersTimer.setSingleShot(true);
    m_countersTimer.setInterval(CountersIntervalMs);
    connect(&m_countersTimer, &QTimer::timeout, this, &ProbeWindow::updateCounters);
    m_stateTimer.setInterval(StateIntervalMs);
    connect(&m_stateTimer, &QTimer::timeout, this, &ProbeWindow::updateState);
    m_stateTimer.start();

    updateState();
    updateButtons();
    resize(1200, 860);
}

ProbeWindow::~ProbeWindow()
{
    // The session is a child and outlives this destructor: stopping its client then
    // emits signals whose handlers here would reach a window already half gone.
    m_session->disconnect(this);
    if (PushClient *client = m_session->client())
        client->disconnect(this);
}

QWidget *ProbeWindow::createConnectionBox()
{
    auto *box = new QGroupBox(u"Connection"_s, this);
    auto *form = new QFormLayout(box);
    m_decisionEdit = new QLineEdit(box);
    m_decisionEdit->setObjectName(u"decisionEdit"_s);
    m_decisionEdit->setPlaceholderText(u"http://127.0.0.1:8080, http://10.0.0.6:8080"_s);
    m_decisionEdit->setToolTip(u"Decision server URLs, comma separated, asked in order with fallback"_s);
    m_userEdit = new QLineEdit(box);
    m_userEdit->setObjectName(u"userEdit"_s);
    m_userEdit->setPlaceholderText(u"user id, e.g. alice"_s);
    form->addRow(u"&Decision servers:"_s, m_decisionEdit);
    form->addRow(u"&User id:"_s, m_userEdit);

    auto *buttons = new QHBoxLayout;
    m_connectButton = new QPushButton(u"&Connect"_s, box);
    m_connectButton->setObjectName(u"connectButton"_s);
    m_connectButton->setDefault(true);
    m_switchButton = new QPushButton(u"&Switch decision servers"_s, box);
    m_switchButton->setObjectName(u"switchButton"_s);
    m_switchButton->setToolTip(u"Resolve again through the decision servers typed above and resume"_s);
    m_dropButton = new QPushButton(u"D&rop connection"_s, box);
    m_dropButton->setObjectName(u"dropButton"_s);
    m_dropButton->setToolTip(u"Abort the TCP connection as a network failure would; the client resumes"_s);
    m_pauseButton = new QPushButton(u"&Pause reading"_s, box);
    m_pauseButton->setObjectName(u"pauseButton"_s);
    m_pauseButton->setCheckable(true);
    m_pauseButton->setToolTip(
        u"Stop reading the socket: the node's send queue for this client fills, and past "
        "push/max_send_queue_bytes the node closes it (3003 SLOW_CONSUMER), seen once reading resumes"_s);
    for (QPushButton *button : {m_connectButton, m_switchButton, m_dropButton, m_pauseButton})
        buttons->addWidget(button);
    buttons->addStretch();
    form->addRow(buttons);

    m_stateLabel = new QLabel(box);
    m_stateLabel->setObjectName(u"stateLabel"_s);
    m_stateLabel->setTextInteractionFlags(Qt::TextSelectableByMouse);
    m_nodeLabel = new QLabel(u"—"_s, box);
    m_nodeLabel->setObjectName(u"nodeLabel"_s);
    m_nodeLabel->setTextInteractionFlags(Qt::TextSelectableByMouse);
    m_closeLabel = new QLabel(u"—"_s, box);
    m_closeLabel->setObjectName(u"closeLabel"_s);
    m_closeLabel->setTextInteractionFlags(Qt::TextSelectableByMouse);
    form->addRow(u"State:"_s, m_stateLabel);
    form->addRow(u"Node:"_s, m_nodeLabel);
    form->addRow(u"Last close:"_s, m_closeLabel);

    connect(m_connectButton, &QPushButton::clicked, this, &ProbeWindow::connectOrDisconnect);
    connect(m_switchButton, &QPushButton::clicked, this, &ProbeWindow::switchDecision);
    connect(m_dropButton, &QPushButton::clicked, this, [this] {
        if (PushClient *client = m_session->client())
            client->dropConnection();
    });
    connect(m_pauseButton, &QPushButton::toggled, this, [this](bool paused) {
        PushClient *client = m_session->client();
        if (!client)
            return;
        if (paused)
            client->pauseReading();
        else
            client->resumeReading();
        updateState();
    });
    return box;
}

QWidget *ProbeWindow::createCountersBox()
{
    auto *box = new QGroupBox(u"Checks"_s, this);
    box->setToolTip(u"Every message once and in order per stream, as the headless probe checks; resumes "
                    "of the user's own stream"_s);
    auto *grid = new QGridLayout(box);
    m_receivedValue = valueLabel(u"receivedValue"_s, box);
    m_lostValue = valueLabel(u"lostValue"_s, box);
    m_duplicatedValue = valueLabel(u"duplicatedValue"_s, box);
    m_reorderedValue = valueLabel(u"reorderedValue"_s, box);
    m_recoveredValue = valueLabel(u"recoveredValue"_s, box);
    m_notRecoveredValue = valueLabel(u"notRecoveredValue"_s, box);
    const std::pair<QString, QLabel *> cells[] = {
        {u"Received:"_s, m_receivedValue},           {u"Lost:"_s, m_lostValue},
        {u"Duplicated:"_s, m_duplicatedValue},       {u"Reordered:"_s, m_reorderedValue},
        {u"Resumes recovered:"_s, m_recoveredValue}, {u"Not recovered:"_s, m_notRecoveredValue},
    };
    int index = 0;
    for (const auto &[name, value] : cells) {
        grid->addWidget(new QLabel(name, box), index / 2, (index % 2) * 2);
        grid->addWidget(value, index / 2, (index % 2) * 2 + 1);
        ++index;
    }
    return box;
}

QWidget *ProbeWindow::createPublishBox()
{
    auto *box = new QGroupBox(u"Publish to this user"_s, this);
    auto *form = new QFormLayout(box);
    m_publishUrlEdit = new QLineEdit(box);
    m_publishUrlEdit->setObjectName(u"publishUrlEdit"_s);
    m_publishUrlEdit->setPlaceholderText(u"the node's, as the decision server names it"_s);
    m_publishKeyEdit = new QLineEdit(box);
    m_publishKeyEdit->setObjectName(u"publishKeyEdit"_s);
    m_publishKeyEdit->setEchoMode(QLineEdit::Password);
    m_publishKeyEdit->setPlaceholderText(u"none"_s);
    auto *textRow = new QHBoxLayout;
    m_publishTextEdit = new QLineEdit(u"hello"_s, box);
    m_publishTextEdit->setObjectName(u"publishTextEdit"_s);
    m_publishButton = new QPushButton(u"P&ublish"_s, box);
    m_publishButton->setObjectName(u"publishButton"_s);
    textRow->addWidget(m_publishTextEdit, 1);
    textRow->addWidget(m_publishButton);
    form->addRow(u"Publish API:"_s, m_publishUrlEdit);
    form->addRow(u"Publish key:"_s, m_publishKeyEdit);
    form->addRow(u"Text:"_s, textRow);
    connect(m_publishButton, &QPushButton::clicked, this, &ProbeWindow::publish);
    connect(m_publishTextEdit, &QLineEdit::returnPressed, this, &ProbeWindow::publish);
    return box;
}

QList<QUrl> ProbeWindow::decisionUrls(QString *error) const
{
    QList<QUrl> urls;
    for (const QString &text : m_decisionEdit->text().split(u',', Qt::SkipEmptyParts)) {
        const QUrl url(text.trimmed(), QUrl::StrictMode);
        if (!url.isValid() || url.host().isEmpty() ||
            (url.scheme() != u"http"_s && url.scheme() != u"https"_s)) {
            *error = u"Not an http(s) URL: %1"_s.arg(text.trimmed());
            return {};
        }
        urls.append(url);
    }
    if (urls.isEmpty())
        *error = u"Enter at least one decision server URL"_s;
    return urls;
}

void ProbeWindow::connectOrDisconnect()
{
    PushClient *client = m_session->client();
    if (client && client->state() != PushClient::State::Stopped) {
        m_session->stop();
        log(u"disconnected by the user"_s);
        return;
    }
    QString error;
    const QList<QUrl> urls = decisionUrls(&error);
    const QString userId = m_userEdit->text().trimmed();
    if (error.isEmpty() && !protocol::isValidUserId(userId))
        error = u"A user id is 1 to 128 of A-Z a-z 0-9 . _ @ -"_s;
    if (!error.isEmpty()) {
        statusBar()->showMessage(error, 10000);
        return;
    }
    m_failure.clear();
    m_lastCloseCode = 0;
    m_closeLabel->setText(u"—"_s);
    log(u"connecting as %1 through %2"_s.arg(userId, m_decisionEdit->text().trimmed()));
    m_session->start(urls, userId);
}

void ProbeWindow::switchDecision()
{
    QString error;
    const QList<QUrl> urls = decisionUrls(&error);
    if (!error.isEmpty()) {
        statusBar()->showMessage(error, 10000);
        return;
    }
    log(u"switching to decision servers %1"_s.arg(m_decisionEdit->text().trimmed()));
    m_session->switchDecision(urls);
}

void ProbeWindow::publish()
{
    const QString urlText = m_publishUrlEdit->text().trimmed();
    const QUrl url(urlText, QUrl::StrictMode);
    if (!urlText.isEmpty() && (!url.isValid() || url.host().isEmpty() ||
                               (url.scheme() != u"http"_s && url.scheme() != u"https"_s))) {
        statusBar()->showMessage(u"Publish API: not an http(s) URL: "_s + urlText, 10000);
        return;
    }
    m_session->setPublishUrl(urlText.isEmpty() ? QUrl() : url);
    m_session->setPublishKey(m_publishKeyEdit->text().trimmed().toUtf8());
    m_session->publish(m_publishTextEdit->text());
}

void ProbeWindow::onClientChanged(PushClient *client)
{
    connect(client, &PushClient::stateChanged, this, [this, client](PushClient::State state) {
        switch (state) {
        case PushClient::State::Live:
            log(u"live on node %1 (%2)"_s.arg(client->nodeId(), client->nodeUrl().toString()));
            break;
        case PushClient::State::BackingOff:
            log(u"backing off: next attempt at %1"_s.arg(timeText(client->nextAttemptMs())));
            break;
        case PushClient::State::Resolving:
            log(u"resolving through %1"_s.arg(m_decisionEdit->text().trimmed()));
            break;
        case PushClient::State::Connecting:
        case PushClient::State::Idle:
        case PushClient::State::Stopped:
            break;
        }
        updateState();
        updateButtons();
    });
    connect(client, &PushClient::welcomed, this, [this](const v1::Welcome &welcome, bool resumed) {
        if (!resumed)
            return;
        QStringList streams;
        for (const v1::StreamState &stream : welcome.streams())
            streams.append(u"%1 %2"_s.arg(QString::fromStdString(stream.stream()),
                                          stream.recovered() ? u"recovered"_s : u"NOT recovered"_s));
        log(u"resumed: "_s + streams.join(u", "_s));
    });
    connect(client, &PushClient::disconnected, this, [this](int code, const QString &reason) {
        m_lastCloseCode = code;
        const QString text = u"%1 %2 at %3"_s.arg(closeCodeText(code), reason, timeText(protocol::nowMs()));
        m_closeLabel->setText(text);
        log(u"connection closed: "_s + text);
    });
    connect(client, &PushClient::failed, this, [this](int code, const QString &text) {
        m_failure = u"%1 %2"_s.arg(closeCodeText(code), text);
        log(u"stopped for good: "_s + m_failure);
        updateState();
    });
    connect(client, &PushClient::readingPausedChanged, this, [this](bool paused) {
        const QSignalBlocker blocker(m_pauseButton);
        m_pauseButton->setChecked(paused);
        log(paused ? u"reading paused"_s : u"reading resumed"_s);
        updateState();
    });
    updateState();
    updateButtons();
    updateCounters();
}

void ProbeWindow::updateState()
{
    PushClient *client = m_session->client();
    QString state;
    QString node = u"—"_s;
    if (!client) {
        state = u"Not connected"_s;
    } else {
        if (!client->nodeId().isEmpty())
            node = u"%1 (%2)"_s.arg(client->nodeId(), client->nodeUrl().toString());
        switch (client->state()) {
        case PushClient::State::Idle:
            state = u"Not connected"_s;
            break;
        case PushClient::State::Resolving:
            state = u"Resolving: asking the decision server for a node"_s;
            break;
        case PushClient::State::Connecting:
            state = u"Connecting to %1"_s.arg(client->nodeUrl().toString());
            break;
        case PushClient::State::Live:
            state = client->isReadingPaused()    ? u"Live, reading paused"_s
                    : m_pauseButton->isChecked() ? u"Live, pausing at the next frame"_s
                                                 : u"Live"_s;
            break;
        case PushClient::State::BackingOff: {
            const qint64 inMs = std::max<qint64>(0, client->nextAttemptMs() - protocol::nowMs());
            state = u"%1next attempt at %2 (in %3 s)"_s.arg(
                m_lastCloseCode == v1::DRAINING ? u"Draining: the node sent us away; "_s : u"Backing off: "_s,
                timeText(client->nextAttemptMs()), QString::number(double(inMs) / 1000.0, 'f', 1));
            break;
        }
        case PushClient::State::Stopped:
            state = m_failure.isEmpty() ? u"Stopped"_s : u"Stopped: "_s + m_failure;
            break;
        }
    }
    if (m_stateLabel->text() != state)
        m_stateLabel->setText(state);
    if (m_nodeLabel->text() != node)
        m_nodeLabel->setText(node);
}

void ProbeWindow::updateCounters()
{
    const WatchSession::Counters counters = m_session->counters();
    m_receivedValue->setText(QString::number(counters.received));
    m_lostValue->setText(QString::number(counters.lost));
    m_duplicatedValue->setText(QString::number(counters.duplicated));
    m_reorderedValue->setText(QString::number(counters.reordered));
    m_recoveredValue->setText(QString::number(counters.recovered));
    m_notRecoveredValue->setText(QString::number(counters.notRecovered));
    // Anything that is not zero where zero is right stands out.
    for (QLabel *label : {m_lostValue, m_duplicatedValue, m_reorderedValue, m_notRecoveredValue})
        label->setStyleSheet(label->text() == u"0"_s ? QString() : u"color: #d32f2f; font-weight: bold"_s);
    if (counters.unexpected > 0)
        statusBar()->showMessage(u"%1 messages on unexpected streams or epochs"_s.arg(counters.unexpected));
}

void ProbeWindow::updateButtons()
{
    PushClient *client = m_session->client();
    const bool running = client && client->state() != PushClient::State::Stopped;
    const bool live = running && client->state() == PushClient::State::Live;
    m_connectButton->setText(running ? u"Dis&connect"_s : u"&Connect"_s);
    m_decisionEdit->setEnabled(true); // editable while running: for Switch decision servers
    m_userEdit->setEnabled(!running);
    m_switchButton->setEnabled(running);
    m_dropButton->setEnabled(running && (live || client->state() == PushClient::State::Connecting));
    m_pauseButton->setEnabled(live);
    if (!live) {
        const QSignalBlocker blocker(m_pauseButton);
        m_pauseButton->setChecked(false);
    }
}

void ProbeWindow::log(const QString &line)
{
    m_eventLog->appendPlainText(QDateTime::currentDateTime().toString(u"HH:mm:ss.zzz "_s) + line);
}

} // namespace bfg::probe
