// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 BFG developers
//
// bfg-probe: the BFG QA client and load driver. See `bfg-probe --help`.
// With --gui it hands over to bfg-probe-gui (client/gui), installed next to
// it: bfg-probe itself links no GUI library, so it runs on headless load
// machines.
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>

#include <unistd.h>

#include <QCoreApplication>
#include <QLoggingCategory>
#include <QStringList>
#include <QTimer>

#include "client/merge.h"
#include "client/probe.h"
#include "client/probeoptions.h"
#include "client/signalwatcher.h"
#include "common/eventloop/epolleventdispatcher.h"

using namespace Qt::Literals::StringLiterals;

namespace {
// Replaces this process with bfg-probe-gui from this program's directory,
// with the same arguments; returns 2 with a message when that fails.
int startGui(char *argv[])
{
    char self[4096];
    const ssize_t length = readlink("/proc/self/exe", self, sizeof self - 1);
    QByteArray gui = length > 0 ? QByteArray(self, int(length)) : QByteArray(argv[0]);
    gui = gui.left(gui.lastIndexOf('/') + 1) + "bfg-probe-gui";
    argv[0] = gui.data();
    execv(gui.constData(), argv);
    std::fprintf(stderr,
                 "bfg-probe: --gui: cannot start %s: %s (the window is bfg-probe-gui: install the "
                 "bfg-probe-gui package, or build with -DBFG_BUILD_CONSOLE=ON, which needs Qt Widgets "
                 "and Charts)\n",
                 gui.constData(), std::strerror(errno));
    return 2;
}
} // namespace

int main(int argc, char *argv[])
{
    QCoreApplication::setApplicationName(u"bfg-probe"_s);
    QCoreApplication::setApplicationVersion(QStringLiteral(BFG_VERSION));
    qSetMessagePattern(u"bfg-probe: %{if-warning}warning: %{endif}%{if-critical}error: %{endif}%{message}"_s);

    // Parsed before the application object exists: the main thread's event dispatcher
    // can only be chosen before then.
    QStringList arguments;
    arguments.reserve(argc);
    for (int i = 0; i < argc; ++i)
        arguments.append(QString::fromLocal8Bit(argv[i]));
    bfg::probe::ProbeOptions options;
    QString error;
    if (!bfg::probe::ProbeOptions::parse(arguments, &options, &error)) {
        std::fprintf(stderr, "bfg-probe: %s\nTry 'bfg-probe --help' for more information.\n",
                     qPrintable(error));
        return 2;
    }
    if (options.gui)
        return startGui(argv); // returns only if it cannot
    if (options.command == bfg::probe::ProbeOptions::Command::Merge) {
        QCoreApplication app(argc, argv);
        return bfg::probe::mergeResults(options.mergeFiles, options.jsonPath);
    }
    // Qt's default dispatcher polls every socket on every wake; with thousands of users
    // that was most of the probe's CPU. The application takes ownership.
    if (options.eventLoop == u"epoll"_s)
        QCoreApplication::setEventDispatcher(new bfg::EpollEventDispatcher);
    QCoreApplication app(argc, argv);
    if (!options.applyTls(&error)) {
        std::fprintf(stderr, "bfg-probe: %s\n", qPrintable(error));
        return 2;
    }

    // Per-connection events of hundreds of clients would drown the progress lines; the
    // summary counts them. QT_LOGGING_RULES still overrides this.
    QLoggingCategory::setFilterRules(options.quiet ? u"bfg.*.info=false"_s : u"bfg.client.info=false"_s);

    bfg::probe::Probe probe(options);
    bfg::probe::SignalWatcher signalWatcher({SIGINT, SIGTERM});
    QObject::connect(&signalWatcher, &bfg::probe::SignalWatcher::signalReceived, &probe,
                     [&probe](int) { probe.interrupt(); });
    // Exit from the next loop iteration, so that the close frames just queued get written.
    QObject::connect(&probe, &bfg::probe::Probe::finished, &app, &QCoreApplication::exit,
                     Qt::QueuedConnection);
    QTimer::singleShot(0, &probe, &bfg::probe::Probe::start);
    return QCoreApplication::exec();
}
