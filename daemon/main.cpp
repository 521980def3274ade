// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 BFG developers
//
// bfgd: parses its options, builds the roles it was asked for and runs the
// event loop in the foreground until SIGINT or SIGTERM, or under the Windows
// Service Control Manager until it says stop (daemon/service/); SIGHUP
// reloads the configuration. Under systemd it reports its state
// (ServiceNotifier).
#include <csignal>
#include <initializer_list>
#include <sys/socket.h>
#include <unistd.h>

#include <QCommandLineParser>
#include <QCoreApplication>
#include <QHostInfo>
#include <QLocale>
#include <QLoggingCategory>
#include <QSocketNotifier>
#ifdef Q_OS_WIN
#include <QFileInfo>
#include <QTimer>
#include <QWinEventNotifier>
#endif

#include "common/clienttls.h"
#include "common/logging.h"
#include "common/protocol.h"
#include "common/token.h"
#include "daemon/broker/localbroker.h"
#include "daemon/broker/redisbroker.h"
#include "daemon/decision/decisionserver.h"
#include "daemon/manual.h"
#include "daemon/push/pushserver.h"
#include "daemon/service/servicenotifier.h"
#include "daemon/settings.h"
#ifdef Q_OS_WIN
#include "daemon/service/windowsservice.h"
#endif

using namespace Qt::Literals::StringLiterals;

