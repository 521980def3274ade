// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 BFG developers
//
// The decision store's `admin_keys` table: named bearer keys for the admin
// API with their scope ("read" or "operator"). Only a SHA-256 of each key
// is stored.
#pragma once

#include <QByteArray>
#include <QList>
#include <QString>
#include <QStringList>

class QSqlDatabase;

namespace bfg {

struct AdminKey
{
    QString name;
    QString scope;      // "read" or "operator"
    QByteArray keyHash; // lowercase hex SHA-256 of the key
};

class AdminKeyTable
{
public:
    static inline const QString Name = QStringLiteral("admin_keys");

    explicit AdminKeyTable(QSqlDatabase &db);

    static QByteArray hashKey(const QByteArray &key);

    QList<AdminKey> all(QString *error = nullptr) const;
    // Inserts or replaces the key of that name.
    bool save(const AdminKey &key, QString *error = nullptr);
    // Saves `keys` and deletes the keys named in `removed`, all in one
    // transaction: on failure nothing has changed.
    bool update(const QList<AdminKey> &keys, const QStringList &removed, QString *error = nullptr);

private:
    QSqlDatabase &m_db;
};

} // namespace bfg
