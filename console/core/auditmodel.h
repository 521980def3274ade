// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 BFG developers
//
// The audit log pane's model: who changed what and when, newest first (by
// id, the order the store wrote them in). Entries arrive in pages from
// GET /v1/audit?since=<ms>; pages overlap by a minute so that an entry
// stamped by a decision server whose clock lags is still fetched, and are
// merged by id, so nothing shows twice. Bounded: the oldest go.
#pragma once

#include <algorithm>

#include <QAbstractTableModel>
#include <QList>
#include <QSet>

#include "console/core/adminclient.h"

namespace bfg {

class AuditModel : public QAbstractTableModel
{
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(AuditModel)

public:
    enum Column { TimeColumn, ActorColumn, ActionColumn, TargetColumn, ChangeColumn, ColumnCount };
    static constexpr int MaxEntries = 5000;
    static constexpr qint64 OverlapMs = 60'000;

    explicit AuditModel(QObject *parent = nullptr);

    // Adds the entries not seen yet; returns how many were new.
    int merge(const QList<AuditRecord> &records);
    void clear();
    // Where the next poll starts: a minute before the newest entry's time (0 when empty).
    qint64 nextSinceMs() const { return std::max<qint64>(0, m_newestAtMs - OverlapMs); }
    // Newest first, as shown.
    const AuditRecord &recordAt(int row) const { return m_entries.at(m_entries.size() - 1 - row); }

    int rowCount(const QModelIndex &parent = {}) const override;
    int columnCount(const QModelIndex &parent = {}) const override;
    QVariant data(const QModelIndex &index, int role = Qt::DisplayRole) const override;
    QVariant headerData(int section, Qt::Orientation orientation, int role = Qt::DisplayRole) const override;

    // "drain", "set_allowed_load" … as an operator reads them.
    static QString actionText(const QString &action);

private:
    QList<AuditRecord> m_entries; // by id, oldest first
    QSet<qint64> m_ids;
    qint64 m_newestAtMs = 0;
};

} // namespace bfg
