// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 BFG developers
//
// Sorts the nodes table by any column, numbers as numbers
// (NodeTableModel::SortRole), and keeps the totals row at the bottom
// whichever way the operator sorts.
#pragma once

#include <QSortFilterProxyModel>

namespace bfg {

class NodeSortModel : public QSortFilterProxyModel
{
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(NodeSortModel)

public:
    explicit NodeSortModel(QObject *parent = nullptr);

protected:
    bool lessThan(const QModelIndex &left, const QModelIndex &right) const override;
};

} // namespace bfg
