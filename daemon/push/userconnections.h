// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 BFG developers
//
// The sessions of each user across a push node's workers, for
// push/max_connections_per_user: one user cannot hold the node's
// connections. Sessions count from their accepted hello until they end.
// Thread-safe: every worker registers and releases its own sessions.
#pragma once

#include <atomic>
#include <deque>
#include <mutex>
#include <optional>

#include <QHash>
#include <QString>

namespace bfg {

class Worker;

class UserConnections
{
public:
    enum class Policy {
        CloseOldest, // the new session is taken, the user's oldest is closed (REPLACED)
        RefuseNew,   // the new session is refused (TOO_MANY_CONNECTIONS)
    };
    struct Entry
    {
        Worker *worker = nullptr;
        quint64 sessionId = 0; // unique within its worker
        bool operator==(const Entry &other) const
        {
            return worker == other.worker && sessionId == other.sessionId;
        }
    };

    // maxPerUser <= 0: no limit (nothing is tracked).
    UserConnections(int maxPerUser, Policy policy);

    bool isLimited() const { return m_max.load(std::memory_order_relaxed) > 0; }
    // A new limit (a reload): it applies to the sessions that come next;
    // none is closed for it. Sessions counted before stay counted.
    void setLimit(int maxPerUser, Policy policy);
    // Counts `entry` for `user`, unless the policy refuses it (false). When
    // the user is over the limit under CloseOldest, `evicted` names the
    // session to close; it no longer counts.
    bool add(const QString &user, Entry entry, std::optional<Entry> *evicted);
    void remove(const QString &user, Entry entry);

private:
    std::atomic<int> m_max;
    Policy m_policy; // under m_mutex
    std::mutex m_mutex;
    QHash<QString, std::deque<Entry>> m_users; // oldest first
};

} // namespace bfg
