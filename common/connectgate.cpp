// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 BFG developers
#include "common/connectgate.h"

#include <algorithm>
#include <utility>

namespace bfg {

ConnectGate::ConnectGate(int limit, QObject *parent)
    : QObject(parent)
    , m_limit(std::max(1, limit))
{
    m_admitTimer.setSingleShot(true);
    m_admitTimer.setInterval(0);
    connect(&m_admitTimer, &QTimer::timeout, this, &ConnectGate::admitWaiting);
}

bool ConnectGate::tryAcquire()
{
    if (m_inUse >= m_limit || !m_waiting.empty())
        return false;
    ++m_inUse;
    return true;
}

void ConnectGate::wait(QObject *context, std::function<void()> admitted)
{
    m_waiting.push_back({context, std::move(admitted)});
    if (m_inUse < m_limit)
        m_admitTimer.start();
}

void ConnectGate::release()
{
    Q_ASSERT(m_inUse > 0);
    m_inUse = std::max(0, m_inUse - 1);
    if (!m_waiting.empty())
        m_admitTimer.start();
}

void ConnectGate::admitWaiting()
{
    while (m_inUse < m_limit && !m_waiting.empty()) {
        Waiter waiter = std::move(m_waiting.front());
        m_waiting.pop_front();
        if (!waiter.context)
            continue;
        ++m_inUse;
        waiter.admitted(); // may release() or wait() again: both only touch the members
    }
}

} // namespace bfg
