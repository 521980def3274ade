// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 BFG developers
//
// What the decision store's table classes share about Qt Sql: how they
// bind text and how they report a failure. Included by daemon/store/
// sources only.
#pragma once

#include <QSqlError>
#include <QSqlQuery>
#include <QString>
#include <QVariant>

namespace bfg {

// Qt Sql binds a null QString as SQL NULL, and the store's text columns are
// NOT NULL, so an empty value (null or not) is bound as ''.
inline QVariant sqlText(const QString &text)
{
    return text.isNull() ? QVariant(QStringLiteral("")) : QVariant(text);
}

// A failed query's reason, never empty: callers tell failure from success
// by it, and a query on a closed connection fails without any text.
inline QString errorText(const QSqlQuery &query)
{
    const QString text = query.lastError().text().trimmed();
    return text.isEmpty() ? QStringLiteral("the store's connection is not open") : text;
}

} // namespace bfg
