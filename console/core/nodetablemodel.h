// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 BFG developers
//
// The console's nodes table: one row per push node from the latest cluster
// snapshot, in the order nodes first appeared, and a totals row at the
// bottom. Rows are updated in place, so selections and the sort order of
// the view (NodeSortModel) survive the snapshot a second. It remembers how
// many connections a node had when its drain began, to show progress.
#pragma once

#include <QAbstractTableModel>
#include <QHash>
#include <QList>

#include "bfg/v1/cluster.pb.h"

namespace bfg {

class NodeTableModel : public QAbstractTableModel
{
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(NodeTableModel)

public:
    enum Column {
        NodeColumn,
        RegionColumn,
        StateColumn,
        ConnectionsColumn,
        CapacityColumn,
        LoadColumn, // % of what allowed load lets the node take
        MessagesColumn,
        P50Column,
        P99Column,
        ReportAgeColumn,
        ColumnCount
    };
    Q_ENUM(Column)

    enum Role {
        SortRole = Qt::UserRole + 1, // numbers as numbers
        NodeIdRole,                  // empty on the totals row
        StateRole,                   // "active", "draining", "drained", "down"
        IsTotalsRole,
        DrainProgressRole, // 0..1 for a draining node, else invalid
    };

    // The state a node is shown in: down beats everything, then drained,
    // then draining (reported, or ordered by the operator), else active.
    static QString displayState(const v1::NodeStatus &node);

    explicit NodeTableModel(QObject *parent = nullptr);

    void setSnapshot(const v1::ClusterSnapshot &snapshot);
    void clear();

    // Rows of nodes (the totals row is the last one, at nodeCount()).
    int nodeCount() const { return int(m_nodes.size()); }
    const v1::NodeStatus *node(const QString &id) const;
    const v1::NodeStatus *nodeAt(int row) const;
    int rowOf(const QString &id) const;
    int allowedLoad() const { return m_allowedLoad; }
    // Connections when the node's drain began (the most it had since), 0: not draining.
    int drainStartConnections(const QString &id) const { return m_drainStart.value(id); }

    // What setting the allowed load to `percent` would change, for the
    // operator's confirmation: which nodes stop (or start again) taking new
    // users, and the admitted connections before and after.
    QString describeAllowedLoadChange(int percent) const;

    int rowCount(const QModelIndex &parent = {}) const override;
    int columnCount(const QModelIndex &parent = {}) const override;
    QVariant data(const QModelIndex &index, int role = Qt::DisplayRole) const override;
    QVariant headerData(int section, Qt::Orientation orientation, int role = Qt::DisplayRole) const override;

private:
    QVariant nodeData(const v1::NodeStatus &node, int column, int role) const;
    QVariant totalsData(int column, int role) const;
    // The totals row's figures, fixed between snapshots: rows inserted or
    // removed while a snapshot is applied must not change the row after them.
    void updateTotals(const v1::ClusterSnapshot &snapshot);
    double loadOfAllowed(double connections, double capacity) const;

    QList<v1::NodeStatus> m_nodes;
    QHash<QString, int> m_drainStart;
    struct Totals
    {
        int nodes = 0;
        qint64 connections = 0;
        qint64 capacity = 0;
        double deliveredPerSec = 0;
        double loadOfAllowed = 0;
        double worstP50Ms = 0;
        double worstP99Ms = 0;
        QString states; // "2 active, 1 down"
    };
    Totals m_totals;
    int m_allowedLoad = 100;
    bool m_hasSnapshot = false;
};

} // namespace bfg
