// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 BFG developers
#include "common/eventloop/epolleventdispatcher.h"

#include <algorithm>
#include <cerrno>
#include <climits>

#include <poll.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <QCoreApplication>
#include <QSocketNotifier>
#include <QThread>

#include "common/logging.h"

namespace bfg {

namespace {

using namespace std::chrono_literals;

// Descriptors taken from one wait; more ready ones are reported by the next
// (level-triggered, as QSocketNotifier users expect: a notifier fires every
// turn while its condition holds, and epoll rotates its ready list).
constexpr int MaxEventsPerWait = 512;

// By QSocketNotifier::Type (Read, Write, Exception): what to watch, and what
// activates the notifier. As in Qt's UNIX dispatcher, a hang-up or an error
// activates every notifier of the descriptor.
constexpr quint32 Interest[3] = {EPOLLIN, EPOLLOUT, EPOLLPRI};
constexpr quint32 Activating[3] = {EPOLLIN | EPOLLHUP | EPOLLERR, EPOLLOUT | EPOLLHUP | EPOLLERR,
                                   EPOLLPRI | EPOLLHUP | EPOLLERR};

const char *typeName(int type)
{
    switch (type) {
    case QSocketNotifier::Read:
        return "Read";
    case QSocketNotifier::Write:
        return "Write";
    default:
        return "Exception";
    }
}

// The first boundary at or after `time` on a multiple of `step` of the clock.
std::chrono::steady_clock::time_point ceilTo(std::chrono::steady_clock::time_point time,
                                             std::chrono::nanoseconds step)
{
    const auto since = std::chrono::duration_cast<std::chrono::nanoseconds>(time.time_since_epoch());
    const auto rest = since % step;
    if (rest == 0ns)
        return time;
    return time + std::chrono::duration_cast<std::chrono::steady_clock::duration>(step - rest);
}

} // namespace

EpollEventDispatcher::EpollEventDispatcher(QObject *parent)
    : QAbstractEventDispatcher(parent)
    , m_events(std::make_unique<epoll_event[]>(MaxEventsPerWait))
{
    m_epollFd = epoll_create1(EPOLL_CLOEXEC);
    if (m_epollFd < 0)
        qFatal("EpollEventDispatcher: epoll_create1: %s", qPrintable(qt_error_string(errno)));
    m_wakeFd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (m_wakeFd < 0)
        qFatal("EpollEventDispatcher: eventfd: %s", qPrintable(qt_error_string(errno)));
    epoll_event event = {};
    event.events = EPOLLIN;
    event.data.fd = m_wakeFd;
    if (epoll_ctl(m_epollFd, EPOLL_CTL_ADD, m_wakeFd, &event) < 0)
        qFatal("EpollEventDispatcher: epoll_ctl: %s", qPrintable(qt_error_string(errno)));
}

EpollEventDispatcher::~EpollEventDispatcher()
{
    ::close(m_wakeFd);
    ::close(m_epollFd);
}

// One turn, in the order of Qt's UNIX dispatcher: posted events, one wait
// (epoll_wait, which reports only what is ready), the ready notifiers, the
// due timers.
bool EpollEventDispatcher::processEvents(QEventLoop::ProcessEventsFlags flags)
{
    Q_EMIT awake();
    // A pending wake-up is taken before the posted events it announced are
    // sent rather than after the wait, so that it does not cost a second
    // turn. Nothing is lost: a post that finds the flag still set was made
    // before drainWakeUps() clears it, so sendPostedEvents() sees it.
    int handled = 0;
    if (m_wakeUpPending.load(std::memory_order_acquire)) {
        drainWakeUps();
        ++handled;
    }
    QCoreApplication::sendPostedEvents();

    const bool includeTimers = !flags.testFlag(QEventLoop::X11ExcludeTimers);
    const bool includeNotifiers = !flags.testFlag(QEventLoop::ExcludeSocketNotifiers);
    const bool mayBlock =
        flags.testFlag(QEventLoop::WaitForMoreEvents) && !m_interrupted.load(std::memory_order_relaxed);
    if (mayBlock)
        Q_EMIT aboutToBlock();
    if (m_interrupted.exchange(false, std::memory_order_relaxed))
        return false;

    // Events posted from here on call wakeUp(), which ends the wait.
    int timeoutMs = 0;
    if (mayBlock && !(includeNotifiers && !m_alwaysReady.empty()))
        timeoutMs = includeTimers ? msUntilNextTimer() : -1;

    ReadyList ready;
    handled += includeNotifiers ? waitForSockets(timeoutMs, &ready) : waitForWakeUp(timeoutMs);
    if (m_interrupted.exchange(false, std::memory_order_relaxed))
        return handled > 0; // what is ready stays ready (level-triggered), timers stay due
    handled += activateNotifiers(ready);
    if (includeTimers)
        handled += activateTimers();
    return handled > 0;
}

int EpollEventDispatcher::waitForSockets(int timeoutMs, ReadyList *ready)
{
    int count = epoll_wait(m_epollFd, m_events.get(), MaxEventsPerWait, timeoutMs);
    if (count < 0) {
        // EINTR: a signal; the caller's loop simply turns again.
        if (errno != EINTR)
            qCWarning(lcEventLoop) << "epoll_wait failed:" << qt_error_string(errno);
        count = 0;
    }
    m_lastReadyCount = count;

    // Only collected here: the slots of the notifiers activated first may
    // disable or delete the others, or reuse their descriptors, and a nested
    // loop may wait on m_events again.
    int handled = 0;
    for (int i = 0; i < count; ++i) {
        const epoll_event &event = m_events[i];
        const int fd = event.data.fd;
        if (fd == m_wakeFd) {
            drainWakeUps();
            ++handled;
            continue;
        }
        const auto found = m_watches.find(fd);
        if (found == m_watches.end())
            continue;
        const Watch &watch = found->second;
        for (int type = 0; type < 3; ++type) {
            if (watch.notifiers[type] && (event.events & Activating[type]))
                ready->append({fd, type, watch.serials[type]});
        }
    }
    for (const int fd : m_alwaysReady) {
        const Watch &watch = m_watches.at(fd);
        for (int type : {QSocketNotifier::Read, QSocketNotifier::Write}) {
            if (watch.notifiers[type])
                ready->append({fd, type, watch.serials[type]});
        }
    }
    return handled;
}

// With ExcludeSocketNotifiers: the sockets stay registered but out of the
// wait, only wakeUp() and the timeout end it.
int EpollEventDispatcher::waitForWakeUp(int timeoutMs)
{
    pollfd wake = {m_wakeFd, POLLIN, 0};
    const int count = ::poll(&wake, 1, timeoutMs);
    m_lastReadyCount = std::max(count, 0);
    if (count <= 0 || !(wake.revents & POLLIN))
        return 0;
    drainWakeUps();
    return 1;
}

int EpollEventDispatcher::activateNotifiers(const ReadyList &ready)
{
    int activated = 0;
    for (const ReadyNotifier &entry : ready) {
        // Still the registration the wait reported? Otherwise an earlier slot
        // of this turn disabled or deleted it (its pointer may dangle), or it
        // was re-registered, possibly on a new descriptor with the same number.
        const auto found = m_watches.find(entry.fd);
        if (found == m_watches.end() || found->second.serials[entry.type] != entry.serial)
            continue;
        QEvent event(QEvent::SockAct);
        QCoreApplication::sendEvent(found->second.notifiers[entry.type], &event);
        ++activated;
    }
    return activated;
}

void EpollEventDispatcher::drainWakeUps()
{
    quint64 count = 0;
    while (::read(m_wakeFd, &count, sizeof count) < 0 && errno == EINTR) {
    }
    // After the read: a wakeUp() that finds the flag still set has posted its
    // event before this store, so the next sendPostedEvents() delivers it.
    m_wakeUpPending.store(false, std::memory_order_release);
}

void EpollEventDispatcher::wakeUp()
{
    if (m_wakeUpPending.exchange(true, std::memory_order_acq_rel))
        return;
    const int savedErrno = errno; // this may run in a signal handler
    const quint64 one = 1;
    while (::write(m_wakeFd, &one, sizeof one) < 0 && errno == EINTR) {
    }
    errno = savedErrno;
}

void EpollEventDispatcher::interrupt()
{
    m_interrupted.store(true, std::memory_order_relaxed);
    wakeUp();
}

void EpollEventDispatcher::registerSocketNotifier(QSocketNotifier *notifier)
{
    Q_ASSERT(notifier);
#ifndef QT_NO_DEBUG
    if (notifier->thread() != thread() || thread() != QThread::currentThread()) {
        qCWarning(lcEventLoop, "QSocketNotifier: socket notifiers cannot be enabled from another thread");
        return;
    }
#endif
    const int fd = int(notifier->socket());
    const int type = notifier->type();
    Watch &watch = m_watches[fd];
    const bool replaced = watch.notifiers[type] && watch.notifiers[type] != notifier;
    if (replaced)
        qCWarning(lcEventLoop, "QSocketNotifier: multiple socket notifiers for socket %d and type %s", fd,
                  typeName(type));
    watch.notifiers[type] = notifier;
    watch.serials[type] = ++m_lastSerial;
    // A notifier left enabled on a closed descriptor whose number came back:
    // epoll dropped the old file, so register the new one even if the
    // interest set looks unchanged.
    updateWatch(fd, watch, replaced);
}

void EpollEventDispatcher::unregisterSocketNotifier(QSocketNotifier *notifier)
{
    Q_ASSERT(notifier);
#ifndef QT_NO_DEBUG
    if (notifier->thread() != thread() || thread() != QThread::currentThread()) {
        qCWarning(lcEventLoop, "QSocketNotifier: socket notifiers cannot be disabled from another thread");
        return;
    }
#endif
    const int fd = int(notifier->socket());
    const int type = notifier->type();
    const auto found = m_watches.find(fd);
    if (found == m_watches.end())
        return;
    Watch &watch = found->second;
    if (watch.notifiers[type] != notifier) {
        if (watch.notifiers[type])
            qCWarning(lcEventLoop, "QSocketNotifier: multiple socket notifiers for socket %d and type %s", fd,
                      typeName(type));
        return;
    }
    watch.notifiers[type] = nullptr;
    watch.serials[type] = 0;
    if (watch.notifiers[0] || watch.notifiers[1] || watch.notifiers[2]) {
        updateWatch(fd, watch, false);
        return;
    }
    removeWatch(fd, watch);
    m_watches.erase(found);
}

void EpollEventDispatcher::updateWatch(int fd, Watch &watch, bool resync)
{
    if (watch.alwaysReady)
        return;
    quint32 wanted = 0;
    for (int type = 0; type < 3; ++type) {
        if (watch.notifiers[type])
            wanted |= Interest[type];
    }
    if (wanted == watch.events && !resync)
        return;

    epoll_event event = {};
    event.events = wanted;
    event.data.fd = fd;
    int op = watch.events ? EPOLL_CTL_MOD : EPOLL_CTL_ADD;
    int result = epoll_ctl(m_epollFd, op, fd, &event);
    if (result < 0 &&
        ((op == EPOLL_CTL_MOD && errno == ENOENT) || (op == EPOLL_CTL_ADD && errno == EEXIST))) {
        op = op == EPOLL_CTL_MOD ? EPOLL_CTL_ADD : EPOLL_CTL_MOD;
        result = epoll_ctl(m_epollFd, op, fd, &event);
    }
    if (result < 0) {
        watch.events = 0;
        if (errno == EPERM) { // not pollable by epoll: a regular file, /dev/null
            watch.alwaysReady = true;
            m_alwaysReady.insert(fd);
            return;
        }
        qCWarning(lcEventLoop) << "QSocketNotifier: cannot watch socket" << fd << qt_error_string(errno);
        return;
    }
    watch.events = wanted;
}

void EpollEventDispatcher::removeWatch(int fd, const Watch &watch)
{
    if (watch.alwaysReady) {
        m_alwaysReady.erase(fd);
        return;
    }
    // ENOENT or EBADF: the descriptor was closed before its notifier was
    // disabled, and epoll forgot it by itself.
    if (watch.events)
        epoll_ctl(m_epollFd, EPOLL_CTL_DEL, fd, nullptr);
}

// Timers: a multimap ordered by due time (O(log n) insert and erase, the
// next one at begin()) and a hash by id; both hold a serial so that an id
// Qt reuses is never mistaken for the timer it replaced.
void EpollEventDispatcher::registerTimer(int timerId, qint64 interval, Qt::TimerType timerType,
                                         QObject *object)
{
#ifndef QT_NO_DEBUG
    if (timerId < 1 || interval < 0 || !object) {
        qCWarning(lcEventLoop, "EpollEventDispatcher::registerTimer: invalid arguments");
        return;
    }
    if (object->thread() != thread() || thread() != QThread::currentThread()) {
        qCWarning(lcEventLoop,
                  "EpollEventDispatcher::registerTimer: timers cannot be started from another thread");
        return;
    }
#endif
    if (const auto old = m_timers.find(timerId); old != m_timers.end())
        forgetTimer(old);

    Timer timer;
    timer.object = object;
    timer.intervalMs = interval;
    timer.type = timerType;
    // As Qt: below 20 ms 5% is under a millisecond, from 20 s on it is a second.
    timer.schedule = timerType;
    if (timerType == Qt::CoarseTimer && interval <= 20)
        timer.schedule = Qt::PreciseTimer;
    else if (timerType == Qt::CoarseTimer && interval >= 20000)
        timer.schedule = Qt::VeryCoarseTimer;
    timer.periodMs = interval;
    if (timer.schedule == Qt::VeryCoarseTimer && interval > 0)
        timer.periodMs = std::max<qint64>(1, (interval + 500) / 1000) * 1000;
    timer.nominal = Clock::now() + std::chrono::milliseconds(timer.periodMs);
    timer.due = dueTime(timer);
    timer.serial = ++m_lastSerial;
    timer.queued = m_timerQueue.emplace(timer.due, TimerRef{timerId, timer.serial});
    m_timers.emplace(timerId, timer);
    m_timersByObject.emplace(object, timerId);
}

bool EpollEventDispatcher::unregisterTimer(int timerId)
{
#ifndef QT_NO_DEBUG
    if (timerId < 1) {
        qCWarning(lcEventLoop, "EpollEventDispatcher::unregisterTimer: invalid argument");
        return false;
    }
    if (thread() != QThread::currentThread()) {
        qCWarning(lcEventLoop,
                  "EpollEventDispatcher::unregisterTimer: timers cannot be stopped from another thread");
        return false;
    }
#endif
    const auto found = m_timers.find(timerId);
    if (found == m_timers.end())
        return false;
    forgetTimer(found);
    return true;
}

bool EpollEventDispatcher::unregisterTimers(QObject *object)
{
#ifndef QT_NO_DEBUG
    if (!object) {
        qCWarning(lcEventLoop, "EpollEventDispatcher::unregisterTimers: invalid argument");
        return false;
    }
    if (object->thread() != thread() || thread() != QThread::currentThread()) {
        qCWarning(lcEventLoop,
                  "EpollEventDispatcher::unregisterTimers: timers cannot be stopped from another thread");
        return false;
    }
#endif
    const auto [first, last] = m_timersByObject.equal_range(object);
    if (first == last)
        return false;
    for (auto it = first; it != last; ++it) {
        const auto found = m_timers.find(it->second);
        if (found->second.queued != m_timerQueue.end())
            m_timerQueue.erase(found->second.queued);
        m_timers.erase(found);
    }
    m_timersByObject.erase(first, last);
    return true;
}

QList<QAbstractEventDispatcher::TimerInfo> EpollEventDispatcher::registeredTimers(QObject *object) const
{
    QList<TimerInfo> timers;
    const auto [first, last] = m_timersByObject.equal_range(object);
    for (auto it = first; it != last; ++it) {
        const Timer &timer = m_timers.at(it->second);
        timers.append(TimerInfo(it->second, int(std::min<qint64>(timer.intervalMs, INT_MAX)), timer.type));
    }
    return timers;
}

int EpollEventDispatcher::remainingTime(int timerId)
{
    const auto found = m_timers.find(timerId);
    if (found == m_timers.end())
        return -1;
    const auto left = found->second.due - Clock::now();
    if (left <= Clock::duration::zero())
        return 0;
    return int(std::min<qint64>(std::chrono::round<std::chrono::milliseconds>(left).count(), INT_MAX));
}

void EpollEventDispatcher::forgetTimer(std::unordered_map<int, Timer>::iterator timer)
{
    const auto [first, last] = m_timersByObject.equal_range(timer->second.object);
    for (auto it = first; it != last; ++it) {
        if (it->second == timer->first) {
            m_timersByObject.erase(it);
            break;
        }
    }
    if (timer->second.queued != m_timerQueue.end())
        m_timerQueue.erase(timer->second.queued);
    m_timers.erase(timer);
}

int EpollEventDispatcher::msUntilNextTimer() const
{
    if (m_timerQueue.empty())
        return -1;
    const auto left = m_timerQueue.begin()->first - Clock::now();
    if (left <= Clock::duration::zero())
        return 0;
    // Rounded up: waking before the deadline would only mean another turn.
    return int(std::min<qint64>(std::chrono::ceil<std::chrono::milliseconds>(left).count(), INT_MAX));
}

int EpollEventDispatcher::activateTimers()
{
    if (m_timerQueue.empty())
        return 0;
    const auto now = Clock::now();

    // Collected first: a handler may stop, restart or delete other timers
    // (Qt then reuses their ids), start new ones (zero-interval ones wait for
    // the next turn) or run a nested loop that fires some of these.
    QVarLengthArray<TimerRef, 32> due;
    for (auto it = m_timerQueue.begin(); it != m_timerQueue.end() && it->first <= now; ++it)
        due.append(it->second);

    int fired = 0;
    for (const TimerRef &ref : due) {
        auto found = m_timers.find(ref.id);
        if (found == m_timers.end() || found->second.serial != ref.serial)
            continue;
        Timer &timer = found->second;
        // Being delivered further up the stack, or already fired by a nested loop.
        if (timer.queued == m_timerQueue.end() || timer.due > now)
            continue;
        // Out of the queue while its event is delivered: a nested loop neither
        // fires it again nor spins on its past deadline (Qt does the same).
        m_timerQueue.erase(timer.queued);
        timer.queued = m_timerQueue.end();
        advance(timer, now);
        QTimerEvent event(ref.id);
        QCoreApplication::sendEvent(timer.object, &event);
        ++fired;

        found = m_timers.find(ref.id); // the handler may have stopped it
        if (found != m_timers.end() && found->second.serial == ref.serial)
            found->second.queued = m_timerQueue.emplace(found->second.due, ref);
    }
    return fired;
}

// The next deadline from the last one, not from now, so that a repeating
// timer does not drift; but one period from now when that is already past,
// so that a late timer fires once, not in a burst that catches up.
void EpollEventDispatcher::advance(Timer &timer, Clock::time_point now)
{
    const auto period = std::chrono::milliseconds(timer.periodMs);
    timer.nominal += period;
    if (timer.nominal < now)
        timer.nominal = now + period;
    timer.due = dueTime(timer);
}

EpollEventDispatcher::Clock::time_point EpollEventDispatcher::dueTime(const Timer &timer)
{
    switch (timer.schedule) {
    case Qt::PreciseTimer:
        break;
    case Qt::CoarseTimer: {
        // Up to 5% late, onto the roundest boundary that allows, so that
        // coarse timers of one thread share wake-ups.
        const auto slack = std::chrono::milliseconds(timer.periodMs / 20);
        for (const auto step : {1000ms, 500ms, 250ms, 100ms, 50ms, 25ms, 10ms, 5ms, 2ms, 1ms}) {
            if (step <= slack)
                return ceilTo(timer.nominal, step);
        }
        break;
    }
    case Qt::VeryCoarseTimer:
        return ceilTo(timer.nominal, 1s);
    }
    return timer.nominal;
}

} // namespace bfg
