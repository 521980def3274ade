// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 BFG developers
//
// Tells systemd how bfgd is doing (a Type=notify unit, sd_notify(3)):
// READY=1 once every listener is up, a STATUS= line every few seconds,
// WATCHDOG=1 from the main event loop at half the unit's WatchdogSec (so
// that a stuck loop gets the service restarted), RELOADING=1 and READY=1
// around a reload, STOPPING=1 at shutdown. bfgd's main() is its one user.
// When bfgd was not started by systemd (NOTIFY_SOCKET unset), or was built
// without libsystemd, every call does nothing.
#pragma once

#include <functional>

#include <QObject>
#include <QString>
#include <QTimer>

namespace bfg {

class ServiceNotifier : public QObject
{
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(ServiceNotifier)

public:
    static constexpr int StatusIntervalMs = 5000;

    // Reads NOTIFY_SOCKET and WATCHDOG_USEC (and WATCHDOG_PID, which must be
    // unset or this process) and starts the watchdog timer at once: it only
    // fires once the event loop runs.
    explicit ServiceNotifier(QObject *parent = nullptr);

    // Whether bfgd was built with libsystemd.
    static bool isSupported();
    // Built with libsystemd and started with NOTIFY_SOCKET: messages go somewhere.
    bool isActive() const { return m_active; }
    // The watchdog keep-alive interval (half of WATCHDOG_USEC); 0 when off.
    int watchdogIntervalMs() const { return m_watchdogIntervalMs; }

    // The one-line summary sent as STATUS= with READY=1 and every StatusIntervalMs.
    void setStatusSource(std::function<QString()> status) { m_status = std::move(status); }

    void ready();     // READY=1 and the status; starts the status updates
    void reloading(); // RELOADING=1 (follow with ready())
    void stopping();  // STOPPING=1 and the status, which keeps being updated

private:
    void send(const QByteArray &state);
    QByteArray statusLine() const;

    bool m_active = false;
    int m_watchdogIntervalMs = 0;
    std::function<QString()> m_status;
    QTimer m_statusTimer;
    QTimer m_watchdogTimer;
};

} // namespace bfg
