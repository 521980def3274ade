// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 BFG developers
//
// A Prometheus histogram with fixed buckets, recorded by one thread and read
// by any (as MetricCounter: relaxed atomics, no lock, no allocation per
// sample). Several threads each keep their own and the scrape merges their
// snapshots.
#pragma once

#include <atomic>
#include <memory>
#include <vector>

#include <QtGlobal>

namespace bfg {

class MetricHistogram
{
public:
    struct Snapshot
    {
        std::vector<double> bounds;  // upper bounds, ascending; +Inf is implied
        std::vector<quint64> counts; // per bucket, not cumulative: bounds.size() + 1 (the last above all)
        double sum = 0;

        quint64 count() const;
        // Adds `other`, which must have the same bounds (or be empty).
        void merge(const Snapshot &other);
    };

    explicit MetricHistogram(std::vector<double> bounds);
    Q_DISABLE_COPY_MOVE(MetricHistogram)

    // The owning thread only. A value equal to a bound goes into its bucket (le).
    void record(double value);
    // Any thread.
    Snapshot snapshot() const;

    // Seconds from 0.5 ms to 10 s: latencies on a node, from a loopback
    // delivery to a backed-up socket.
    static std::vector<double> latencyBounds();

private:
    std::vector<double> m_bounds;
    std::unique_ptr<std::atomic<quint64>[]> m_counts;
    std::atomic<double> m_sum{0};
};

} // namespace bfg
