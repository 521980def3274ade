// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 BFG developers
//
// One push worker thread: owns the connections the acceptor hands it
// (WsConnection: the upgrade, frames, send queues), checks each client's
// Hello, subscribes its streams at the broker, replays and then delivers
// live messages, and keeps heartbeats. The broker's thread drops messages
// into the worker's inbox; the worker fans each one out to its sessions in
// its own thread, queueing the message's one WebSocket frame on each, and
// flushes every connection with something queued once per loop turn.
#pragma once

#include <atomic>
#include <memory>
#include <mutex>
#include <unordered_map>
#include <vector>

#include <QObject>

#include "bfg/v1/frames.pb.h"
#include "common/latencyhistogram.h"
#include "common/token.h"
#include "daemon/broker/broker.h"
#include "daemon/push/pushmetrics.h"
#include "daemon/push/pushoptions.h"
#include "daemon/push/session.h"
#include "daemon/push/userconnections.h"
#include "daemon/push/wsconnection.h"

class QTimer;

namespace bfg {

// Figures the workers add to and the reporter reads.
struct PushStats
{
    std::atomic<int> connections{0};
    std::atomic<quint64> delivered{0};
    std::atomic<quint64> replayed{0};
    std::atomic<quint64> clientPublished{0};  // messages clients published over their connections
    std::atomic<quint64> ephemeralDropped{0}; // ephemeral messages not sent to a client behind
};

class Worker : public QObject, public WsConnection::Listener
{
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(Worker)

public:
    // `users` (shared by the node's workers) counts each user's sessions.
    Worker(int index, const PushOptions &options, Broker *broker, PushStats *stats, UserConnections *users);
    ~Worker() override;

    // Any thread.
    LatencyHistogram takeLatency();
    const WorkerMetrics &metrics() const { return m_metrics; }

    // The worker's own thread (call through QMetaObject::invokeMethod).
    void initialize();
    // `refuse`: the address opened too many connections lately; it gets HTTP 429.
    void takeSocket(qintptr socketDescriptor, bool refuse = false);
    // Closes every session with a retry-range code: clients resume elsewhere.
    void closeAll(v1::ErrorCode code, const QString &reason);
    // The end: every connection aborted, every stream released at the broker,
    // timers stopped. What the broker still sends is ignored; the object can
    // then be deleted from another thread once its own has finished.
    void shutdown();
    // Draining: tells `sessionsPerSecond` clients a second to reconnect
    // elsewhere (a Reconnect frame with a jittered delay), closes those that
    // have not gone after a grace period, and turns new clients away.
    void setDraining(bool draining, int sessionsPerSecond);
    // New settings (a reload; PushServer::reconfigure says which change):
    // tokens verify with the new secrets from now on, and the per-client
    // frame and byte budgets of the sessions already here change too.
    void reconfigure(const PushOptions &options);
    // Closes session `sessionId` of this worker with REPLACED: a newer
    // connection of its user took its place (push/max_connections_per_user).
    void closeReplaced(quint64 sessionId);

private:
    // This worker's sessions that read one stream, and their state in it. It
    // is the broker's subscriber for that stream (counted once per session),
    // so a message reaches its readers without a lookup by name. When the last
    // reader leaves it is retired, and deleted once the inbox cannot name it.
    struct Reader
    {
        Session *session;
        Session::StreamState *state;
    };
    class Readers final : public Subscriber
    {
    public:
        explicit Readers(Worker *worker)
            : m_worker(worker)
        {}
        void deliver(const MessagePtr &message) override; // a broker thread
        std::vector<Reader> readers;

    private:
        Worker *m_worker;
    };

    // WsConnection::Listener
    void onUpgraded(WsConnection *connection) override;
    void onMessage(WsConnection *connection, QByteArrayView bytes, bool text) override;
    void onControlFrame(WsConnection *connection, qsizetype bytes) override;
    void onFlushNeeded(WsConnection *connection) override;
    void onDisconnected(WsConnection *connection) override;
    void onProtocolError(WsConnection *connection, int closeCode) override;

