// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 BFG developers
//
// EpollEventDispatcher (issue 6) as the dispatcher of worker threads: every
// case runs on QThreads whose dispatcher it is (a test process cannot build
// a second QCoreApplication), while the test's main thread keeps Qt's
// default dispatcher and only drives and checks. Timing is never asserted:
// timer counts have generous bounds, and "never early" and "no catch-up
// burst" are checked against the elapsed time the worker measured.
#include <algorithm>
#include <atomic>
#include <memory>
#include <thread>
#include <utility>
#include <vector>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <QElapsedTimer>
#include <QEventLoop>
#include <QFile>
#include <QScopeGuard>
#include <QSocketNotifier>
#include <QTcpServer>
#include <QTcpSocket>
#include <QTest>
#include <QThread>
#include <QTimer>
#include <QWebSocket>
#include <QWebSocketServer>

#include "common/eventloop/epolleventdispatcher.h"

using namespace Qt::Literals::StringLiterals;
using bfg::EpollEventDispatcher;

namespace {

// A QThread whose loop runs on an EpollEventDispatcher, with an object
// living there to run code on it and to parent what a case creates there.
class EpollThread
{
public:
    EpollThread()
        : m_dispatcher(new EpollEventDispatcher)
        , m_context(new QObject)
    {
        m_thread.setEventDispatcher(m_dispatcher); // the thread owns it from now on
        m_context->moveToThread(&m_thread);
        // Deleted in the thread, with what a case parented to it, as the
        // thread's last act (also when a case ends the thread itself).
        QObject::connect(&m_thread, &QThread::finished, m_context, &QObject::deleteLater);
        m_thread.start();
    }
    ~EpollThread()
    {
        m_thread.quit();
        m_thread.wait();
    }
    Q_DISABLE_COPY_MOVE(EpollThread)

    QThread *thread() { return &m_thread; }
    QObject *context() const { return m_context; }
    EpollEventDispatcher *dispatcher() const { return m_dispatcher; }

    // Runs `function` on the thread, waits for it and returns its result.
    template<typename Function>
    auto run(Function function)
    {
        using Result = decltype(function());
        if constexpr (std::is_void_v<Result>) {
            QMetaObject::invokeMethod(m_context, std::move(function), Qt::BlockingQueuedConnection);
        } else {
            Result result{};
            QMetaObject::invokeMethod(m_context, std::move(function), Qt::BlockingQueuedConnection, &result);
            return result;
        }
    }

private:
    QThread m_thread;
    EpollEventDispatcher *m_dispatcher;
    QObject *m_context;
};

// Two connected TCP sockets over 127.0.0.1, plain descriptors.
struct TcpPair
{
    int a = -1;
    int b = -1;
};

TcpPair tcpPair()
{
    const int listener = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in address = {};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t length = sizeof address;
    TcpPair pair;
    if (listener >= 0 && ::bind(listener, reinterpret_cast<sockaddr *>(&address), sizeof address) == 0 &&
        ::listen(listener, 1) == 0 &&
        ::getsockname(listener, reinterpret_cast<sockaddr *>(&address), &length) == 0) {
        pair.a = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (::connect(pair.a, reinterpret_cast<sockaddr *>(&address), sizeof address) == 0)
            pair.b = ::accept4(listener, nullptr, nullptr, SOCK_CLOEXEC);
    }
    if (listener >= 0)
        ::close(listener);
    return pair;
}

// A blocking client socket connected to 127.0.0.1:port, or -1.
int connectTo(quint16 port)
{
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in address = {};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    address.sin_port = htons(port);
    if (fd >= 0 && ::connect(fd, reinterpret_cast<sockaddr *>(&address), sizeof address) == 0)
        return fd;
    if (fd >= 0)
        ::close(fd);
    return -1;
}

// Reads exactly `size` bytes, waiting at most `timeoutMs` for each chunk.
bool readExactly(int fd, char *data, int size, int timeoutMs)
{
    int done = 0;
    while (done < size) {
        pollfd readable = {fd, POLLIN, 0};
        if (::poll(&readable, 1, timeoutMs) != 1)
            return false;
        const ssize_t got = ::recv(fd, data + done, size_t(size - done), 0);
        if (got <= 0)
            return false;
        done += int(got);
    }
    return true;
}

QByteArray payloadFor(int client, int size)
{
    QByteArray payload(size, Qt::Uninitialized);
    for (int i = 0; i < size; ++i)
        payload[i] = char((client * 131 + i * 7) & 0xff);
    return payload;
}

enum NotifierBit { ReadBit = 1, WriteBit = 2, ExceptionBit = 4 };

int bitOf(QSocketNotifier::Type type)
{
    return 1 << int(type);
}

} // namespace

class TestEpollEventDispatcher : public QObject
{
    Q_OBJECT

public:
    enum TimerChange {
        StopOther,
        DeleteOther,
        RestartOtherLonger,
        StopSelf,
        RestartSelfLonger,
        ReplaceOther
    };
    enum SocketAction { Nothing, SendData, SendUrgentData, ResetByPeer, DisableThenSendData };
    enum NotifierRemoval { Delete, Disable, DeleteAndReuseDescriptors };

private Q_SLOTS:
    void timerFiresNeverEarlyAndNeverInBursts_data();
    void timerFiresNeverEarlyAndNeverInBursts();
    void lateTimerFiresOnceNotInABurst();
    void zeroTimerRunsEveryTurnWithoutStarvingOthers();
    void timerChangedInsideAnotherTimersSlot_data();
    void timerChangedInsideAnotherTimersSlot();
    void remainingTimeCountsDownToTheNextTimeout_data();
    void remainingTimeCountsDownToTheNextTimeout();
    void remainingTimeInsideTheHandlerIsTheNextPeriod();
    void registeredTimersListAnObjectsTimers();
    void timerMovesToAnotherEpollThread();
    void queuedCallWakesTheBlockedThreadPromptly();
    void wakeUpsFromManyThreadsAreNeverLost();
    void interruptEndsABlockingWait();
    void interruptBeforeTheWaitSkipsIt();
    void notifierTypesOfOneDescriptor_data();
    void notifierTypesOfOneDescriptor();
    void notifierOnAFileEpollRefusesIsAlwaysReady();
    void excludeFlagsHoldBackNotifiersOrTimers_data();
    void excludeFlagsHoldBackNotifiersOrTimers();
    void notifierRemovedBySlotOfAnotherInTheSameTurn_data();
    void notifierRemovedBySlotOfAnotherInTheSameTurn();
    void tcpEchoWithTwoHundredClients();
    void webSocketEchoBetweenEpollThreads();
    void deleteLaterIsProcessed_data();
    void deleteLaterIsProcessed();
    void nestedEventLoopsRunAndReturn();
    void quitEndsTheThreadWhileItWaits();
    void idleConnectionsAreNotVisitedEachTurn();
};

