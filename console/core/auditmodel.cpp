// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 BFG developers
#include "console/core/auditmodel.h"

#include <algorithm>

#include <QDateTime>

using namespace Qt::Literals::StringLiterals;

namespace bfg {

AuditModel::AuditModel(QObject *parent)
    : QAbstractTableModel(parent)
{}

int AuditModel::merge(const QList<AuditRecord> &records)
{
    const auto byId = [](const AuditRecord &a, const AuditRecord &b) { return a.id < b.id; };
    QList<AuditRecord> fresh;
    QSet<qint64> freshIds;
    for (const AuditRecord &record : records) {
        if (m_ids.contains(record.id) || freshIds.contains(record.id))
            continue;
        freshIds.insert(record.id);
        fresh.append(record);
    }
    if (fresh.isEmpty())
        return 0;
    std::sort(fresh.begin(), fresh.end(), byId);
    for (const AuditRecord &record : std::as_const(fresh)) {
        m_ids.insert(record.id);
        m_newestAtMs = std::max(m_newestAtMs, record.atMs);
    }
    if (m_entries.isEmpty() || fresh.first().id > m_entries.last().id) {
        // The usual case: all newer than what is shown, in at the top at once.
        beginInsertRows({}, 0, int(fresh.size()) - 1);
        m_entries.append(fresh);
        endInsertRows();
    } else {
        // A late entry (another decision server's): in its place by id. Rows count from the newest.
        for (const AuditRecord &record : std::as_const(fresh)) {
            const auto at = std::lower_bound(m_entries.begin(), m_entries.end(), record, byId);
            const int index = int(at - m_entries.begin());
            const int row = int(m_entries.size()) - index;
            beginInsertRows({}, row, row);
            m_entries.insert(index, record);
            endInsertRows();
        }
    }
    const int excess = int(m_entries.size()) - MaxEntries;
    if (excess > 0) {
        beginRemoveRows({}, MaxEntries, MaxEntries + excess - 1);
        for (int i = 0; i < excess; ++i)
            m_ids.remove(m_entries.at(i).id);
        m_entries.remove(0, excess);
        endRemoveRows();
    }
    return int(fresh.size());
}

void AuditModel::clear()
{
    beginResetModel();
    m_entries.clear();
    m_ids.clear();
    m_newestAtMs = 0;
    endResetModel();
}

int AuditModel::rowCount(const QModelIndex &parent) const
{
    return parent.isValid() ? 0 : int(m_entries.size());
}

int AuditModel::columnCount(const QModelIndex &parent) const
{
    return parent.isValid() ? 0 : ColumnCount;
}

QString AuditModel::actionText(const QString &action)
{
    if (action == u"set_allowed_load"_s)
        return u"set allowed load"_s;
    if (action == u"set_capacity"_s)
        return u"set capacity"_s;
    QString readable = action;
    return readable.replace(u'_', u' ');
}

QVariant AuditModel::data(const QModelIndex &index, int role) const
{
    if (!index.isValid() || index.row() >= rowCount())
        return {};
    const AuditRecord &record = recordAt(index.row());
    const QDateTime at = QDateTime::fromMSecsSinceEpoch(record.atMs);
    if (role == Qt::ToolTipRole && index.column() == TimeColumn)
        return at.toString(Qt::ISODateWithMs);
    if (role != Qt::DisplayRole)
        return {};
    switch (index.column()) {
    case TimeColumn:
        return at.toString(u"yyyy-MM-dd HH:mm:ss"_s);
    case ActorColumn:
        return record.actor;
    case ActionColumn:
        return actionText(record.action);
    case TargetColumn:
        return record.target;
    case ChangeColumn:
        if (record.oldValue.isEmpty() && record.newValue.isEmpty())
            return QString();
        return QString((record.oldValue.isEmpty() ? u"—"_s : record.oldValue) + u" → "_s +
                       (record.newValue.isEmpty() ? u"—"_s : record.newValue));
    }
    return {};
}

QVariant AuditModel::headerData(int section, Qt::Orientation orientation, int role) const
{
    if (orientation != Qt::Horizontal || role != Qt::DisplayRole)
        return {};
    switch (section) {
    case TimeColumn:
        return u"When"_s;
    case ActorColumn:
        return u"Who"_s;
    case ActionColumn:
        return u"What"_s;
    case TargetColumn:
        return u"On"_s;
    case ChangeColumn:
        return u"Change"_s;
    }
    return {};
}

} // namespace bfg
