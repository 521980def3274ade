// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 BFG developers
//
// The decision store's `audit_log` table: who changed what and when, old
// and new value, for every change made through the admin API.
#pragma once

#include <QList>
#include <QString>

class QSqlDatabase;

namespace bfg {

struct AuditEntry
{
    qint64 id = 0;   // assigned by the store, increasing
    qint64 atMs = 0; // ms since the Unix epoch
    QString actor;   // the admin key's name
    QString action;  // e.g. "set_allowed_load", "drain", "undrain", "set_capacity", "forget"
    QString target;  // "cluster" or a node id
    QString oldValue;
    QString newValue;
};

class AuditTable
{
public:
    static inline const QString Name = QStringLiteral("audit_log");

    explicit AuditTable(QSqlDatabase &db);

    bool append(const AuditEntry &entry, QString *error = nullptr);
    // Entries with at_ms >= sinceMs, oldest first, at most `limit`.
    QList<AuditEntry> since(qint64 sinceMs, int limit, QString *error = nullptr) const;

private:
    QSqlDatabase &m_db;
};

} // namespace bfg
