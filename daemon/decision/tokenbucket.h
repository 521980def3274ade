// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 BFG developers
//
// A token bucket: `ratePerSecond` tokens a second, at most `burst` saved up.
// The decision server takes one per assignment, so that a reconnect storm of
// every client at once is spread out (429 + Retry-After) instead of
// overshooting the nodes between two reports. Time is passed in: tests
// drive it without waiting.
#pragma once

#include <QtGlobal>

namespace bfg {

class TokenBucket
{
public:
    // ratePerSecond <= 0: unlimited.
    TokenBucket(double ratePerSecond, double burst);

    void configure(double ratePerSecond, double burst);
    // Takes a token: 0 when granted, else the ms until one will be there.
    qint64 take(qint64 nowMs);

private:
    double m_rate;
    double m_burst;
    double m_tokens;
    qint64 m_lastMs = 0;
    bool m_started = false;
};

} // namespace bfg
