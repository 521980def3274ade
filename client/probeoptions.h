// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 BFG developers
//
// What one bfg-probe run was asked to do, parsed and checked from the
// command line in one place with every default. main() turns a parse
// error into a message and exit code 2; Probe only ever sees valid options.
// With --gui the window (ProbeWindow) takes the decision URLs, the user id
// and the publish settings as its starting values; nothing else applies.
#pragma once

#include <QHostAddress>
#include <QList>
#include <QString>
#include <QStringList>
#include <QUrl>

namespace bfg::probe {

struct ProbeOptions
{
    QList<QUrl> decisionUrls;
    int users = 100;
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

    bool isPublishing() const { return publish && (ratePerUser > 0 || sharedRate > 0); }
    QString userId(int index) const { return userPrefix + QString::number(index); }

    // Parses `arguments` (argv as a list); works before QCoreApplication exists, as
    // main() needs it to. Handles --help and --version itself (prints and exits 0).
    // On a usage error returns false with `error` set.
    static bool parse(const QStringList &arguments, ProbeOptions *options, QString *error);
};

} // namespace bfg::probe
