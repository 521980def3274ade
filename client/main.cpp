// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 BFG developers
//
// bfg-probe: the BFG QA client and load driver. See `bfg-probe --help`.
// With --gui it hands over to the window (client/gui) when it was built in.
#include <csignal>
#include <cstdio>

#include <QCoreApplication>
#include <QLoggingCategory>
#include <QStringList>
#include <QTimer>

#include "client/probe.h"
#include "client/probeoptions.h"
#include "client/signalwatcher.h"
#include "common/eventloop/epolleventdispatcher.h"
#ifdef BFG_PROBE_GUI
#include "client/gui/probegui.h"
#endif

using namespace Qt::Literals::StringLiterals;

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
    if (options.gui) {
#ifdef BFG_PROBE_GUI
        // A QApplication, on Qt's default event dispatcher (it drives the window system too).
        return bfg::probe::runProbeGui(argc, argv, options);
#else
        std::fprintf(stderr, "bfg-probe: --gui: this bfg-probe was built without its GUI "
                             "(configure with -DBFG_BUILD_CONSOLE=ON, which needs Qt Widgets and Charts)\n");
        return 2;
#endif
    }
    // Qt's default dispatcher polls every socket on every wake; with thousands of users
    // that was most of the probe's CPU. The application takes ownership.
    if (options.eventLoop == u"epoll"_s)
        QCoreApplication::setEventDispatcher(new bfg::EpollEventDispatcher);
    QCoreApplication app(argc, argv);

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
