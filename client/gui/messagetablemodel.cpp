// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 BFG developers
#include "client/gui/messagetablemodel.h"

#include <algorithm>
#include <utility>

#include <QDateTime>

using namespace Qt::Literals::StringLiterals;

namespace bfg::probe {

namespace {
// Longer payloads are cut in the table; the tooltip has the whole of it.
constexpr qsizetype ShownPayloadBytes = 256;
} // namespace

MessageTableModel::MessageTableModel(int maxRows, QObject *parent)
    : QAbstractTableModel(parent)
    , m_maxRows(std::max(1, maxRows))
{}

MessageTableModel::~MessageTableModel() = default;

void MessageTableModel::append(Row row)
{
    if (int(m_rows.size()) >= m_maxRows) {
        beginRemoveRows({}, 0, 0);
        m_rows.pop_front();
        endRemoveRows();
    }
    const int at = int(m_rows.size());
    beginInsertRows({}, at, at);
    m_rows.push_back(std::move(row));
    endInsertRows();
}

void MessageTableModel::clear()
{
    beginResetModel();
    m_rows.clear();
    endResetModel();
}

void MessageTableModel::setPayloadMode(PayloadMode mode)
{
    if (m_payloadMode == mode)
        return;
    m_payloadMode = mode;
    Q_EMIT headerDataChanged(Qt::Horizontal, PayloadColumn, PayloadColumn);
    if (!m_rows.empty())
        Q_EMIT dataChanged(index(0, PayloadColumn), index(rowCount() - 1, PayloadColumn));
}

QString MessageTableModel::payloadText(const QByteArray &payload, PayloadMode mode)
{
    const QByteArray shown = payload.left(ShownPayloadBytes);
    QString text =
        mode == PayloadMode::Hex ? QString::fromLatin1(shown.toHex(' ')) : QString::fromUtf8(shown);
    if (mode == PayloadMode::Text) {
        // One line per row: control characters (and the probe's binary send time) as dots.
        for (QChar &c : text) {
            if (c.category() == QChar::Other_Control)
                c = u'·';
        }
    }
    if (payload.size() > shown.size())
        text += u" … (%1 bytes)"_s.arg(payload.size());
    return text;
}

int MessageTableModel::rowCount(const QModelIndex &parent) const
{
    return parent.isValid() ? 0 : int(m_rows.size());
}

int MessageTableModel::columnCount(const QModelIndex &parent) const
{
    return parent.isValid() ? 0 : ColumnCount;
}

QVariant MessageTableModel::data(const QModelIndex &index, int role) const
{
    if (!index.isValid() || index.row() >= int(m_rows.size()))
        return {};
    const Row &row = m_rows[size_t(index.row())];
    if (role == Qt::TextAlignmentRole)
        return index.column() == SeqColumn || index.column() == LatencyColumn
                   ? QVariant(Qt::AlignRight | Qt::AlignVCenter)
                   : QVariant();
    if (role == Qt::ToolTipRole && index.column() == PayloadColumn)
        return u"%1 bytes\n%2"_s.arg(row.payload.size())
            .arg(QString::fromLatin1(row.payload.left(4096).toHex(' ')));
    if (role != Qt::DisplayRole)
        return {};
    switch (Column(index.column())) {
    case TimeColumn:
        return QDateTime::fromMSecsSinceEpoch(row.receivedMs).toString(u"HH:mm:ss.zzz"_s);
    case StreamColumn:
        return row.stream;
    case SeqColumn:
        return row.seq > 0 ? QVariant(qulonglong(row.seq)) : QVariant(u"—"_s);
    case LatencyColumn:
        return QString::number(double(row.latencyUs) / 1000.0, 'f', 2);
    case PayloadColumn:
        return payloadText(row.payload, m_payloadMode);
    case ColumnCount:
        break;
    }
    return {};
}

QVariant MessageTableModel::headerData(int section, Qt::Orientation orientation, int role) const
{
    if (orientation != Qt::Horizontal || role != Qt::DisplayRole)
        return {};
    switch (Column(section)) {
    case TimeColumn:
        return u"Received"_s;
    case StreamColumn:
        return u"Stream"_s;
    case SeqColumn:
        return u"Seq"_s;
    case LatencyColumn:
        return u"Latency (ms)"_s;
    case PayloadColumn:
        return m_payloadMode == PayloadMode::Hex ? u"Payload (hex)"_s : u"Payload (text)"_s;
    case ColumnCount:
        break;
    }
    return {};
}

} // namespace bfg::probe
