// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 BFG developers
#include "daemon/settings.h"

#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QRandomGenerator>
#include <QSettings>
#include <QStandardPaths>

#include "common/protocol.h"
#include "common/token.h"
#include "daemon/store/adminkeytable.h"

using namespace Qt::Literals::StringLiterals;

namespace bfg {

namespace {

// Reads keys from the file and the overrides, remembering each effective
// value and the first problem met.
class Reader
{
public:
    Reader(QSettings *file, const QHash<QString, QString> &overrides, QStringList *effective,
           QMap<QString, QString> *values)
        : m_file(file)
        , m_overrides(overrides)
        , m_effective(effective)
        , m_values(values)
    {}

    QString string(const QString &key, const QString &fallback)
    {
        QString value = fallback;
        if (m_overrides.contains(key))
            value = m_overrides.value(key);
        else if (m_file && m_file->contains(fileKey(key)))
            value = m_file->value(fileKey(key)).toStringList().join(u',');
        static const QSet<QString> secrets{u"general/secret"_s,        u"general/previous_secrets"_s,
                                           u"decision/admin_keys"_s,   u"push/publish_keys"_s,
                                           u"broker/redis_password"_s, u"general/metrics_key"_s};
        m_effective->append(key + u" = "_s +
                            (secrets.contains(key) && !value.isEmpty() ? u"(set)"_s : value));
        m_known.insert(key);
        m_values->insert(key, value.trimmed());
        return value.trimmed();
    }

    int integer(const QString &key, int fallback, int minimum, int maximum)
    {
        const QString text = string(key, QString::number(fallback));
        bool ok = false;
        const int value = text.toInt(&ok);
        if (!ok || value < minimum || value > maximum) {
            problem(u"%1 = \"%2\": expected a whole number from %3 to %4"_s.arg(key, text).arg(minimum).arg(
                maximum));
            return fallback;
        }
        return value;
    }

    // "address:port"; port 0 picks a free port.
    void endpoint(const QString &key, const QString &fallback, QHostAddress *address, quint16 *port)
    {
        const QString text = string(key, fallback);
        const qsizetype colon = text.lastIndexOf(u':');
        bool ok = false;
        const int number = colon > 0 ? text.mid(colon + 1).toInt(&ok) : -1;
        QString host = colon > 0 ? text.left(colon) : QString();
        if (host.startsWith(u'[') && host.endsWith(u']'))
            host = host.mid(1, host.size() - 2);
        const QHostAddress parsed(host == u"localhost"_s ? u"127.0.0.1"_s : host);
        if (!ok || number < 0 || number > 65535 || parsed.isNull()) {
            problem(u"%1 = \"%2\": expected ADDRESS:PORT, e.g. 127.0.0.1:8080 or 0.0.0.0:0"_s.arg(key, text));
            return;
        }
        *address = parsed;
        *port = quint16(number);
    }

    // A file path: "~/" is the home directory, relative paths are under `dataDir`.
    QString path(const QString &key, const QString &fallback, const QString &dataDir = QString())
    {
        QString text = string(key, fallback);
        if (text == u"~"_s || text.startsWith(u"~/"_s)) {
            text = QDir::homePath() + text.mid(1);
            m_effective->last() = key + u" = "_s + text;
        }
        if (dataDir.isEmpty() || text.contains(u"://"_s)) // a URL (postgresql://...) is not a file
            return text;
        return QFileInfo(text).isAbsolute() ? text : QDir(dataDir).filePath(text);
    }

    void problem(const QString &text)
    {
        if (m_problem.isEmpty())
            m_problem = text;
    }
    QString firstProblem() const { return m_problem; }

    // Keys in the file or overrides that no one asked for: most likely typos.
    QStringList unknownKeys() const
    {
        QStringList unknown;
        QStringList all = m_overrides.keys();
        if (m_file) {
            for (const QString &key : m_file->allKeys())
                all.append(key.contains(u'/') ? key : u"general/"_s + key);
        }
        for (const QString &key : std::as_const(all)) {
            if (!m_known.contains(key) && !unknown.contains(key))
                unknown.append(key);
        }
        return unknown;
    }

private:
    // QSettings reads an INI file's [general] section as top-level keys.
    static QString fileKey(const QString &key) { return key.startsWith(u"general/"_s) ? key.mid(8) : key; }

