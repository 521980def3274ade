// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 BFG developers
#include "console/core/nodesortmodel.h"

#include "console/core/nodetablemodel.h"

namespace bfg {

NodeSortModel::NodeSortModel(QObject *parent)
    : QSortFilterProxyModel(parent)
{
    setSortRole(NodeTableModel::SortRole);
    setDynamicSortFilter(true);
    setSortCaseSensitivity(Qt::CaseInsensitive);
}

bool NodeSortModel::lessThan(const QModelIndex &left, const QModelIndex &right) const
{
    const bool leftTotals = left.data(NodeTableModel::IsTotalsRole).toBool();
    const bool rightTotals = right.data(NodeTableModel::IsTotalsRole).toBool();
    if (leftTotals || rightTotals) {
        // The totals row is "greatest" ascending and "least" descending: last either way.
        const bool totalsLast = !leftTotals;
        return sortOrder() == Qt::AscendingOrder ? totalsLast : !totalsLast;
    }
    return QSortFilterProxyModel::lessThan(left, right);
}

} // namespace bfg
