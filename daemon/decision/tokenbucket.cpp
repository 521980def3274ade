// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 BFG developers
#include "daemon/decision/tokenbucket.h"

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
    m_rate = ratePerSecond;
    m_burst = std::max(1.0, burst);
    m_tokens = std::min(m_tokens, m_burst);
}

qint64 TokenBucket::take(qint64 nowMs)
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
    if (m_tokens >= 1.0) {
        m_tokens -= 1.0;
        return 0;
    }
    return std::max<qint64>(1, qint64(std::ceil((1.0 - m_tokens) * 1000.0 / m_rate)));
}

} // namespace bfg
