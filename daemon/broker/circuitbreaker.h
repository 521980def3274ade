// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 BFG developers
//
// A circuit breaker (Nygard, "Release It!") in front of the Redis broker's
// publishes. Closed: calls go through; `threshold` failures in a row open
// it. Open: calls are refused at once (the publisher gets a 503 in
// microseconds instead of waiting out a timeout) until the cool-down ends.
// Half-open: one call goes through as a probe; its success closes the
// breaker, its failure opens it again for twice as long (up to a cap).
// Time is passed in, so that tests need no clock. Not thread-safe: one
// thread (the broker's) uses it.
#pragma once

#include <QtGlobal>

namespace bfg {

class CircuitBreaker
{
public:
    enum class State { Closed, Open, HalfOpen };

    explicit CircuitBreaker(int threshold = 3, int coolDownMs = 500, int maxCoolDownMs = 8000);

    // May a call go through now? In half-open, true once (the probe) until
    // its outcome is recorded.
    bool allow(qint64 nowMs);
    void recordSuccess();
    void recordFailure(qint64 nowMs);
    // Opens at once (the connection itself is known to be down).
    void trip(qint64 nowMs);

    State state(qint64 nowMs) const;
    // While open: when the next probe may go.
    qint64 openUntilMs() const { return m_openUntilMs; }

private:
    void open(qint64 nowMs);

    int m_threshold;
    qint64 m_baseCoolDownMs;
    qint64 m_maxCoolDownMs;
    qint64 m_coolDownMs;
    int m_failures = 0;
    bool m_open = false;
    bool m_probeInFlight = false;
    qint64 m_openUntilMs = 0;
};

} // namespace bfg