    QSettings *m_file;
    QHash<QString, QString> m_overrides;
    QStringList *m_effective;
    QMap<QString, QString> *m_values;
    QSet<QString> m_known;
    QString m_problem;
};

bool readOrCreateSecret(const QString &inline_, const QString &file, const QString &dataDir,
                        const QString &defaultName, QByteArray *secret, QString *error)
{
    if (!inline_.isEmpty()) {
        *secret = inline_.toUtf8();
        return true;
    }
    const QString path = file.isEmpty() ? QDir(dataDir).filePath(defaultName) : file;
    QFile f(path);
    if (f.exists()) {
        if (!f.open(QIODevice::ReadOnly)) {
            *error = u"cannot read secret file %1: %2"_s.arg(path, f.errorString());
            return false;
        }
        *secret = f.readAll().trimmed();
        if (secret->size() < 16) {
            *error = u"secret in %1 is shorter than 16 bytes"_s.arg(path);
            return false;
        }
        return true;
    }
    if (!file.isEmpty()) {
        *error = u"secret file %1 does not exist"_s.arg(path);
        return false;
    }
    // First start on this data directory: make a secret and keep it, so that
    // tokens survive a restart and processes sharing the directory agree.
    QByteArray bytes(32, Qt::Uninitialized);
    QRandomGenerator::system()->fillRange(reinterpret_cast<quint32 *>(bytes.data()), 8);
    *secret = bytes.toHex();
    if (!QDir().mkpath(dataDir) || !f.open(QIODevice::WriteOnly)) {
        *error = u"cannot create secret file %1: %2"_s.arg(path, f.errorString());
        return false;
    }
    f.setPermissions(QFileDevice::ReadOwner | QFileDevice::WriteOwner);
    f.write(*secret + '\n');
    return true;
}

} // namespace

bool DaemonSettings::load(const QString &configPath, const QStringList &overrides, DaemonSettings *out,
                          QString *error)
{
    std::unique_ptr<QSettings> file;
    if (!configPath.isEmpty()) {
        if (!QFileInfo::exists(configPath)) {
            *error = u"config file %1 does not exist"_s.arg(configPath);
            return false;
        }
        file = std::make_unique<QSettings>(configPath, QSettings::IniFormat);
        if (file->status() != QSettings::NoError) {
            *error = u"config file %1 cannot be parsed"_s.arg(configPath);
            return false;
        }
    }
    QHash<QString, QString> overrideMap;
    for (const QString &line : overrides) {
        const qsizetype equals = line.indexOf(u'=');
        if (equals <= 0 || !line.left(equals).contains(u'/')) {
            *error = u"--set \"%1\": expected section/key=value"_s.arg(line);
            return false;
        }
        overrideMap.insert(line.left(equals).trimmed(), line.mid(equals + 1));
    }

    DaemonSettings s;
    Reader r(file.get(), overrideMap, &s.effective, &s.values);

    const QStringList roles =
        r.string(u"general/roles"_s, u"decision,push"_s).split(u',', Qt::SkipEmptyParts);
    s.runDecision = s.runPush = false;
    for (const QString &role : roles) {
        if (role.trimmed() == u"decision"_s)
            s.runDecision = true;
        else if (role.trimmed() == u"push"_s)
            s.runPush = true;
        else if (role.trimmed() == u"all"_s) // what the systemd unit bfgd@all passes
            s.runDecision = s.runPush = true;
        else
            r.problem(u"general/roles: unknown role \"%1\" (use decision, push, both, or all)"_s.arg(
                role.trimmed()));
    }
    if (!s.runDecision && !s.runPush)
        r.problem(u"general/roles: name at least one of decision, push"_s);
    s.dataDir = r.path(u"general/data_dir"_s,
                       QStandardPaths::writableLocation(QStandardPaths::GenericDataLocation) + u"/bfgd"_s);
    s.logRules = r.string(u"general/log_rules"_s, QString());
    s.decision.metricsKey = s.push.metricsKey = r.string(u"general/metrics_key"_s, QString()).toUtf8();
    s.secret = r.string(u"general/secret"_s, QString());
    s.secretFile = r.path(u"general/secret_file"_s, QString());
    for (const QString &entry :
         r.string(u"general/previous_secrets"_s, QString()).split(u',', Qt::SkipEmptyParts)) {
        if (entry.trimmed().size() < 16)
            r.problem(u"general/previous_secrets: each secret must have 16 or more characters"_s);
        else
            s.previousSecrets.append(entry.trimmed().toUtf8());
    }

    DecisionOptions &d = s.decision;
    r.endpoint(u"decision/listen"_s, u"127.0.0.1:8080"_s, &d.address, &d.port);
    d.decisionId = r.string(u"decision/id"_s, QString());
    d.store = r.path(u"decision/store"_s, u"decision.db"_s, s.dataDir);
    d.allowedLoadPercent = r.integer(u"decision/allowed_load"_s, d.allowedLoadPercent, 1, 100);
    d.tokenTtlSeconds = r.integer(u"decision/token_ttl_s"_s, d.tokenTtlSeconds, 5, 86400);
    for (const QString &entry :
         r.string(u"decision/public_streams"_s, QString()).split(u',', Qt::SkipEmptyParts)) {
        const QString stream = entry.trimmed();
        const bool pattern = stream.endsWith(u'*');
        if (pattern ? !TokenSigner::isValidPattern(stream)
                    : (!protocol::isValidStreamName(stream) || stream.startsWith(u"user:"_s)))
            r.problem(u"decision/public_streams: \"%1\" is not a shared stream name or pattern (kind:name or "
                      "kind:prefix*, not user:)"_s.arg(stream));
        else if (!d.publicStreams.contains(stream))
            d.publicStreams.append(stream);
    }
    for (const QString &entry :
         r.string(u"decision/client_publish"_s, QString()).split(u',', Qt::SkipEmptyParts)) {
        const QString stream = entry.trimmed();
        if (stream.endsWith(u'*') ? !TokenSigner::isValidPattern(stream, true)
                                  : !protocol::isValidStreamName(stream))
            r.problem(u"decision/client_publish: \"%1\" is neither a stream nor a pattern kind:prefix*"_s.arg(
                stream));
        else if (!d.clientPublish.contains(stream))
            d.clientPublish.append(stream);
    }
    d.reportIntervalMs = r.integer(u"decision/report_interval_ms"_s, d.reportIntervalMs, 100, 60000);
    d.assignRatePerSecond = r.integer(u"decision/assign_rate"_s, int(d.assignRatePerSecond), 0, 10'000'000);
    d.assignBurst = r.integer(u"decision/assign_burst"_s, d.assignBurst, 1, 10'000'000);
    d.latencySloMs = r.integer(u"decision/latency_slo_ms"_s, int(d.latencySloMs), 0, 600000);
    for (const QString &entry :
         r.string(u"decision/admin_keys"_s, QString()).split(u',', Qt::SkipEmptyParts)) {
        const QStringList parts = entry.trimmed().split(u':');
        if (parts.size() != 3 || parts[0].isEmpty() || (parts[1] != u"read"_s && parts[1] != u"operator"_s) ||
            parts[2].size() < 16) {
            r.problem(u"decision/admin_keys: expected name:read|operator:key (key of 16 or more characters), "
                      "comma-separated"_s);
            break;
        }
        d.adminKeys.append({parts[0], parts[1], parts[2]});
    }

    PushOptions &p = s.push;
    p.nodeId = r.string(u"push/node_id"_s, QString());
    r.endpoint(u"push/listen"_s, u"127.0.0.1:8081"_s, &p.address, &p.port);
    r.endpoint(u"push/publish_listen"_s, u"127.0.0.1:8082"_s, &p.httpAddress, &p.httpPort);
    p.publicUri = r.string(u"push/public_uri"_s, QString());
    p.publicHttpUri = r.string(u"push/public_publish_uri"_s, QString());
    p.region = r.string(u"push/region"_s, QString());
    p.capacity = r.integer(u"push/capacity"_s, p.capacity, 1, 10'000'000);
    p.workers = r.integer(u"push/workers"_s, p.workers, 0, 256);
    p.eventLoop = r.string(u"push/event_loop"_s, p.eventLoop);
    if (p.eventLoop != u"epoll"_s && p.eventLoop != u"qt"_s)
        r.problem(u"push/event_loop = \"%1\": expected epoll or qt"_s.arg(p.eventLoop));
    p.heartbeatMs = r.integer(u"push/heartbeat_ms"_s, p.heartbeatMs, 1000, 600000);
    p.handshakeTimeoutMs = r.integer(u"push/handshake_timeout_ms"_s, p.handshakeTimeoutMs, 100, 600000);
    p.maxFrameBytes = r.integer(u"push/max_frame_bytes"_s, p.maxFrameBytes, 1024, 16 * 1024 * 1024);
    p.maxPendingConnections =
        r.integer(u"push/max_pending_connections"_s, p.maxPendingConnections, 1, 1'000'000);
    p.listenBacklog = r.integer(u"push/listen_backlog"_s, p.listenBacklog, 1, 1'000'000);
    p.connectionsPerIpPerSecond =
        r.integer(u"push/connections_per_ip_per_s"_s, p.connectionsPerIpPerSecond, 0, 10'000'000);
    p.inboundFramesPerSecond =
        r.integer(u"push/inbound_frames_per_s"_s, p.inboundFramesPerSecond, 0, 10'000'000);
    p.inboundBytesPerSecond =
        r.integer(u"push/inbound_bytes_per_s"_s, p.inboundBytesPerSecond, 0, 1'000'000'000);
    p.maxConnectionsPerUser =
        r.integer(u"push/max_connections_per_user"_s, p.maxConnectionsPerUser, 0, 1'000'000);
    {
        const QString policy = r.string(u"push/connections_per_user_policy"_s, u"close_oldest"_s);
        if (policy != u"close_oldest"_s && policy != u"refuse_new"_s)
            r.problem(
                u"push/connections_per_user_policy: expected close_oldest or refuse_new, got \"%1\""_s.arg(
                    policy));
        p.refuseNewPerUser = policy == u"refuse_new"_s;
    }
    p.publishRequestsPerSecond =
        r.integer(u"push/publish_requests_per_s"_s, p.publishRequestsPerSecond, 0, 10'000'000);
    p.maxSendQueueBytes = r.integer(u"push/max_send_queue_bytes"_s, int(p.maxSendQueueBytes), 65536, 1 << 30);
    p.maxPublishBatch = r.integer(u"push/max_publish_batch"_s, p.maxPublishBatch, 1, 100000);
    p.reportIntervalMs = d.reportIntervalMs;
    p.drainRate = r.integer(u"push/drain_rate"_s, p.drainRate, 1, 1'000'000);
    p.drainTimeoutMs = r.integer(u"push/drain_timeout_ms"_s, p.drainTimeoutMs, 0, 3'600'000);
    const QString decisionUrls = r.string(u"push/decision_urls"_s, QString());
    for (const QString &text : decisionUrls.split(u',', Qt::SkipEmptyParts)) {
        const QUrl url(text.trimmed());
        if (!url.isValid() || (url.scheme() != u"http"_s && url.scheme() != u"https"_s))
            r.problem(u"push/decision_urls: \"%1\" is not an http(s) URL"_s.arg(text));
        p.decisionUrls.append(url);
    }
    p.publishKeys = r.string(u"push/publish_keys"_s, QString()).split(u',', Qt::SkipEmptyParts);
    for (QString &key : p.publishKeys)
        key = key.trimmed();

    s.brokerType = r.string(u"broker/type"_s, s.brokerType);
    if (s.brokerType != u"local"_s && s.brokerType != u"redis"_s)
        r.problem(u"broker/type = \"%1\": expected local or redis"_s.arg(s.brokerType));
    LocalBrokerOptions &b = s.broker;
    b.databasePath = r.path(u"broker/store"_s, u"history.db"_s, s.dataDir);
    b.historySize = r.integer(u"broker/history_size"_s, b.historySize, 1, 1'000'000);
    b.historyAgeSeconds = r.integer(u"broker/history_age_s"_s, b.historyAgeSeconds, 1, 7 * 86400);
    b.streamTtlSeconds = r.integer(u"broker/stream_ttl_s"_s, b.streamTtlSeconds, 60, 365 * 86400);
    RedisBrokerOptions &redis = s.redis;
    redis.historySize = b.historySize;
    redis.historyAgeSeconds = b.historyAgeSeconds;
    redis.streamTtlSeconds = b.streamTtlSeconds;
    const QString redisAddress = r.string(u"broker/redis_address"_s, u"127.0.0.1:6379"_s);
    const qsizetype colon = redisAddress.lastIndexOf(u':');
    bool portOk = false;
    const int redisPort = colon > 0 ? redisAddress.mid(colon + 1).toInt(&portOk) : 0;
    if (!portOk || redisPort < 1 || redisPort > 65535)
        r.problem(
            u"broker/redis_address = \"%1\": expected HOST:PORT, e.g. 127.0.0.1:6379"_s.arg(redisAddress));
    redis.host = redisAddress.left(colon);
    redis.port = quint16(redisPort);
    redis.password = r.string(u"broker/redis_password"_s, QString());
    redis.db = r.integer(u"broker/redis_db"_s, redis.db, 0, 1000);
    redis.timeoutMs = r.integer(u"broker/redis_timeout_ms"_s, redis.timeoutMs, 50, 60000);

    // TLS: one certificate and key for every listener of this bfgd, checked
    // now; the CA file is what bfgd trusts when it calls decision servers.
    s.tlsCertificate = r.path(u"tls/certificate"_s, QString());
    s.tlsPrivateKey = r.path(u"tls/private_key"_s, QString());
    s.tlsCaFile = r.path(u"tls/ca_file"_s, QString());
    if (s.tlsCertificate.isEmpty() != s.tlsPrivateKey.isEmpty()) {
        r.problem(u"tls/certificate and tls/private_key: set both (TLS on every listener) or neither"_s);
    } else if (!s.tlsCertificate.isEmpty() && r.firstProblem().isEmpty()) {
        QString tlsError;
        d.tls = p.tls = ServerTls::load(s.tlsCertificate, s.tlsPrivateKey, &tlsError);
        if (!d.tls)
            r.problem(tlsError);
    }
    if (!s.tlsCaFile.isEmpty() && !QFileInfo(s.tlsCaFile).isReadable())
        r.problem(u"tls/ca_file: cannot read %1"_s.arg(s.tlsCaFile));

    if (s.runPush && !s.runDecision && p.decisionUrls.isEmpty())
        r.problem(
            u"push/decision_urls: a push node without the decision role must name its decision servers"_s);

    if (!r.firstProblem().isEmpty()) {
        *error = r.firstProblem();
        return false;
    }
    const QStringList unknown = r.unknownKeys();
    if (!unknown.isEmpty()) {
        *error = u"unknown configuration key(s): %1"_s.arg(unknown.join(u", "_s));
        return false;
    }
    *out = std::move(s);
    return true;
}

// Each of these is applied by DecisionServer::reconfigure, PushServer::reconfigure
// or bfgd's reload itself (log_rules).
const QStringList DaemonSettings::LiveKeys = {
    u"general/log_rules"_s,
    u"general/secret"_s,
    u"general/secret_file"_s,
    u"general/previous_secrets"_s,
    u"decision/allowed_load"_s,
    u"decision/admin_keys"_s,
    u"decision/token_ttl_s"_s,
    u"decision/public_streams"_s,
    u"decision/client_publish"_s,
    u"decision/assign_rate"_s,
    u"decision/assign_burst"_s,
    u"decision/latency_slo_ms"_s,
    u"push/handshake_timeout_ms"_s,
    u"push/max_pending_connections"_s,
    u"push/connections_per_ip_per_s"_s,
    u"push/inbound_frames_per_s"_s,
    u"push/inbound_bytes_per_s"_s,
    u"push/max_connections_per_user"_s,
    u"push/connections_per_user_policy"_s,
    u"push/publish_requests_per_s"_s,
    u"push/max_send_queue_bytes"_s,
    u"push/drain_rate"_s,
    u"push/drain_timeout_ms"_s,
    u"push/publish_keys"_s,
};

DaemonSettings::Changes DaemonSettings::changesTo(const DaemonSettings &fresh) const
{
    // A role's keys matter only where it runs (the report interval is the push role's too).
    auto matters = [this](const QString &key) {
        if (key.startsWith(u"decision/"_s))
            return runDecision || (runPush && key == u"decision/report_interval_ms"_s);
        if (key.startsWith(u"push/"_s) || key.startsWith(u"broker/"_s))
            return runPush;
        return true;
    };
    QStringList keys = values.keys();
    for (const QString &key : fresh.values.keys()) {
        if (!values.contains(key))
            keys.append(key);
    }
    Changes changes;
    // A certificate and key are renewed live; TLS turned on or off is a restart.
    const bool tlsStays = push.tls && fresh.push.tls;
    for (const QString &key : std::as_const(keys)) {
        if (values.value(key) == fresh.values.value(key) || !matters(key))
            continue;
        const bool live = LiveKeys.contains(key) ||
                          (tlsStays && (key == u"tls/certificate"_s || key == u"tls/private_key"_s));
        (live ? changes.live : changes.needRestart).append(key);
    }
    // The same file names with a new certificate in them (a renewal).
    if (tlsStays && push.tls->fingerprint() != fresh.push.tls->fingerprint() &&
        !changes.live.contains(u"tls/certificate"_s))
        changes.live.append(u"tls/certificate"_s);
    // What the keys point at may change while they do not: a secret file, the
    // generated data_dir/secret or data_dir/admin-key.
    if (decision.secret != fresh.decision.secret && !changes.live.contains(u"general/secret"_s) &&
        !changes.live.contains(u"general/secret_file"_s))
        changes.live.append(secretFile.isEmpty() ? u"general/secret"_s : u"general/secret_file"_s);
    if (runDecision && decision.adminKeys != fresh.decision.adminKeys &&
        !changes.live.contains(u"decision/admin_keys"_s))
        changes.live.append(u"decision/admin_keys"_s);
    return changes;
}

void DaemonSettings::takeLiveSettings(const DaemonSettings &fresh)
{
    // The roles hold the rest of what is in effect (their reconfigure()).
    for (const QString &key : LiveKeys)
        values.insert(key, fresh.values.value(key));
    logRules = fresh.logRules;
    secret = fresh.secret;
    secretFile = fresh.secretFile;
    previousSecrets = fresh.previousSecrets;
    decision.secret = push.secret = fresh.decision.secret;
    decision.previousSecrets = push.previousSecrets = fresh.previousSecrets;
    decision.adminKeys = fresh.decision.adminKeys;
    adminKeyFile = fresh.adminKeyFile;
    if (push.tls && fresh.push.tls) {
        for (const QString &key : {u"tls/certificate"_s, u"tls/private_key"_s})
            values.insert(key, fresh.values.value(key));
        tlsCertificate = fresh.tlsCertificate;
        tlsPrivateKey = fresh.tlsPrivateKey;
        decision.tls = push.tls = fresh.push.tls;
    }
}

bool DaemonSettings::loadSecret(QString *error)
{
    if (!readOrCreateSecret(secret, secretFile, dataDir, u"secret"_s, &decision.secret, error))
        return false;
    push.secret = decision.secret;
    decision.previousSecrets = push.previousSecrets = previousSecrets;
    if (runDecision && decision.adminKeys.isEmpty()) {
        // No admin keys configured: one operator key of this data directory,
        // for the console and curl on this machine.
        QByteArray key;
        if (!readOrCreateSecret(QString(), QString(), dataDir, u"admin-key"_s, &key, error))
            return false;
        // Named after the key itself, so that the generated keys of several
        // decision servers on one database do not replace each other.
        const QString name = u"admin-"_s + QString::fromLatin1(AdminKeyTable::hashKey(key).left(8));
        decision.adminKeys.append({name, u"operator"_s, QString::fromLatin1(key)});
        adminKeyFile = QDir(dataDir).filePath(u"admin-key"_s);
    }
    return true;
}

} // namespace bfg