void TestEpollEventDispatcher::timerFiresNeverEarlyAndNeverInBursts_data()
{
    QTest::addColumn<Qt::TimerType>("type");
    QTest::addColumn<int>("intervalMs");
    QTest::addColumn<bool>("singleShot");
    QTest::addColumn<int>("windowMs");

    QTest::addRow("precise single shot") << Qt::PreciseTimer << 30 << true << 300;
    QTest::addRow("precise repeating") << Qt::PreciseTimer << 20 << false << 600;
    QTest::addRow("coarse repeating") << Qt::CoarseTimer << 50 << false << 600;
    QTest::addRow("coarse under 20 ms runs precise") << Qt::CoarseTimer << 10 << false << 300;
    QTest::addRow("very coarse single shot") << Qt::VeryCoarseTimer << 1000 << true << 3000;
}

void TestEpollEventDispatcher::timerFiresNeverEarlyAndNeverInBursts()
{
    QFETCH(Qt::TimerType, type);
    QFETCH(int, intervalMs);
    QFETCH(bool, singleShot);
    QFETCH(int, windowMs);

    struct Run
    {
        int count = 0;
        qint64 firstMs = -1;
        qint64 elapsedMs = 0;
    };
    EpollThread worker;
    const Run run = worker.run([=] {
        Run result;
        QEventLoop loop;
        QTimer timer;
        timer.setTimerType(type);
        timer.setSingleShot(singleShot);
        timer.setInterval(intervalMs);
        QElapsedTimer clock;
        QObject::connect(&timer, &QTimer::timeout, &loop, [&] {
            if (result.count++ == 0)
                result.firstMs = clock.elapsed();
        });
        QTimer::singleShot(windowMs, Qt::PreciseTimer, &loop, &QEventLoop::quit);
        clock.start();
        timer.start();
        loop.exec();
        result.elapsedMs = clock.elapsed();
        return result;
    });

    QVERIFY2(run.firstMs >= intervalMs, qPrintable(u"first timeout after %1 ms"_s.arg(run.firstMs)));
    if (singleShot) {
        QCOMPARE(run.count, 1);
        return;
    }
    const int atLeast = std::max(2, windowMs / intervalMs / 5);
    const qint64 atMost = run.elapsedMs / intervalMs + 1;
    QVERIFY2(run.count >= atLeast && run.count <= atMost,
             qPrintable(u"%1 timeouts in %2 ms"_s.arg(run.count).arg(run.elapsedMs)));
}

// A handler that holds the thread for ten periods: afterwards the timer
// goes on at its pace, it does not fire the ten missed timeouts at once.
void TestEpollEventDispatcher::lateTimerFiresOnceNotInABurst()
{
    constexpr int IntervalMs = 20;
    struct Run
    {
        int afterStall = 0;
        qint64 afterStallMs = 0;
    };
    EpollThread worker;
    const Run run = worker.run([] {
        Run result;
        QEventLoop loop;
        QTimer timer;
        timer.setTimerType(Qt::PreciseTimer);
        QElapsedTimer sinceStall;
        QObject::connect(&timer, &QTimer::timeout, &loop, [&] {
            if (sinceStall.isValid()) {
                ++result.afterStall;
                return;
            }
            QThread::msleep(10 * IntervalMs); // a slow handler, the case itself
            sinceStall.start();
            QTimer::singleShot(150, Qt::PreciseTimer, &loop, &QEventLoop::quit);
        });
        timer.start(IntervalMs);
        loop.exec();
        result.afterStallMs = sinceStall.elapsed();
        return result;
    });

    QVERIFY2(
        run.afterStall >= 1 && run.afterStall <= run.afterStallMs / IntervalMs + 1,
        qPrintable(u"%1 timeouts in the %2 ms after the stall"_s.arg(run.afterStall).arg(run.afterStallMs)));
}

void TestEpollEventDispatcher::zeroTimerRunsEveryTurnWithoutStarvingOthers()
{
    struct Counts
    {
        int zero = 0;
        int notifier = 0;
        bool deadline = false;
    };
    EpollThread worker;
    const Counts counts = worker.run([] {
        Counts result;
        int fds[2];
        if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0)
            return result;
        {
            QEventLoop loop;
            QTimer zero;
            zero.setInterval(0);
            QObject::connect(&zero, &QTimer::timeout, &loop, [&] { ++result.zero; });
            // A descriptor that stays readable and a deadline: neither may starve.
            QSocketNotifier readable(fds[0], QSocketNotifier::Read);
            QObject::connect(&readable, &QSocketNotifier::activated, &loop, [&] { ++result.notifier; });
            QTimer::singleShot(100, Qt::PreciseTimer, &loop, [&] {
                result.deadline = true;
                loop.quit();
            });
            (void)::write(fds[1], "x", 1);
            zero.start();
            loop.exec();
        }
        ::close(fds[0]);
        ::close(fds[1]);
        return result;
    });

    QVERIFY(counts.deadline);
    QVERIFY(counts.notifier >= 1);
    // Blocking until the deadline would have given one or two.
    QVERIFY2(counts.zero >= 20, qPrintable(u"zero timer fired %1 times in 100 ms"_s.arg(counts.zero)));
}

