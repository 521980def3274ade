// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 BFG developers
//
// One Qt Sql connection with its schema migrated to the newest version.
// A connection belongs to the thread that opened it: the decision role
// opens its store on the main thread, the local broker on its writer
// thread. Migrations are numbered steps kept in schema_version.
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

    // Opens (creating if needed) the SQLite file at `path` and migrates it.
    bool open(const QString &path, Schema schema, QString *error);
    void close();
    bool isOpen() const { return m_db.isOpen(); }
    QSqlDatabase &db() { return m_db; }

    int schemaVersion();
    static int latestVersion(Schema schema);

private:
    bool migrate(Schema schema, QString *error);

    QString m_connectionName;
    QSqlDatabase m_db;
};

} // namespace bfg
