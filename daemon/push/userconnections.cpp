// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 BFG developers
#include "daemon/push/userconnections.h"

#include <algorithm>

namespace bfg {

UserConnections::UserConnections(int maxPerUser, Policy policy)
    : m_max(maxPerUser)
    , m_policy(policy)
{}

bool UserConnections::add(const QString &user, Entry entry, std::optional<Entry> *evicted)
{
    evicted->reset();
    if (m_max <= 0)
        return true;
    std::lock_guard lock(m_mutex);
    std::deque<Entry> &sessions = m_users[user];
    if (int(sessions.size()) >= m_max) {
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
    if (m_max <= 0)
        return;
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
