// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 BFG developers
#include "daemon/metrics/metrichistogram.h"

#include <algorithm>

namespace bfg {

quint64 MetricHistogram::Snapshot::count() const
{
    quint64 total = 0;
    for (const quint64 count : counts)
        total += count;
    return total;
}

void MetricHistogram::Snapshot::merge(const Snapshot &other)
{
    if (counts.empty()) {
        *this = other;
        return;
    }
    Q_ASSERT(bounds == other.bounds);
    for (size_t i = 0; i < counts.size() && i < other.counts.size(); ++i)
        counts[i] += other.counts[i];
    sum += other.sum;
}

MetricHistogram::MetricHistogram(std::vector<double> bounds)
    : m_bounds(std::move(bounds))
    , m_counts(new std::atomic<quint64>[m_bounds.size() + 1])
{
    Q_ASSERT(std::is_sorted(m_bounds.begin(), m_bounds.end()));
    for (size_t i = 0; i <= m_bounds.size(); ++i)
        m_counts[i].store(0, std::memory_order_relaxed);
}

void MetricHistogram::record(double value)
{
    // Counted rather than searched: no branch to mispredict on the hot path.
    size_t i = 0;
    for (const double bound : m_bounds)
        i += value > bound ? 1 : 0;
    m_counts[i].store(m_counts[i].load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
    m_sum.store(m_sum.load(std::memory_order_relaxed) + value, std::memory_order_relaxed);
}

MetricHistogram::Snapshot MetricHistogram::snapshot() const
{
    Snapshot snapshot;
    snapshot.bounds = m_bounds;
    snapshot.counts.resize(m_bounds.size() + 1);
    for (size_t i = 0; i <= m_bounds.size(); ++i)
        snapshot.counts[i] = m_counts[i].load(std::memory_order_relaxed);
    snapshot.sum = m_sum.load(std::memory_order_relaxed);
    return snapshot;
}

std::vector<double> MetricHistogram::latencyBounds()
{
    return {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
}

} // namespace bfg
