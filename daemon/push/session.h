// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 BFG developers
//
// One client's connection on a push worker: its WebSocket connection (which
// it owns), who it is, where it stands in each stream it reads, and its
// heartbeat clock. The Worker drives it; the session only knows how to send
// in order.
#pragma once

#include <deque>
#include <memory>
#include <utility>
#include <vector>

#include <QString>
#include <QStringList>

#include "common/tokenbucket.h"
#include "daemon/broker/broker.h"
#include "daemon/push/wsconnection.h"

namespace bfg {

class Session
{
public:
    // AwaitingHello -> Subscribing (the broker answers each stream's
    // subscription) -> Live (welcome sent) -> Closing.
    enum class Stage { AwaitingHello, Subscribing, Live, Closing };
    enum class Delivery { Sent, Skipped, Held, Gap };

    // Live messages held per stream while its subscription is answered; a
    // broker slower than this makes the client resume instead.
    static constexpr size_t MaxHeld = 10000;

    struct StreamState
    {
        // false: unsubscribed (the entry stays, so that the others keep their
        // addresses; a new subscribe takes it again).
        bool active = true;
        quint64 subscription = 0; // which subscribe the broker's answer is for
        QString epoch;
        quint64 delivered = 0; // last seq sent to the client
        bool ready = false;    // the broker answered the subscription
        bool recovered = true;
        std::vector<MessagePtr> replay; // the broker's answer, sent after the welcome
        std::vector<MessagePtr> held;   // live messages that came before it
    };

    Session(std::unique_ptr<WsConnection> connection, quint64 id);
    Q_DISABLE_COPY_MOVE(Session)

    WsConnection *connection() const { return m_connection.get(); }
    quint64 id() const { return m_id; }
    Stage stage() const { return m_stage; }
    void setStage(Stage stage) { m_stage = stage; }

    QString userId() const { return m_userId; }
    void setUserId(const QString &userId) { m_userId = userId; }

    // The streams this session reads, in the order of its token. A state
    // keeps its address while the session lives (the worker points to it).
    const std::deque<std::pair<QString, StreamState>> &streams() const { return m_streams; }
    std::deque<std::pair<QString, StreamState>> &streams() { return m_streams; }
    // A fresh state for `stream`: the one it had if unsubscribed, else a new one.
    StreamState &addStream(const QString &stream);
    StreamState *stream(const QString &stream); // active or not
    bool allReady() const;                      // of the active streams
    int activeStreams() const;
    // Numbers each subscribe, so that an answer meant for an earlier one is known.
    quint64 nextSubscription() { return ++m_subscriptions; }

    // Sends `message` if it is the next of its stream for this client; skips
    // what the client already has; holds it while the stream's subscription
    // is unanswered; reports a gap (or a new epoch) otherwise.
    // `state` is this session's state in the message's stream.
    Delivery deliver(StreamState &state, const MessagePtr &message);
    // Sends one encoded ServerFrame.
    void sendFrame(const QByteArray &frame);

    qint64 lastHeardMs = 0;
    qint64 nextPingMs = 0;
    qint64 stageDeadlineMs = 0;      // AwaitingHello: hello by then; Subscribing: answered by
                                     // then; Closing: gone by then
    qint64 leaveByMs = 0;            // asked to reconnect elsewhere: closed if still here then
    TokenBucket inboundFrames{0, 1}; // what the client may send (push/inbound_*_per_s)
    bool countedForUser = false;     // in UserConnections (push/max_connections_per_user)
    TokenBucket inboundBytes{0, 1};
    QStringList readGrants;     // the token's streams: what Subscribe may add
    QStringList publishGrants;  // the token's publish list: where Publish may go
    QStringList refusedAtHello; // shared streams the hello named and the token does not grant

private:
    std::unique_ptr<WsConnection> m_connection;
    quint64 m_id;
    Stage m_stage = Stage::AwaitingHello;
    QString m_userId;
    std::deque<std::pair<QString, StreamState>> m_streams;
    quint64 m_subscriptions = 0;
};

} // namespace bfg
