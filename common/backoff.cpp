// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 BFG developers
#include "common/backoff.h"

#include <algorithm>

namespace bfg {

Backoff::Backoff(int baseMs, int capMs, QRandomGenerator *random)
    : m_baseMs(std::max(1, baseMs))
    , m_capMs(std::max(m_baseMs, capMs))
    , m_random(random)
{}

int Backoff::currentCeilingMs() const
{
    // 2^attempt overflows quickly: stop doubling once the cap is reached.
    qint64 ceiling = m_baseMs;
    for (int i = 0; i < m_attempt && ceiling < m_capMs; ++i)
        ceiling *= 2;
    return int(std::min<qint64>(ceiling, m_capMs));
}

int Backoff::nextDelayMs()
{
    const int ceiling = currentCeilingMs();
    ++m_attempt;
    return int(m_random->bounded(quint32(ceiling) + 1));
}

} // namespace bfg
