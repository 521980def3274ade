// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 BFG developers
#include "console/core/nodetablemodel.h"

#include <QColor>
#include <QFont>
#include <QLocale>
#include <QSet>

using namespace Qt::Literals::StringLiterals;

namespace bfg {

namespace {
QString text(const std::string &value)
{
    return QString::fromStdString(value);
}

// Tints that read on light and dark palettes alike: the text keeps the
// palette's colour, the cell gets a translucent wash and a solid swatch.
QColor stateColor(const QString &state)
{
    if (state == u"active"_s)
        return QColor(34, 164, 71);
    if (state == u"draining"_s)
        return QColor(245, 158, 11);
    if (state == u"drained"_s)
        return QColor(59, 130, 246);
    return QColor(220, 38, 38); // down
}

QColor wash(QColor color)
{
    color.setAlpha(60);
    return color;
}

QString count(qint64 value)
{
    return QLocale().toString(value);
}

QString percent(double value)
{
    return QLocale().toString(value, 'f', 0) + u" %"_s;
}

QString rate(double perSec)
{
    return QLocale().toString(perSec, 'f', perSec < 10 ? 1 : 0);
}

QString milliseconds(double ms)
{
    return QLocale().toString(ms, 'f', ms < 10 ? 2 : 1) + u" ms"_s;
}

// A node that is down, or delivered nothing in its last interval, has no
// latency to show (its figures would read as a perfect 0 ms).
bool hasLatency(const v1::NodeStatus &node)
{
    return !node.down() && (node.delivered_per_sec() > 0 || node.latency_p99_ms() > 0);
}

QString age(qint64 ms)
{
    if (ms < 0)
        return u"never"_s;
    if (ms < 10'000)
        return QLocale().toString(ms / 1000.0, 'f', 1) + u" s"_s;
    if (ms < 120'000)
        return QLocale().toString(ms / 1000) + u" s"_s;
    return QLocale().toString(ms / 60'000) + u" min"_s;
}
} // namespace

QString NodeTableModel::displayState(const v1::NodeStatus &node)
{
    if (node.down())
        return u"down"_s;
    const QString state = text(node.state());
    if (state == u"drained"_s)
        return state;
    if (state == u"draining"_s || text(node.admin_state()) == u"draining"_s)
        return u"draining"_s;
    return u"active"_s;
}

NodeTableModel::NodeTableModel(QObject *parent)
    : QAbstractTableModel(parent)
{}

void NodeTableModel::setSnapshot(const v1::ClusterSnapshot &snapshot)
{
    QHash<QString, int> incoming;
    for (int i = 0; i < snapshot.nodes_size(); ++i)
        incoming.insert(text(snapshot.nodes(i).id()), i);

    if (!m_hasSnapshot)
        beginResetModel();
    for (int row = int(m_nodes.size()) - 1; row >= 0; --row) {
        const QString id = text(m_nodes.at(row).id());
        if (incoming.contains(id))
            continue;
        if (m_hasSnapshot)
            beginRemoveRows({}, row, row);
        m_nodes.removeAt(row);
        m_drainStart.remove(id);
        if (m_hasSnapshot)
            endRemoveRows();
    }
    QSet<QString> known;
    for (v1::NodeStatus &node : m_nodes) {
        node = snapshot.nodes(incoming.value(text(node.id())));
        known.insert(text(node.id()));
    }
    QList<v1::NodeStatus> added;
    for (const v1::NodeStatus &node : snapshot.nodes())
        if (!known.contains(text(node.id())))
            added.append(node);
    if (!added.isEmpty() && m_hasSnapshot)
        beginInsertRows({}, nodeCount(), nodeCount() + int(added.size()) - 1);
    m_nodes.append(added);
    if (!added.isEmpty() && m_hasSnapshot)
        endInsertRows();

    for (const v1::NodeStatus &node : std::as_const(m_nodes)) {
        const QString id = text(node.id());
        if (displayState(node) == u"draining"_s)
            m_drainStart[id] = std::max(m_drainStart.value(id), int(node.connections()));
        else
            m_drainStart.remove(id);
    }
    m_allowedLoad = int(snapshot.allowed_load());
    updateTotals(snapshot);

    if (!m_hasSnapshot) {
        m_hasSnapshot = true;
        endResetModel();
    } else {
        Q_EMIT dataChanged(index(0, 0), index(rowCount() - 1, ColumnCount - 1));
    }
}

void NodeTableModel::clear()
{
    beginResetModel();
    m_nodes.clear();
    m_drainStart.clear();
    m_totals = {};
    m_hasSnapshot = false;
    endResetModel();
}

const v1::NodeStatus *NodeTableModel::node(const QString &id) const
{
    return nodeAt(rowOf(id));
}

const v1::NodeStatus *NodeTableModel::nodeAt(int row) const
{
    return row >= 0 && row < nodeCount() ? &m_nodes.at(row) : nullptr;
}

int NodeTableModel::rowOf(const QString &id) const
{
    for (int row = 0; row < nodeCount(); ++row)
        if (text(m_nodes.at(row).id()) == id)
            return row;
    return -1;
}

int NodeTableModel::rowCount(const QModelIndex &parent) const
{
    return parent.isValid() || !m_hasSnapshot ? 0 : nodeCount() + 1;
}

int NodeTableModel::columnCount(const QModelIndex &parent) const
{
    return parent.isValid() ? 0 : ColumnCount;
}

double NodeTableModel::loadOfAllowed(double connections, double capacity) const
{
    const double admitted = capacity * m_allowedLoad / 100.0;
    return admitted > 0 ? 100.0 * connections / admitted : 0.0;
}

QVariant NodeTableModel::data(const QModelIndex &index, int role) const
{
    if (!index.isValid() || index.row() >= rowCount() || index.column() >= ColumnCount)
        return {};
    if (role == IsTotalsRole)
        return index.row() == nodeCount();
    if (index.row() == nodeCount())
        return totalsData(index.column(), role);
    return nodeData(m_nodes.at(index.row()), index.column(), role);
}

QVariant NodeTableModel::nodeData(const v1::NodeStatus &node, int column, int role) const
{
    const QString id = text(node.id());
    const QString state = displayState(node);
    const double load = loadOfAllowed(node.connections(), node.capacity());
    switch (role) {
    case NodeIdRole:
        return id;
    case StateRole:
        return state;
    case DrainProgressRole: {
        if (state != u"draining"_s)
            return {};
        const int start = m_drainStart.value(id);
        return start > 0 ? 1.0 - double(node.connections()) / start : 1.0;
    }
    case Qt::TextAlignmentRole:
        return column >= ConnectionsColumn ? QVariant(Qt::AlignRight | Qt::AlignVCenter) : QVariant();
    case Qt::BackgroundRole:
        if (column == StateColumn)
            return wash(stateColor(state));
        if (column == LoadColumn && load >= 100)
            return wash(stateColor(u"down"_s));
        return {};
    case Qt::DecorationRole:
        return column == StateColumn ? QVariant(stateColor(state)) : QVariant();
    case Qt::ToolTipRole:
        switch (column) {
        case NodeColumn:
            return u"WebSocket: %1\nPublish API: %2"_s.arg(text(node.uri()), text(node.publish_uri()));
        case StateColumn:
            return u"reported: %1 · operator: %2\n%3\nbroker: %4"_s.arg(
                text(node.state()), text(node.admin_state()),
                node.eligible() ? u"takes new users"_s : u"takes no new users"_s, text(node.broker()));
        case CapacityColumn:
            return u"reported %1, operator's override %2, suggested by latency %3"_s.arg(
                count(node.reported_capacity()),
                node.capacity_override() ? count(node.capacity_override()) : u"none"_s,
                node.suggested_capacity() ? count(node.suggested_capacity()) : u"not yet"_s);
        case LoadColumn:
            return u"%1 % of capacity; the allowed load is %2 %: at 100 % here the node takes no new users"_s
                .arg(QLocale().toString(node.load_percent(), 'f', 0))
                .arg(m_allowedLoad);
        default:
            return {};
        }
    case SortRole:
        switch (column) {
        case NodeColumn:
            return id;
        case RegionColumn:
            return text(node.region());
        case StateColumn:
            return state;
        case ConnectionsColumn:
            return node.connections();
        case CapacityColumn:
            return node.capacity();
        case LoadColumn:
            return load;
        case MessagesColumn:
            return node.delivered_per_sec();
        case P50Column:
            return hasLatency(node) ? node.latency_p50_ms() : -1.0;
        case P99Column:
            return hasLatency(node) ? node.latency_p99_ms() : -1.0;
        case ReportAgeColumn:
            return node.last_report_age_ms() < 0 ? std::numeric_limits<qint64>::max()
                                                 : node.last_report_age_ms();
        }
        return {};
    case Qt::DisplayRole:
        switch (column) {
        case NodeColumn:
            return id;
        case RegionColumn:
            return text(node.region());
        case StateColumn:
            if (state == u"draining"_s) {
                const int start = m_drainStart.value(id);
                return u"draining · %1 of %2 left"_s.arg(count(node.connections()), count(start));
            }
            return state;
        case ConnectionsColumn:
            return count(node.connections());
        case CapacityColumn:
            return count(node.capacity());
        case LoadColumn:
            return percent(load);
        case MessagesColumn:
            return rate(node.delivered_per_sec());
        case P50Column:
            return hasLatency(node) ? milliseconds(node.latency_p50_ms()) : u"—"_s;
        case P99Column:
            return hasLatency(node) ? milliseconds(node.latency_p99_ms()) : u"—"_s;
        case ReportAgeColumn:
            return age(node.last_report_age_ms());
        }
        return {};
    default:
        return {};
    }
}

void NodeTableModel::updateTotals(const v1::ClusterSnapshot &snapshot)
{
    Totals totals;
    totals.nodes = nodeCount();
    totals.connections = qint64(snapshot.connections());
    totals.capacity = qint64(snapshot.capacity());
    totals.deliveredPerSec = snapshot.delivered_per_sec();
    totals.loadOfAllowed = loadOfAllowed(double(totals.connections), double(totals.capacity));
    QHash<QString, int> states;
    for (const v1::NodeStatus &node : std::as_const(m_nodes)) {
        states[displayState(node)] += 1;
        if (hasLatency(node)) {
            totals.worstP50Ms = std::max(totals.worstP50Ms, node.latency_p50_ms());
            totals.worstP99Ms = std::max(totals.worstP99Ms, node.latency_p99_ms());
        }
    }
    QStringList parts;
    for (const QString &state : {u"active"_s, u"draining"_s, u"drained"_s, u"down"_s})
        if (states.value(state))
            parts.append(u"%1 %2"_s.arg(states.value(state)).arg(state));
    totals.states = parts.join(u", "_s);
    m_totals = totals;
}

QVariant NodeTableModel::totalsData(int column, int role) const
{
    switch (role) {
    case Qt::FontRole: {
        QFont font;
        font.setBold(true);
        return font;
    }
    case Qt::TextAlignmentRole:
        return column >= ConnectionsColumn ? QVariant(Qt::AlignRight | Qt::AlignVCenter) : QVariant();
    case Qt::ToolTipRole:
        if (column == P50Column || column == P99Column)
            return u"the worst node's"_s;
        return {};
    case Qt::DisplayRole:
        switch (column) {
        case NodeColumn:
            return m_totals.nodes == 1 ? u"Total (1 node)"_s : u"Total (%1 nodes)"_s.arg(m_totals.nodes);
        case StateColumn:
            return m_totals.states;
        case ConnectionsColumn:
            return count(m_totals.connections);
        case CapacityColumn:
            return count(m_totals.capacity);
        case LoadColumn:
            return percent(m_totals.loadOfAllowed);
        case MessagesColumn:
            return rate(m_totals.deliveredPerSec);
        case P50Column:
            return m_totals.nodes ? milliseconds(m_totals.worstP50Ms) : QString();
        case P99Column:
            return m_totals.nodes ? milliseconds(m_totals.worstP99Ms) : QString();
        default:
            return {};
        }
    default:
        return {};
    }
}

QString NodeTableModel::describeAllowedLoadChange(int percent) const
{
    const QString question = u"Set the allowed load from %1 % to %2 %?"_s.arg(m_allowedLoad).arg(percent);
    QStringList affected;
    qint64 admittedNow = 0;
    qint64 admittedThen = 0;
    for (const v1::NodeStatus &node : m_nodes) {
        admittedNow += qint64(node.capacity()) * m_allowedLoad / 100;
        admittedThen += qint64(node.capacity()) * percent / 100;
        const double load = node.load_percent();
        const bool fullNow = load >= m_allowedLoad;
        const bool fullThen = load >= percent;
        if (!node.down() && fullNow != fullThen)
            affected.append(u"%1 (%2 %)"_s.arg(text(node.id()), QLocale().toString(load, 'f', 0)));
    }
    QString effect;
    if (percent < m_allowedLoad) {
        effect =
            affected.isEmpty()
                ? u"No node is at %1 % of its capacity now; nodes that reach it will stop receiving new users."_s
                      .arg(percent)
                : u"Nodes at or above %1 % of their capacity stop receiving new users: %2. Users already "
                  u"connected stay where they are."_s.arg(percent)
                      .arg(affected.join(u", "_s));
    } else if (percent > m_allowedLoad) {
        effect = affected.isEmpty()
                     ? u"Nodes take new users until they reach %1 % of their capacity."_s.arg(percent)
                     : u"These nodes take new users again: %1."_s.arg(affected.join(u", "_s));
    } else {
        effect = u"Nothing changes."_s;
    }
    return question + u"\n\n"_s + effect +
           u"\n\nThe cluster admits up to %1 connections instead of %2."_s.arg(count(admittedThen),
                                                                               count(admittedNow));
}

QVariant NodeTableModel::headerData(int section, Qt::Orientation orientation, int role) const
{
    if (orientation != Qt::Horizontal)
        return {};
    if (role == Qt::ToolTipRole) {
        switch (section) {
        case LoadColumn:
            return u"connections ÷ (capacity × allowed load): 100 % and above take no new users"_s;
        case MessagesColumn:
            return u"messages written to clients per second"_s;
        case P50Column:
        case P99Column:
            return u"publish → write to the socket, last report interval"_s;
        case ReportAgeColumn:
            return u"time since the node's last report to this decision server"_s;
        default:
            return {};
        }
    }
    if (role != Qt::DisplayRole)
        return {};
    switch (section) {
    case NodeColumn:
        return u"Node"_s;
    case RegionColumn:
        return u"Region"_s;
    case StateColumn:
        return u"State"_s;
    case ConnectionsColumn:
        return u"Connections"_s;
    case CapacityColumn:
        return u"Capacity"_s;
    case LoadColumn:
        return u"% of allowed"_s;
    case MessagesColumn:
        return u"Msg/s"_s;
    case P50Column:
        return u"p50"_s;
    case P99Column:
        return u"p99"_s;
    case ReportAgeColumn:
        return u"Last report"_s;
    }
    return {};
}

} // namespace bfg