    // Counts one frame of `bytes` from the client against its inbound
    // limits; false after closing it with RATE_LIMITED.
    bool admitInbound(Session *session, qsizetype bytes);
    void onFrame(Session *session, QByteArrayView bytes);
    void onHello(Session *session, const v1::Hello &hello);
    // Chat, on a live session: a message to a stream, more streams, fewer.
    void onPublish(Session *session, const v1::Publish &publish);
    void onSubscribe(Session *session, const v1::Subscribe &subscribe);
    void onUnsubscribe(Session *session, const v1::Unsubscribe &unsubscribe);
    // Gives `session` a fresh state in `stream` and makes it one of the stream's readers.
    void addReader(Session *session, const QString &stream);
    // Asks the broker for `stream` from `from` (added by addReader first).
    void askBroker(Session *session, const QString &stream, const std::optional<StreamPoint> &from);
    // Ends `session`'s reading of `stream` at the broker.
    void dropReader(Session *session, const QString &stream);
    // Unsubscribed (or its subscription failed): no longer read, its state
    // (`state`, in `session`) kept inactive for a later subscribe.
    void leaveStream(Session *session, const QString &stream, Session::StreamState *state);
    void onSubscribed(WsConnection *connection, quint64 sessionId, const QString &stream,
                      quint64 subscription, const Subscription &answer, const QString &error);
    // The broker answered a Subscribe of a live session: Subscribed, the
    // replay, then what arrived meanwhile.
    void startStream(Session *session, const QString &stream, Session::StreamState &state);
    // An Error that refuses one request: the session goes on.
    void refuseRequest(Session *session, v1::ErrorCode code, const QString &text,
                       const QString &clientMessageId, const QString &stream);
    void goLive(Session *session);
    Session *findSession(WsConnection *connection, quint64 sessionId) const;
    // Every stage change goes through here (it keeps m_awaitingHello).
    void setStage(Session *session, Session::Stage stage);
    // Once per loop turn: flushes the connections with something queued, then
    // deletes the sessions whose connections ended.
    void afterTurn();
    void scheduleAfterTurn();
    // Hands `message` to `session`; sessions to close afterwards (a gap, a
    // send queue over its limit) are added to `toClose`.
    void deliverTo(Session *session, Session::StreamState &state, const MessagePtr &message, qint64 nowUs,
                   quint64 *sent, std::vector<Session *> *toClose);
    void closeLagging(std::vector<Session *> sessions);
    // Any thread: a message for `readers`, fanned out on the worker's thread.
    void enqueue(Readers *readers, const MessagePtr &message);
    void drainInbox();
    void sweep();
    void drainStep();
    void fail(Session *session, v1::ErrorCode code, const QString &text);
    void closeSession(Session *session, int code, const QString &reason);
    void removeSession(Session *session);

    int m_index;
    PushOptions m_options;
    Broker *m_broker;
    PushStats *m_stats;
    UserConnections *m_users;
    TokenSigner m_signer;
    QTimer *m_sweepTimer = nullptr;
    QTimer *m_drainTimer = nullptr;
    bool m_draining = false;
    int m_drainPerTick = 1;
    quint64 m_nextSessionId = 1;
    int m_awaitingHello = 0; // sessions not past their hello: the pending handshakes
    std::unordered_map<WsConnection *, std::unique_ptr<Session>> m_sessions;
    std::unordered_map<QString, std::unique_ptr<Readers>> m_readers; // by stream
    std::vector<std::unique_ptr<Readers>> m_retired;                 // deleted at the next drain
    std::vector<WsConnection *> m_toFlush;
    std::vector<std::unique_ptr<Session>> m_ended; // deleted after the current turn
    bool m_afterTurnPosted = false;

    std::mutex m_inboxMutex;
    std::vector<std::pair<Readers *, MessagePtr>> m_inbox;

    std::mutex m_latencyMutex;
    LatencyHistogram m_latency;

    WorkerMetrics m_metrics; // written here only; read by PushServer's scrape
};

} // namespace bfg