void TestEpollEventDispatcher::timerChangedInsideAnotherTimersSlot_data()
{
    QTest::addColumn<int>("change");
    QTest::addColumn<int>("aFires"); // -1: repeats
    QTest::addColumn<int>("bFires");

    // A and B both fire every 20 ms, A registered first: A's first timeout
    // comes before B's, in the same turn or an earlier one.
    QTest::addRow("stop the other") << int(StopOther) << -1 << 0;
    QTest::addRow("delete the other") << int(DeleteOther) << -1 << 0;
    QTest::addRow("restart the other later") << int(RestartOtherLonger) << -1 << 0;
    QTest::addRow("stop itself") << int(StopSelf) << 1 << -1;
    QTest::addRow("restart itself later") << int(RestartSelfLonger) << 1 << -1;
    QTest::addRow("stop the other, start a third that may reuse its id") << int(ReplaceOther) << -1 << 0;
}

void TestEpollEventDispatcher::timerChangedInsideAnotherTimersSlot()
{
    QFETCH(int, change);
    QFETCH(int, aFires);
    QFETCH(int, bFires);

    struct Counts
    {
        int a = 0;
        int b = 0;
        int c = 0;
        qint64 cFirstMs = -1;
    };
    EpollThread worker;
    const Counts counts = worker.run([change] {
        Counts result;
        QEventLoop loop;
        auto *a = new QTimer(&loop);
        auto *b = new QTimer(&loop);
        auto *c = new QTimer(&loop);
        c->setSingleShot(true);
        c->setInterval(200);
        QElapsedTimer sinceChange;
        QObject::connect(a, &QTimer::timeout, &loop, [&] {
            if (++result.a > 1)
                return;
            switch (change) {
            case StopOther:
                b->stop();
                break;
            case DeleteOther:
                delete b;
                break;
            case RestartOtherLonger:
                b->start(1000);
                break;
            case StopSelf:
                a->stop();
                break;
            case RestartSelfLonger:
                a->start(1000);
                break;
            case ReplaceOther:
                b->stop();
                sinceChange.start();
                c->start();
                break;
            }
        });
        QObject::connect(b, &QTimer::timeout, &loop, [&] { ++result.b; });
        QObject::connect(c, &QTimer::timeout, &loop, [&] {
            if (result.c++ == 0)
                result.cFirstMs = sinceChange.elapsed();
        });
        QTimer::singleShot(400, Qt::PreciseTimer, &loop, &QEventLoop::quit);
        a->start(20);
        b->start(20);
        loop.exec();
        return result;
    });

    const auto check = [](int fires, int expected) { return expected < 0 ? fires >= 2 : fires == expected; };
    QVERIFY2(check(counts.a, aFires), qPrintable(u"A fired %1 times"_s.arg(counts.a)));
    QVERIFY2(check(counts.b, bFires), qPrintable(u"B fired %1 times"_s.arg(counts.b)));
    if (change == ReplaceOther) {
        QCOMPARE(counts.c, 1);
        QVERIFY2(counts.cFirstMs >= 200, qPrintable(u"C fired after %1 ms"_s.arg(counts.cFirstMs)));
    } else {
        QCOMPARE(counts.c, 0);
    }
}

void TestEpollEventDispatcher::remainingTimeCountsDownToTheNextTimeout_data()
{
    QTest::addColumn<Qt::TimerType>("type");
    QTest::addColumn<int>("intervalMs");
    QTest::addColumn<int>("atMostMs");

    QTest::addRow("precise") << Qt::PreciseTimer << 2000 << 2000;
    QTest::addRow("coarse, up to 5%% late") << Qt::CoarseTimer << 2000 << 2100;
    QTest::addRow("very coarse, on a whole second") << Qt::VeryCoarseTimer << 3000 << 4000;
    QTest::addRow("zero") << Qt::PreciseTimer << 0 << 0;
}

void TestEpollEventDispatcher::remainingTimeCountsDownToTheNextTimeout()
{
    QFETCH(Qt::TimerType, type);
    QFETCH(int, intervalMs);
    QFETCH(int, atMostMs);

    EpollThread worker;
    const auto [started, stopped] = worker.run([=] {
        QTimer timer;
        timer.setTimerType(type);
        timer.start(intervalMs);
        const int started = timer.remainingTime();
        timer.stop();
        return std::pair(started, timer.remainingTime());
    });

    QVERIFY2(started >= 0 && started <= atMostMs, qPrintable(QString::number(started)));
    if (intervalMs > 0)
        QVERIFY(started > 0);
    QCOMPARE(stopped, -1);
}

void TestEpollEventDispatcher::remainingTimeInsideTheHandlerIsTheNextPeriod()
{
    EpollThread worker;
    const QList<int> remaining = worker.run([] {
        QList<int> result;
        QEventLoop loop;
        QTimer timer;
        timer.setTimerType(Qt::PreciseTimer);
        QObject::connect(&timer, &QTimer::timeout, &loop, [&] {
            result.append(timer.remainingTime());
            if (result.size() == 3)
                loop.quit();
        });
        timer.start(50);
        loop.exec();
        return result;
    });

    QCOMPARE(remaining.size(), 3);
    for (const int ms : remaining)
        QVERIFY2(ms >= 0 && ms <= 50, qPrintable(QString::number(ms)));
}

