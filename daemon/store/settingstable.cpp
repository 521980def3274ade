// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 BFG developers
#include "daemon/store/settingstable.h"

#include <QSqlDatabase>
#include <QSqlQuery>

#include "daemon/store/sqlsupport.h"

using namespace Qt::Literals::StringLiterals;

namespace bfg {

SettingsTable::SettingsTable(QSqlDatabase &db)
    : m_db(db)
{}

std::optional<QString> SettingsTable::value(const QString &key, QString *error) const
{
    QSqlQuery query(m_db);
    query.setForwardOnly(true);
    query.prepare(u"SELECT value FROM settings WHERE key = ?"_s);
    query.addBindValue(key);
    if (!query.exec()) {
        if (error)
            *error = errorText(query);
        return std::nullopt;
    }
    if (!query.next())
        return std::nullopt;
    return query.value(0).toString();
}

bool SettingsTable::setValue(const QString &key, const QString &value, QString *error)
{
    QSqlQuery query(m_db);
    query.prepare(u"INSERT INTO settings (key, value) VALUES (?, ?)"
                  " ON CONFLICT (key) DO UPDATE SET value = excluded.value"_s);
    query.addBindValue(key);
    query.addBindValue(sqlText(value));
    if (!query.exec()) {
        if (error)
            *error = errorText(query);
        return false;
    }
    return true;
}

} // namespace bfg