namespace {

int signalPipe[2] = {-1, -1};

#ifdef Q_OS_WIN
// Set when the Service Control Manager started bfgd (--service).
bfg::windowsservice::Status *windowsService = nullptr;
// While the push role drains, the SCM hears of progress every second and
// calls the service hung only after this long without it.
constexpr unsigned StopWaitHintMs = 5000;
#endif

void onSignal(int signal)
{
    const char byte = char(signal);
    [[maybe_unused]] const ssize_t written = ::write(signalPipe[0], &byte, 1);
}

// The async-signal-safe way: the handler only writes the signal's number;
// the event loop reads it and acts on it in order.
void installSignalPipe(QObject *context, std::function<void(int)> onSignalled)
{
    if (::socketpair(AF_UNIX, SOCK_STREAM, 0, signalPipe) != 0)
        qFatal("socketpair failed");
    auto *notifier = new QSocketNotifier(qintptr(signalPipe[1]), QSocketNotifier::Read, context);
    QObject::connect(notifier, &QSocketNotifier::activated, context, [onSignalled] {
        char byte;
        if (::read(signalPipe[1], &byte, 1) == 1)
            onSignalled(int(byte));
    });
    std::signal(SIGPIPE, SIG_IGN);
}

// From now on `signals` go through the pipe to the event loop.
void catchSignals(std::initializer_list<int> signals)
{
    struct sigaction action = {};
    action.sa_handler = onSignal;
    sigemptyset(&action.sa_mask);
    action.sa_flags = SA_RESTART;
    for (const int signal : signals)
        sigaction(signal, &action, nullptr);
}

// The service status: "push: 12,345 connections, draining; decision: 3 nodes, ...".
QString serviceStatus(const bfg::DecisionServer *decision, const bfg::PushServer *push)
{
    const QLocale english(QLocale::English);
    QStringList parts;
    if (push) {
        const int connections = push->stats().connections.load();
        QString line = u"push: %1 %2"_s.arg(english.toString(connections),
                                            connections == 1 ? u"connection"_s : u"connections"_s);
        if (push->state() == bfg::v1::NODE_DRAINING)
            line += u", draining"_s;
        else if (push->state() == bfg::v1::NODE_DRAINED)
            line += u", drained"_s;
        parts.append(line);
    }
    if (decision)
        parts.append(u"decision: %1 nodes, %2 taking clients, allowed load %3%"_s.arg(decision->nodeCount())
                         .arg(decision->eligibleNodeCount())
                         .arg(decision->allowedLoadPercent()));
    return parts.join(u"; "_s);
}

// SIGHUP: reads the configuration again, from the file and the flags bfgd
// started with, and applies what can change while running. One line says
// what was applied, a warning names the changes that wait for a restart. A
// configuration that does not load is refused whole: nothing changes.
void reload(const QString &configPath, const QStringList &overrides, bfg::DaemonSettings *running,
            bfg::DecisionServer *decision, bfg::PushServer *push)
{
    const QString source = configPath.isEmpty() ? u"the command line"_s : configPath;
    auto refuse = [&source](const QString &error) {
        qCWarning(lcMain).noquote() << "reload of" << source
                                    << "refused, the running settings stay:" << error;
    };
    bfg::DaemonSettings fresh;
    QString error;
    if (!bfg::DaemonSettings::load(configPath, overrides, &fresh, &error)) {
        refuse(error);
        return;
    }
    // A new data_dir waits for a restart: nothing is created there meanwhile.
    fresh.dataDir = running->dataDir;
    if (!fresh.loadSecret(&error)) {
        refuse(error);
        return;
    }
    const bfg::DaemonSettings::Changes changes = running->changesTo(fresh);
    if (decision && !decision->reconfigure(fresh.decision, &error)) {
        refuse(u"decision store: "_s + error);
        return;
    }
    if (push)
        push->reconfigure(fresh.push);
    if (fresh.logRules != running->logRules)
        QLoggingCategory::setFilterRules(QString(fresh.logRules).replace(u',', u'\n'));
    running->takeLiveSettings(fresh);
    qCInfo(lcMain).noquote() << "reloaded" << source << "-"
                             << (changes.live.isEmpty() ? u"nothing to apply"_s
                                                        : u"applied: "_s + changes.live.join(u", "_s));
    if (!changes.needRestart.isEmpty())
        qCWarning(lcMain).noquote() << "reload: changed in" << source << "but in effect only after a restart:"
                                    << changes.needRestart.join(u", "_s);
}

// bfgd --issue-token: a long-lived token for a backend; empty with `error` set on bad input.
QByteArray issueToken(const QString &scope, const QString &subject, const QString &streams,
                      const QString &days, const QByteArray &secret, QString *error)
{
    using bfg::TokenSigner;
    const bool admin = scope == TokenSigner::AdminReadScope || scope == TokenSigner::AdminWriteScope;
    if (scope != TokenSigner::PublishScope && !admin) {
        *error = u"unknown scope \"%1\" (publish, admin:read or admin:write)"_s.arg(scope);
        return {};
    }
    bfg::TokenClaims claims;
    claims.scope = scope;
    claims.subject = subject.isEmpty() ? (admin ? u"admin"_s : u"backend"_s) : subject.trimmed();
    if (admin && !streams.isEmpty()) {
        *error = u"--token-streams is for publish tokens; an admin token covers the whole admin API"_s;
        return {};
    }
    for (const QString &entry : streams.split(u',', Qt::SkipEmptyParts)) {
        const QString stream = entry.trimmed();
        if (!bfg::protocol::isValidStreamName(stream) && !bfg::TokenSigner::isValidPattern(stream, true)) {
            *error = u"--token-streams: \"%1\" is neither a stream nor a pattern kind:prefix*"_s.arg(stream);
            return {};
        }
        claims.streams.append(stream);
    }
    if (!admin && claims.streams.isEmpty()) {
        *error = u"name the streams it may publish to with --token-streams (e.g. user:*,room:*)"_s;
        return {};
    }
    bool ok = true;
    const int lifetimeDays = days.isEmpty() ? 365 : days.toInt(&ok);
    if (!ok || lifetimeDays < 1 || lifetimeDays > 3650) {
        *error = u"--token-days: expected 1 to 3650, got \"%1\""_s.arg(days);
        return {};
    }
    claims.issuedAt = bfg::protocol::nowMs() / 1000;
    claims.expiresAt = claims.issuedAt + qint64(lifetimeDays) * 86400;
    return bfg::TokenSigner(secret).sign(claims);
}

int runDaemon(int argc, char *argv[])
{
    QCoreApplication app(argc, argv);
    QCoreApplication::setApplicationName(u"bfgd"_s);
    QCoreApplication::setApplicationVersion(QStringLiteral(BFG_VERSION));
    bfg::installLogfmtHandler(); // one logfmt line per event, journald-aware

    // --help prints the manual (daemon/manual.cpp), not QCommandLineParser's list.
    QCommandLineParser parser;
    const QCommandLineOption helpOption({u"h"_s, u"help"_s}, u"Print this manual and exit."_s);
    const QCommandLineOption versionOption({u"v"_s, u"version"_s}, u"Print \"bfgd VERSION\" and exit."_s);
    const QCommandLineOption configOption(
        u"config"_s,
        u"INI configuration file (the package's is /etc/bfg/bfgd.conf). Without it, the built-in defaults "
        "and the flags."_s,
        u"file"_s);
    const QCommandLineOption roleOption(
        u"role"_s, u"Roles to run: decision, push or decision,push (default)."_s, u"roles"_s);
    const QCommandLineOption dataDirOption(u"data-dir"_s,
                                           u"Directory for the SQLite stores and the generated token secret "
                                           "(general/data_dir; default ~/.local/share/bfgd)."_s,
                                           u"dir"_s);
    const QCommandLineOption decisionListenOption(
        u"decision-listen"_s,
        u"Decision HTTP address (decision/listen; default 127.0.0.1:8080; port 0: any)."_s, u"addr:port"_s);
    const QCommandLineOption pushListenOption(
        u"push-listen"_s, u"WebSocket address of the push role (push/listen; default 127.0.0.1:8081)."_s,
        u"addr:port"_s);
    const QCommandLineOption publishListenOption(
        u"publish-listen"_s,
        u"Publish API address of the push role (push/publish_listen; default 127.0.0.1:8082)."_s,
        u"addr:port"_s);
    const QCommandLineOption decisionUrlOption(u"decision-url"_s,
                                               u"Decision servers a push node reports to, comma-separated "
                                               u"(push/decision_urls; default: the decision "
                                               "role in this process)."_s,
                                               u"urls"_s);
    const QCommandLineOption nodeIdOption(
        u"node-id"_s, u"This push node's id (push/node_id; default <hostname>-<port>)."_s, u"id"_s);
    const QCommandLineOption setOption(
        u"set"_s, u"Set any key, e.g. --set broker/history_size=500 (repeatable)."_s, u"section/key=value"_s);
    const QCommandLineOption printConfigOption(u"print-config"_s,
                                               u"Print the effective configuration and exit."_s);
    const QCommandLineOption issueTokenOption(
        u"issue-token"_s,
        u"Print a long-lived token signed with this configuration's general/secret and exit. Scope "
        "publish: a backend's credential for the publish API (Authorization: Bearer <token>), limited "
        "to --token-streams. Scope admin:read or admin:write: an operator's credential for the admin "
        "API, reading only or also changing (allowed load, drain, capacity); the audit log names it "
        "token:<subject>."_s,
        u"scope"_s);
    const QCommandLineOption tokenSubjectOption(
        u"token-subject"_s,
        u"With --issue-token: who the token is for, e.g. a backend's name (default backend)."_s, u"name"_s);
    const QCommandLineOption tokenStreamsOption(
        u"token-streams"_s,
        u"With --issue-token publish: the streams it may publish to, comma separated; a stream name or a "
        "pattern kind:prefix* (user:* for every user's personal stream). Required."_s,
        u"streams"_s);
    const QCommandLineOption tokenDaysOption(
        u"token-days"_s, u"With --issue-token: days until the token expires, 1 to 3650 (default 365)."_s,
        u"days"_s);
    QList<QCommandLineOption> options{configOption,         roleOption,       dataDirOption,
                                      decisionListenOption, pushListenOption, publishListenOption,
                                      decisionUrlOption,    nodeIdOption,     setOption,
                                      printConfigOption,    issueTokenOption, tokenSubjectOption,
                                      tokenStreamsOption,   tokenDaysOption};
#ifdef Q_OS_WIN
    const QCommandLineOption installServiceOption(
        u"install-service"_s,
        u"Register bfgd as the Windows service \"bfgd\" and exit: it starts with the system (account "
        "LocalService) as bfgd --service --config FILE, and restarts after a failure. Settings go in the "
        "--config file; other flags are refused. Needs an elevated prompt."_s);
    const QCommandLineOption uninstallServiceOption(
        u"uninstall-service"_s,
        u"Remove the Windows service \"bfgd\" and exit; a running one goes once stopped (sc stop bfgd)."_s);
    const QCommandLineOption serviceOption(
        u"service"_s, u"Run under the Windows Service Control Manager: the command line the service is "
                      "started with, not for a console."_s);
    options += {installServiceOption, uninstallServiceOption, serviceOption};
#endif
    options += {helpOption, versionOption};
    parser.addOptions(options);
    if (!parser.parse(QCoreApplication::arguments())) {
        QString problem = parser.errorText();
        if (problem.endsWith(u'.'))
            problem.chop(1);
        fprintf(stderr, "bfgd: %s (see --help)\n", qPrintable(problem));
        return 2;
    }
    if (parser.isSet(helpOption)) {
        bfg::DaemonSettings defaults;
        QString ignored;
        bfg::DaemonSettings::load(QString(), {}, &defaults, &ignored);
        fputs(qPrintable(bfg::daemonManual(options, defaults.effective)), stdout);
        return 0;
    }
    if (parser.isSet(versionOption)) {
        printf("bfgd %s\n", BFG_VERSION);
        return 0;
    }
    if (!parser.positionalArguments().isEmpty()) {
        fprintf(stderr, "bfgd: unexpected argument %s (see --help)\n",
                qPrintable(parser.positionalArguments().first()));
        return 2;
    }

    QStringList overrides;
    const std::pair<const QCommandLineOption &, QString> named[] = {
        {roleOption, u"general/roles"_s},
        {dataDirOption, u"general/data_dir"_s},
        {decisionListenOption, u"decision/listen"_s},
        {pushListenOption, u"push/listen"_s},
        {publishListenOption, u"push/publish_listen"_s},
        {decisionUrlOption, u"push/decision_urls"_s},
        {nodeIdOption, u"push/node_id"_s},
    };
    for (const auto &[option, key] : named) {
        if (parser.isSet(option))
            overrides.append(key + u'=' + parser.value(option));
    }
    overrides += parser.values(setOption);

#ifdef Q_OS_WIN
    if (parser.isSet(uninstallServiceOption)) {
        std::wstring message;
        const bool ok = bfg::windowsservice::uninstall(&message);
        fprintf(ok ? stdout : stderr, "bfgd: %s\n", qPrintable(QString::fromStdWString(message)));
        return ok ? 0 : 1;
    }
#endif

    bfg::DaemonSettings settings;
    QString error;
    if (!bfg::DaemonSettings::load(parser.value(configOption), overrides, &settings, &error)) {
        fprintf(stderr, "bfgd: %s\n", qPrintable(error));
        return 2;
    }
#ifdef Q_OS_WIN
    // After the configuration loaded: a service that cannot start is found
    // out now rather than at the next boot.
    if (parser.isSet(installServiceOption)) {
        if (!overrides.isEmpty()) {
            fprintf(stderr, "bfgd: --install-service: the service reads its settings from --config FILE "
                            "only; put them there\n");
            return 2;
        }
        const QString config =
            parser.isSet(configOption) ? QFileInfo(parser.value(configOption)).absoluteFilePath() : QString();
        std::wstring message;
        const bool ok = bfg::windowsservice::install(config.toStdWString(), &message);
        fprintf(ok ? stdout : stderr, "bfgd: %s\n", qPrintable(QString::fromStdWString(message)));
        return ok ? 0 : 1;
    }
#endif
    if (parser.isSet(printConfigOption)) {
        for (const QString &line : std::as_const(settings.effective))
            printf("%s\n", qPrintable(line));
        return 0;
    }
    if (!settings.loadSecret(&error)) {
        fprintf(stderr, "bfgd: %s\n", qPrintable(error));
        return 2;
    }
    if (parser.isSet(issueTokenOption)) {
        const QByteArray token = issueToken(parser.value(issueTokenOption), parser.value(tokenSubjectOption),
                                            parser.value(tokenStreamsOption), parser.value(tokenDaysOption),
                                            settings.decision.secret, &error);
        if (token.isEmpty()) {
            fprintf(stderr, "bfgd: --issue-token: %s\n", qPrintable(error));
            return 2;
        }
        printf("%s\n", token.constData());
        return 0;
    }
    if (!settings.logRules.isEmpty())
        QLoggingCategory::setFilterRules(QString(settings.logRules).replace(u',', u'\n'));
    if (!settings.tlsCaFile.isEmpty() && !bfg::clienttls::trustCaFile(settings.tlsCaFile, &error)) {
        fprintf(stderr, "bfgd: tls/ca_file: %s\n", qPrintable(error));
        return 2;
    }
    if (settings.push.tls) {
        qCInfo(lcMain).noquote() << "TLS on every listener:" << settings.push.tls->summary();
    } else if ((settings.runDecision && !settings.decision.address.isLoopback()) ||
               (settings.runPush &&
                (!settings.push.address.isLoopback() || !settings.push.httpAddress.isLoopback()))) {
        qCWarning(lcMain) << "TLS is off on a listener other hosts can reach: tokens and messages cross the "
                             "network in clear text (set tls/certificate and tls/private_key)";
    }

    bfg::ServiceNotifier notifier;
    std::unique_ptr<bfg::DecisionServer> decision;
    std::unique_ptr<bfg::Broker> broker;
    std::unique_ptr<bfg::PushServer> push;
    QStringList ready;

    // SIGTERM or SIGINT (or the Windows service's Stop): the push role drains
    // (bounded by push/drain_timeout_ms) and stops, then the decision role
    // answers what it is being asked (bounded too) and stops; a second
    // signal stops at once. SIGHUP reloads.
    const QString configPath = parser.value(configOption);
    int stopSignals = 0;
    const auto shutDown = [&] {
        auto stopRoles = [&] {
            if (push)
                push->stop();
            if (broker)
                broker->stop();
        };
        if (++stopSignals > 1) {
            qCInfo(lcMain).noquote() << bfg::logEvent("stopping", {{"drain", u"no"_s}});
            stopRoles();
            QCoreApplication::quit();
            return;
        }
        notifier.stopping();
#ifdef Q_OS_WIN
        if (windowsService) {
            windowsService->reportStopping(StopWaitHintMs);
            auto *checkpoints = new QTimer(&app);
            QObject::connect(checkpoints, &QTimer::timeout, &app,
                             [] { windowsService->reportStopping(StopWaitHintMs); });
            checkpoints->start(1000);
        }
#endif
        auto finish = [&, stopRoles] {
            stopRoles();
            if (decision)
                decision->shutdown([] { QCoreApplication::quit(); });
            else
                QCoreApplication::quit();
        };
        if (push) {
            qCInfo(lcMain).noquote() << bfg::logEvent("stopping",
                                                      {{"drain", u"first (again to stop at once)"_s}});
            push->shutdown(finish);
        } else {
            qCInfo(lcMain).noquote() << bfg::logEvent("stopping");
            finish();
        }
    };
    installSignalPipe(&app, [&](int signal) {
        if (signal != SIGHUP) {
            shutDown();
            return;
        }
        if (stopSignals > 0) {
            qCInfo(lcMain) << "reload ignored: shutting down";
            return;
        }
        notifier.reloading();
        reload(configPath, overrides, &settings, decision.get(), push.get());
        notifier.ready();
    });
    // A reload asked for while the roles start waits for them, rather than
    // ending bfgd (SIGHUP's default); SIGTERM and SIGINT still end a start
    // that takes too long.
    catchSignals({SIGHUP});

    if (settings.runDecision) {
        decision = std::make_unique<bfg::DecisionServer>(settings.decision);
        if (!decision->start(&error)) {
            fprintf(stderr, "bfgd: %s\n", qPrintable(error));
            return 1;
        }
        ready.append(u"decision="_s + decision->url().toString());
        if (!settings.adminKeyFile.isEmpty())
            qCInfo(lcMain) << "admin API key (operator) is in" << settings.adminKeyFile;
        if (settings.push.decisionUrls.isEmpty())
            settings.push.decisionUrls.append(decision->url());
    }
    if (settings.runPush) {
        if (settings.brokerType == u"redis"_s)
            broker = std::make_unique<bfg::RedisBroker>(settings.redis);
        else
            broker = std::make_unique<bfg::LocalBroker>(settings.broker);
        if (!broker->start(&error)) {
            fprintf(stderr, "bfgd: %s\n", qPrintable(error));
            return 1;
        }
        push = std::make_unique<bfg::PushServer>(settings.push, broker.get());
        if (!push->start(&error)) {
            fprintf(stderr, "bfgd: %s\n", qPrintable(error));
            return 1;
        }
        ready.append(u"push="_s + push->publicUri());
        ready.append(u"publish="_s + push->publicHttpUri());
        ready.append(u"node="_s + push->nodeId());
    }

    catchSignals({SIGINT, SIGTERM});
    notifier.setStatusSource([&] { return serviceStatus(decision.get(), push.get()); });
    notifier.ready();

    // One line on stdout that scripts and tests wait for.
    printf("bfgd: ready %s\n", qPrintable(ready.join(u' ')));
    fflush(stdout);
#ifdef Q_OS_WIN
    // Under the SCM: RUNNING now that every listener is up; its Stop (and
    // system shutdown) takes the path of SIGTERM.
    if (windowsService) {
        auto *stopRequests = new QWinEventNotifier(windowsService->stopEvent(), &app);
        QObject::connect(stopRequests, &QWinEventNotifier::activated, &app, shutDown);
        windowsService->reportRunning();
    }
#endif
    const int status = app.exec();
    // push->stop() left its workers for the broker's last answers: the broker
    // stops first, then the workers go.
    if (push)
        push->stop();
    if (broker)
        broker->stop();
    push.reset();
    broker.reset();
    decision.reset();
    qCInfo(lcMain).noquote() << bfg::logEvent("stopped");
    return status;
}

} // namespace

int main(int argc, char *argv[])
{
#ifdef Q_OS_WIN
    // Started by the SCM: the main thread becomes its dispatcher before
    // anything else, and the daemon, QCoreApplication and all, runs on the
    // service's thread (daemon/service/windowsservice.h). Qt takes the thread
    // that first uses it for its main thread, so nothing of Qt may run here
    // before.
    if (bfg::windowsservice::isServiceCommandLine(argc, argv)) {
        return bfg::windowsservice::run([&](bfg::windowsservice::Status &status) {
            windowsService = &status;
            return runDaemon(argc, argv);
        });
    }
#endif
    return runDaemon(argc, argv);
}