void TestEpollEventDispatcher::registeredTimersListAnObjectsTimers()
{
    using TimerInfo = QAbstractEventDispatcher::TimerInfo;
    struct Lists
    {
        QList<TimerInfo> started;
        QList<TimerInfo> afterKill;
        int remainingAfterDelete = 0;
        int otherRemaining = 0;
    };
    EpollThread worker;
    const Lists lists = worker.run([] {
        Lists result;
        QAbstractEventDispatcher *dispatcher = QAbstractEventDispatcher::instance();
        QObject other;
        const int otherId = other.startTimer(5000);
        auto *object = new QObject;
        const int precise = object->startTimer(150, Qt::PreciseTimer);
        const int coarse = object->startTimer(2000, Qt::CoarseTimer);
        object->startTimer(1500, Qt::VeryCoarseTimer);
        result.started = dispatcher->registeredTimers(object);
        object->killTimer(coarse);
        result.afterKill = dispatcher->registeredTimers(object);
        delete object; // unregisters the rest
        result.remainingAfterDelete = dispatcher->remainingTime(precise);
        result.otherRemaining = dispatcher->remainingTime(otherId);
        return result;
    });

    const auto has = [](const QList<TimerInfo> &list, int intervalMs, Qt::TimerType type) {
        return std::any_of(list.cbegin(), list.cend(), [=](const TimerInfo &info) {
            return info.interval == intervalMs && info.timerType == type;
        });
    };
    QCOMPARE(lists.started.size(), 3);
    QVERIFY(has(lists.started, 150, Qt::PreciseTimer));
    QVERIFY(has(lists.started, 2000, Qt::CoarseTimer));
    QVERIFY(has(lists.started, 1500, Qt::VeryCoarseTimer)); // as registered, not as rounded
    QCOMPARE(lists.afterKill.size(), 2);
    QVERIFY(!has(lists.afterKill, 2000, Qt::CoarseTimer));
    QCOMPARE(lists.remainingAfterDelete, -1);
    QVERIFY(lists.otherRemaining > 0);
}

// QObject::moveToThread() takes a running timer's id, interval and type
// from registeredTimers() and registers it again on the new thread.
void TestEpollEventDispatcher::timerMovesToAnotherEpollThread()
{
    std::atomic<int> firedInA{0};
    std::atomic<int> firedInB{0};
    EpollThread a;
    EpollThread b;
    QThread *threadA = a.thread();
    QThread *threadB = b.thread();
    a.run([&] {
        auto *timer = new QTimer; // parentless: it moves, and is deleted where it ends up
        timer->setTimerType(Qt::PreciseTimer);
        QObject::connect(timer, &QTimer::timeout, timer, [&, timer] {
            if (QThread::currentThread() == threadA) {
                if (++firedInA == 3)
                    timer->moveToThread(threadB);
            } else if (QThread::currentThread() == threadB && ++firedInB == 3) {
                timer->deleteLater();
            }
        });
        timer->start(10);
    });
    QTRY_COMPARE_WITH_TIMEOUT(firedInB.load(), 3, 10000);
    QCOMPARE(firedInA.load(), 3);
}

void TestEpollEventDispatcher::queuedCallWakesTheBlockedThreadPromptly()
{
    std::atomic<int> calls{0};
    EpollThread worker; // nothing to do: it waits in epoll_wait without a timeout
    qint64 slowestMs = 0;
    for (int i = 1; i <= 20; ++i) {
        QElapsedTimer clock;
        clock.start();
        QMetaObject::invokeMethod(
            worker.context(), [&calls] { ++calls; }, Qt::QueuedConnection);
        QTRY_COMPARE_WITH_TIMEOUT(calls.load(), i, 5000);
        slowestMs = std::max(slowestMs, clock.elapsed());
    }
    QVERIFY2(slowestMs < 2000, qPrintable(u"slowest wake-up %1 ms"_s.arg(slowestMs)));
}

void TestEpollEventDispatcher::wakeUpsFromManyThreadsAreNeverLost()
{
    constexpr int Rounds = 30;
    constexpr int Posters = 4;
    constexpr int CallsPerPoster = 200;
    std::atomic<int> calls{0};
    EpollThread worker;
    for (int round = 1; round <= Rounds; ++round) {
        std::vector<std::thread> posters;
        for (int p = 0; p < Posters; ++p) {
            posters.emplace_back([&worker, &calls] {
                for (int i = 0; i < CallsPerPoster; ++i) {
                    QMetaObject::invokeMethod(
                        worker.context(), [&calls] { ++calls; }, Qt::QueuedConnection);
                    if (i % 16 == 0)
                        worker.dispatcher()->wakeUp();
                }
            });
        }
        for (std::thread &poster : posters)
            poster.join();
        // A lost wake-up leaves the last calls queued and the thread asleep.
        QTRY_COMPARE_WITH_TIMEOUT(calls.load(), round * Posters * CallsPerPoster, 10000);
    }
}

void TestEpollEventDispatcher::interruptEndsABlockingWait()
{
    std::atomic<int> blocks{0};
    std::atomic<int> blocksBeforeWait{-1};
    std::atomic<int> returns{0};
    EpollThread worker;
    EpollEventDispatcher *dispatcher = worker.dispatcher();
    worker.run([&] {
        QObject::connect(dispatcher, &QAbstractEventDispatcher::aboutToBlock, dispatcher, [&] { ++blocks; });
    });

    QMetaObject::invokeMethod(
        worker.context(),
        [&] {
            // This call's wake-up was read before it was delivered, and
            // nothing else will come: this waits until interrupted.
            blocksBeforeWait = blocks.load();
            dispatcher->processEvents(QEventLoop::WaitForMoreEvents);
            ++returns;
        },
        Qt::QueuedConnection);
    QTRY_VERIFY_WITH_TIMEOUT(blocksBeforeWait >= 0 && blocks > blocksBeforeWait, 5000);
    dispatcher->interrupt();
    QTRY_COMPARE_WITH_TIMEOUT(returns.load(), 1, 5000);
}

