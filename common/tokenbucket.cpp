// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 BFG developers
#include "common/tokenbucket.h"

#include <algorithm>
#include <cmath>

namespace bfg {

TokenBucket::TokenBucket(double ratePerSecond, double burst)
    : m_rate(ratePerSecond)
    , m_burst(std::max(1.0, burst))
    , m_tokens(m_burst)
{}

void TokenBucket::configure(double ratePerSecond, double burst)
{
    const bool wasUnlimited = m_rate <= 0;
    m_rate = ratePerSecond;
    m_burst = std::max(1.0, burst);
    m_tokens = wasUnlimited ? m_burst : std::min(m_tokens, m_burst);
}

qint64 TokenBucket::take(qint64 nowMs, double tokens)
{
    if (m_rate <= 0)
        return 0;
    if (!m_started) {
        m_started = true;
        m_lastMs = nowMs;
    } else if (nowMs > m_lastMs) {
        m_tokens = std::min(m_burst, m_tokens + double(nowMs - m_lastMs) * m_rate / 1000.0);
        m_lastMs = nowMs;
    }
    // More than a burst at once is never granted whole: it takes the full bucket.
    const double wanted = std::min(tokens, m_burst);
    if (m_tokens >= wanted) {
        m_tokens -= wanted;
        return 0;
    }
    return std::max<qint64>(1, qint64(std::ceil((wanted - m_tokens) * 1000.0 / m_rate)));
}

KeyedTokenBuckets::KeyedTokenBuckets(double ratePerSecond, double burst)
    : m_rate(ratePerSecond)
    , m_burst(std::max(1.0, burst))
    , m_refillMs(ratePerSecond > 0 ? qint64(std::ceil(m_burst * 1000.0 / ratePerSecond)) : 0)
{}

void KeyedTokenBuckets::configure(double ratePerSecond, double burst)
{
    m_rate = ratePerSecond;
    m_burst = std::max(1.0, burst);
    m_refillMs = ratePerSecond > 0 ? qint64(std::ceil(m_burst * 1000.0 / ratePerSecond)) : 0;
    for (Entry &entry : m_buckets)
        entry.bucket.configure(m_rate, m_burst);
}

qint64 KeyedTokenBuckets::take(const QByteArray &key, qint64 nowMs)
{
    if (m_rate <= 0)
        return 0;
    if (nowMs - m_lastPruneMs >= std::max<qint64>(1000, m_refillMs)) {
        m_lastPruneMs = nowMs;
        for (auto it = m_buckets.begin(); it != m_buckets.end();)
            it = nowMs - it->lastMs > m_refillMs ? m_buckets.erase(it) : std::next(it);
    }
    auto it = m_buckets.find(key);
    if (it == m_buckets.end())
        it = m_buckets.insert(key, {TokenBucket(m_rate, m_burst), nowMs});
    it->lastMs = nowMs;
    return it->bucket.take(nowMs);
}

} // namespace bfg
