// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 BFG developers
//
// Turns Unix signals (SIGINT, SIGTERM) into a Qt signal on the event loop,
// the async-signal-safe way: the handler only write()s the signal number to
// a socketpair, and a QSocketNotifier on the other end emits it. The probe
// uses it to stop a run early and still report.
#pragma once

#include <initializer_list>

#include <QList>
#include <QObject>

class QSocketNotifier;

namespace bfg::probe {

class SignalWatcher : public QObject
{
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(SignalWatcher)

public:
    // Only one watcher may exist at a time.
    explicit SignalWatcher(std::initializer_list<int> unixSignals, QObject *parent = nullptr);
    ~SignalWatcher() override;

Q_SIGNALS:
    void signalReceived(int unixSignal);

private:
    static void handle(int unixSignal);
    void readPending();

    static int s_fds[2];
    QSocketNotifier *m_notifier = nullptr;
    QList<int> m_signals;
};

} // namespace bfg::probe
