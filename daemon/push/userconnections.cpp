// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 BFG developers
#include "daemon/push/userconnections.h"

#include <algorithm>

namespace bfg {

UserConnections::UserConnections(int maxPerUser, Policy policy)
    : m_max(maxPerUser)
    , m_policy(policy)
{}

void UserConnections::setLimit(int maxPerUser, Policy policy)
{
    std::lock_guard lock(m_mutex);
    m_max.store(maxPerUser, std::memory_order_relaxed);
    m_policy = policy;
}

bool UserConnections::add(const QString &user, Entry entry, std::optional<Entry> *evicted)
{
    evicted->reset();
    if (!isLimited())
        return true;
    std::lock_guard lock(m_mutex);
    const int max = m_max.load(std::memory_order_relaxed);
    if (max <= 0)
        return true;
    std::deque<Entry> &sessions = m_users[user];
    if (int(sessions.size()) >= max) {
        if (m_policy == Policy::RefuseNew)
            return false;
        *evicted = sessions.front();
        sessions.pop_front();
    }
    sessions.push_back(entry);
    return true;
}

void UserConnections::remove(const QString &user, Entry entry)
{
    // Only counted sessions are removed, also after the limit was lifted.
    std::lock_guard lock(m_mutex);
    const auto it = m_users.find(user);
    if (it == m_users.end())
        return;
    std::deque<Entry> &sessions = *it;
    sessions.erase(std::remove(sessions.begin(), sessions.end(), entry), sessions.end());
    if (sessions.empty())
        m_users.erase(it);
}

} // namespace bfg
