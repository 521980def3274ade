// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 BFG developers
#include "client/probe.h"

#include <algorithm>
#include <cstdio>
#include <limits>

#include <QFile>
#include <QJsonDocument>
#include <QSaveFile>
#include <QTextStream>

#include "client/publisher.h"
#include "common/connectgate.h"
#include "common/decisionclient.h"
#include "common/logging.h"
#include "common/protocol.h"
#include "common/pushclient.h"

using namespace Qt::Literals::StringLiterals;

namespace bfg::probe {

namespace {
constexpr int RampTickMs = 10;
constexpr int BootstrapLimitMs = 30000;
constexpr int MinLiveWaitMs = 30000;
constexpr int LiveWaitMsPerUser = 20; // users / 50 per second
constexpr int DrainLimitMs = 5000;
constexpr int DrainCheckMs = 20;
constexpr int HardLimitSlackMs = 15000;
constexpr int InterruptRepeatMs = 1000;
// Connections to each decision server: one per user asking at once, up to this many (more
// would only arrive together at its listen queue; an assign takes a millisecond or two).
constexpr int MaxAssignConnections = 16;

double toMs(qint64 us)
{
    return double(us) / 1000.0;
}
} // namespace

Probe::Probe(ProbeOptions options, QObject *parent)
    : QObject(parent)
    , m_options(std::move(options))
{
    m_decision = new DecisionClient(m_options.decisionUrls, this);
    m_decision->setMaxConnections(std::min(m_options.maxConnecting, MaxAssignConnections));
    m_gate = new ConnectGate(m_options.maxConnecting, this);

    m_rampTimer.setInterval(RampTickMs);
    connect(&m_rampTimer, &QTimer::timeout, this, &Probe::startDueClients);
    m_liveTimer.setSingleShot(true);
    connect(&m_liveTimer, &QTimer::timeout, this, &Probe::onLiveTimeout);
    m_phaseTimer.setSingleShot(true);
    m_phaseTimer.setTimerType(Qt::PreciseTimer);
    connect(&m_phaseTimer, &QTimer::timeout, this, &Probe::endPublishing);
    m_dropTimer.setSingleShot(true);
    m_dropTimer.setTimerType(Qt::PreciseTimer);
    connect(&m_dropTimer, &QTimer::timeout, this, &Probe::dropEveryone); // --drop-at: timed like a storm
    m_drainCheckTimer.setInterval(DrainCheckMs);
    connect(&m_drainCheckTimer, &QTimer::timeout, this, &Probe::checkDrained);
    m_drainDeadlineTimer.setSingleShot(true);
    connect(&m_drainDeadlineTimer, &QTimer::timeout, this, [this] {
        qCInfo(lcProbe) << "stopped waiting for delivery after" << DrainLimitMs << "ms";
        finish();
    });
    m_progressTimer.setInterval(1000);
    connect(&m_progressTimer, &QTimer::timeout, this, &Probe::printProgress);
    m_hardLimitTimer.setSingleShot(true);
    connect(&m_hardLimitTimer, &QTimer::timeout, this, [this] {
        qCWarning(lcProbe) << "run time limit reached";
        finish(u"run time limit reached"_s);
    });
    // A test hook: the verdict must call a message that never arrived lost.
    m_testDropNth = qEnvironmentVariableIntValue("BFG_PROBE_TEST_DROP_NTH");
}

Probe::~Probe() = default;

void Probe::start()
{
    if (m_phase != Phase::Idle)
        return;
    m_runClock.start();
    const qint64 liveWaitMs = std::max<qint64>(MinLiveWaitMs, qint64(m_options.users) * LiveWaitMsPerUser);
    const qint64 limitMs = BootstrapLimitMs + m_options.rampMs + liveWaitMs +
                           qint64(m_options.durationS * 1000) + DrainLimitMs + HardLimitSlackMs +
                           qint64(m_options.churnAwayS * 1000);
    m_hardLimitTimer.start(int(std::min<qint64>(limitMs, std::numeric_limits<int>::max())));
    if (!m_options.quiet)
        m_progressTimer.start();

    qCInfo(lcProbe).noquote() << "users" << m_options.users << "prefix" << m_options.userPrefix << "rate"
                              << m_options.ratePerUser << "msg/s duration" << m_options.durationS << "s";
    if (m_options.usesPublishApi() && m_options.publishUrl.isEmpty())
        bootstrap();
    else
        launchClients();
}

void Probe::bootstrap()
{
    m_phase = Phase::Bootstrap;
    m_decision->assign(m_options.userId(0), {}, [this](const AssignResult &result) {
        if (m_phase != Phase::Bootstrap)
            return;
        if (result.ok) {
            const QUrl url(QString::fromStdString(result.response.publish_uri()));
            if (!url.isValid() || url.host().isEmpty()) {
                finish(u"the decision server names no usable publish_uri; pass --publish"_s);
                return;
            }
            m_options.publishUrl = url;
            qCInfo(lcProbe).noquote() << "publishing through" << url.toString();
            launchClients();
            return;
        }
        if (result.terminal) {
            finish(u"decision server refused: "_s + result.error);
            return;
        }
        const int delayMs = std::max(result.retryAfterMs, m_bootstrapBackoff.nextDelayMs());
        if (m_runClock.elapsed() + delayMs > BootstrapLimitMs) {
            finish(u"no decision server answered: "_s + result.error);
            return;
        }
        qCWarning(lcProbe).noquote() << "no assignment yet (" << result.error << "), retrying in" << delayMs
                                     << "ms";
        QTimer::singleShot(delayMs, this, [this] {
            if (m_phase == Phase::Bootstrap)
                bootstrap();
        });
    });
}

void Probe::launchClients()
{
    m_phase = Phase::Connecting;
    const bool checkPayload = m_options.publish;
    m_verifiers.reserve(size_t(m_options.users));
    m_clients.reserve(size_t(m_options.users));
    m_awaitingBack.assign(size_t(m_options.users), 0);
    m_away.assign(size_t(m_options.users), 0);
    m_rejoinStartMs.assign(size_t(m_options.users), 0);
    m_sharedStream = m_options.sharedStream.toStdString();
    for (int user = 0; user < m_options.users; ++user) {
        const QString userId = m_options.userId(user);
        m_verifiers.push_back(UserVerifier::forUser(userId, checkPayload));
        if (!m_sharedStream.empty())
            m_sharedVerifiers.emplace_back(m_options.sharedStream, m_options.sharedStream, checkPayload);
        PushClient::Options clientOptions;
        clientOptions.userId = userId;
        if (m_options.isChat() && m_options.affinityRoom)
            clientOptions.affinity = m_options.roomStream(user / m_options.members);
        clientOptions.clientName = QStringLiteral("bfg-probe/" BFG_VERSION);
        clientOptions.gate = m_gate;
        if (!m_options.sourceAddresses.isEmpty())
            clientOptions.sourceAddress =
                m_options.sourceAddresses.at(user % m_options.sourceAddresses.size());
        auto *client = new PushClient(m_decision, clientOptions, this);
        connect(client, &PushClient::welcomed, this, [this, user](const v1::Welcome &welcome, bool resumed) {
            onWelcomed(user, welcome, resumed);
        });
        connect(client, &PushClient::messageReceived, this,
                [this, user](const v1::Message &message) { onMessage(user, message); });
        connect(client, &PushClient::failed, this,
                [this, user](int code, const QString &text) { onClientFailed(user, code, text); });
        if (m_options.isChat())
            connectChat(user, client);
        m_clients.push_back(client);
    }
    if (m_options.isChat())
        setUpChat();

    if (m_options.usesPublishApi()) {
        Publisher::Options publisherOptions;
        publisherOptions.baseUrl = m_options.publishUrl;
        publisherOptions.apiKey = m_options.publishKey;
        publisherOptions.ratePerUser = m_options.ratePerUser;
        m_publisher = new Publisher(publisherOptions, this);
        connect(m_publisher, &Publisher::itemsAcked, this,
                [this](const std::vector<int> &users, const std::vector<quint64> &seqs) {
                    for (size_t i = 0; i < users.size(); ++i) {
                        if (users[i] == SharedKey)
                            m_sharedAckedMax = std::max(m_sharedAckedMax, seqs[i]);
                        else
                            m_verifiers[size_t(users[i])].onAcked(seqs[i]);
                    }
                });
        if (m_options.sharedRate > 0)
            m_publisher->addStream(SharedKey, m_options.sharedStream, m_options.sharedRate,
                                   m_options.userPrefix + u"shared-"_s);
    }

    const qint64 liveWaitMs = std::max<qint64>(MinLiveWaitMs, qint64(m_options.users) * LiveWaitMsPerUser);
    m_liveTimer.start(int(m_options.rampMs + liveWaitMs));
    m_rampClock.start();
    startDueClients();
    if (m_started < m_options.users)
        m_rampTimer.start();
}

void Probe::startDueClients()
{
    const int due = m_options.rampMs <= 0
                        ? m_options.users
                        : int(std::min<qint64>(m_options.users, (m_rampClock.elapsed() + RampTickMs) *
                                                                    m_options.users / m_options.rampMs));
    while (m_started < due)
        m_clients[size_t(m_started++)]->start();
    if (m_started >= m_options.users)
        m_rampTimer.stop();
}

void Probe::onWelcomed(int user, const v1::Welcome &welcome, bool resumed)
{
    UserVerifier &verifier = m_verifiers[size_t(user)];
    const bool first = !verifier.hasWelcome();
    verifier.onWelcome(welcome, resumed);
    if (!m_sharedVerifiers.empty())
        m_sharedVerifiers[size_t(user)].onWelcome(welcome, resumed);
    if (m_options.isChat()) {
        // A later Welcome lists the room when the Hello resumed it.
        m_chat.onWelcome(user, welcome, resumed);
        if (first)
            m_clients[size_t(user)]->subscribe(
                {m_roomNames.at(m_chat.roomOf(user))}); // ready once subscribed
    }
    if (!first) {
        onUserBack(user);
        return;
    }
    if (!m_options.isChat())
        onUserReady(user);
}

bool Probe::wasReady(int user) const
{
    return m_options.isChat() ? m_chat.isSubscribed(user) : m_verifiers[size_t(user)].hasWelcome();
}

void Probe::onUserReady(int user)
{
    ++m_usersLive;
    if (m_publisher && m_phase == Phase::Publishing)
        m_publisher->addUser(user, m_options.userId(user));
    else if (m_publisher && m_phase == Phase::Connecting)
        m_liveNotPublished.push_back(user); // published to from the start of the phase

    if (m_phase == Phase::Connecting && m_usersLive + m_failedBeforeLive == m_options.users) {
        qCInfo(lcProbe) << m_usersLive << "of" << m_options.users << "users live after"
                        << m_rampClock.elapsed() << "ms";
        beginPublishing();
    }
}

void Probe::onClientFailed(int user, int code, const QString &text)
{
    if (m_failedClients++ < 10)
        qCWarning(lcProbe).noquote() << m_options.userId(user) << "failed:" << code << text;
    if (wasReady(user))
        return;
    onNeverReady();
}

void Probe::onNeverReady()
{
    // A client stopped before it went live never will: once that is all that is missing,
    // waiting longer for the stragglers is pointless.
    ++m_failedBeforeLive;
    if (m_phase == Phase::Connecting && m_usersLive + m_failedBeforeLive == m_options.users) {
        qCWarning(lcProbe) << m_failedBeforeLive << "clients failed before going live";
        if (m_usersLive == 0)
            finish();
        else
            beginPublishing();
    }
}

void Probe::onMessage(int user, const v1::Message &message)
{
    if (m_testDropNth > 0 && --m_testDropNth == 0)
        return;
    if (m_options.isChat() && message.stream().compare(0, 5, "user:") != 0) {
        onChatMessage(user, message, protocol::nowUs());
        return;
    }
    const bool shared = !m_sharedStream.empty() && message.stream() == m_sharedStream;
    const qint64 nowUs = protocol::nowUs();
    const qint64 latencyUs =
        (shared ? m_sharedVerifiers : m_verifiers)[size_t(user)].onMessage(message, nowUs);
    m_sharedReceived += shared ? 1 : 0;
    recordLatency(latencyUs, nowUs);
    ++m_received;
}

void Probe::recordLatency(qint64 latencyUs, qint64 nowUs)
{
    m_latency.record(latencyUs);
    m_windowLatency.record(latencyUs);
    m_reportLatency.record(latencyUs);
    if (m_options.scenario == Scenario::Burst)
        (sentInBurst(nowUs - latencyUs) ? m_burstLatency : m_quietLatency).record(latencyUs);
}

void Probe::onLiveTimeout()
{
    if (m_phase != Phase::Connecting)
        return;
    qCWarning(lcProbe) << "gave up waiting: only" << m_usersLive << "of" << m_options.users << "users live";
    if (m_usersLive == 0) {
        finish();
        return;
    }
    beginPublishing();
}

void Probe::beginPublishing()
{
    m_phase = Phase::Publishing;
    m_liveTimer.stop();
    m_publishClock.start();
    m_publishStartUs = protocol::nowUs();
    if (m_publisher) {
        for (int user : m_liveNotPublished)
            m_publisher->addUser(user, m_options.userId(user));
        m_liveNotPublished.clear();
        m_publisher->start();
    }
    m_phaseTimer.start(int(std::min<double>(m_options.durationS * 1000, std::numeric_limits<int>::max())));
    if (m_options.dropAtS >= 0)
        m_dropTimer.start(int(m_options.dropAtS * 1000));
    if (m_options.isChat())
        startChat();
    startScenario();
}

void Probe::endPublishing()
{
    if (m_phase != Phase::Publishing)
        return;
    m_phase = Phase::Draining;
    m_publishedForMs = m_publishClock.elapsed();
    m_phaseTimer.stop();
    m_dropTimer.stop();
    stopScenario();
    stopChat();
    if (m_publisher)
        m_publisher->stopScheduling();
    qCInfo(lcProbe) << "publishing stopped after" << m_publishedForMs << "ms; waiting for delivery";
    m_drainDeadlineTimer.start(DrainLimitMs);
    m_drainCheckTimer.start();
    checkDrained();
}

void Probe::checkDrained()
{
    if (m_phase != Phase::Draining)
        return;
    if (m_publisher && !m_publisher->isIdle())
        return;
    // Users coming back (after a drop, or churned) are waited for too.
    if (m_notBack > 0 || std::any_of(m_rejoinStartMs.cbegin(), m_rejoinStartMs.cend(),
                                     [](qint64 startMs) { return startMs > 0; }))
        return;
    for (const UserVerifier &verifier : m_verifiers) {
        if (!verifier.isCaughtUp())
            return;
    }
    for (UserVerifier &verifier : m_sharedVerifiers) {
        verifier.onAcked(m_sharedAckedMax);
        if (!verifier.isCaughtUp())
            return;
    }
    if (m_options.isChat() && !isChatDrained())
        return;
    finish();
}

void Probe::interrupt()
{
    if (m_phase == Phase::Done)
        return;
    const qint64 nowMs = m_runClock.isValid() ? m_runClock.elapsed() : 0;
    // One Ctrl-C often arrives twice: from the terminal to the whole process group and
    // from a wrapper script passing it on. Only a deliberate second one stops at once.
    if (m_interrupts > 0 && nowMs - m_firstInterruptMs < InterruptRepeatMs)
        return;
    if (m_interrupts++ == 0)
        m_firstInterruptMs = nowMs;
    if (m_phase == Phase::Publishing && m_interrupts == 1) {
        qCInfo(lcProbe) << "interrupted: stopping publishing and waiting for delivery (again to stop now)";
        endPublishing();
        return;
    }
    finish();
}

void Probe::printProgress()
{
    if (m_phase == Phase::Done || m_phase == Phase::Idle)
        return;
    int live = 0;
    quint64 lost = 0, duplicates = 0, reordered = 0, misdelivered = 0, reconnects = 0;
    auto addStream = [&](UserVerifier &verifier) {
        verifier.sampleAcked();
        lost += verifier.gapCount() + verifier.overdueCount();
        duplicates += verifier.duplicates();
        reordered += verifier.reordered();
        misdelivered += verifier.misdelivered();
    };
    for (size_t i = 0; i < m_verifiers.size(); ++i) {
        addStream(m_verifiers[i]);
        if (m_clients[i]->state() == PushClient::State::Live)
            ++live;
        reconnects += quint64(m_clients[i]->reconnects());
    }
    for (UserVerifier &verifier : m_sharedVerifiers) {
        verifier.onAcked(m_sharedAckedMax);
        addStream(verifier);
    }
    const qint64 nowMs = m_runClock.elapsed();
    const double intervalS = std::max<qint64>(1, nowMs - m_lastLineMs) / 1000.0;
    const double rate = double(m_received - m_receivedAtLastLine) / intervalS;
    m_lastLineMs = nowMs;
    m_receivedAtLastLine = m_received;

    quint64 sent = m_publisher ? m_publisher->sent() : 0;
    QString chatFigures;
    if (m_options.isChat()) {
        const ChatVerifier::Totals chat = m_chat.totals();
        sent = chat.sent;
        lost += m_chat.lostSoFar();
        duplicates += chat.duplicated;
        reordered += chat.reordered;
        misdelivered += chat.misdelivered;
        chatFigures = u" acked=%1 disagree=%2"_s.arg(chat.acked).arg(chat.disagreements);
        if (chat.ephemeralSent > 0)
            chatFigures += u" typing=%1/%2"_s.arg(chat.ephemeralReceived).arg(chat.ephemeralSent);
    }
    QString line = u"t=%1s users=%2/%3 live sent=%4 recv=%5 msg/s=%6 p50=%7ms p99=%8ms lost=%9"_s.arg(
        QString::number(nowMs / 1000), QString::number(live), QString::number(m_options.users),
        QString::number(sent), QString::number(m_received), QString::number(qRound64(rate)),
        QString::number(toMs(m_windowLatency.percentileUs(50)), 'f', 1),
        QString::number(toMs(m_windowLatency.percentileUs(99)), 'f', 1), QString::number(lost));
    line += u" dup=%1 reord=%2 reconnects=%3"_s.arg(duplicates).arg(reordered).arg(reconnects) + chatFigures;
    if (misdelivered)
        line += u" misdelivered=%1"_s.arg(misdelivered);
    if (m_phase == Phase::Connecting)
        line += u" (connecting)"_s;
    else if (m_phase == Phase::Draining)
        line += u" (draining)"_s;
    line += u'\n';
    m_windowLatency.reset();
    std::fputs(line.toLocal8Bit().constData(), stderr);
    std::fflush(stderr);
}

void Probe::finish(const QString &fatal)
{
    if (m_phase == Phase::Done)
        return;
    if (m_phase == Phase::Publishing)
        m_publishedForMs = m_publishClock.elapsed();
    m_phase = Phase::Done;
    for (QTimer *timer : {&m_rampTimer, &m_liveTimer, &m_phaseTimer, &m_dropTimer, &m_drainCheckTimer,
                          &m_drainDeadlineTimer, &m_progressTimer, &m_hardLimitTimer})
        timer->stop();
    stopScenario();
    stopChat();
    sampleProcesses(false);
    if (m_publisher)
        m_publisher->abandon();

    for (UserVerifier &verifier : m_sharedVerifiers)
        verifier.onAcked(m_sharedAckedMax);
    ProbeReport report = makeReport();
    report.fatal = fatal;
    for (PushClient *client : m_clients)
        client->stop();

    QTextStream out(stdout);
    report.print(out);
    m_exitCode = report.passed() ? 0 : 1;
    if (!m_options.jsonPath.isEmpty() && !writeJson(report))
        m_exitCode = 1;
    Q_EMIT finished(m_exitCode);
}

ProbeReport Probe::makeReport()
{
    ProbeReport report;
    report.scenario = scenarioName(m_options.scenario);
    report.users = m_options.users;
    report.usersLive = m_usersLive;
    report.failedClients = m_failedClients;
    report.ratePerUser = m_options.ratePerUser;
    report.durationS = m_options.durationS;
    report.publishingS = double(m_publishedForMs) / 1000.0;
    report.publishing = m_options.isPublishing();
    report.publishUrl = m_options.publishUrl.toString();
    report.userPrefix = m_options.userPrefix;
    report.interrupted = m_interrupts > 0;

    if (m_publisher) {
        report.sent = m_publisher->sent();
        report.published = m_publisher->acked();
        report.unacked = m_publisher->unacked();
        report.rejected = m_publisher->rejected();
        report.requests = m_publisher->requests();
        report.retries = m_publisher->retries();
    }
    report.received = m_received;
    // A user's own stream and the shared stream count alike.
    auto addStream = [&report](const UserVerifier &verifier) {
        report.lost += verifier.lostCount();
        report.lostUndelivered += verifier.undeliveredCount();
        report.duplicated += verifier.duplicates();
        report.reordered += verifier.reordered();
        report.misdelivered += verifier.misdelivered();
        report.wrongEpoch += verifier.wrongEpoch();
    };
    for (size_t i = 0; i < m_verifiers.size(); ++i) {
        const UserVerifier &verifier = m_verifiers[i];
        addStream(verifier);
        report.resumes += verifier.resumes();
        report.recovered += verifier.recovered();
        report.notRecovered += verifier.notRecovered();
        if (m_clients[i]->state() == PushClient::State::Live)
            ++report.usersLiveAtEnd;
        report.reconnects += quint64(m_clients[i]->reconnects());
    }
    if (!m_sharedVerifiers.empty()) {
        report.sharedStream = m_options.sharedStream;
        report.sharedReceived = m_sharedReceived;
        report.sharedAcked = m_sharedAckedMax;
        report.sharedMinSeq = std::numeric_limits<quint64>::max();
        for (const UserVerifier &verifier : m_sharedVerifiers) {
            addStream(verifier);
            if (verifier.hasWelcome())
                report.sharedMinSeq = std::min(report.sharedMinSeq, verifier.maxSeq());
        }
        if (report.sharedMinSeq == std::numeric_limits<quint64>::max())
            report.sharedMinSeq = 0;
    }
    report.latency = m_latency;
    addScenarioFigures(&report);
    if (m_options.isChat())
        addChatFigures(&report);
    return report;
}

bool Probe::writeJson(const ProbeReport &report) const
{
    QSaveFile file(m_options.jsonPath);
    if (!file.open(QIODevice::WriteOnly)) {
        qCCritical(lcProbe).noquote() << "cannot write" << m_options.jsonPath << "-" << file.errorString();
        return false;
    }
    file.write(QJsonDocument(report.toJson()).toJson(QJsonDocument::Indented));
    if (!file.commit()) {
        qCCritical(lcProbe).noquote() << "cannot write" << m_options.jsonPath << "-" << file.errorString();
        return false;
    }
    return true;
}

} // namespace bfg::probe