void TestEpollEventDispatcher::interruptBeforeTheWaitSkipsIt()
{
    EpollThread worker;
    const bool handled = worker.run([&worker] {
        EpollEventDispatcher *dispatcher = worker.dispatcher();
        dispatcher->processEvents(QEventLoop::AllEvents); // takes this call's own wake-up
        dispatcher->interrupt();
        return dispatcher->processEvents(QEventLoop::WaitForMoreEvents);
    });
    // Returned at once without waiting or handling anything, although the
    // interrupt's wake-up was ready to be read.
    QVERIFY(!handled);
}

void TestEpollEventDispatcher::notifierTypesOfOneDescriptor_data()
{
    QTest::addColumn<int>("registered");
    QTest::addColumn<int>("action");
    QTest::addColumn<int>("fire");  // must fire
    QTest::addColumn<int>("quiet"); // must not

    QTest::addRow("read fires on data") << int(ReadBit) << int(SendData) << int(ReadBit) << 0;
    QTest::addRow("read stays quiet without data") << int(ReadBit) << int(Nothing) << 0 << int(ReadBit);
    QTest::addRow("write fires when writable") << int(WriteBit) << int(Nothing) << int(WriteBit) << 0;
    QTest::addRow("read and write on one descriptor")
        << (ReadBit | WriteBit) << int(SendData) << (ReadBit | WriteBit) << 0;
    QTest::addRow("exception fires on urgent data")
        << int(ExceptionBit) << int(SendUrgentData) << int(ExceptionBit) << 0;
    QTest::addRow("reset by peer wakes an exception notifier")
        << int(ExceptionBit) << int(ResetByPeer) << int(ExceptionBit) << 0;
    QTest::addRow("reset by peer wakes read") << int(ReadBit) << int(ResetByPeer) << int(ReadBit) << 0;
    QTest::addRow("disabled notifier stays quiet")
        << (ReadBit | ExceptionBit) << int(DisableThenSendData) << 0 << (ReadBit | ExceptionBit);
}

void TestEpollEventDispatcher::notifierTypesOfOneDescriptor()
{
    QFETCH(int, registered);
    QFETCH(int, action);
    QFETCH(int, fire);
    QFETCH(int, quiet);

    EpollThread worker;
    const int fired = worker.run([=] {
        TcpPair pair = tcpPair();
        if (pair.a < 0 || pair.b < 0)
            return -1;
        int result = 0;
        {
            QEventLoop loop;
            std::vector<std::unique_ptr<QSocketNotifier>> notifiers;
            for (const auto type :
                 {QSocketNotifier::Read, QSocketNotifier::Write, QSocketNotifier::Exception}) {
                if (!(registered & bitOf(type)))
                    continue;
                auto notifier = std::make_unique<QSocketNotifier>(pair.a, type);
                // Once is enough to know, and keeps level-triggered ones from spinning.
                QObject::connect(notifier.get(), &QSocketNotifier::activated, &loop,
                                 [&result, type, raw = notifier.get()] {
                                     result |= bitOf(type);
                                     raw->setEnabled(false);
                                 });
                notifiers.push_back(std::move(notifier));
            }
            switch (action) {
            case SendData:
                (void)::send(pair.b, "x", 1, 0);
                break;
            case SendUrgentData:
                (void)::send(pair.b, "!", 1, MSG_OOB);
                break;
            case ResetByPeer: {
                const linger abortive = {1, 0};
                ::setsockopt(pair.b, SOL_SOCKET, SO_LINGER, &abortive, sizeof abortive);
                ::close(pair.b);
                pair.b = -1;
                break;
            }
            case DisableThenSendData:
                for (const auto &notifier : notifiers)
                    notifier->setEnabled(false);
                (void)::send(pair.b, "!", 1, MSG_OOB);
                (void)::send(pair.b, "x", 1, 0);
                break;
            }
            // Wait for what must fire, and give what must not twenty turns.
            int turns = 0;
            QTimer turn;
            turn.setInterval(0);
            QObject::connect(&turn, &QTimer::timeout, &loop, [&] {
                if (++turns >= 20 && (result & fire) == fire)
                    loop.quit();
            });
            QTimer::singleShot(5000, &loop, &QEventLoop::quit);
            turn.start();
            loop.exec();
        }
        ::close(pair.a);
        if (pair.b >= 0)
            ::close(pair.b);
        return result;
    });

    QVERIFY(fired >= 0);
    QCOMPARE(fired & fire, fire);
    QCOMPARE(fired & quiet, 0);
}

// epoll_ctl() refuses regular files and /dev/null (EPERM); poll() calls
// them always readable, and so does the dispatcher, without blocking.
void TestEpollEventDispatcher::notifierOnAFileEpollRefusesIsAlwaysReady()
{
    struct Counts
    {
        int fired = 0;
        int watchedWhileEnabled = 0;
        int watchedAfterwards = -1;
    };
    EpollThread worker;
    const Counts counts = worker.run([&worker] {
        Counts result;
        QFile devNull(u"/dev/null"_s);
        if (!devNull.open(QIODevice::ReadOnly))
            return result;
        QEventLoop loop;
        auto *notifier = new QSocketNotifier(devNull.handle(), QSocketNotifier::Read, &loop);
        result.watchedWhileEnabled = worker.dispatcher()->watchedSocketCount();
        QObject::connect(notifier, &QSocketNotifier::activated, &loop, [&] {
            if (++result.fired == 3)
                loop.quit();
        });
        QTimer::singleShot(5000, &loop, &QEventLoop::quit);
        loop.exec();
        delete notifier;
        result.watchedAfterwards = worker.dispatcher()->watchedSocketCount();
        return result;
    });

    QCOMPARE(counts.fired, 3);
    QCOMPARE(counts.watchedWhileEnabled, 1);
    QCOMPARE(counts.watchedAfterwards, 0);
}

