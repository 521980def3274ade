// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 BFG developers
#include "daemon/store/nodetable.h"

#include <QSqlDatabase>
#include <QSqlError>
#include <QSqlQuery>

using namespace Qt::Literals::StringLiterals;

namespace bfg {

NodeTable::NodeTable(QSqlDatabase &db)
    : m_db(db)
{}

QList<NodeRecord> NodeTable::all(QString *error) const
{
    QList<NodeRecord> nodes;
    QSqlQuery query(m_db);
    if (!query.exec(
            u"SELECT id, uri, publish_uri, region, capacity, connections, state, admin_state,"
            " delivered_per_sec, latency_p50_ms, latency_p99_ms, last_report_ms FROM nodes ORDER BY id"_s)) {
        if (error)
            *error = query.lastError().text();
        return nodes;
    }
    while (query.next()) {
        NodeRecord node;
        node.id = query.value(0).toString();
        node.uri = query.value(1).toString();
        node.publishUri = query.value(2).toString();
        node.region = query.value(3).toString();
        node.capacity = query.value(4).toInt();
        node.connections = query.value(5).toInt();
        node.state = query.value(6).toString();
        node.adminState = query.value(7).toString();
        node.deliveredPerSec = query.value(8).toDouble();
        node.latencyP50Ms = query.value(9).toDouble();
        node.latencyP99Ms = query.value(10).toDouble();
        node.lastReportMs = query.value(11).toLongLong();
        nodes.append(node);
    }
    return nodes;
}

bool NodeTable::saveReport(const NodeRecord &node, QString *error)
{
    QSqlQuery query(m_db);
    query.prepare(
        u"INSERT INTO nodes (id, uri, publish_uri, region, capacity, connections, state,"
        " delivered_per_sec, latency_p50_ms, latency_p99_ms, last_report_ms)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
        " ON CONFLICT (id) DO UPDATE SET uri = excluded.uri, publish_uri = excluded.publish_uri,"
        " region = excluded.region, capacity = excluded.capacity, connections = excluded.connections,"
        " state = excluded.state, delivered_per_sec = excluded.delivered_per_sec,"
        " latency_p50_ms = excluded.latency_p50_ms, latency_p99_ms = excluded.latency_p99_ms,"
        " last_report_ms = excluded.last_report_ms"_s);
    for (const QVariant &value :
         {QVariant(node.id), QVariant(node.uri), QVariant(node.publishUri), QVariant(node.region),
          QVariant(node.capacity), QVariant(node.connections), QVariant(node.state),
          QVariant(node.deliveredPerSec), QVariant(node.latencyP50Ms), QVariant(node.latencyP99Ms),
          QVariant(node.lastReportMs)})
        query.addBindValue(value);
    if (!query.exec()) {
        if (error)
            *error = query.lastError().text();
        return false;
    }
    return true;
}

} // namespace bfg
