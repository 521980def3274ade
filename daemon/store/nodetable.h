// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 BFG developers
//
// The decision store's `nodes` table: every push node that ever reported,
// with its last report and the operator's wishes for it (admin_state,
// capacity_override), and the capacity the decision server learned for it.
// Works on SQLite and PostgreSQL alike.
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
    int capacity = 0;          // as the node reported it (push/capacity)
    int capacityOverride = 0;  // set by the operator; 0: none
    int suggestedCapacity = 0; // connections at which p99 first exceeded the SLO; 0: not seen
    int connections = 0;
    QString state = QStringLiteral("active");      // as the node reported it
    QString adminState = QStringLiteral("active"); // as the operator set it
    double deliveredPerSec = 0;
    double latencyP50Ms = 0;
    double latencyP99Ms = 0;
    qint64 lastReportMs = 0;
    QString broker; // the node's broker state, as reported

    int effectiveCapacity() const { return capacityOverride > 0 ? capacityOverride : capacity; }
};

class NodeTable
{
public:
    static inline const QString Name = QStringLiteral("nodes");

    explicit NodeTable(QSqlDatabase &db);

    QList<NodeRecord> all(QString *error = nullptr) const;
    // Inserts the node or updates what a report carries: not admin_state,
    // capacity_override nor suggested_capacity.
    bool saveReport(const NodeRecord &node, QString *error = nullptr);

    // Each returns the number of rows changed (0: no such node), -1 on error.
    int setAdminState(const QString &id, const QString &adminState, QString *error = nullptr);
    int setCapacityOverride(const QString &id, int capacity, QString *error = nullptr);
    int setSuggestedCapacity(const QString &id, int connections, QString *error = nullptr);
    int remove(const QString &id, QString *error = nullptr);

private:
    QSqlDatabase &m_db;
};

} // namespace bfg