void TestEpollEventDispatcher::excludeFlagsHoldBackNotifiersOrTimers_data()
{
    QTest::addColumn<QEventLoop::ProcessEventsFlags>("flags");
    QTest::addColumn<bool>("notifierFires");
    QTest::addColumn<bool>("timerFires");

    QTest::addRow("all events") << QEventLoop::ProcessEventsFlags(QEventLoop::AllEvents) << true << true;
    QTest::addRow("exclude socket notifiers")
        << QEventLoop::ProcessEventsFlags(QEventLoop::ExcludeSocketNotifiers) << false << true;
    QTest::addRow("exclude timers") << QEventLoop::ProcessEventsFlags(QEventLoop::X11ExcludeTimers) << true
                                    << false;
}

void TestEpollEventDispatcher::excludeFlagsHoldBackNotifiersOrTimers()
{
    QFETCH(QEventLoop::ProcessEventsFlags, flags);
    QFETCH(bool, notifierFires);
    QFETCH(bool, timerFires);

    struct Counts
    {
        int notifier = 0;
        int timer = 0;
        int posted = 0;
    };
    EpollThread worker;
    const Counts counts = worker.run([&worker, flags] {
        Counts result;
        int fds[2];
        if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0)
            return result;
        {
            QSocketNotifier readable(fds[0], QSocketNotifier::Read);
            QObject::connect(&readable, &QSocketNotifier::activated, &readable, [&] { ++result.notifier; });
            QTimer zero;
            QObject::connect(&zero, &QTimer::timeout, &zero, [&] { ++result.timer; });
            zero.start(0);
            (void)::write(fds[1], "x", 1);
            QMetaObject::invokeMethod(
                worker.context(), [&] { ++result.posted; }, Qt::QueuedConnection);
            for (int i = 0; i < 10; ++i)
                worker.dispatcher()->processEvents(flags);
        }
        ::close(fds[0]);
        ::close(fds[1]);
        return result;
    });

    QCOMPARE(counts.notifier > 0, notifierFires);
    QCOMPARE(counts.timer > 0, timerFires);
    QCOMPARE(counts.posted, 1); // posted events go through whatever the flags
}

void TestEpollEventDispatcher::notifierRemovedBySlotOfAnotherInTheSameTurn_data()
{
    QTest::addColumn<int>("removal");

    QTest::addRow("deleted") << int(Delete);
    QTest::addRow("disabled") << int(Disable);
    QTest::addRow("deleted, descriptors closed and their numbers reused") << int(DeleteAndReuseDescriptors);
}

// Eight descriptors become readable together, so one wait reports them all;
// the first slot to run removes the other seven notifiers. None of those may
// be activated after that (under ASan a stale pointer would be a
// use-after-free), and notifiers put on reused descriptor numbers must not
// inherit the old readiness but fire for their own data.
void TestEpollEventDispatcher::notifierRemovedBySlotOfAnotherInTheSameTurn()
{
    QFETCH(int, removal);
    constexpr int Count = 8;

    struct Counts
    {
        int oldFired = 0;
        int newFired = 0;
        int reused = 0;
    };
    EpollThread worker;
    const Counts counts = worker.run([removal] {
        Counts result;
        struct Pair
        {
            int reader = -1;
            int writer = -1;
        };
        std::vector<Pair> pairs(Count);
        std::vector<QSocketNotifier *> notifiers(Count, nullptr);
        std::vector<QSocketNotifier *> fresh;
        const auto openPair = [](Pair *pair) {
            int fds[2];
            if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0)
                return false;
            *pair = {fds[0], fds[1]};
            return ::write(pair->writer, "x", 1) == 1;
        };
        QEventLoop loop;
        bool removed = false;
        for (int i = 0; i < Count; ++i) {
            if (!openPair(&pairs[i]))
                return result;
            notifiers[i] = new QSocketNotifier(pairs[i].reader, QSocketNotifier::Read);
            QObject::connect(notifiers[i], &QSocketNotifier::activated, &loop, [&, i] {
                ++result.oldFired;
                char byte;
                (void)::read(pairs[i].reader, &byte, 1); // quiet from now on
                if (std::exchange(removed, true))
                    return;
                for (int j = 0; j < Count; ++j) {
                    if (j == i)
                        continue;
                    if (removal == Disable) {
                        notifiers[j]->setEnabled(false);
                        continue;
                    }
                    delete std::exchange(notifiers[j], nullptr);
                    if (removal != DeleteAndReuseDescriptors)
                        continue;
                    const int oldReader = pairs[j].reader;
                    ::close(pairs[j].reader);
                    ::close(pairs[j].writer);
                    if (!openPair(&pairs[j]))
                        continue;
                    result.reused += pairs[j].reader == oldReader || pairs[j].writer == oldReader;
                    auto *notifier = new QSocketNotifier(pairs[j].reader, QSocketNotifier::Read);
                    QObject::connect(notifier, &QSocketNotifier::activated, &loop, [&, j] {
                        ++result.newFired;
                        char byte;
                        (void)::read(pairs[j].reader, &byte, 1);
                    });
                    fresh.push_back(notifier);
                }
            });
        }
        const int expectedNew = removal == DeleteAndReuseDescriptors ? Count - 1 : 0;
        int turns = 0;
        QTimer turn;
        turn.setInterval(0);
        QObject::connect(&turn, &QTimer::timeout, &loop, [&] {
            if (++turns >= 20 && result.newFired >= expectedNew)
                loop.quit();
        });
        QTimer::singleShot(5000, &loop, &QEventLoop::quit);
        turn.start();
        loop.exec();

        qDeleteAll(notifiers);
        qDeleteAll(fresh);
        for (const Pair &pair : pairs) {
            ::close(pair.reader);
            ::close(pair.writer);
        }
        return result;
    });

    QCOMPARE(counts.oldFired, 1);
    if (removal == DeleteAndReuseDescriptors) {
        QCOMPARE(counts.newFired, Count - 1);
        QVERIFY(counts.reused > 0); // the case is about reused numbers
    } else {
        QCOMPARE(counts.newFired, 0);
    }
}

