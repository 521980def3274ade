// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 BFG developers
#include "daemon/store/nodetable.h"

#include <QSqlDatabase>
#include <QSqlQuery>

#include "daemon/store/sqlsupport.h"

using namespace Qt::Literals::StringLiterals;

namespace bfg {

namespace {
// Runs an UPDATE or DELETE; the rows it changed, -1 on error.
int execute(QSqlDatabase &db, const QString &statement, const QVariantList &values, QString *error)
{
    QSqlQuery query(db);
    query.prepare(statement);
    for (const QVariant &value : values)
        query.addBindValue(value);
    if (!query.exec()) {
        if (error)
            *error = errorText(query);
        return -1;
    }
    return query.numRowsAffected();
}
} // namespace

NodeTable::NodeTable(QSqlDatabase &db)
    : m_db(db)
{}

QList<NodeRecord> NodeTable::all(QString *error) const
{
    QList<NodeRecord> nodes;
    QSqlQuery query(m_db);
    query.setForwardOnly(true);
    if (!query.exec(u"SELECT id, uri, publish_uri, region, capacity, capacity_override, suggested_capacity,"
                    " connections, state, admin_state, delivered_per_sec, latency_p50_ms, latency_p99_ms,"
                    " last_report_ms, broker FROM nodes ORDER BY id"_s)) {
        if (error)
            *error = errorText(query);
        return nodes;
    }
    while (query.next()) {
        NodeRecord node;
        node.id = query.value(0).toString();
        node.uri = query.value(1).toString();
        node.publishUri = query.value(2).toString();
        node.region = query.value(3).toString();
        node.capacity = query.value(4).toInt();
        node.capacityOverride = query.value(5).toInt();
        node.suggestedCapacity = query.value(6).toInt();
        node.connections = query.value(7).toInt();
        node.state = query.value(8).toString();
        node.adminState = query.value(9).toString();
        node.deliveredPerSec = query.value(10).toDouble();
        node.latencyP50Ms = query.value(11).toDouble();
        node.latencyP99Ms = query.value(12).toDouble();
        node.lastReportMs = query.value(13).toLongLong();
        node.broker = query.value(14).toString();
        nodes.append(node);
    }
    return nodes;
}

bool NodeTable::saveReport(const NodeRecord &node, QString *error)
{
    QSqlQuery query(m_db);
    query.prepare(
        u"INSERT INTO nodes (id, uri, publish_uri, region, capacity, connections, state,"
        " delivered_per_sec, latency_p50_ms, latency_p99_ms, last_report_ms, broker)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
        " ON CONFLICT (id) DO UPDATE SET uri = excluded.uri, publish_uri = excluded.publish_uri,"
        " region = excluded.region, capacity = excluded.capacity, connections = excluded.connections,"
        " state = excluded.state, delivered_per_sec = excluded.delivered_per_sec,"
        " latency_p50_ms = excluded.latency_p50_ms, latency_p99_ms = excluded.latency_p99_ms,"
        " last_report_ms = excluded.last_report_ms, broker = excluded.broker"_s);
    for (const QVariant &value :
         {sqlText(node.id), sqlText(node.uri), sqlText(node.publishUri), sqlText(node.region),
          QVariant(node.capacity), QVariant(node.connections), sqlText(node.state),
          QVariant(node.deliveredPerSec), QVariant(node.latencyP50Ms), QVariant(node.latencyP99Ms),
          QVariant(node.lastReportMs), sqlText(node.broker)})
        query.addBindValue(value);
    if (!query.exec()) {
        if (error)
            *error = errorText(query);
        return false;
    }
    return true;
}

int NodeTable::setAdminState(const QString &id, const QString &adminState, QString *error)
{
    return execute(m_db, u"UPDATE nodes SET admin_state = ? WHERE id = ?"_s, {sqlText(adminState), id},
                   error);
}

int NodeTable::setCapacityOverride(const QString &id, int capacity, QString *error)
{
    return execute(m_db, u"UPDATE nodes SET capacity_override = ? WHERE id = ?"_s, {capacity, id}, error);
}

int NodeTable::setSuggestedCapacity(const QString &id, int connections, QString *error)
{
    return execute(m_db, u"UPDATE nodes SET suggested_capacity = ? WHERE id = ?"_s, {connections, id}, error);
}

int NodeTable::remove(const QString &id, QString *error)
{
    return execute(m_db, u"DELETE FROM nodes WHERE id = ?"_s, {id}, error);
}

} // namespace bfg
