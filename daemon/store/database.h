// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 BFG developers
//
// One Qt Sql connection with its schema migrated to the newest version:
// SQLite (a file path, the default) or PostgreSQL (a postgresql:// URL,
// shared by several decision servers). A connection belongs to the thread
// that opened it: the decision role opens its store on the main thread,
// the local broker on its writer thread. Migrations are numbered steps
// kept in schema_version.
#pragma once

#include <QSqlDatabase>
#include <QString>
#include <QStringList>

namespace bfg {

class Database
{
public:
    enum class Schema { Decision, History };

    Database() = default;
    ~Database();
    Q_DISABLE_COPY_MOVE(Database)

    // Opens `location` and migrates it. `location` is the path of a SQLite
    // file (created if needed), or postgresql://[user[:password]@]host[:port]/dbname
    // (also postgres://; query items such as ?sslmode=require go to libpq).
    // The History schema is SQLite only.
    bool open(const QString &location, Schema schema, QString *error);
    // Closes and opens the same location again, for when the connection was
    // lost (PostgreSQL restarted, failed over, or dropped it): Qt's QPSQL
    // does not reconnect by itself. Table objects made over db() keep
    // working; queries prepared ahead of time (HistoryTable) do not.
    bool reconnect(QString *error);
    void close();
    bool isOpen() const { return m_db.isOpen(); }
    bool isPostgres() const { return m_isPostgres; }
    QSqlDatabase &db() { return m_db; }

    int schemaVersion();
    static int latestVersion(Schema schema);
    // Whether `location` names a PostgreSQL database rather than a SQLite file.
    static bool isPostgresLocation(const QString &location);

private:
    bool openSqlite(const QString &path, QString *error);
    bool openPostgres(const QString &url, QString *error);
    bool migrate(Schema schema, QString *error);
    bool beginMigration(QString *error);

    QString m_location; // as given, password and all: never log it
    Schema m_schema = Schema::Decision;
    QString m_connectionName;
    QString m_displayName; // the path, or the URL without its password
    bool m_isPostgres = false;
    QSqlDatabase m_db;
};

} // namespace bfg
