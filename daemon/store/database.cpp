// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 BFG developers
#include "daemon/store/database.h"

#include <atomic>

#include <QDir>
#include <QFileInfo>
#include <QRegularExpression>
#include <QSqlError>
#include <QSqlQuery>
#include <QUrl>
#include <QUrlQuery>

#include "common/logging.h"

using namespace Qt::Literals::StringLiterals;

namespace bfg {

namespace {
// One statement of a migration: the same SQL for both drivers (built
// implicitly from one string), or a SQLite and a PostgreSQL spelling where
// they differ.
struct Statement
{
    Statement(const QString &both)
        : sqlite(both)
        , postgres(both)
    {}
    Statement(const QString &sqliteSql, const QString &postgresSql)
        : sqlite(sqliteSql)
        , postgres(postgresSql)
    {}

    QString sqlite;
    QString postgres;
};
using Step = QList<Statement>;

// Any constant will do, as long as every bfgd uses the same one: the
// advisory lock that serialises migrations of one PostgreSQL database.
constexpr qint64 MigrationLock = 0x4246'4753'544f'5245; // "BFGSTORE"

// Each step is one migration, applied in one transaction. Never edit a
// released step: append a new one. Decision steps run on SQLite and
// PostgreSQL, so they keep to what both understand: TEXT, INTEGER for
// small numbers, BIGINT for ms timestamps, DOUBLE PRECISION for reals.
const QList<Step> &steps(Database::Schema schema)
{
    static const QList<Step> decision{
        {
            u"CREATE TABLE nodes ("
            "id TEXT PRIMARY KEY, uri TEXT NOT NULL, publish_uri TEXT NOT NULL DEFAULT '',"
            " region TEXT NOT NULL DEFAULT '', capacity INTEGER NOT NULL DEFAULT 0,"
            " capacity_override INTEGER NOT NULL DEFAULT 0, suggested_capacity INTEGER NOT NULL DEFAULT 0,"
            " connections INTEGER NOT NULL DEFAULT 0, state TEXT NOT NULL DEFAULT 'active',"
            " admin_state TEXT NOT NULL DEFAULT 'active',"
            " delivered_per_sec DOUBLE PRECISION NOT NULL DEFAULT 0,"
            " latency_p50_ms DOUBLE PRECISION NOT NULL DEFAULT 0,"
            " latency_p99_ms DOUBLE PRECISION NOT NULL DEFAULT 0,"
            " last_report_ms BIGINT NOT NULL DEFAULT 0)"_s,
            u"CREATE TABLE settings (key TEXT PRIMARY KEY, value TEXT NOT NULL)"_s,
            {u"CREATE TABLE audit_log (id INTEGER PRIMARY KEY AUTOINCREMENT, at_ms BIGINT NOT NULL,"
             " actor TEXT NOT NULL, action TEXT NOT NULL, target TEXT NOT NULL DEFAULT '',"
             " old_value TEXT NOT NULL DEFAULT '', new_value TEXT NOT NULL DEFAULT '')"_s,
             u"CREATE TABLE audit_log (id BIGSERIAL PRIMARY KEY, at_ms BIGINT NOT NULL,"
             " actor TEXT NOT NULL, action TEXT NOT NULL, target TEXT NOT NULL DEFAULT '',"
             " old_value TEXT NOT NULL DEFAULT '', new_value TEXT NOT NULL DEFAULT '')"_s},
            u"CREATE INDEX audit_log_by_time ON audit_log (at_ms)"_s,
            u"CREATE TABLE admin_keys (name TEXT PRIMARY KEY, scope TEXT NOT NULL, key_hash TEXT NOT NULL)"_s,
        },
        {
            u"ALTER TABLE nodes ADD COLUMN broker TEXT NOT NULL DEFAULT ''"_s,
        },
    };
    // SQLite only (the local broker's own file).
    static const QList<Step> history{
        {
            u"CREATE TABLE streams (stream TEXT PRIMARY KEY, epoch TEXT NOT NULL,"
            "last_seq INTEGER NOT NULL, updated_us INTEGER NOT NULL)"_s,
            u"CREATE TABLE messages (stream TEXT NOT NULL, seq INTEGER NOT NULL, message_id TEXT,"
            "publish_time_us INTEGER NOT NULL, payload BLOB NOT NULL, PRIMARY KEY (stream, seq))"
            " WITHOUT ROWID"_s,
            u"CREATE INDEX messages_by_time ON messages (publish_time_us)"_s,
        },
        {
            // An append-only log in publish order: keyed by (stream, seq),
            // every message dirtied a random page of a large b-tree, which
            // capped the store near 23,000 messages a second (bench/personal).
            u"CREATE TABLE message_log (stream TEXT NOT NULL, seq INTEGER NOT NULL, message_id TEXT,"
            " publish_time_us INTEGER NOT NULL, payload BLOB NOT NULL)"_s,
            u"INSERT INTO message_log (stream, seq, message_id, publish_time_us, payload)"
            " SELECT stream, seq, message_id, publish_time_us, payload FROM messages ORDER BY publish_time_us"_s,
            u"DROP TABLE messages"_s,
            u"ALTER TABLE message_log RENAME TO messages"_s,
        },
    };
    return schema == Database::Schema::Decision ? decision : history;
}

// libpq options given as URL query items end up in a conninfo string:
// keep them to plain words so that none can smuggle in another option.
bool isPlainOption(const QString &key, const QString &value)
{
    static const QRegularExpression keyPattern(u"^[a-z_]+$"_s);
    static const QRegularExpression valuePattern(u"^[A-Za-z0-9_.:/-]+$"_s);
    return keyPattern.match(key).hasMatch() && valuePattern.match(value).hasMatch();
}
} // namespace

Database::~Database()
{
    close();
}

bool Database::isPostgresLocation(const QString &location)
{
    return location.startsWith(u"postgresql://"_s, Qt::CaseInsensitive) ||
           location.startsWith(u"postgres://"_s, Qt::CaseInsensitive);
}

bool Database::open(const QString &location, Schema schema, QString *error)
{
    close();
    m_location = location;
    m_schema = schema;
    const bool postgres = isPostgresLocation(location);
    if (postgres && schema == Schema::History) {
        *error = u"the local broker's history is kept in SQLite only: give it a file path,"
                 " not a PostgreSQL URL"_s;
        return false;
    }
    if (!(postgres ? openPostgres(location, error) : openSqlite(location, error)))
        return false;
    return migrate(schema, error);
}

bool Database::openSqlite(const QString &path, QString *error)
{
    static std::atomic<int> counter{0};
    m_connectionName = u"bfg-%1"_s.arg(counter.fetch_add(1));
    m_displayName = path;
    m_isPostgres = false;
    m_db = QSqlDatabase::addDatabase(u"QSQLITE"_s, m_connectionName);
    if (!m_db.isValid()) {
        *error = u"the Qt SQLite driver (QSQLITE) is not available"_s;
        return false;
    }
    const QFileInfo file(path);
    if (!QDir().mkpath(file.absolutePath())) {
        *error = u"cannot create directory %1"_s.arg(file.absolutePath());
        return false;
    }
    m_db.setDatabaseName(path);
    m_db.setConnectOptions(u"QSQLITE_BUSY_TIMEOUT=5000"_s);
    if (!m_db.open()) {
        *error = u"cannot open %1: %2"_s.arg(path, m_db.lastError().text());
        return false;
    }
    QSqlQuery pragma(m_db);
    // WAL: readers never block the writer; NORMAL: a commit survives a crash
    // of the process (not of the machine), at a fraction of FULL's cost.
    for (const QString &statement : {u"PRAGMA journal_mode=WAL"_s, u"PRAGMA synchronous=NORMAL"_s}) {
        if (!pragma.exec(statement)) {
            *error = u"%1 failed on %2: %3"_s.arg(statement, path, pragma.lastError().text());
            return false;
        }
    }
    return true;
}

bool Database::openPostgres(const QString &location, QString *error)
{
    static std::atomic<int> counter{0};
    m_connectionName = u"bfg-pg-%1"_s.arg(counter.fetch_add(1));
    m_isPostgres = true;
    // Never let the password reach an error message or the log: QUrl's own
    // error strings quote the input, so they are not passed on either.
    const QUrl url(location, QUrl::StrictMode);
    if (!url.isValid() || url.hasFragment()) {
        *error = u"the store location is not a valid postgresql://[user[:password]@]host[:port]/dbname URL"_s;
        return false;
    }
    m_displayName = url.toDisplayString(QUrl::RemovePassword);
    const QString database = url.path(QUrl::FullyDecoded).mid(1);
    if (database.isEmpty() || database.contains(u'/')) {
        *error = u"%1 names no database: give it as postgresql://host/dbname"_s.arg(m_displayName);
        return false;
    }
    QStringList options{u"connect_timeout=5"_s, u"application_name=bfgd"_s};
    const auto items = QUrlQuery(url).queryItems(QUrl::FullyDecoded);
    for (const auto &[key, value] : items) {
        static const QStringList inUrl{u"host"_s,   u"hostaddr"_s, u"port"_s,
                                       u"dbname"_s, u"user"_s,     u"password"_s};
        if (inUrl.contains(key) || !isPlainOption(key, value)) {
            *error = u"%1: unsupported connection option \"%2\""_s.arg(m_displayName, key);
            return false;
        }
        options.removeIf([&key](const QString &option) { return option.startsWith(key + u'='); });
        options.append(key + u'=' + value);
    }

    if (!QSqlDatabase::isDriverAvailable(u"QPSQL"_s)) {
        *error = u"the Qt PostgreSQL driver (QPSQL) is not available; on Debian and Ubuntu install"
                 " libqt6sql6-psql"_s;
        return false;
    }
    m_db = QSqlDatabase::addDatabase(u"QPSQL"_s, m_connectionName);
    if (!m_db.isValid()) {
        *error = u"the Qt PostgreSQL driver (QPSQL) cannot be loaded: %1"_s.arg(m_db.lastError().text());
        return false;
    }
    if (!url.host().isEmpty()) // none: libpq's default Unix socket
        m_db.setHostName(url.host());
    m_db.setPort(url.port(5432));
    m_db.setDatabaseName(database);
    m_db.setUserName(url.userName(QUrl::FullyDecoded));
    m_db.setPassword(url.password(QUrl::FullyDecoded));
    m_db.setConnectOptions(options.join(u';'));
    if (!m_db.open()) {
        *error = u"cannot connect to %1: %2"_s.arg(m_displayName, m_db.lastError().text().trimmed());
        return false;
    }
    return true;
}

bool Database::reconnect(QString *error)
{
    if (m_location.isEmpty()) {
        *error = u"the store was never opened"_s;
        return false;
    }
    const QString location = m_location;
    qCInfo(lcStore) << "reconnecting to" << m_displayName;
    return open(location, m_schema, error);
}

void Database::close()
{
    if (m_connectionName.isEmpty())
        return;
    m_db.close();
    m_db = QSqlDatabase();
    QSqlDatabase::removeDatabase(m_connectionName);
    m_connectionName.clear();
}

int Database::schemaVersion()
{
    QSqlQuery query(m_db);
    if (query.exec(u"SELECT version FROM schema_version"_s) && query.next())
        return query.value(0).toInt();
    return 0;
}

int Database::latestVersion(Schema schema)
{
    return int(steps(schema).size());
}

// Starts a migration's transaction holding the lock that keeps every other
// bfgd from migrating the same database until it ends.
bool Database::beginMigration(QString *error)
{
    QSqlQuery query(m_db);
    if (!m_isPostgres) {
        // IMMEDIATE takes SQLite's write lock now rather than at the first
        // write, so that two processes cannot both read the old version.
        if (!query.exec(u"BEGIN IMMEDIATE"_s)) {
            *error = u"cannot lock %1 for migrating: %2"_s.arg(m_displayName, query.lastError().text());
            return false;
        }
        return true;
    }
    // PostgreSQL's DDL is transactional: the lock is held, and the steps
    // become visible, when the transaction commits.
    if (!m_db.transaction() || !query.exec(u"SELECT pg_advisory_xact_lock(%1)"_s.arg(MigrationLock)) ||
        !query.exec(u"SET LOCAL client_min_messages = warning"_s)) {
        *error = u"cannot lock %1 for migrating: %2"_s.arg(
            m_displayName, (query.lastError().isValid() ? query.lastError() : m_db.lastError()).text());
        m_db.rollback();
        return false;
    }
    return true;
}

bool Database::migrate(Schema schema, QString *error)
{
    const QList<Step> &all = steps(schema);
    // One step per transaction; the version is read again after the lock is
    // taken, since another bfgd may have migrated while this one waited.
    for (;;) {
        if (!beginMigration(error))
            return false;
        QSqlQuery query(m_db);
        const auto fail = [&](const QString &what) {
            *error = u"%1: %2: %3"_s.arg(m_displayName, what, query.lastError().text());
            query.finish();
            m_db.rollback();
            return false;
        };
        if (!query.exec(u"CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)"_s))
            return fail(u"cannot create schema_version"_s);
        if (!query.exec(u"SELECT version FROM schema_version"_s))
            return fail(u"cannot read schema_version"_s);
        const int current = query.next() ? query.value(0).toInt() : 0;
        query.finish();
        if (current > all.size()) {
            m_db.rollback();
            *error = u"%1 has schema version %2, newer than this bfgd knows (%3)"_s.arg(m_displayName)
                         .arg(current)
                         .arg(all.size());
            return false;
        }
        if (current == all.size()) {
            if (!m_db.commit()) {
                *error = u"%1: %2"_s.arg(m_displayName, m_db.lastError().text());
                m_db.rollback();
                return false;
            }
            return true;
        }
        const int version = current + 1;
        for (const Statement &statement : all[version - 1]) {
            if (!query.exec(m_isPostgres ? statement.postgres : statement.sqlite))
                return fail(u"migration %1 failed"_s.arg(version));
        }
        if (!query.exec(u"DELETE FROM schema_version"_s))
            return fail(u"migration %1 failed"_s.arg(version));
        query.prepare(u"INSERT INTO schema_version (version) VALUES (?)"_s);
        query.addBindValue(version);
        if (!query.exec())
            return fail(u"migration %1 failed"_s.arg(version));
        query.finish();
        if (!m_db.commit()) {
            *error =
                u"%1: migration %2 failed: %3"_s.arg(m_displayName).arg(version).arg(m_db.lastError().text());
            m_db.rollback();
            return false;
        }
        qCInfo(lcStore) << "migrated" << m_displayName << "to schema version" << version;
    }
}

} // namespace bfg
