// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 BFG developers
//
// A log-linear histogram of latencies in microseconds (HdrHistogram's idea
// with 64 sub-buckets per power of two: about 1.6% relative error, a fixed
// 18 KB, O(1) record). The probe measures publish -> receive with it and
// the push node publish -> write. Not thread-safe: one per thread, merged.
#pragma once

#include <QJsonObject>
#include <QtGlobal>

#include <vector>

namespace bfg {

class LatencyHistogram
{
public:
    LatencyHistogram();

    void record(qint64 us);
    void merge(const LatencyHistogram &other);
    void reset();

    quint64 count() const { return m_count; }
    qint64 maxUs() const { return m_max; }
    qint64 minUs() const { return m_count ? m_min : 0; }
    double meanUs() const { return m_count ? double(m_sum) / double(m_count) : 0.0; }
    // The value below which `percent` % of the samples fall (0 < percent <= 100),
    // as the midpoint of its bucket, never above the largest sample.
    qint64 percentileUs(double percent) const;

    // Every sample kept, for merging the histograms of several processes:
    // {"count", "min_us", "max_us", "sum_us", "buckets": [[index, count] ...]}
    // with the non-empty buckets only.
    QJsonObject toJson() const;
    // False (and `out` untouched) when `json` is not what toJson() writes.
    static bool fromJson(const QJsonObject &json, LatencyHistogram *out);

private:
    static int indexOf(quint64 us);
    static quint64 lowerBound(int index);
    static quint64 upperBound(int index);

    std::vector<quint64> m_buckets;
    quint64 m_count = 0;
    qint64 m_min = 0;
    qint64 m_max = 0;
    qint64 m_sum = 0;
};

} // namespace bfg
