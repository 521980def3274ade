// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 BFG developers
//
// Bounds how many clients are between "ask the decision server" and "live"
// at once. A probe starting thousands of users, or all of them coming back
// after a network blip, would otherwise queue thousands of assign requests,
// whose timeouts run out while they wait for a connection, and thousands of
// handshakes on a busy loop. Waiting clients are admitted
// in order as slots free. Shared by the PushClients of one process (the
// probe); a client without a gate goes straight through.
#pragma once

#include <deque>
#include <functional>

#include <QObject>
#include <QPointer>
#include <QTimer>

namespace bfg {

class ConnectGate : public QObject
{
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(ConnectGate)

public:
    explicit ConnectGate(int limit, QObject *parent = nullptr);

    int limit() const { return m_limit; }
    int inUse() const { return m_inUse; }
    int waiting() const { return int(m_waiting.size()); }

    // Takes a slot now if one is free and nobody waits for one.
    bool tryAcquire();
    // Queues for a slot: `admitted` runs later (never inside wait()) with the
    // slot taken, unless `context` is gone by then.
    void wait(QObject *context, std::function<void()> admitted);
    // Gives back a slot taken by tryAcquire() or handed to `admitted`.
    void release();

private:
    struct Waiter
    {
        QPointer<QObject> context;
        std::function<void()> admitted;
    };

    void admitWaiting();

    int m_limit;
    int m_inUse = 0;
    std::deque<Waiter> m_waiting;
    QTimer m_admitTimer; // zero-interval: admits outside the caller's stack
};

} // namespace bfg