// 200 QTcpSockets on one epoll thread against a QTcpServer on another, both
// ways through read and write notifiers; every tenth client aborts as soon as
// the echo starts, so descriptors close while others are ready.
void TestEpollEventDispatcher::tcpEchoWithTwoHundredClients()
{
    constexpr int Clients = 200;
    constexpr int PayloadBytes = 48 * 1024;
    std::atomic<int> serverOpen{0};
    std::atomic<int> verified{0};
    std::atomic<int> corrupted{0};
    std::atomic<int> aborted{0};
    std::atomic<int> clientsGone{0};
    EpollThread serverThread;
    EpollThread clientThread;

    const quint16 port = serverThread.run([&] {
        auto *server = new QTcpServer(serverThread.context());
        server->setListenBacklogSize(Clients);
        if (!server->listen(QHostAddress::LocalHost, 0))
            return quint16(0);
        QObject::connect(server, &QTcpServer::newConnection, server, [server, &serverOpen] {
            while (QTcpSocket *socket = server->nextPendingConnection()) {
                ++serverOpen;
                QObject::connect(socket, &QTcpSocket::readyRead, socket,
                                 [socket] { socket->write(socket->readAll()); });
                QObject::connect(socket, &QTcpSocket::disconnected, socket, &QObject::deleteLater);
                QObject::connect(socket, &QObject::destroyed, [&serverOpen] { --serverOpen; });
            }
        });
        return server->serverPort();
    });
    QVERIFY(port != 0);

    clientThread.run([&] {
        for (int i = 0; i < Clients; ++i) {
            auto *socket = new QTcpSocket(clientThread.context());
            const QByteArray payload = payloadFor(i, PayloadBytes);
            const bool abortsEarly = i % 10 == 0;
            auto received = std::make_shared<QByteArray>();
            QObject::connect(socket, &QTcpSocket::connected, socket,
                             [socket, payload] { socket->write(payload); });
            QObject::connect(socket, &QTcpSocket::readyRead, socket, [=, &verified, &corrupted, &aborted] {
                received->append(socket->readAll());
                if (abortsEarly) {
                    ++aborted;
                    socket->abort();
                    socket->deleteLater();
                    return;
                }
                if (received->size() < payload.size())
                    return;
                if (*received == payload)
                    ++verified;
                else
                    ++corrupted;
                socket->disconnectFromHost();
            });
            QObject::connect(socket, &QTcpSocket::disconnected, socket, &QObject::deleteLater);
            QObject::connect(socket, &QObject::destroyed, [&clientsGone] { ++clientsGone; });
            socket->connectToHost(QHostAddress::LocalHost, port);
        }
    });

    QTRY_COMPARE_WITH_TIMEOUT(verified.load() + corrupted.load() + aborted.load(), Clients, 60000);
    QCOMPARE(corrupted.load(), 0);
    QCOMPARE(aborted.load(), Clients / 10);
    QCOMPARE(verified.load(), Clients - Clients / 10);
    QTRY_COMPARE_WITH_TIMEOUT(clientsGone.load(), Clients, 30000);
    QTRY_COMPARE_WITH_TIMEOUT(serverOpen.load(), 0, 30000); // every server socket saw its client go
}

void TestEpollEventDispatcher::webSocketEchoBetweenEpollThreads()
{
    constexpr int Clients = 20;
    std::atomic<int> echoed{0};
    EpollThread serverThread;
    EpollThread clientThread;

    const quint16 port = serverThread.run([&] {
        auto *server = new QWebSocketServer(u"tst_epolleventdispatcher"_s, QWebSocketServer::NonSecureMode,
                                            serverThread.context());
        if (!server->listen(QHostAddress::LocalHost, 0))
            return quint16(0);
        QObject::connect(server, &QWebSocketServer::newConnection, server, [server] {
            while (QWebSocket *socket = server->nextPendingConnection()) {
                QObject::connect(socket, &QWebSocket::textMessageReceived, socket,
                                 [socket](const QString &message) { socket->sendTextMessage(message); });
                QObject::connect(socket, &QWebSocket::disconnected, socket, &QObject::deleteLater);
            }
        });
        return server->serverPort();
    });
    QVERIFY(port != 0);

    clientThread.run([&] {
        for (int i = 0; i < Clients; ++i) {
            auto *socket =
                new QWebSocket(QString(), QWebSocketProtocol::VersionLatest, clientThread.context());
            const QString text = u"hello %1"_s.arg(i);
            QObject::connect(socket, &QWebSocket::connected, socket,
                             [socket, text] { socket->sendTextMessage(text); });
            QObject::connect(socket, &QWebSocket::textMessageReceived, socket,
                             [socket, text, &echoed](const QString &message) {
                                 if (message == text)
                                     ++echoed;
                                 socket->close();
                             });
            socket->open(QUrl(u"ws://127.0.0.1:%1/"_s.arg(port)));
        }
    });

    QTRY_COMPARE_WITH_TIMEOUT(echoed.load(), Clients, 30000);
}

void TestEpollEventDispatcher::deleteLaterIsProcessed_data()
{
    QTest::addColumn<bool>("fromTimer");

    QTest::addRow("from a queued call") << false;
    QTest::addRow("from a timer") << true;
}

// The thread is otherwise idle: the deferred delete alone must end its wait.
void TestEpollEventDispatcher::deleteLaterIsProcessed()
{
    QFETCH(bool, fromTimer);

    std::atomic<bool> destroyed{false};
    EpollThread worker;
    worker.run([&] {
        auto *object = new QObject;
        QObject::connect(object, &QObject::destroyed, [&destroyed] { destroyed = true; });
        if (fromTimer)
            QTimer::singleShot(10, object, [object] { object->deleteLater(); });
        else
            object->deleteLater();
    });
    QTRY_VERIFY_WITH_TIMEOUT(destroyed.load(), 5000);
}

