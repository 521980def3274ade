// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 BFG developers
//
// A count kept by one thread and read by any: what a push worker counts on
// its hot path for GET /metrics. The owner adds with a relaxed load and
// store (no locked instruction, nothing shared between workers), a scrape
// on another thread reads some recent value. Never written by two threads.
#pragma once

#include <atomic>

#include <QtGlobal>

namespace bfg {

class MetricCounter
{
public:
    MetricCounter() = default;
    Q_DISABLE_COPY_MOVE(MetricCounter)

    // The owning thread only.
    void add(quint64 amount = 1)
    {
        m_value.store(m_value.load(std::memory_order_relaxed) + amount, std::memory_order_relaxed);
    }
    // For a gauge the owner recomputes (e.g. bytes queued, summed once a second).
    void set(quint64 value) { m_value.store(value, std::memory_order_relaxed); }
    // Any thread.
    quint64 value() const { return m_value.load(std::memory_order_relaxed); }

private:
    std::atomic<quint64> m_value{0};
};

} // namespace bfg
