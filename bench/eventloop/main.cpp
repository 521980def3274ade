// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 BFG developers
//
// bfg-bench-eventloop: what idle sockets cost an event loop (issue 6). The
// main thread, on the dispatcher named by --dispatcher (glib: Qt's default;
// unix: Qt's poll() one, QT_NO_GLIB=1; epoll: bfg::EpollEventDispatcher set
// for the whole application), accepts --idle connections that never send
// anything and one active connection it echoes. A client thread opens them
// over 127.0.0.1 with plain blocking sockets, then plays ping-pong on the
// active one for --seconds. Prints the accept rate while the idle sockets
// pile up, round trips a second, and the server thread's CPU time per round
// trip.
// Counts and time are bounded: at most 9,900 idle sockets (two descriptors
// each, under a 20,000 open-file limit), at most 60 s of ping-pong.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <thread>
#include <vector>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <QAbstractEventDispatcher>
#include <QCommandLineParser>
#include <QCoreApplication>
#include <QTcpServer>
#include <QTcpSocket>
#include <QTimer>

#include "common/eventloop/epolleventdispatcher.h"

using namespace Qt::Literals::StringLiterals;

namespace {

constexpr int MaxIdle = 9900;
constexpr int MaxSeconds = 60;
constexpr int MessageBytes = 64;

double cpuSeconds(int who)
{
    rusage usage = {};
    getrusage(who, &usage);
    return double(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) +
           double(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6;
}

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

bool roundTrip(int fd)
{
    char message[MessageBytes] = {};
    if (::send(fd, message, sizeof message, 0) != ssize_t(sizeof message))
        return false;
    int got = 0;
    while (got < MessageBytes) {
        pollfd readable = {fd, POLLIN, 0};
        if (::poll(&readable, 1, 10000) != 1)
            return false;
        const ssize_t n = ::recv(fd, message + got, size_t(MessageBytes - got), 0);
        if (n <= 0)
            return false;
        got += int(n);
    }
    return true;
}

struct Result
{
    bool ok = false;
    double acceptPerSecond = 0;
    long roundTrips = 0;
    double seconds = 0;
    double serverCpu = 0; // over the ping-pong: the process but the client thread
};

// The client thread: idle connections first, then ping-pong on one more.
void runClient(quint16 port, int idle, int seconds, const std::atomic<int> &accepted, Result *result)
{
    using Clock = std::chrono::steady_clock;
    std::vector<int> fds;
    fds.reserve(size_t(idle) + 1);
    const auto waitAccepted = [&accepted](int count) {
        const auto deadline = Clock::now() + std::chrono::seconds(60);
        while (accepted.load() < count && Clock::now() < deadline)
            std::this_thread::sleep_for(std::chrono::milliseconds(1));
        return accepted.load() >= count;
    };

    const auto rampStart = Clock::now();
    bool ok = true;
    for (int i = 0; ok && i < idle; ++i) {
        const int fd = connectTo(port);
        ok = fd >= 0;
        if (ok)
            fds.push_back(fd);
        if (ok && fds.size() % 500 == 0) // keep well inside the listen backlog
            ok = waitAccepted(int(fds.size()));
    }
    ok = ok && waitAccepted(idle);
    const double rampSeconds = std::chrono::duration<double>(Clock::now() - rampStart).count();

    const int active = ok ? connectTo(port) : -1;
    ok = active >= 0 && waitAccepted(idle + 1);
    if (ok) {
        fds.push_back(active);
        const int one = 1;
        ::setsockopt(active, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        for (int i = 0; ok && i < 1000; ++i) // warm-up
            ok = roundTrip(active);
    }
    if (ok) {
        const double clientCpuBefore = cpuSeconds(RUSAGE_THREAD);
        const double processCpuBefore = cpuSeconds(RUSAGE_SELF);
        const auto start = Clock::now();
        const auto end = start + std::chrono::seconds(seconds);
        long trips = 0;
        while (ok && Clock::now() < end) {
            for (int i = 0; ok && i < 100; ++i)
                ok = roundTrip(active);
            trips += 100;
        }
        result->seconds = std::chrono::duration<double>(Clock::now() - start).count();
        result->serverCpu =
            (cpuSeconds(RUSAGE_SELF) - processCpuBefore) - (cpuSeconds(RUSAGE_THREAD) - clientCpuBefore);
        result->roundTrips = trips;
    }
    result->ok = ok;
    result->acceptPerSecond = rampSeconds > 0 ? idle / rampSeconds : 0;
    for (const int fd : fds)
        ::close(fd);
}

} // namespace

int main(int argc, char *argv[])
{
    QStringList arguments;
    for (int i = 0; i < argc; ++i)
        arguments.append(QString::fromLocal8Bit(argv[i]));
    QCoreApplication::setApplicationName(u"bfg-bench-eventloop"_s);
    QCommandLineParser parser;
    parser.setApplicationDescription(u"Echo round trips with idle sockets on one event loop."_s);
    parser.addHelpOption();
    const QCommandLineOption dispatcherOption(u"dispatcher"_s, u"glib, unix or epoll (default epoll)."_s,
                                              u"name"_s, u"epoll"_s);
    const QCommandLineOption idleOption(u"idle"_s, u"Idle connections (default 5000, at most 9900)."_s,
                                        u"count"_s, u"5000"_s);
    const QCommandLineOption secondsOption(u"seconds"_s, u"Ping-pong duration (default 5, at most 60)."_s,
                                           u"s"_s, u"5"_s);
    parser.addOptions({dispatcherOption, idleOption, secondsOption});
    parser.parse(arguments);
    if (parser.isSet(u"help"_s)) {
        std::fputs(qPrintable(parser.helpText()), stdout);
        return 0;
    }
    const QString dispatcher = parser.value(dispatcherOption);
    const int idle = std::clamp(parser.value(idleOption).toInt(), 0, MaxIdle);
    const int seconds = std::clamp(parser.value(secondsOption).toInt(), 1, MaxSeconds);

    // Both have to be decided before the application object exists.
    if (dispatcher == u"unix"_s)
        qputenv("QT_NO_GLIB", "1");
    else if (dispatcher == u"epoll"_s)
        QCoreApplication::setEventDispatcher(new bfg::EpollEventDispatcher);
    else if (dispatcher != u"glib"_s) {
        std::fprintf(stderr, "bfg-bench-eventloop: --dispatcher glib, unix or epoll\n");
        return 2;
    }
    QCoreApplication app(argc, argv);

    std::atomic<int> accepted{0};
    QTcpServer server;
    server.setListenBacklogSize(4096);
    if (!server.listen(QHostAddress::LocalHost, 0)) {
        std::fprintf(stderr, "bfg-bench-eventloop: listen: %s\n", qPrintable(server.errorString()));
        return 1;
    }
    QObject::connect(&server, &QTcpServer::newConnection, &server, [&server, &accepted] {
        while (QTcpSocket *socket = server.nextPendingConnection()) {
            ++accepted;
            QObject::connect(socket, &QTcpSocket::readyRead, socket,
                             [socket] { socket->write(socket->readAll()); });
            QObject::connect(socket, &QTcpSocket::disconnected, socket, &QObject::deleteLater);
        }
    });

    Result result;
    std::thread client([&] {
        runClient(server.serverPort(), idle, seconds, accepted, &result);
        QMetaObject::invokeMethod(&app, &QCoreApplication::quit, Qt::QueuedConnection);
    });
    QTimer::singleShot(std::chrono::seconds(3 * 60 + seconds), &app, [] {
        std::fprintf(stderr, "bfg-bench-eventloop: gave up\n");
        std::_Exit(1);
    });
    app.exec();
    client.join();

    if (!result.ok) {
        std::fprintf(stderr, "bfg-bench-eventloop: a connection or round trip failed\n");
        return 1;
    }
    const double perSecond = double(result.roundTrips) / result.seconds;
    std::printf("%-5s (%s) idle=%-5d accept/s=%-6.0f round_trips/s=%-6.0f us/round_trip=%-6.1f "
                "server_cpu_us/round_trip=%.1f\n",
                qPrintable(dispatcher), QAbstractEventDispatcher::instance()->metaObject()->className(), idle,
                result.acceptPerSecond, perSecond, 1e6 / perSecond,
                1e6 * result.serverCpu / double(result.roundTrips));
    return 0;
}
