// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 BFG developers
#include "daemon/broker/circuitbreaker.h"

#include <algorithm>

namespace bfg {

CircuitBreaker::CircuitBreaker(int threshold, int coolDownMs, int maxCoolDownMs)
    : m_threshold(std::max(1, threshold))
    , m_baseCoolDownMs(coolDownMs)
    , m_maxCoolDownMs(std::max(coolDownMs, maxCoolDownMs))
    , m_coolDownMs(coolDownMs)
{}

CircuitBreaker::State CircuitBreaker::state(qint64 nowMs) const
{
    if (!m_open)
        return State::Closed;
    return nowMs < m_openUntilMs ? State::Open : State::HalfOpen;
}

bool CircuitBreaker::allow(qint64 nowMs)
{
    switch (state(nowMs)) {
    case State::Closed:
        return true;
    case State::Open:
        return false;
    case State::HalfOpen:
        if (m_probeInFlight)
            return false;
        m_probeInFlight = true;
        return true;
    }
    return false;
}

void CircuitBreaker::recordSuccess()
{
    m_failures = 0;
    m_open = false;
    m_probeInFlight = false;
    m_coolDownMs = m_baseCoolDownMs;
}

void CircuitBreaker::recordFailure(qint64 nowMs)
{
    if (m_open) {
        if (m_probeInFlight) { // the probe failed: wait longer this time
            m_coolDownMs = std::min(m_maxCoolDownMs, m_coolDownMs * 2);
            open(nowMs);
        }
        return;
    }
    if (++m_failures >= m_threshold)
        open(nowMs);
}

void CircuitBreaker::trip(qint64 nowMs)
{
    if (!m_open)
        open(nowMs);
}

void CircuitBreaker::open(qint64 nowMs)
{
    m_open = true;
    m_probeInFlight = false;
    m_openUntilMs = nowMs + m_coolDownMs;
}

} // namespace bfg
