// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 BFG developers
#include "daemon/store/adminkeytable.h"

#include <QCryptographicHash>
#include <QSqlDatabase>
#include <QSqlError>
#include <QSqlQuery>

#include "daemon/store/sqlsupport.h"

using namespace Qt::Literals::StringLiterals;

namespace bfg {

AdminKeyTable::AdminKeyTable(QSqlDatabase &db)
    : m_db(db)
{}

QByteArray AdminKeyTable::hashKey(const QByteArray &key)
{
    return QCryptographicHash::hash(key, QCryptographicHash::Sha256).toHex();
}

QList<AdminKey> AdminKeyTable::all(QString *error) const
{
    QList<AdminKey> keys;
    QSqlQuery query(m_db);
    query.setForwardOnly(true);
    if (!query.exec(u"SELECT name, scope, key_hash FROM admin_keys ORDER BY name"_s)) {
        if (error)
            *error = errorText(query);
        return keys;
    }
    while (query.next())
        keys.append(
            {query.value(0).toString(), query.value(1).toString(), query.value(2).toString().toLatin1()});
    return keys;
}

bool AdminKeyTable::save(const AdminKey &key, QString *error)
{
    QSqlQuery query(m_db);
    query.prepare(u"INSERT INTO admin_keys (name, scope, key_hash) VALUES (?, ?, ?)"
                  " ON CONFLICT (name) DO UPDATE SET scope = excluded.scope, key_hash = excluded.key_hash"_s);
    // The hash is hex text, bound as text (a QByteArray would become bytea).
    for (const QVariant &value :
         {sqlText(key.name), sqlText(key.scope), sqlText(QString::fromLatin1(key.keyHash))})
        query.addBindValue(value);
    if (!query.exec()) {
        if (error)
            *error = errorText(query);
        return false;
    }
    return true;
}

bool AdminKeyTable::update(const QList<AdminKey> &keys, const QStringList &removed, QString *error)
{
    if (!m_db.transaction()) {
        if (error)
            *error = m_db.lastError().text();
        return false;
    }
    bool ok = true;
    for (const AdminKey &key : keys)
        ok = ok && save(key, error);
    for (const QString &name : removed) {
        if (!ok)
            break;
        QSqlQuery query(m_db);
        query.prepare(u"DELETE FROM admin_keys WHERE name = ?"_s);
        query.addBindValue(sqlText(name));
        if (!query.exec()) {
            if (error)
                *error = errorText(query);
            ok = false;
        }
    }
    if (ok && m_db.commit())
        return true;
    if (ok && error) // the commit failed
        *error = m_db.lastError().text();
    m_db.rollback();
    return false;
}

} // namespace bfg
