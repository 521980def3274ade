// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 BFG developers
//
// A Qt event dispatcher for Linux built on epoll, so that a loop turn costs
// O(ready descriptors) rather than O(registered descriptors). Qt's glib and
// UNIX dispatchers hand every socket to poll() on every wake, which is what
// made a push worker holding ~10K WebSockets spend most of its CPU in
// sock_poll (issue 6). The push node installs it on its worker threads with
// QThread::setEventDispatcher() before start(); bfg-probe runs its whole
// process on it (QCoreApplication::setEventDispatcher() before the
// application object exists). Public Qt API only: posted events go through
// QCoreApplication::sendPostedEvents(), notifiers get QEvent::SockAct and
// timer owners QTimerEvent, as with Qt's own dispatchers.
#pragma once

#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <unordered_map>
#include <unordered_set>

#include <QAbstractEventDispatcher>
#include <QVarLengthArray>

struct epoll_event;

namespace bfg {

class EpollEventDispatcher : public QAbstractEventDispatcher
{
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(EpollEventDispatcher)

public:
    explicit EpollEventDispatcher(QObject *parent = nullptr);
    ~EpollEventDispatcher() override;

    bool processEvents(QEventLoop::ProcessEventsFlags flags) override;

    void registerSocketNotifier(QSocketNotifier *notifier) override;
    void unregisterSocketNotifier(QSocketNotifier *notifier) override;

    using QAbstractEventDispatcher::registerTimer;
    void registerTimer(int timerId, qint64 interval, Qt::TimerType timerType, QObject *object) override;
    bool unregisterTimer(int timerId) override;
    bool unregisterTimers(QObject *object) override;
    QList<TimerInfo> registeredTimers(QObject *object) const override;
    int remainingTime(int timerId) override;

    // Any thread, concurrently, and async-signal-safe: the current or next
    // wait of the loop returns.
    void wakeUp() override;
    // Any thread: the current or next processEvents() returns promptly.
    void interrupt() override;

    // For tests and diagnostics, in the dispatcher's thread: descriptors with
    // an enabled notifier, and how many descriptors (the wake-up eventfd
    // included) the last wait reported ready.
    int watchedSocketCount() const { return int(m_watches.size()); }
    int lastReadyCount() const { return m_lastReadyCount; }

private:
    using Clock = std::chrono::steady_clock;

    struct TimerRef
    {
        int id;
        quint64 serial; // tells a re-registered id (Qt reuses ids) from the old timer
    };
    using TimerQueue = std::multimap<Clock::time_point, TimerRef>;

    struct Timer
    {
        QObject *object;
        qint64 intervalMs;           // as registered (registeredTimers())
        Qt::TimerType type;          // as registered
        Qt::TimerType schedule;      // as scheduled: short coarse timers run precise, long ones very coarse
        qint64 periodMs;             // whole seconds for very coarse timers
        Clock::time_point nominal;   // the schedule, without drift or coarse rounding
        Clock::time_point due;       // when it fires: nominal, or a little later for coarse timers
        TimerQueue::iterator queued; // m_timerQueue.end() while its event is being delivered
        quint64 serial;
    };

    // All the notifiers of one descriptor share one epoll registration.
    struct Watch
    {
        QSocketNotifier *notifiers[3] = {}; // by QSocketNotifier::Type
        quint64 serials[3] = {};            // of each registration, 0 when none
        quint32 events = 0;                 // the epoll interest set, 0 when not in epoll
        bool alwaysReady = false;           // epoll refused it (a file): ready each turn, as poll() says
    };

    struct ReadyNotifier
    {
        int fd;
        int type;
        quint64 serial;
    };
    using ReadyList = QVarLengthArray<ReadyNotifier, 64>;

    int waitForSockets(int timeoutMs, ReadyList *ready);
    int waitForWakeUp(int timeoutMs);
    int activateNotifiers(const ReadyList &ready);
    int activateTimers();
    int msUntilNextTimer() const;
    void drainWakeUps();
    void updateWatch(int fd, Watch &watch, bool resync);
    void removeWatch(int fd, const Watch &watch);
    void forgetTimer(std::unordered_map<int, Timer>::iterator timer);
    static Clock::time_point dueTime(const Timer &timer);
    static void advance(Timer &timer, Clock::time_point now);

    int m_epollFd = -1;
    int m_wakeFd = -1;
    std::atomic<bool> m_wakeUpPending{false};
    std::atomic<bool> m_interrupted{false};
    std::unique_ptr<epoll_event[]> m_events;
    int m_lastReadyCount = 0;

    std::unordered_map<int, Watch> m_watches;
    std::unordered_set<int> m_alwaysReady;

    std::unordered_map<int, Timer> m_timers;
    std::unordered_multimap<QObject *, int> m_timersByObject;
    TimerQueue m_timerQueue;

    quint64 m_lastSerial = 0;
};

} // namespace bfg
