// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 BFG developers
//
// The decision store's `nodes` table: every push node that ever reported,
// with its last report and the operator's wish for it (admin_state).
#pragma once

#include <QList>
#include <QString>

class QSqlDatabase;

namespace bfg {

struct NodeRecord
{
    QString id;
    QString uri;
    QString publishUri;
    QString region;
    int capacity = 0;
    int connections = 0;
    QString state = QStringLiteral("active");      // as the node reported it
    QString adminState = QStringLiteral("active"); // as the operator set it
    double deliveredPerSec = 0;
    double latencyP50Ms = 0;
    double latencyP99Ms = 0;
    qint64 lastReportMs = 0;
};

class NodeTable
{
public:
    static inline const QString Name = QStringLiteral("nodes");

    explicit NodeTable(QSqlDatabase &db);

    QList<NodeRecord> all(QString *error = nullptr) const;
    // Inserts the node or updates what a report carries (not admin_state).
    bool saveReport(const NodeRecord &node, QString *error = nullptr);

private:
    QSqlDatabase &m_db;
};

} // namespace bfg
