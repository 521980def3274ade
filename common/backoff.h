// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 BFG developers
//
// Exponential backoff with full jitter (AWS architecture blog, "Exponential
// Backoff And Jitter"): the n-th delay is uniform in [0, min(cap, base * 2^n)].
// Every BFG client uses it for reconnects and decision-server retries, so a
// crowd of clients that lost their node together does not return together.
#pragma once

#include <QRandomGenerator>

namespace bfg {

class Backoff
{
public:
    static constexpr int DefaultBaseMs = 250;
    static constexpr int DefaultCapMs = 30000;

    explicit Backoff(int baseMs = DefaultBaseMs, int capMs = DefaultCapMs,
                     QRandomGenerator *random = QRandomGenerator::global());

    // The delay before the next attempt; each call raises the ceiling.
    int nextDelayMs();
    // The ceiling the next call draws below (for tests and progress lines).
    int currentCeilingMs() const;
    // After a success: start again from the base.
    void reset() { m_attempt = 0; }
    int attempts() const { return m_attempt; }

private:
    int m_baseMs;
    int m_capMs;
    int m_attempt = 0;
    QRandomGenerator *m_random;
};

} // namespace bfg
