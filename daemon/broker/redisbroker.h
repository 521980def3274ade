// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 BFG developers
//
// The cluster broker: streams, their history and their fan-out live in
// Redis, so push nodes keep no state a crash could lose and a client can
// resume on any node.
//
// Per stream S, all under the hash tag {S} (one Redis Cluster slot):
//   bfg:{S}:m        hash: e = epoch, s = last seq handed out
//   bfg:{S}:h        Redis Stream, the history: entry id "<seq>-0", fields
//                    t (publish time, µs), i (message id), p (payload);
//                    MAXLEN history_size (exact: a resume needing more
//                    is not recovered), and trimmed by age
//   bfg:{S}:id:<id>  "<epoch> <seq>" for idempotent publishes, with a TTL
//   channel bfg:{S}  PUBLISHed batches of new messages
// A Lua script publishes a batch of one stream atomically (sequence
// numbers, history, ids, PUBLISH); another answers a subscription (epoch,
// seq, and the history after the client's position). When Redis has lost a
// stream (restart without AOF, expiry), the scripts start a new epoch and
// resuming clients are told recovered: false.
//
// Each node SUBSCRIBEs only to streams with a local reader (counted per
// subscriber) on a pub/sub connection, and keeps every stream gap-free: a
// message that skips ahead (Redis was away, the pub/sub connection
// reconnected) makes it read the missed ones from the history first. Redis
// down: publishes fail fast through a circuit breaker, new subscriptions
// fail (clients retry), connected clients stay and keep their positions;
// when Redis returns the node subscribes again and catches up from history.
//
// Threading: public methods are called from any thread, except that
// start() and stop() must not overlap the others (bfgd stops the push
// role first); the connections and the per-stream state live on the
// broker's own thread.
#pragma once

#include <memory>
#include <mutex>
#include <unordered_map>

#include <QHash>
#include <QString>

#include "daemon/broker/broker.h"

class QThread;

namespace bfg {

struct RedisBrokerOptions
{
    QString host = QStringLiteral("127.0.0.1");
    quint16 port = 6379;
    QString password; // empty: no AUTH
    int db = 0;
    int historySize = 100;        // messages kept per stream for replay
    int historyAgeSeconds = 300;  // and for at most this long; also the idempotency window
    int streamTtlSeconds = 86400; // a stream silent this long is forgotten (new epoch)
    int timeoutMs = 2000;         // a command not answered by then fails (and counts for the breaker)
};

class RedisBrokerCore;

class RedisBroker final : public Broker
{
public:
    explicit RedisBroker(RedisBrokerOptions options);
    ~RedisBroker() override;
    Q_DISABLE_COPY_MOVE(RedisBroker)

    // Starts the broker thread and waits (at most the timeout) for the
    // first connection; a Redis that is down is not an error: the broker
    // reports it and keeps trying.
    bool start(QString *error) override;
    void stop() override;
    void publish(std::vector<PublishItem> items, QObject *context, PublishCallback done) override;
    void subscribe(const QString &stream, const std::optional<StreamPoint> &from, Subscriber *subscriber,
                   QObject *context, SubscribeCallback done) override;
    void unsubscribe(const QString &stream, Subscriber *subscriber) override;
    BrokerHealth health() const override;

    // Streams this node is subscribed to in Redis (for tests and metrics).
    int subscribedStreams() const;

private:
    friend class RedisBrokerCore;
    // Hands `message` to the local subscribers of its stream (broker thread).
    void dispatch(const MessagePtr &message);
    bool hasSubscribers(const QString &stream) const;

    RedisBrokerOptions m_options;
    QThread *m_thread = nullptr;
    RedisBrokerCore *m_core = nullptr;

    mutable std::mutex m_registryMutex;
    std::unordered_map<QString, QHash<Subscriber *, int>> m_registry;

    mutable std::mutex m_healthMutex;
    BrokerHealth m_health{false, QStringLiteral("redis connecting")};
    int m_subscribedStreams = 0;
};

} // namespace bfg
