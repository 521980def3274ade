// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 BFG developers
#include "console/core/clusterhistory.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace bfg {

namespace {
// See axisTop(). With round numbers at most 4/3 apart, data has to fall to
// under 0.4 * 4/3 * 1.2 = 64% of what made the top grow before it shrinks,
// and rise to 0.95 * 2 = 1.9 times what made it shrink before it grows.
constexpr double GrowAbove = 0.95;   // grow when the data reaches this fraction of the top
constexpr double GrowHeadroom = 1.2; // ... to the round number at least this much above it
constexpr double ShrinkBelow = 0.4;  // shrink when the data falls under this fraction
constexpr double ShrinkHeadroom = 2; // ... to the round number at least this much above it

// The round mantissas an axis top may have, times a power of ten, with the
// tick interval that splits each into four to six steps.
struct RoundTop
{
    double mantissa;
    double tick;
};
constexpr RoundTop RoundTops[] = {{1, 0.2}, {1.2, 0.2}, {1.5, 0.25}, {2, 0.5}, {2.5, 0.5}, {3, 0.5},
                                  {4, 1},   {5, 1},     {6, 1},      {8, 2},   {10, 2}};

// (at_ms, value) of `points`, skipping NaN values; with bucketMs > 0 one
// point per bucket of time, the largest value at the newest at_ms in it.
template<typename Points, typename Value>
QList<QPointF> toSeries(const Points &points, qint64 bucketMs, Value value)
{
    QList<QPointF> series;
    series.reserve(qsizetype(points.size()));
    qint64 lastBucket = 0;
    for (const auto &point : points) {
        const double y = value(point);
        if (std::isnan(y))
            continue;
        const double x = double(point.atMs);
        if (bucketMs <= 0) {
            series.append(QPointF(x, y));
            continue;
        }
        const qint64 bucket = point.atMs / bucketMs - (point.atMs % bucketMs < 0 ? 1 : 0);
        if (!series.isEmpty() && bucket == lastBucket)
            series.last() = QPointF(x, std::max(series.last().y(), y));
        else
            series.append(QPointF(x, y));
        lastBucket = bucket;
    }
    return series;
}

// The smallest round number >= value (> 0).
double roundUp(double value)
{
    const double power = std::pow(10.0, std::floor(std::log10(value)));
    for (const RoundTop &top : RoundTops) {
        if (top.mantissa * power >= value * (1 - 1e-9))
            return top.mantissa * power;
    }
    return 10 * power;
}
} // namespace

ClusterHistory::ClusterHistory(int capacitySamples, QObject *parent)
    : QObject(parent)
    , m_capacity(std::max(1, capacitySamples))
{}

void ClusterHistory::append(const v1::ClusterSnapshot &snapshot)
{
    qint64 atMs = snapshot.at_ms() + m_clockOffsetMs;
    if (!m_samples.empty() && atMs <= m_samples.back().atMs) {
        const qint64 placed = m_samples.back().atMs + StreamIntervalMs;
        m_clockOffsetMs += placed - atMs;
        atMs = placed;
    }
    const qint64 seq = m_nextSeq++;
    m_samples.push_back({seq, atMs, snapshot.delivered_per_sec()});
    if (int(m_samples.size()) > m_capacity)
        m_samples.pop_front();

    for (const v1::NodeStatus &node : snapshot.nodes()) {
        const double p99 = node.down() ? std::numeric_limits<double>::quiet_NaN() : node.latency_p99_ms();
        std::deque<NodePoint> &points = m_nodes[QString::fromStdString(node.id())];
        // A snapshot that lists a node twice keeps the last entry.
        if (!points.empty() && points.back().seq == seq)
            points.back() = {seq, atMs, double(node.connections()), p99};
        else
            points.push_back({seq, atMs, double(node.connections()), p99});
    }

    // Age out what left the window, and nodes with nothing left in it.
    const qint64 oldestSeq = m_samples.front().seq;
    for (auto it = m_nodes.begin(); it != m_nodes.end();) {
        std::deque<NodePoint> &points = it->second;
        while (!points.empty() && points.front().seq < oldestSeq)
            points.pop_front();
        it = points.empty() ? m_nodes.erase(it) : std::next(it);
    }
    Q_EMIT appended();
}

void ClusterHistory::clear()
{
    m_samples.clear();
    m_nodes.clear();
    m_clockOffsetMs = 0;
    Q_EMIT cleared();
}

qint64 ClusterHistory::windowStartMs() const
{
    return m_samples.empty() ? 0 : m_samples.front().atMs;
}

qint64 ClusterHistory::windowEndMs() const
{
    return m_samples.empty() ? 0 : m_samples.back().atMs;
}

QStringList ClusterHistory::nodeIds() const
{
    QStringList ids;
    ids.reserve(qsizetype(m_nodes.size()));
    for (const auto &node : m_nodes)
        ids.append(node.first);
    return ids;
}

bool ClusterHistory::hasNode(const QString &nodeId) const
{
    return m_nodes.find(nodeId) != m_nodes.end();
}

QList<QPointF> ClusterHistory::connections(const QString &nodeId, qint64 bucketMs) const
{
    const auto it = m_nodes.find(nodeId);
    if (it == m_nodes.end())
        return {};
    return toSeries(it->second, bucketMs, [](const NodePoint &point) { return point.connections; });
}

QList<QPointF> ClusterHistory::latencyP99Ms(const QString &nodeId, qint64 bucketMs) const
{
    const auto it = m_nodes.find(nodeId);
    if (it == m_nodes.end())
        return {};
    return toSeries(it->second, bucketMs, [](const NodePoint &point) { return point.latencyP99Ms; });
}

QList<QPointF> ClusterHistory::deliveredPerSec(qint64 bucketMs) const
{
    return toSeries(m_samples, bucketMs, [](const Sample &sample) { return sample.deliveredPerSec; });
}

double ClusterHistory::axisTop(double dataMax, double currentTop, double minimumTop)
{
    const double floorTop = roundUp(minimumTop > 0 ? minimumTop : 1.0);
    if (!std::isfinite(dataMax) || dataMax < 0)
        dataMax = 0;
    const auto above = [floorTop](double value) {
        return std::max(floorTop, roundUp(std::max(value, floorTop)));
    };
    if (!std::isfinite(currentTop) || currentTop < floorTop || dataMax > currentTop * GrowAbove)
        return above(dataMax * GrowHeadroom);
    if (dataMax < currentTop * ShrinkBelow)
        return std::min(currentTop, above(dataMax * ShrinkHeadroom));
    return currentTop;
}

double ClusterHistory::axisTickInterval(double top)
{
    if (!std::isfinite(top) || top <= 0)
        return 1;
    const double power = std::pow(10.0, std::floor(std::log10(top)));
    const double mantissa = top / power;
    for (const RoundTop &round : RoundTops) {
        if (std::abs(mantissa - round.mantissa) < 1e-9 * round.mantissa)
            return round.tick * power;
    }
    return top / 5; // not one of axisTop()'s: five steps
}

} // namespace bfg
