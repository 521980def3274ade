// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 BFG developers
//
// The decision store's `settings` table: cluster-wide values the operator
// changes at run time (allowed load, ...) as key -> text, shared by every
// decision server on the same database.
#pragma once

#include <optional>

#include <QString>

class QSqlDatabase;

namespace bfg {

class SettingsTable
{
public:
    static inline const QString Name = QStringLiteral("settings");
    static inline const QString AllowedLoadKey = QStringLiteral("allowed_load");

    explicit SettingsTable(QSqlDatabase &db);

    // nullopt when the key was never set (or on error, with `error` set).
    std::optional<QString> value(const QString &key, QString *error = nullptr) const;
    bool setValue(const QString &key, const QString &value, QString *error = nullptr);

private:
    QSqlDatabase &m_db;
};

} // namespace bfg
