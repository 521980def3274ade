// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 BFG developers
#include "daemon/store/database.h"

#include <atomic>

#include <QDir>
#include <QFileInfo>
#include <QSqlError>
#include <QSqlQuery>

#include "common/logging.h"

using namespace Qt::Literals::StringLiterals;

namespace bfg {

namespace {
// Each inner list is one migration, applied in one transaction. Never edit
// a released step: append a new one.
const QList<QStringList> &steps(Database::Schema schema)
{
    static const QList<QStringList> decision{
        {
            u"CREATE TABLE nodes ("
            "id TEXT PRIMARY KEY, uri TEXT NOT NULL, publish_uri TEXT NOT NULL DEFAULT '',"
            "region TEXT NOT NULL DEFAULT '', capacity INTEGER NOT NULL DEFAULT 0,"
            "connections INTEGER NOT NULL DEFAULT 0, state TEXT NOT NULL DEFAULT 'active',"
            "admin_state TEXT NOT NULL DEFAULT 'active',"
            "delivered_per_sec REAL NOT NULL DEFAULT 0, latency_p50_ms REAL NOT NULL DEFAULT 0,"
            "latency_p99_ms REAL NOT NULL DEFAULT 0, last_report_ms INTEGER NOT NULL DEFAULT 0)"_s,
            u"CREATE TABLE settings (key TEXT PRIMARY KEY, value TEXT NOT NULL)"_s,
        },
    };
    static const QList<QStringList> history{
        {
            u"CREATE TABLE streams (stream TEXT PRIMARY KEY, epoch TEXT NOT NULL,"
            "last_seq INTEGER NOT NULL, updated_us INTEGER NOT NULL)"_s,
            u"CREATE TABLE messages (stream TEXT NOT NULL, seq INTEGER NOT NULL, message_id TEXT,"
            "publish_time_us INTEGER NOT NULL, payload BLOB NOT NULL, PRIMARY KEY (stream, seq))"
            " WITHOUT ROWID"_s,
            u"CREATE INDEX messages_by_time ON messages (publish_time_us)"_s,
        },
    };
    return schema == Database::Schema::Decision ? decision : history;
}
} // namespace

Database::~Database()
{
    close();
}

bool Database::open(const QString &path, Schema schema, QString *error)
{
    static std::atomic<int> counter{0};
    m_connectionName = u"bfg-%1"_s.arg(counter.fetch_add(1));
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
    return migrate(schema, error);
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

bool Database::migrate(Schema schema, QString *error)
{
    QSqlQuery query(m_db);
    if (!query.exec(u"CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)"_s)) {
        *error = query.lastError().text();
        return false;
    }
    const int current = schemaVersion();
    const QList<QStringList> &all = steps(schema);
    if (current > all.size()) {
        *error = u"%1 has schema version %2, newer than this bfgd knows (%3)"_s.arg(m_db.databaseName())
                     .arg(current)
                     .arg(all.size());
        return false;
    }
    for (int version = current + 1; version <= all.size(); ++version) {
        m_db.transaction();
        for (const QString &statement : all[version - 1]) {
            if (!query.exec(statement)) {
                *error = u"migration %1 failed: %2"_s.arg(version).arg(query.lastError().text());
                m_db.rollback();
                return false;
            }
        }
        query.exec(u"DELETE FROM schema_version"_s);
        query.prepare(u"INSERT INTO schema_version (version) VALUES (?)"_s);
        query.addBindValue(version);
        if (!query.exec() || !m_db.commit()) {
            *error = u"migration %1 failed: %2"_s.arg(version).arg(query.lastError().text());
            m_db.rollback();
            return false;
        }
        qCInfo(lcStore) << "migrated" << m_db.databaseName() << "to schema version" << version;
    }
    return true;
}

} // namespace bfg