void TestEpollEventDispatcher::nestedEventLoopsRunAndReturn()
{
    struct Result
    {
        int depth = 0;
        int ticks = 0;
        bool reentered = false;
    };
    EpollThread worker;
    const Result result = worker.run([] {
        Result r;
        QEventLoop outer;
        QTimer tick;
        tick.setTimerType(Qt::PreciseTimer);
        bool inTick = false;
        QObject::connect(&tick, &QTimer::timeout, &outer, [&] {
            r.reentered = r.reentered || inTick;
            if (++r.ticks != 1)
                return;
            // A nested loop inside the timer's own handler, and another inside
            // that; the timer itself must not fire again until it returns.
            inTick = true;
            QEventLoop inner;
            r.depth = 1;
            int innerTicks = 0;
            QTimer other;
            QObject::connect(&other, &QTimer::timeout, &inner, [&] {
                if (++innerTicks != 5)
                    return;
                QEventLoop innermost;
                r.depth = 2;
                QTimer::singleShot(20, &innermost, &QEventLoop::quit);
                innermost.exec();
                inner.quit();
            });
            other.start(5);
            inner.exec();
            inTick = false;
        });
        QTimer::singleShot(300, Qt::PreciseTimer, &outer, &QEventLoop::quit);
        tick.start(5);
        outer.exec();
        return r;
    });

    QCOMPARE(result.depth, 2);
    QVERIFY(!result.reentered);
    QVERIFY2(result.ticks >= 2, "the timer runs again once its handler returned");
    QVERIFY(worker.run([] { return true; })); // and the thread's own loop still serves calls
}

void TestEpollEventDispatcher::quitEndsTheThreadWhileItWaits()
{
    int fds[2];
    QCOMPARE(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds), 0);
    {
        EpollThread worker;
        worker.run([&] {
            // Something to wait for, and nothing that will come soon.
            auto *timer = new QTimer(worker.context());
            timer->start(60000);
            new QSocketNotifier(fds[0], QSocketNotifier::Read, worker.context());
        });
        worker.thread()->quit();
        QVERIFY(worker.thread()->wait(10000));
    }
    ::close(fds[0]);
    ::close(fds[1]);
}

// 5,000 idle connections registered with the dispatcher and one active echo
// pair: each turn of the echo must see the active socket, not the idle ones.
// lastReadyCount() is what epoll_wait reported; poll() would have been handed
// every descriptor each time.
void TestEpollEventDispatcher::idleConnectionsAreNotVisitedEachTurn()
{
    constexpr int Idle = 5000;
    constexpr int RoundTrips = 200;
    std::atomic<int> accepted{0};
    std::atomic<bool> sampling{false};
    std::atomic<int> turns{0};
    std::atomic<int> mostReady{0};
    std::atomic<int> watched{0};
    std::vector<int> clients;
    EpollThread worker;

    const quint16 port = worker.run([&] {
        auto *server = new QTcpServer(worker.context());
        server->setListenBacklogSize(1024);
        if (!server->listen(QHostAddress::LocalHost, 0))
            return quint16(0);
        QObject::connect(server, &QTcpServer::newConnection, server, [server, &accepted] {
            while (QTcpSocket *socket = server->nextPendingConnection()) {
                ++accepted;
                QObject::connect(socket, &QTcpSocket::readyRead, socket,
                                 [socket] { socket->write(socket->readAll()); });
            }
        });
        // aboutToBlock: the previous turn is over, its wait's figure is final.
        EpollEventDispatcher *dispatcher = worker.dispatcher();
        QObject::connect(dispatcher, &QAbstractEventDispatcher::aboutToBlock, server, [&, dispatcher] {
            if (!sampling)
                return;
            ++turns;
            mostReady = std::max(mostReady.load(), dispatcher->lastReadyCount());
            watched = std::max(watched.load(), dispatcher->watchedSocketCount());
        });
        return server->serverPort();
    });
    QVERIFY(port != 0);

    const auto closeClients = qScopeGuard([&clients] {
        for (const int fd : clients)
            ::close(fd);
    });
    for (int batch = 0; batch < Idle; batch += 500) {
        for (int i = batch; i < std::min(Idle, batch + 500); ++i) {
            const int fd = connectTo(port);
            QVERIFY(fd >= 0);
            clients.push_back(fd);
        }
        QTRY_COMPARE_WITH_TIMEOUT(accepted.load(), int(clients.size()), 30000);
    }
    const int active = connectTo(port);
    QVERIFY(active >= 0);
    clients.push_back(active);
    QTRY_COMPARE_WITH_TIMEOUT(accepted.load(), Idle + 1, 30000);
    const int one = 1;
    ::setsockopt(active, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);

    sampling = true;
    for (int i = 0; i < RoundTrips; ++i) {
        char message[16];
        std::fill(std::begin(message), std::end(message), char('a' + i % 26));
        QCOMPARE(::send(active, message, sizeof message, 0), ssize_t(sizeof message));
        char echo[sizeof message];
        QVERIFY(readExactly(active, echo, sizeof echo, 10000));
        QVERIFY(std::equal(std::begin(message), std::end(message), std::begin(echo)));
    }
    worker.run([] {}); // one more turn, so that the last round trip's turn is counted
    sampling = false;

    QVERIFY2(watched >= Idle + 1, qPrintable(u"%1 sockets watched"_s.arg(watched.load())));
    QVERIFY2(turns >= RoundTrips, qPrintable(u"%1 turns"_s.arg(turns.load())));
    // The active socket, and the eventfd when a call was queued.
    QVERIFY2(mostReady <= 2, qPrintable(u"a turn saw %1 ready descriptors"_s.arg(mostReady.load())));
}

QTEST_GUILESS_MAIN(TestEpollEventDispatcher)
#include "tst_epolleventdispatcher.moc"
