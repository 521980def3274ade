// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 BFG developers
//
// The scenarios of `bfg-probe scenario NAME`: what Probe does to its users
// and its publisher while it publishes, and the figures each one adds to
// the report. Steady does nothing here.
#include <algorithm>
#include <cstdio>
#include <map>

#include <unistd.h>

#include <QCoreApplication>
#include <QFile>

#include "client/probe.h"
#include "client/publisher.h"
#include "common/decisionclient.h"
#include "common/httpconnection.h"
#include "common/logging.h"
#include "common/protocol.h"
#include "common/pushclient.h"

using namespace Qt::Literals::StringLiterals;

namespace bfg::probe {

namespace {
constexpr int BurstTickMs = 50;
constexpr int ChurnTickMs = 10;
constexpr int AdminTimeoutMs = 5000;

int msOf(double seconds)
{
    return int(std::clamp(seconds * 1000.0, 0.0, 2147483647.0));
}

// VmRSS in kB and utime + stime in clock ticks of a process; false when it is gone.
bool readProcess(qint64 pid, qint64 *rssKb, qint64 *ticks)
{
    QFile status(u"/proc/%1/status"_s.arg(pid));
    QFile stat(u"/proc/%1/stat"_s.arg(pid));
    if (!status.open(QIODevice::ReadOnly) || !stat.open(QIODevice::ReadOnly))
        return false;
    *rssKb = 0;
    for (const QByteArray &line : status.readAll().split('\n')) {
        if (line.startsWith("VmRSS:"))
            *rssKb = line.mid(6).trimmed().split(' ').value(0).toLongLong();
    }
    // The command name (field 2) may hold spaces: count fields after its ')'.
    const QByteArray line = stat.readAll();
    const QList<QByteArray> fields = line.mid(line.lastIndexOf(')') + 2).split(' ');
    *ticks = fields.value(11).toLongLong() + fields.value(12).toLongLong(); // utime, stime
    return true;
}
} // namespace

void Probe::startScenario()
{
    m_lastReportMs = m_runClock.elapsed();
    if (m_options.reportEveryS > 0) {
        m_reportTimer.setInterval(msOf(m_options.reportEveryS));
        connect(&m_reportTimer, &QTimer::timeout, this, &Probe::printFigures, Qt::UniqueConnection);
        m_reportTimer.start();
    }
    sampleProcesses(false);

    switch (m_options.scenario) {
    case Scenario::Steady:
    case Scenario::Chat: // probechat.cpp
        break;
    case Scenario::Burst:
        m_burstTimer.setInterval(BurstTickMs);
        m_burstTimer.setTimerType(Qt::PreciseTimer);
        connect(&m_burstTimer, &QTimer::timeout, this, &Probe::updateBurst, Qt::UniqueConnection);
        m_burstTimer.start();
        break;
    case Scenario::Storm:
        m_stormTimer.setSingleShot(true);
        m_stormTimer.setTimerType(Qt::PreciseTimer);
        connect(&m_stormTimer, &QTimer::timeout, this, &Probe::dropEveryone, Qt::UniqueConnection);
        m_stormTimer.start(msOf(m_options.stormAtS));
        break;
    case Scenario::Soak:
        if (m_options.dropEveryS > 0) {
            m_stormTimer.setSingleShot(false);
            connect(&m_stormTimer, &QTimer::timeout, this, &Probe::dropEveryone, Qt::UniqueConnection);
            m_stormTimer.start(msOf(m_options.dropEveryS));
        }
        if (m_options.drainEveryS > 0) {
            m_admin = new HttpConnection(m_options.decisionUrls.constFirst(), AdminTimeoutMs, this);
            connect(&m_drainTimer, &QTimer::timeout, this, &Probe::drainTick, Qt::UniqueConnection);
            m_drainTimer.start(msOf(m_options.drainEveryS));
        }
        break;
    case Scenario::Churn:
        m_churnTimer.setInterval(ChurnTickMs);
        connect(&m_churnTimer, &QTimer::timeout, this, &Probe::churnTick, Qt::UniqueConnection);
        m_churnClock.start();
        m_churnTimer.start();
        break;
    }
}

void Probe::stopScenario()
{
    for (QTimer *timer : {&m_burstTimer, &m_stormTimer, &m_churnTimer, &m_drainTimer, &m_reportTimer})
        timer->stop();
    if (m_inBurst)
        updateBurst(); // closes the burst: the publisher's rate is no longer raised
    // Users away come back now, to receive what was published to them.
    for (size_t user = 0; user < m_away.size(); ++user) {
        if (m_away[user])
            rejoin(int(user));
    }
}

bool Probe::sentInBurst(qint64 sendUs) const
{
    // Each period of burst_every seconds ends with burst_length seconds of burst.
    const qint64 everyUs = qint64(m_options.burstEveryS * 1e6);
    const qint64 offsetUs = (sendUs - m_publishStartUs) % everyUs;
    return sendUs >= m_publishStartUs && offsetUs >= everyUs - qint64(m_options.burstLengthS * 1e6);
}

void Probe::updateBurst()
{
    const bool burst = m_burstTimer.isActive() && sentInBurst(protocol::nowUs());
    if (burst == m_inBurst || !m_publisher)
        return;
    m_inBurst = burst;
    m_publisher->setRateFactor(burst ? m_options.burstFactor : 1.0);
    if (burst) {
        m_sentAtBurstStart = m_publisher->sent();
        qCInfo(lcProbe) << "burst: x" << m_options.burstFactor;
    } else {
        m_burstSent += m_publisher->sent() - m_sentAtBurstStart;
    }
}

void Probe::dropEveryone()
{
    closeDrop();
    ++m_dropsStarted;
    m_dropStartMs = m_runClock.elapsed();
    m_notBack = 0;
    for (size_t user = 0; user < m_clients.size(); ++user) {
        // Those live now are awaited back; the others (away, backing off) come when they come.
        const bool live = m_clients[user]->state() == PushClient::State::Live;
        m_awaitingBack[user] = live ? 1 : 0;
        m_notBack += live ? 1 : 0;
    }
    qCInfo(lcProbe).noquote()
        << u"drop %1: every connection (%2 live) aborted at once"_s.arg(m_dropsStarted).arg(m_notBack);
    for (PushClient *client : m_clients)
        client->dropConnection();
    if (m_options.scenario == Scenario::Storm && m_dropsStarted < m_options.storms)
        m_stormTimer.start(msOf(m_options.stormEveryS));
}

void Probe::closeDrop()
{
    // The previous drop, if some of its users are still not back, is closed as such.
    if (m_dropsStarted > m_recoveryS.size()) {
        m_recoveryS.append(-1);
        std::fill(m_awaitingBack.begin(), m_awaitingBack.end(), 0);
    }
}

void Probe::onUserBack(int user)
{
    if (m_rejoinStartMs[size_t(user)] > 0) {
        m_rejoinLatency.record((m_runClock.elapsed() - m_rejoinStartMs[size_t(user)]) * 1000);
        m_rejoinStartMs[size_t(user)] = 0;
        ++m_rejoins;
    }
    if (!m_awaitingBack[size_t(user)])
        return;
    m_awaitingBack[size_t(user)] = 0;
    if (--m_notBack == 0) {
        const double seconds = double(m_runClock.elapsed() - m_dropStartMs) / 1000.0;
        m_recoveryS.append(seconds);
        qCInfo(lcProbe).noquote()
            << u"drop %1: every user live again after %2 s"_s.arg(m_dropsStarted).arg(seconds, 0, 'f', 2);
    }
}

void Probe::churnTick()
{
    // Users leave at churn_rate a second, round robin over those live.
    m_churnDue += m_options.churnRate * double(m_churnClock.restart()) / 1000.0;
    const int users = int(m_clients.size());
    for (int looked = 0; m_churnDue >= 1.0 && looked < users; ++looked) {
        const int user = m_churnCursor;
        m_churnCursor = (m_churnCursor + 1) % users;
        if (m_away[size_t(user)] || m_clients[size_t(user)]->state() != PushClient::State::Live)
            continue;
        m_churnDue -= 1.0;
        m_away[size_t(user)] = 1;
        ++m_leaves;
        m_clients[size_t(user)]->stop();
        QTimer::singleShot(msOf(m_options.churnAwayS), this, [this, user] {
            if (m_phase == Phase::Publishing)
                rejoin(user);
        });
    }
    m_churnDue = std::min(m_churnDue, 1.0 + m_options.churnRate); // no catching up after a stall
}

void Probe::rejoin(int user)
{
    if (!m_away[size_t(user)])
        return;
    m_away[size_t(user)] = 0;
    m_rejoinStartMs[size_t(user)] = std::max<qint64>(1, m_runClock.elapsed());
    m_clients[size_t(user)]->start(); // with its positions: it resumes where it left
}

void Probe::drainTick()
{
    // The node most users are on: the drain moves the most.
    std::map<QString, int> usersOn;
    for (PushClient *client : m_clients) {
        if (client->state() == PushClient::State::Live && !client->nodeId().isEmpty())
            ++usersOn[client->nodeId()];
    }
    const auto busiest = std::max_element(usersOn.begin(), usersOn.end(),
                                          [](const auto &a, const auto &b) { return a.second < b.second; });
    if (busiest == usersOn.end() || m_admin->isBusy())
        return;
    const QString node = busiest->first;
    callAdmin(node, true);
    QTimer::singleShot(msOf(m_options.drainForS), this, [this, node] { callAdmin(node, false); });
}

void Probe::callAdmin(const QString &node, bool drain)
{
    QString path = m_options.decisionUrls.constFirst().path();
    while (path.endsWith(u'/'))
        path.chop(1);
    const QByteArray target = (path + u"/v1/nodes/"_s + QString::fromUtf8(QUrl::toPercentEncoding(node)) +
                               (drain ? u"/drain"_s : u"/undrain"_s))
                                  .toUtf8();
    const QByteArray headers = "Authorization: Bearer " + m_options.adminKey + "\r\n";
    auto done = [this, node, drain](const HttpConnection::Response &response) {
        if (response.status / 100 == 2) {
            m_drains += drain ? 1 : 0;
            qCInfo(lcProbe).noquote() << (drain ? "drained" : "undrained") << node;
        } else {
            ++m_drainFailures;
            qCWarning(lcProbe).noquote()
                << (drain ? "drain" : "undrain") << node
                << "failed:" << (response.status ? u"HTTP %1"_s.arg(response.status) : response.error);
        }
    };
    if (m_admin->isBusy()) {
        // One request at a time on the connection: an undrain waits for nothing else.
        auto *once = new HttpConnection(m_options.decisionUrls.constFirst(), AdminTimeoutMs, this);
        once->request("POST", target, headers, {}, [once, done](const HttpConnection::Response &response) {
            done(response);
            once->deleteLater();
        });
        return;
    }
    m_admin->request("POST", target, headers, {}, done);
}

void Probe::sampleProcesses(bool print)
{
    if (m_watched.empty()) {
        Watched self;
        self.pid = QCoreApplication::applicationPid();
        self.samples.name = u"probe %1"_s.arg(self.pid);
        m_watched.push_back(self);
        for (qint64 pid : m_options.watchPids) {
            Watched watched;
            watched.pid = pid;
            watched.samples.name = u"pid %1"_s.arg(pid);
            m_watched.push_back(watched);
        }
    }
    static const double ticksPerSecond = double(sysconf(_SC_CLK_TCK));
    const qint64 nowMs = m_runClock.elapsed();
    QString line;
    for (Watched &watched : m_watched) {
        qint64 rssKb = 0, ticks = 0;
        if (!readProcess(watched.pid, &rssKb, &ticks)) {
            line += u" | %1 gone"_s.arg(watched.samples.name);
            continue;
        }
        ProcessSamples &samples = watched.samples;
        if (samples.rss.isEmpty())
            samples.firstRssKb = rssKb;
        samples.maxRssKb = std::max(samples.maxRssKb, rssKb);
        samples.lastRssKb = rssKb;
        samples.rss.append({double(nowMs) / 1000.0, rssKb});
        double cpuPercent = 0;
        if (watched.lastTicks >= 0) {
            samples.cpuSeconds += double(ticks - watched.lastTicks) / ticksPerSecond;
            if (nowMs > watched.lastMs)
                cpuPercent = 100.0 * double(ticks - watched.lastTicks) / ticksPerSecond /
                             (double(nowMs - watched.lastMs) / 1000.0);
        }
        watched.lastTicks = ticks;
        watched.lastMs = nowMs;
        line += u" | %1 rss=%2MB cpu=%3%"_s.arg(samples.name)
                    .arg(double(rssKb) / 1024.0, 0, 'f', 1)
                    .arg(cpuPercent, 0, 'f', 0);
    }
    if (print && !m_options.quiet) {
        std::fputs(line.toLocal8Bit().constData(), stderr);
        std::fputc('\n', stderr);
        std::fflush(stderr);
    }
}

void Probe::printFigures()
{
    // The figures of the period since the last line (soak: every minute).
    const qint64 nowMs = m_runClock.elapsed();
    const double periodS = std::max<qint64>(1, nowMs - m_lastReportMs) / 1000.0;
    quint64 lost = 0;
    for (const UserVerifier &verifier : m_verifiers)
        lost += verifier.gapCount() + verifier.overdueCount();
    if (!m_options.quiet) {
        const QString head = u"figures t=%1s period=%2s recv=%3 msg/s=%4 p50=%5ms p99=%6ms max=%7ms lost=%8 "
                             "drops=%9"_s.arg(nowMs / 1000)
                                 .arg(periodS, 0, 'f', 0)
                                 .arg(m_received - m_receivedAtReport)
                                 .arg(double(m_received - m_receivedAtReport) / periodS, 0, 'f', 0)
                                 .arg(double(m_reportLatency.percentileUs(50)) / 1000.0, 0, 'f', 1)
                                 .arg(double(m_reportLatency.percentileUs(99)) / 1000.0, 0, 'f', 1)
                                 .arg(double(m_reportLatency.maxUs()) / 1000.0, 0, 'f', 1)
                                 .arg(lost)
                                 .arg(m_dropsStarted);
        std::fputs(head.toLocal8Bit().constData(), stderr);
    }
    sampleProcesses(true);
    m_reportLatency.reset();
    m_receivedAtReport = m_received;
    m_lastReportMs = nowMs;
}

void Probe::addScenarioFigures(ProbeReport *report) const
{
    if (m_options.scenario == Scenario::Burst) {
        report->burstFactor = m_options.burstFactor;
        report->burstSent = m_burstSent;
        report->burstLatency = m_burstLatency;
        report->quietLatency = m_quietLatency;
    }
    report->recoveryS = m_recoveryS;
    if (m_dropsStarted > m_recoveryS.size()) {
        report->recoveryS.append(-1);
        report->usersNotBack = m_notBack;
    }
    report->decisionAnswers = m_decision->answers();
    report->leaves = m_leaves;
    report->rejoins = m_rejoins;
    for (size_t user = 0; user < m_away.size(); ++user) {
        if (m_away[user] || m_rejoinStartMs[user] > 0)
            ++report->away;
    }
    report->rejoinLatency = m_rejoinLatency;
    report->drains = m_drains;
    report->drainFailures = m_drainFailures;
    for (const Watched &watched : m_watched)
        report->processes.append(watched.samples);
}

} // namespace bfg::probe
