// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 BFG developers
//
// What one bfg-probe run was asked to do, parsed and checked from the
// command line in one place with every default. main() turns a parse
// error into a message and exit code 2; Probe only ever sees valid options.
// With --gui the window (ProbeWindow) takes the decision URLs, the user id
// and the publish settings as its starting values; nothing else applies.
#pragma once

#include <QByteArray>
#include <QHostAddress>
#include <QList>
#include <QString>
#include <QStringList>
#include <QUrl>

namespace bfg::probe {

// `bfg-probe scenario NAME`: what happens to the users while they publish.
enum class Scenario {
    Steady, // N users x R msg/s for D seconds (also what bfg-probe does without a command)
    Burst,  // the rate jumps by a factor for short periods
    Storm,  // every connection drops at once; time until all are live again
    Soak,   // a long run with periodic drops and node drains, processes' memory sampled
    Churn,  // users leave and come back continuously
    Chat,   // rooms x members, each member publishing into its room over its own WebSocket
};

QString scenarioName(Scenario scenario);

struct ProbeOptions
{
    enum class Command { Run, Merge };
    Command command = Command::Run;
    QStringList mergeFiles; // Merge: the JSON results to combine

    Scenario scenario = Scenario::Steady;
    // burst: the rate is multiplied by burstFactor for the last burstLengthS
    // of every burstEveryS of publishing.
    double burstFactor = 10;
    double burstEveryS = 10;
    double burstLengthS = 2;
    // storm: every connection aborted at stormAtS into publishing, `storms`
    // times, stormEveryS apart.
    double stormAtS = 5;
    int storms = 1;
    double stormEveryS = 30;
    // churn: churnRate users a second close their connection and come back
    // churnAwayS later, resuming from where they were.
    double churnRate = 0; // 0: users / 10, at least 1
    double churnAwayS = 2;
    // soak: drops every dropEveryS, a node drained every drainEveryS for
    // drainForS (needs adminKey), a figures line every reportEveryS.
    double dropEveryS = 0;
    double drainEveryS = 0;
    double drainForS = 10;
    QByteArray adminKey;
    QList<qint64> watchPids; // memory (and CPU) sampled with the figures
    double reportEveryS = 0; // 0: no periodic figures lines
    // chat: `rooms` rooms of `members` users each; every member publishes ratePerUser
    // msg/s (default 1) into its room over its own connection, and typingRate ephemeral
    // ones; with affinityRoom it is assigned with affinity=<its room's stream>. Users are
    // <prefix>r<room>-<member>, rooms room:<prefix>r<room>; --shard splits the rooms.
    int rooms = 10;      // this process's (its shard's)
    int totalRooms = 10; // of the whole run
    int members = 10;
    double typingRate = 0;
    bool affinityRoom = false;

    // --shard i/n: this process runs users i, i+n, i+2n ... of `totalUsers`.
    int shardIndex = 0;
    int shardCount = 1;
    int totalUsers = 100;

    QList<QUrl> decisionUrls;
    int users = 100;          // this process's (its shard's) users
    double ratePerUser = 2.0; // messages per second per user; 0: connect and listen only
    double durationS = 10.0;  // publishing phase, once every user is live
    QUrl publishUrl;          // empty: the publish_uri of the first assignment
    QByteArray publishKey;    // sent as "Authorization: Bearer <key>" when set
    bool publish = true;
    QString userPrefix;                  // user ids are prefix + index
    int rampMs = 1000;                   // clients are started spread over this long
    int maxConnecting = 64;              // users resolving or connecting at once (ConnectGate)
    QList<QHostAddress> sourceAddresses; // users connect from these in turn; empty: the system's choice
    double dropAtS = -1;                 // < 0: never drop connections
    // A shared stream every user reads (decision/public_streams must grant it),
    // verified per user like its own; this probe publishes to it at sharedRate.
    QString sharedStream;
    double sharedRate = 0;
    QString jsonPath;
    bool quiet = false;
    QString eventLoop = QStringLiteral("epoll"); // "epoll" (EpollEventDispatcher) or "qt" (Qt's default)
    bool gui = false;                            // --gui: one user in a window; decisionUrls may be empty
    QString guiUserId;                           // --user: the window's user id, when given
    QString caFile;                              // --ca-file: trusted besides the system's CAs
    bool insecure = false;                       // --insecure: no certificate checked

    // Makes --ca-file / --insecure what every TLS connection of the process
    // trusts; call once the application object exists.
    bool applyTls(QString *error) const;

    bool isPublishing() const { return publish && (ratePerUser > 0 || sharedRate > 0 || typingRate > 0); }
    bool isChat() const { return scenario == Scenario::Chat; }
    // Through POST /v1/publish (every scenario but chat, whose members publish themselves).
    bool usesPublishApi() const { return isPublishing() && !isChat(); }
    // Local index -> user id: shards of one run name distinct users.
    QString userId(int index) const
    {
        if (isChat())
            return userPrefix + u'r' + QString::number(globalRoom(index / members)) + u'-' +
                   QString::number(index % members);
        return userPrefix + QString::number(qint64(shardIndex) + qint64(index) * shardCount);
    }
    // chat: the room of local index `room` in the whole run, and its stream.
    qint64 globalRoom(int room) const { return qint64(shardIndex) + qint64(room) * shardCount; }
    QString roomStream(int room) const
    {
        return QStringLiteral("room:") + userPrefix + u'r' + QString::number(globalRoom(room));
    }

    // Parses `arguments` (argv as a list); works before QCoreApplication exists, as
    // main() needs it to. Handles --help and --version itself (prints and exits 0).
    // On a usage error returns false with `error` set.
    static bool parse(const QStringList &arguments, ProbeOptions *options, QString *error);
};

} // namespace bfg::probe
