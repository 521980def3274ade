// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 BFG developers
#include "common/latencyhistogram.h"

#include <algorithm>

#include <QJsonArray>

namespace bfg {

namespace {
constexpr int ExactBelow = 128;  // values below this get a bucket each
constexpr int SubBuckets = 64;   // linear buckets per power of two above
constexpr int HighestPower = 40; // 2^40 us is about 12 days: plenty
constexpr int BucketCount = ExactBelow + (HighestPower - 7 + 1) * SubBuckets;
} // namespace

LatencyHistogram::LatencyHistogram()
    : m_buckets(BucketCount, 0)
{}

int LatencyHistogram::indexOf(quint64 us)
{
    if (us < quint64(ExactBelow))
        return int(us);
    int power = 63 - __builtin_clzll(us); // >= 7
    if (power > HighestPower)
        return BucketCount - 1;
    const int shift = power - 6; // keep the top 7 bits: 64..127
    return ExactBelow + (power - 7) * SubBuckets + int((us >> shift) - SubBuckets);
}

quint64 LatencyHistogram::lowerBound(int index)
{
    if (index < ExactBelow)
        return quint64(index);
    const int k = index - ExactBelow;
    const int power = k / SubBuckets + 7;
    const quint64 sub = quint64(k % SubBuckets);
    return (SubBuckets + sub) << (power - 6);
}

quint64 LatencyHistogram::upperBound(int index)
{
    return index + 1 < BucketCount ? lowerBound(index + 1) - 1 : lowerBound(index);
}

void LatencyHistogram::record(qint64 us)
{
    if (us < 0)
        us = 0; // clocks of two hosts may disagree by a little
    ++m_buckets[size_t(indexOf(quint64(us)))];
    m_min = m_count ? std::min(m_min, us) : us;
    m_max = std::max(m_max, us);
    m_sum += us;
    ++m_count;
}

void LatencyHistogram::merge(const LatencyHistogram &other)
{
    if (!other.m_count)
        return;
    for (size_t i = 0; i < m_buckets.size(); ++i)
        m_buckets[i] += other.m_buckets[i];
    m_min = m_count ? std::min(m_min, other.m_min) : other.m_min;
    m_max = std::max(m_max, other.m_max);
    m_sum += other.m_sum;
    m_count += other.m_count;
}

void LatencyHistogram::reset()
{
    std::fill(m_buckets.begin(), m_buckets.end(), 0);
    m_count = 0;
    m_min = m_max = m_sum = 0;
}

qint64 LatencyHistogram::percentileUs(double percent) const
{
    if (!m_count)
        return 0;
    const double clamped = std::clamp(percent, 0.0, 100.0);
    // The rank of the sample we want, 1-based, at least the first.
    const quint64 rank = std::max<quint64>(1, quint64(clamped / 100.0 * double(m_count) + 0.5));
    quint64 seen = 0;
    for (int i = 0; i < BucketCount; ++i) {
        seen += m_buckets[size_t(i)];
        if (seen >= rank) {
            const quint64 mid = (lowerBound(i) + upperBound(i)) / 2;
            return std::clamp<qint64>(qint64(mid), m_min, m_max);
        }
    }
    return m_max;
}

QJsonObject LatencyHistogram::toJson() const
{
    QJsonArray buckets;
    for (int i = 0; i < BucketCount; ++i) {
        if (m_buckets[size_t(i)])
            buckets.append(QJsonArray{i, double(m_buckets[size_t(i)])});
    }
    return {{QStringLiteral("count"), double(m_count)},
            {QStringLiteral("min_us"), double(minUs())},
            {QStringLiteral("max_us"), double(m_max)},
            {QStringLiteral("sum_us"), double(m_sum)},
            {QStringLiteral("buckets"), buckets}};
}

bool LatencyHistogram::fromJson(const QJsonObject &json, LatencyHistogram *out)
{
    LatencyHistogram parsed;
    quint64 total = 0;
    for (const QJsonValue &entry : json.value(QStringLiteral("buckets")).toArray()) {
        const QJsonArray pair = entry.toArray();
        const qint64 index = pair.at(0).toInteger(-1);
        const qint64 count = pair.at(1).toInteger(-1);
        if (pair.size() != 2 || index < 0 || index >= BucketCount || count < 0)
            return false;
        parsed.m_buckets[size_t(index)] += quint64(count);
        total += quint64(count);
    }
    parsed.m_count = total;
    parsed.m_min = json.value(QStringLiteral("min_us")).toInteger();
    parsed.m_max = json.value(QStringLiteral("max_us")).toInteger();
    parsed.m_sum = json.value(QStringLiteral("sum_us")).toInteger();
    if (qint64(total) != json.value(QStringLiteral("count")).toInteger(-1) || parsed.m_min < 0 ||
        parsed.m_max < parsed.m_min)
        return false;
    *out = std::move(parsed);
    return true;
}

} // namespace bfg
