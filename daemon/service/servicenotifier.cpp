// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 BFG developers
#include "daemon/service/servicenotifier.h"

#include <algorithm>
#include <climits>
#include <ctime>

#ifdef BFG_HAVE_SYSTEMD
#include <systemd/sd-daemon.h>
#endif

#include "common/logging.h"

using namespace Qt::Literals::StringLiterals;

namespace bfg {

ServiceNotifier::ServiceNotifier(QObject *parent)
    : QObject(parent)
{
#ifdef BFG_HAVE_SYSTEMD
    m_active = !qEnvironmentVariableIsEmpty("NOTIFY_SOCKET");
    uint64_t watchdogUsec = 0;
    // Keep-alives every half of the timeout, as sd_watchdog_enabled(3) advises.
    if (m_active && sd_watchdog_enabled(0, &watchdogUsec) > 0 && watchdogUsec > 0)
        m_watchdogIntervalMs = int(std::clamp<uint64_t>(watchdogUsec / 2000, 1, INT_MAX));
#endif
    m_statusTimer.setInterval(StatusIntervalMs);
    connect(&m_statusTimer, &QTimer::timeout, this, [this] { send("STATUS=" + statusLine()); });
    if (m_watchdogIntervalMs > 0) {
        // On the main thread: if its event loop stops turning, the keep-alives
        // stop and systemd restarts the service.
        m_watchdogTimer.setInterval(m_watchdogIntervalMs);
        connect(&m_watchdogTimer, &QTimer::timeout, this, [this] { send("WATCHDOG=1"); });
        m_watchdogTimer.start();
        qCInfo(lcMain) << "systemd watchdog on: a keep-alive every" << m_watchdogIntervalMs << "ms";
    }
}

bool ServiceNotifier::isSupported()
{
#ifdef BFG_HAVE_SYSTEMD
    return true;
#else
    return false;
#endif
}

void ServiceNotifier::ready()
{
    send("READY=1\nSTATUS=" + statusLine());
    if (m_active && !m_statusTimer.isActive())
        m_statusTimer.start();
}

void ServiceNotifier::reloading()
{
    // MONOTONIC_USEC: what systemd 253's Type=notify-reload expects with it.
    timespec now = {};
    clock_gettime(CLOCK_MONOTONIC, &now);
    const quint64 usec = quint64(now.tv_sec) * 1'000'000 + quint64(now.tv_nsec) / 1000;
    send("RELOADING=1\nMONOTONIC_USEC=" + QByteArray::number(usec) + "\nSTATUS=reloading");
}

void ServiceNotifier::stopping()
{
    send("STOPPING=1\nSTATUS=" + statusLine());
}

QByteArray ServiceNotifier::statusLine() const
{
    QString line = m_status ? m_status() : QString();
    line.replace(u'\n', u' ');
    return line.toUtf8();
}

void ServiceNotifier::send(const QByteArray &state)
{
    if (!m_active)
        return;
#ifdef BFG_HAVE_SYSTEMD
    const int result = sd_notify(0, state.constData());
    if (result < 0)
        qCDebug(lcMain) << "sd_notify failed:" << -result;
#else
    Q_UNUSED(state);
#endif
}

} // namespace bfg
