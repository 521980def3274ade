// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 BFG developers
//
// bfgd's configuration: every key with its default in one place, read
// from an INI file (QSettings) and overridden by command-line flags, then
// checked, so that a bad value stops bfgd at start with a clear message.
// README.md's configuration reference lists the same keys.
#pragma once

#include <QHostAddress>
#include <QMap>
#include <QStringList>

#include "daemon/broker/localbroker.h"
#include "daemon/broker/redisbroker.h"
#include "daemon/decision/decisionserver.h"
#include "daemon/push/pushoptions.h"
#include "daemon/tls/servertls.h"

namespace bfg {

struct DaemonSettings
{
    bool runDecision = true;
    bool runPush = true;
    QString dataDir;
    QString logRules;
    DecisionOptions decision;
    PushOptions push;
    QString brokerType = QStringLiteral("local"); // broker/type: local or redis
    LocalBrokerOptions broker;                    // when local
    RedisBrokerOptions redis;                     // when redis

    QString secret;                    // general/secret
    QString secretFile;                // general/secret_file
    QList<QByteArray> previousSecrets; // general/previous_secrets: still verify, never sign
    QString adminKeyFile;              // set when bfgd made or reused data_dir/admin-key
    QString tlsCertificate;            // tls/certificate (loaded into decision.tls and push.tls)
    QString tlsPrivateKey;             // tls/private_key
    QString tlsCaFile;                 // tls/ca_file: trusted when bfgd calls decision servers

    // One line per key with its effective value, for --print-config.
    QStringList effective;
    // Every key's effective value, secrets included: what a reload compares.
    QMap<QString, QString> values;

    // The keys a reload applies to a running bfgd (SIGHUP); a change of any
    // other key takes effect at the next start.
    static const QStringList LiveKeys;
    // What reloading `fresh` (loaded and with its secret read) over these
    // running settings changes, by key: those applied live and those that
    // need a restart. Keys of roles this process does not run are left out.
    struct Changes
    {
        QStringList live;
        QStringList needRestart;
    };
    Changes changesTo(const DaemonSettings &fresh) const;
    // After a reload: takes the live settings of `fresh`, so that the next
    // reload compares with what is in effect.
    void takeLiveSettings(const DaemonSettings &fresh);

    // `overrides` are "section/key=value" strings applied after the file.
    static bool load(const QString &configPath, const QStringList &overrides, DaemonSettings *out,
                     QString *error);
    // Sets decision.secret and push.secret from general/secret, or the
    // secret file, or data_dir/secret, which it creates (mode 0600) on the
    // first start so that tokens survive restarts. Without admin keys, the
    // decision role gets one operator key kept in data_dir/admin-key.
    bool loadSecret(QString *error);
};

} // namespace bfg
