// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 BFG developers
#include "client/probeoptions.h"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <QCommandLineParser>
#include <QDir>
#include <QFileInfo>
#include <QRandomGenerator>
#include <QRegularExpression>

#include "common/clienttls.h"
#include "common/protocol.h"

using namespace Qt::Literals::StringLiterals;

namespace bfg::probe {

namespace {

constexpr int MaxUsers = 1000000;
constexpr double MaxRate = 10000;
constexpr double MaxDurationS = 7 * 24 * 3600;
constexpr int MaxRampMs = 3600 * 1000;
constexpr int MaxUserIdLength = 128;
constexpr int MaxConnecting = 100000;

bool parseHttpUrl(const QString &text, QUrl *url)
{
    const QUrl candidate(text.trimmed(), QUrl::StrictMode);
    if (!candidate.isValid() || candidate.host().isEmpty() ||
        (candidate.scheme() != u"http"_s && candidate.scheme() != u"https"_s))
        return false;
    *url = candidate;
    return true;
}

bool parseDouble(const QString &text, double *value)
{
    bool ok = false;
    const double parsed = text.trimmed().toDouble(&ok);
    if (!ok || !std::isfinite(parsed))
        return false;
    *value = parsed;
    return true;
}

// Whether a TCP socket can be bound to `address` on this machine (with any port); the
// reason why not in `error`. Plain sockets: this runs before the application object.
bool canBind(const QHostAddress &address, QString *error)
{
    sockaddr_storage storage = {};
    socklen_t size = 0;
    if (address.protocol() == QAbstractSocket::IPv4Protocol) {
        auto *in = reinterpret_cast<sockaddr_in *>(&storage);
        in->sin_family = AF_INET;
        in->sin_addr.s_addr = htonl(address.toIPv4Address());
        size = sizeof(sockaddr_in);
    } else {
        auto *in6 = reinterpret_cast<sockaddr_in6 *>(&storage);
        in6->sin6_family = AF_INET6;
        const Q_IPV6ADDR bytes = address.toIPv6Address();
        std::memcpy(&in6->sin6_addr, &bytes, sizeof bytes);
        size = sizeof(sockaddr_in6);
    }
    const int fd = ::socket(storage.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || ::bind(fd, reinterpret_cast<const sockaddr *>(&storage), size) != 0) {
        *error = QString::fromLocal8Bit(std::strerror(errno));
        if (fd >= 0)
            ::close(fd);
        return false;
    }
    ::close(fd);
    return true;
}

struct ScenarioName
{
    Scenario scenario;
    QString name;
};
const ScenarioName ScenarioNames[] = {{Scenario::Steady, u"steady"_s}, {Scenario::Burst, u"burst"_s},
                                      {Scenario::Storm, u"storm"_s},   {Scenario::Soak, u"soak"_s},
                                      {Scenario::Churn, u"churn"_s},   {Scenario::Chat, u"chat"_s}};

// A number option within [low, high] (`lowOpen`: above low), into `value`.
bool numberOption(const QCommandLineParser &parser, const QString &name, double low, double high,
                  bool lowOpen, double *value, QString *error)
{
    if (!parser.isSet(name))
        return true;
    double parsed = 0;
    if (!parseDouble(parser.value(name), &parsed) || parsed > high || parsed < low ||
        (lowOpen && parsed == low)) {
        *error = u"--%1: expected a number %2 %3 and at most %4, got \"%5\""_s.arg(
            name, lowOpen ? u"above"_s : u"from"_s, QString::number(low), QString::number(high),
            parser.value(name));
        return false;
    }
    *value = parsed;
    return true;
}

// The scenario options, shards and figures lines; `parsed` has users and, when
// `durationGiven`, the duration already.
bool parseScenario(const QCommandLineParser &parser, bool durationGiven, ProbeOptions *parsed, QString *error)
{
    ProbeOptions &o = *parsed;
    switch (o.scenario) {
    case Scenario::Steady:
        break;
    case Scenario::Burst:
        if (!numberOption(parser, u"burst-factor"_s, 1, 1000, true, &o.burstFactor, error) ||
            !numberOption(parser, u"burst-every"_s, 0, MaxDurationS, true, &o.burstEveryS, error) ||
            !numberOption(parser, u"burst-length"_s, 0, MaxDurationS, true, &o.burstLengthS, error))
            return false;
        if (o.burstLengthS >= o.burstEveryS) {
            *error = u"--burst-length must be shorter than --burst-every"_s;
            return false;
        }
        if (!durationGiven)
            o.durationS = 3 * o.burstEveryS;
        break;
    case Scenario::Storm: {
        double storms = o.storms;
        if (!numberOption(parser, u"storm-at"_s, 0, MaxDurationS, false, &o.stormAtS, error) ||
            !numberOption(parser, u"storms"_s, 1, 1000, false, &storms, error) ||
            !numberOption(parser, u"storm-every"_s, 0, MaxDurationS, true, &o.stormEveryS, error))
            return false;
        o.storms = int(storms);
        const double lastStormS = o.stormAtS + (o.storms - 1) * o.stormEveryS;
        if (!durationGiven)
            o.durationS = lastStormS + 20;
        if (lastStormS >= o.durationS) {
            *error = u"the last storm (at %1 s) must come before the end of publishing (--duration %2)"_s
                         .arg(lastStormS)
                         .arg(o.durationS);
            return false;
        }
        break;
    }
    case Scenario::Churn:
        o.churnRate = std::max(1.0, o.users / 10.0);
        if (!numberOption(parser, u"churn-rate"_s, 0, MaxUsers, true, &o.churnRate, error) ||
            !numberOption(parser, u"churn-away"_s, 0, 3600, false, &o.churnAwayS, error))
            return false;
        if (!durationGiven)
            o.durationS = 30;
        break;
    case Scenario::Chat: {
        if (parser.isSet(u"users"_s)) {
            *error = u"chat: the users are --rooms x --members, not --users"_s;
            return false;
        }
        double rooms = o.rooms, members = o.members;
        if (!numberOption(parser, u"rooms"_s, 1, MaxUsers, false, &rooms, error) ||
            !numberOption(parser, u"members"_s, 1, 10000, false, &members, error) ||
            !numberOption(parser, u"typing-rate"_s, 0, MaxRate, false, &o.typingRate, error))
            return false;
        if (rooms != std::floor(rooms) || members != std::floor(members)) {
            *error = u"--rooms and --members take whole numbers"_s;
            return false;
        }
        if (rooms * members > MaxUsers) {
            *error = u"chat: --rooms x --members is at most %1 users"_s.arg(MaxUsers);
            return false;
        }
        o.rooms = o.totalRooms = int(rooms);
        o.members = int(members);
        o.users = o.rooms * o.members;
        if (!parser.isSet(u"rate"_s))
            o.ratePerUser = 1;
        if (parser.isSet(u"affinity"_s)) {
            const QString affinity = parser.value(u"affinity"_s).trimmed();
            if (affinity != u"room"_s && affinity != u"none"_s) {
                *error = u"--affinity: expected room or none, got \"%1\""_s.arg(affinity);
                return false;
            }
            o.affinityRoom = affinity == u"room"_s;
        }
        break;
    }
    case Scenario::Soak:
        o.dropEveryS = 300;
        o.reportEveryS = 60;
        if (!numberOption(parser, u"drop-every"_s, 0, MaxDurationS, false, &o.dropEveryS, error) ||
            !numberOption(parser, u"drain-every"_s, 0, MaxDurationS, false, &o.drainEveryS, error) ||
            !numberOption(parser, u"drain-for"_s, 0, MaxDurationS, true, &o.drainForS, error))
            return false;
        if (o.drainEveryS > 0 && o.drainForS >= o.drainEveryS) {
            *error = u"--drain-for must be shorter than --drain-every"_s;
            return false;
        }
        o.adminKey = parser.value(u"admin-key"_s).trimmed().toUtf8();
        if (o.drainEveryS > 0 && o.adminKey.isEmpty()) {
            *error = u"--drain-every needs --admin-key (an operator key of the admin API)"_s;
            return false;
        }
        if (!durationGiven)
            o.durationS = 3600;
        break;
    }
    if (!numberOption(parser, u"report-every"_s, 0, MaxDurationS, true, &o.reportEveryS, error))
        return false;
    for (const QString &text : parser.values(u"watch-pid"_s).join(u',').split(u',', Qt::SkipEmptyParts)) {
        bool ok = false;
        const qint64 pid = text.trimmed().toLongLong(&ok);
        if (!ok || pid <= 0 || !QFileInfo::exists(u"/proc/%1/status"_s.arg(pid))) {
            *error = u"--watch-pid: no such process: %1"_s.arg(text.trimmed());
            return false;
        }
        o.watchPids.append(pid);
    }

    o.totalUsers = o.users;
    if (parser.isSet(u"shard"_s)) {
        static const QRegularExpression shardPattern(u"^\\s*(\\d{1,4})\\s*/\\s*(\\d{1,4})\\s*$"_s);
        const QRegularExpressionMatch match = shardPattern.match(parser.value(u"shard"_s));
        const int index = match.captured(1).toInt();
        const int count = match.captured(2).toInt();
        // chat: shards take whole rooms, so that each checks its rooms' order completely.
        const int units = o.isChat() ? o.totalRooms : o.totalUsers;
        if (!match.hasMatch() || count < 1 || index >= count || count > units) {
            *error = u"--shard: expected i/n with 0 <= i < n <= %1, got \"%2\""_s.arg(
                o.isChat() ? u"--rooms"_s : u"--users"_s, parser.value(u"shard"_s));
            return false;
        }
        o.shardIndex = index;
        o.shardCount = count;
        if (o.isChat()) {
            o.rooms = (o.totalRooms - index + count - 1) / count;
            o.users = o.rooms * o.members;
        } else {
            o.users = (o.totalUsers - index + count - 1) / count;
        }
    }
    return true;
}

QString defaultUserPrefix()
{
    const quint32 random = QRandomGenerator::system()->generate() & 0xffffff;
    return u"probe-"_s + QString::number(random, 16).rightJustified(6, u'0') + u'-';
}

} // namespace

QString scenarioName(Scenario scenario)
{
    for (const ScenarioName &entry : ScenarioNames) {
        if (entry.scenario == scenario)
            return entry.name;
    }
    return {};
}

bool ProbeOptions::applyTls(QString *error) const
{
    return clienttls::configure(caFile, insecure, error);
}

bool ProbeOptions::parse(const QStringList &arguments, ProbeOptions *options, QString *error)
{
    QCommandLineParser parser;
    parser.setApplicationDescription(
        u"The BFG QA client and load driver. Connects N simulated users through the decision "
        "servers, publishes to each user's personal stream at a steady rate, and checks that every "
        "message arrives exactly once, in order, to the right user; measures end-to-end latency.\n\n"
        "Commands:\n"
        "  (none)               the steady scenario\n"
        "  scenario NAME        run a scenario; a progress line every second, a verdict with figures\n"
        "                       at the end (--json for a file):\n"
        "    steady             N users x R msg/s for D seconds\n"
        "    burst              the rate jumps by --burst-factor for --burst-length s of every\n"
        "                       --burst-every s (a market opening after a quiet night)\n"
        "    storm              every connection drops at once (--storm-at, --storms, --storm-every);\n"
        "                       the users come back with their backoff and jitter: time until all\n"
        "                       are live again, the decision servers' 429/503 answers, 0 lost\n"
        "    soak               a long run (default 1 h): every connection dropped every --drop-every s,\n"
        "                       a node drained every --drain-every s for --drain-for s, figures and\n"
        "                       the memory of --watch-pid processes every --report-every s\n"
        "    churn              --churn-rate users a second leave and come back --churn-away s later,\n"
        "                       resuming where they were\n"
        "    chat               --rooms x --members users; each member publishes --rate msg/s (default\n"
        "                       1) into its room over its own WebSocket (and --typing-rate ephemeral\n"
        "                       typing indicators); every member must receive every room message once,\n"
        "                       in the room's one order (the same message id at each seq for all), and\n"
        "                       every sender its ack; --affinity room assigns a room's members with\n"
        "                       affinity=<room>. Reports end-to-end and ack p50/p99, order\n"
        "                       disagreements, ephemeral received/dropped and users per push node.\n"
        "                       The decision server must grant the rooms: decision/public_streams and\n"
        "                       decision/client_publish room:* (users <prefix>r<room>-<member>, rooms\n"
        "                       room:<prefix>r<room>; --shard splits the rooms)\n"
        "  merge FILE...        combine the --json results of the shards of one run (--shard) into one\n"
        "                       verdict (and --json file)\n\n"
        "Output: a progress line every second on stderr (--quiet: none), the summary and verdict on "
        "stdout at the end, and with --json FILE the same as a JSON object.\n\n"
        "Exit code: 0 when nothing was lost, duplicated, reordered or misdelivered and every user "
        "went live (and the scenario's own conditions held); 1 otherwise; 2 for bad usage.\n\n"
        "Environment: BFG_PROBE_TEST_DROP_NTH=N ignores the Nth message received, which the verdict "
        "must then report as lost (a test of the probe itself).\n\n"
        "With --gui it is instead a window that watches one user (the bfg-probe-gui program, installed "
        "next to it): its connection state and node, the messages arriving (stream, seq, latency, "
        "payload) with the same checks, a latency chart, and buttons to drop the connection, pause "
        "reading, publish to the user and switch decision servers. --decision, --user, --publish and "
        "--publish-key fill in its fields; nothing else applies to it."_s);
    parser.addPositionalArgument(u"command"_s, u"scenario NAME, or merge FILE..."_s, u"[command]"_s);
    const QCommandLineOption helpOption = parser.addHelpOption();
    const QCommandLineOption versionOption = parser.addVersionOption();

    const QCommandLineOption decisionOption(
        u"decision"_s,
        u"Decision server base URL(s), comma separated, asked in order with fallback "
        "(e.g. http://127.0.0.1:8080). Required, except with --gui."_s,
        u"url[,url...]"_s);
    const QCommandLineOption usersOption(
        u"users"_s, u"Number of simulated users (default 100; chat: --rooms x --members instead)."_s, u"n"_s);
    const QCommandLineOption rateOption(
        u"rate"_s,
        u"Messages per second published to each user; fractional allowed, 0 to only connect (default 2). "
        "chat: messages each member publishes into its room a second (default 1)."_s,
        u"r"_s);
    const QCommandLineOption durationOption(
        u"duration"_s, u"Seconds of publishing once every user is live (default 10)."_s, u"s"_s);
    const QCommandLineOption publishOption(
        u"publish"_s,
        u"Base URL of a push node's publish API (default: the publish_uri the decision server names)."_s,
        u"url"_s);
    const QCommandLineOption guiOption(
        u"gui"_s,
        u"Open a window that watches one user (QA): connect, see the state, node and every message, "
        "drop the connection, pause reading, publish, switch decision servers. Needs bfg-probe-gui next "
        "to bfg-probe: the bfg-probe-gui package, or a build with BFG_BUILD_CONSOLE."_s);
    const QCommandLineOption userOption(
        u"user"_s, u"With --gui: the user id to fill in (1..128 of [A-Za-z0-9._@-])."_s, u"id"_s);
    const QCommandLineOption publishKeyOption(
        u"publish-key"_s, u"API key for publishing, sent as \"Authorization: Bearer <key>\"."_s, u"key"_s);
    const QCommandLineOption noPublishOption(
        u"no-publish"_s, u"Do not publish: only connect and listen (gaps are still detected)."_s);
    const QCommandLineOption userPrefixOption(
        u"user-prefix"_s,
        u"User ids are <prefix><index> (default: probe-<6 random hex digits>-, fresh users every run)."_s,
        u"prefix"_s);
    const QCommandLineOption rampOption(
        u"ramp-ms"_s, u"Start the clients spread over this many milliseconds (default 1000)."_s, u"ms"_s);
    const QCommandLineOption maxConnectingOption(
        u"max-connecting"_s,
        u"At most this many users asking the decision server or connecting at once, first connects and "
        "reconnects alike; the others wait their turn (default 64)."_s,
        u"n"_s);
    const QCommandLineOption sourceAddressOption(
        u"source-address"_s,
        u"Local address(es) the users connect to the push nodes from, comma separated, given out in turn "
        "(e.g. 127.0.0.2,127.0.0.3): one address reaches one node address and port at most ~28,000 times "
        "(the ephemeral ports). Default: the system's choice."_s,
        u"addr[,addr...]"_s);
    const QCommandLineOption sharedStreamOption(
        u"shared-stream"_s,
        u"A shared stream every user reads (the decision server must grant it: decision/public_streams); "
        "each user checks it arrives once and in order, with its latency (bench/fanout)."_s,
        u"stream"_s);
    const QCommandLineOption sharedRateOption(
        u"shared-rate"_s,
        u"Messages per second this probe publishes to --shared-stream (default 0: only read it, as the "
        "other probes of a fan-out run do)."_s,
        u"r"_s);
    const QCommandLineOption dropAtOption(
        u"drop-at"_s,
        u"At this many seconds into publishing, abort every client's connection as a network blip "
        "would; clients resume from their positions."_s,
        u"s"_s);
    const QCommandLineOption jsonOption(u"json"_s, u"Also write the results as a JSON object to this file."_s,
                                        u"file"_s);
    const QCommandLineOption quietOption(u"quiet"_s, u"No progress lines or informational logs on stderr."_s);
    const QCommandLineOption eventLoopOption(
        u"event-loop"_s,
        u"The event loop the probe runs on: epoll (a loop turn costs what is ready, not what is open) or "
        "qt (Qt's default dispatcher) (default epoll)."_s,
        u"epoll|qt"_s);

    const QCommandLineOption burstFactorOption(
        u"burst-factor"_s, u"burst: how many times the rate is multiplied in a burst (default 10)."_s,
        u"f"_s);
    const QCommandLineOption burstEveryOption(
        u"burst-every"_s, u"burst: one burst per this many seconds of publishing (default 10)."_s, u"s"_s);
    const QCommandLineOption burstLengthOption(
        u"burst-length"_s, u"burst: seconds each burst lasts, at the end of each period (default 2)."_s,
        u"s"_s);
    const QCommandLineOption stormAtOption(
        u"storm-at"_s, u"storm: seconds into publishing of the first storm (default 5)."_s, u"s"_s);
    const QCommandLineOption stormsOption(u"storms"_s, u"storm: how many storms (default 1)."_s, u"n"_s);
    const QCommandLineOption stormEveryOption(u"storm-every"_s,
                                              u"storm: seconds between storms (default 30)."_s, u"s"_s);
    const QCommandLineOption churnRateOption(
        u"churn-rate"_s, u"churn: users a second that leave (default users / 10, at least 1)."_s, u"r"_s);
    const QCommandLineOption churnAwayOption(
        u"churn-away"_s, u"churn: seconds a user stays away before it comes back (default 2)."_s, u"s"_s);
    const QCommandLineOption dropEveryOption(
        u"drop-every"_s, u"soak: drop every connection every this many seconds; 0: never (default 300)."_s,
        u"s"_s);
    const QCommandLineOption drainEveryOption(
        u"drain-every"_s,
        u"soak: drain a push node (the one most users are on) every this many seconds, through the "
        "decision server's admin API (needs --admin-key); 0: never (default 0)."_s,
        u"s"_s);
    const QCommandLineOption drainForOption(
        u"drain-for"_s, u"soak: seconds a drained node stays drained before it is undrained (default 10)."_s,
        u"s"_s);
    const QCommandLineOption adminKeyOption(
        u"admin-key"_s, u"An operator key of the decision servers' admin API, for --drain-every."_s,
        u"key"_s);
    const QCommandLineOption watchPidOption(
        u"watch-pid"_s,
        u"Processes (e.g. the bfgd nodes) whose memory and CPU are sampled with the figures lines and "
        "reported at the end; comma separated. The probe samples itself too."_s,
        u"pid[,pid...]"_s);
    const QCommandLineOption reportEveryOption(
        u"report-every"_s,
        u"A figures line every this many seconds (messages, p99, lost, memory); soak's default 60, "
        "otherwise none."_s,
        u"s"_s);
    const QCommandLineOption roomsOption(
        u"rooms"_s, u"chat: how many rooms (default 10); the users are --rooms x --members."_s, u"n"_s);
    const QCommandLineOption membersOption(
        u"members"_s, u"chat: users in each room, each on its own connection (default 10)."_s, u"n"_s);
    const QCommandLineOption typingRateOption(
        u"typing-rate"_s,
        u"chat: ephemeral messages (typing indicators: no seq, never stored, the first a node drops for a "
        "client that is behind) each member publishes a second into its room, besides --rate (default 0)."_s,
        u"r"_s);
    const QCommandLineOption affinityOption(
        u"affinity"_s,
        u"chat: room: every member is assigned with affinity=<its room's stream>, so that the decision "
        "server puts a room's members on one push node while it has room; none: the usual load policy "
        "(default none)."_s,
        u"room|none"_s);
    const QCommandLineOption caFileOption(u"ca-file"_s, QString::fromLatin1(clienttls::CaFileHelp) + u'.',
                                          u"file"_s);
    const QCommandLineOption insecureOption(u"insecure"_s,
                                            QString::fromLatin1(clienttls::InsecureHelp) + u'.');
    const QCommandLineOption shardOption(
        u"shard"_s,
        u"Run users i, i+n, i+2n ... of --users only: n probe processes (each holding at most ~19,000 "
        "connections) split one run; give them the same --user-prefix and combine their --json "
        "files with `bfg-probe merge`."_s,
        u"i/n"_s);

    parser.addOptions(
        {decisionOption,      usersOption,        rateOption,        durationOption,   publishOption,
         publishKeyOption,    noPublishOption,    userPrefixOption,  rampOption,       maxConnectingOption,
         sourceAddressOption, sharedStreamOption, sharedRateOption,  dropAtOption,     jsonOption,
         quietOption,         eventLoopOption,    burstFactorOption, burstEveryOption, burstLengthOption,
         stormAtOption,       stormsOption,       stormEveryOption,  churnRateOption,  churnAwayOption,
         dropEveryOption,     drainEveryOption,   drainForOption,    adminKeyOption,   watchPidOption,
         reportEveryOption,   shardOption,        roomsOption,       membersOption,    typingRateOption,
         affinityOption,      guiOption,          userOption,        caFileOption,     insecureOption});

    if (!parser.parse(arguments)) {
        *error = parser.errorText();
        return false;
    }
    // --help-all (added by addHelpOption()) would list Qt's own options: a QCoreApplication
    // has none worth listing, so it is --help.
    if (parser.isSet(helpOption) || parser.isSet(u"help-all"_s)) {
        // Parsed before the application object exists (it must be created on the event
        // loop asked for), so Qt cannot name the program in the usage line: do it here.
        QString help = parser.helpText();
        help.replace(u"<executable_name>"_s, arguments.value(0, u"bfg-probe"_s));
        std::fputs(qPrintable(help), stdout);
        std::exit(0);
    }
    if (parser.isSet(versionOption))
        parser.showVersion();
    ProbeOptions parsed;
    parsed.caFile = parser.value(caFileOption);
    parsed.insecure = parser.isSet(insecureOption);
    if (parser.isSet(caFileOption) && !QFileInfo(parsed.caFile).isReadable()) {
        *error = u"--ca-file: cannot read \"%1\""_s.arg(parsed.caFile);
        return false;
    }
    parsed.gui = parser.isSet(guiOption);
    if (parsed.gui) {
        // Load options mean nothing to one user in a window: say so rather than ignore them.
        for (const QCommandLineOption &option :
             {usersOption,        rateOption,       durationOption,      noPublishOption,
              userPrefixOption,   rampOption,       maxConnectingOption, sourceAddressOption,
              sharedStreamOption, sharedRateOption, dropAtOption,        jsonOption,
              quietOption,        eventLoopOption,  burstFactorOption,   burstEveryOption,
              burstLengthOption,  stormAtOption,    stormsOption,        stormEveryOption,
              churnRateOption,    churnAwayOption,  dropEveryOption,     drainEveryOption,
              drainForOption,     adminKeyOption,   watchPidOption,      reportEveryOption,
              shardOption,        roomsOption,      membersOption,       typingRateOption,
              affinityOption}) {
            if (parser.isSet(option)) {
                *error = u"--%1 does not apply to --gui"_s.arg(option.names().constFirst());
                return false;
            }
        }
        if (!parser.positionalArguments().isEmpty()) {
            *error = u"--gui takes no command (%1)"_s.arg(parser.positionalArguments().constFirst());
            return false;
        }
        parsed.eventLoop = u"qt"_s; // a QApplication runs on Qt's own dispatcher
    } else if (parser.isSet(userOption)) {
        *error = u"--user needs --gui (headless users are named by --user-prefix)"_s;
        return false;
    }
    if (parser.isSet(userOption)) {
        parsed.guiUserId = parser.value(userOption).trimmed();
        if (!protocol::isValidUserId(parsed.guiUserId)) {
            *error = u"--user: expected 1..%1 of [A-Za-z0-9._@-], got \"%2\""_s.arg(MaxUserIdLength)
                         .arg(parser.value(userOption));
            return false;
        }
    }
    // --json and --quiet: every command's.
    auto parseOutput = [&] {
        if (parser.isSet(jsonOption)) {
            parsed.jsonPath = parser.value(jsonOption);
            const QFileInfo info(parsed.jsonPath);
            if (parsed.jsonPath.isEmpty() || info.isDir() || !info.absoluteDir().exists()) {
                *error =
                    u"--json: cannot write \"%1\" (no such directory, or it is one)"_s.arg(parsed.jsonPath);
                return false;
            }
        }
        parsed.quiet = parser.isSet(quietOption);
        return true;
    };
    QStringList positional = parser.positionalArguments();
    if (!positional.isEmpty()) {
        const QString command = positional.takeFirst();
        if (command == u"merge"_s) {
            parsed.command = Command::Merge;
            if (positional.isEmpty()) {
                *error = u"merge: name the --json files of the shards to combine"_s;
                return false;
            }
            for (const QString &file : positional) {
                if (!QFileInfo(file).isFile()) {
                    *error = u"merge: no such file: %1"_s.arg(file);
                    return false;
                }
            }
            parsed.mergeFiles = positional;
            for (const QString &name : parser.optionNames()) {
                if (name != u"json"_s && name != u"quiet"_s) {
                    *error = u"merge takes only --json and --quiet, not --%1"_s.arg(name);
                    return false;
                }
            }
            if (!parseOutput())
                return false;
            *options = std::move(parsed);
            return true;
        }
        if (command != u"scenario"_s) {
            *error = u"unknown command \"%1\": expected scenario NAME or merge FILE..."_s.arg(command);
            return false;
        }
        if (positional.size() != 1) {
            *error = u"scenario: name one of steady, burst, storm, soak, churn, chat"_s;
            return false;
        }
        const auto known =
            std::find_if(std::begin(ScenarioNames), std::end(ScenarioNames),
                         [&](const ScenarioName &entry) { return entry.name == positional[0]; });
        if (known == std::end(ScenarioNames)) {
            *error = u"unknown scenario \"%1\": expected steady, burst, storm, soak, churn or chat"_s.arg(
                positional[0]);
            return false;
        }
        parsed.scenario = known->scenario;
    }
    // Options of one scenario only.
    const std::pair<const QCommandLineOption *, Scenario> scenarioOptions[] = {
        {&burstFactorOption, Scenario::Burst}, {&burstEveryOption, Scenario::Burst},
        {&burstLengthOption, Scenario::Burst}, {&stormAtOption, Scenario::Storm},
        {&stormsOption, Scenario::Storm},      {&stormEveryOption, Scenario::Storm},
        {&churnRateOption, Scenario::Churn},   {&churnAwayOption, Scenario::Churn},
        {&dropEveryOption, Scenario::Soak},    {&drainEveryOption, Scenario::Soak},
        {&drainForOption, Scenario::Soak},     {&adminKeyOption, Scenario::Soak},
        {&roomsOption, Scenario::Chat},        {&membersOption, Scenario::Chat},
        {&typingRateOption, Scenario::Chat},   {&affinityOption, Scenario::Chat}};
    for (const auto &[option, scenario] : scenarioOptions) {
        if (parser.isSet(*option) && scenario != parsed.scenario) {
            *error =
                u"--%1 belongs to `scenario %2`"_s.arg(option->names().constFirst(), scenarioName(scenario));
            return false;
        }
    }

    if (!parser.isSet(decisionOption) && !parsed.gui) {
        *error = u"--decision is required"_s;
        return false;
    }
    for (const QString &text : parser.values(decisionOption).join(u',').split(u',', Qt::SkipEmptyParts)) {
        QUrl url;
        if (!parseHttpUrl(text, &url)) {
            *error = u"--decision: not an http(s) URL: %1"_s.arg(text.trimmed());
            return false;
        }
        parsed.decisionUrls.append(url);
    }
    if (parsed.decisionUrls.isEmpty() && parser.isSet(decisionOption)) {
        *error = u"--decision: no URL given"_s;
        return false;
    }

    if (parser.isSet(usersOption)) {
        bool ok = false;
        parsed.users = parser.value(usersOption).trimmed().toInt(&ok);
        if (!ok || parsed.users < 1 || parsed.users > MaxUsers) {
            *error = u"--users: expected a whole number from 1 to %1, got \"%2\""_s.arg(MaxUsers).arg(
                parser.value(usersOption));
            return false;
        }
    }
    if (parser.isSet(rateOption) && (!parseDouble(parser.value(rateOption), &parsed.ratePerUser) ||
                                     parsed.ratePerUser < 0 || parsed.ratePerUser > MaxRate)) {
        *error = u"--rate: expected messages per second from 0 to %1, got \"%2\""_s.arg(MaxRate).arg(
            parser.value(rateOption));
        return false;
    }
    if (parser.isSet(durationOption) && (!parseDouble(parser.value(durationOption), &parsed.durationS) ||
                                         parsed.durationS <= 0 || parsed.durationS > MaxDurationS)) {
        *error = u"--duration: expected seconds above 0 (at most a week), got \"%1\""_s.arg(
            parser.value(durationOption));
        return false;
    }
    if (!parseScenario(parser, parser.isSet(durationOption), &parsed, error))
        return false;
    if (parsed.isChat()) {
        // Members publish over their own connections: nothing goes through the publish API.
        for (const QCommandLineOption &option :
             {publishOption, publishKeyOption, noPublishOption, sharedStreamOption, sharedRateOption}) {
            if (parser.isSet(option)) {
                *error = u"--%1 does not apply to `scenario chat` (members publish over their own "
                         "connections)"_s.arg(option.names().constFirst());
                return false;
            }
        }
    }

    if (parser.isSet(sharedStreamOption)) {
        parsed.sharedStream = parser.value(sharedStreamOption).trimmed();
        if (!protocol::isValidStreamName(parsed.sharedStream) || parsed.sharedStream.startsWith(u"user:"_s)) {
            *error = u"--shared-stream: expected a shared stream name such as fx:EURUSD, got \"%1\""_s.arg(
                parsed.sharedStream);
            return false;
        }
    }
    if (parser.isSet(sharedRateOption)) {
        if (parsed.sharedStream.isEmpty()) {
            *error = u"--shared-rate needs --shared-stream"_s;
            return false;
        }
        if (!parseDouble(parser.value(sharedRateOption), &parsed.sharedRate) || parsed.sharedRate < 0 ||
            parsed.sharedRate > MaxRate) {
            *error =
                u"--shared-rate: expected messages per second from 0 to %1, got \"%2\""_s.arg(MaxRate).arg(
                    parser.value(sharedRateOption));
            return false;
        }
    }

    parsed.publish = !parser.isSet(noPublishOption);
    if (!parsed.publish && parsed.sharedRate > 0) {
        *error = u"--shared-rate and --no-publish exclude each other"_s;
        return false;
    }
    if (parser.isSet(publishOption)) {
        if (!parsed.publish) {
            *error = u"--publish and --no-publish exclude each other"_s;
            return false;
        }
        if (!parseHttpUrl(parser.value(publishOption), &parsed.publishUrl)) {
            *error = u"--publish: not an http(s) URL: %1"_s.arg(parser.value(publishOption));
            return false;
        }
    }
    if (parser.isSet(publishKeyOption)) {
        parsed.publishKey = parser.value(publishKeyOption).trimmed().toUtf8();
        if (parsed.publishKey.isEmpty() || parsed.publishKey.contains('\n') ||
            parsed.publishKey.contains('\r')) {
            *error = u"--publish-key: expected a non-empty single-line key"_s;
            return false;
        }
    }

    parsed.userPrefix = parser.isSet(userPrefixOption) ? parser.value(userPrefixOption) : defaultUserPrefix();
    const QString lastUser = parsed.userId(parsed.users - 1);
    static const QRegularExpression prefixPattern(u"^[A-Za-z0-9._@-]*$"_s);
    if (!prefixPattern.match(parsed.userPrefix).hasMatch() || !protocol::isValidUserId(lastUser)) {
        *error =
            u"--user-prefix: user ids must be 1..%1 of [A-Za-z0-9._@-]; \"%2\" is not"_s.arg(MaxUserIdLength)
                .arg(lastUser);
        return false;
    }

    if (parser.isSet(rampOption)) {
        bool ok = false;
        parsed.rampMs = parser.value(rampOption).trimmed().toInt(&ok);
        if (!ok || parsed.rampMs < 0 || parsed.rampMs > MaxRampMs) {
            *error = u"--ramp-ms: expected milliseconds from 0 to %1, got \"%2\""_s.arg(MaxRampMs).arg(
                parser.value(rampOption));
            return false;
        }
    }
    if (parser.isSet(maxConnectingOption)) {
        bool ok = false;
        parsed.maxConnecting = parser.value(maxConnectingOption).trimmed().toInt(&ok);
        if (!ok || parsed.maxConnecting < 1 || parsed.maxConnecting > MaxConnecting) {
            *error =
                u"--max-connecting: expected a whole number from 1 to %1, got \"%2\""_s.arg(MaxConnecting)
                    .arg(parser.value(maxConnectingOption));
            return false;
        }
    }
    for (const QString &text :
         parser.values(sourceAddressOption).join(u',').split(u',', Qt::SkipEmptyParts)) {
        const QHostAddress address(text.trimmed());
        QString why;
        if (address.isNull() || (address.protocol() != QAbstractSocket::IPv4Protocol &&
                                 address.protocol() != QAbstractSocket::IPv6Protocol)) {
            *error = u"--source-address: not an IP address: %1"_s.arg(text.trimmed());
            return false;
        }
        if (!canBind(address, &why)) {
            *error = u"--source-address: cannot connect from %1: %2"_s.arg(address.toString(), why);
            return false;
        }
        parsed.sourceAddresses.append(address);
    }
    if (parser.isSet(sourceAddressOption) && parsed.sourceAddresses.isEmpty()) {
        *error = u"--source-address: no address given"_s;
        return false;
    }
    if (parser.isSet(dropAtOption)) {
        if (!parseDouble(parser.value(dropAtOption), &parsed.dropAtS) || parsed.dropAtS < 0 ||
            parsed.dropAtS >= parsed.durationS) {
            *error = u"--drop-at: expected seconds from 0 to below --duration (%1), got \"%2\""_s
                         .arg(parsed.durationS)
                         .arg(parser.value(dropAtOption));
            return false;
        }
    }
    if (!parseOutput())
        return false;
    if (parser.isSet(eventLoopOption)) {
        parsed.eventLoop = parser.value(eventLoopOption).trimmed();
        if (parsed.eventLoop != u"epoll"_s && parsed.eventLoop != u"qt"_s) {
            *error = u"--event-loop: expected epoll or qt, got \"%1\""_s.arg(parser.value(eventLoopOption));
            return false;
        }
    }

    *options = std::move(parsed);
    return true;
}

} // namespace bfg::probe
