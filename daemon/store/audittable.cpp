// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 BFG developers
#include "daemon/store/audittable.h"

#include <QSqlDatabase>
#include <QSqlQuery>

#include "daemon/store/sqlsupport.h"

using namespace Qt::Literals::StringLiterals;

namespace bfg {

AuditTable::AuditTable(QSqlDatabase &db)
    : m_db(db)
{}

bool AuditTable::append(const AuditEntry &entry, QString *error)
{
    QSqlQuery query(m_db);
    query.prepare(u"INSERT INTO audit_log (at_ms, actor, action, target, old_value, new_value)"
                  " VALUES (?, ?, ?, ?, ?, ?)"_s);
    for (const QVariant &value : {QVariant(entry.atMs), sqlText(entry.actor), sqlText(entry.action),
                                  sqlText(entry.target), sqlText(entry.oldValue), sqlText(entry.newValue)})
        query.addBindValue(value);
    if (!query.exec()) {
        if (error)
            *error = errorText(query);
        return false;
    }
    return true;
}

QList<AuditEntry> AuditTable::since(qint64 sinceMs, int limit, QString *error) const
{
    QList<AuditEntry> entries;
    if (limit <= 0)
        return entries;
    QSqlQuery query(m_db);
    query.setForwardOnly(true);
    // By id, not at_ms: ids follow the order the entries were written in,
    // even when two decision servers' clocks disagree.
    query.prepare(u"SELECT id, at_ms, actor, action, target, old_value, new_value FROM audit_log"
                  " WHERE at_ms >= ? ORDER BY id LIMIT ?"_s);
    query.addBindValue(sinceMs);
    query.addBindValue(limit);
    if (!query.exec()) {
        if (error)
            *error = errorText(query);
        return entries;
    }
    while (query.next()) {
        AuditEntry entry;
        entry.id = query.value(0).toLongLong();
        entry.atMs = query.value(1).toLongLong();
        entry.actor = query.value(2).toString();
        entry.action = query.value(3).toString();
        entry.target = query.value(4).toString();
        entry.oldValue = query.value(5).toString();
        entry.newValue = query.value(6).toString();
        entries.append(entry);
    }
    return entries;
}

} // namespace bfg
