// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 BFG developers
//
// Where published messages meet the nodes that hold their readers. The
// broker gives each message the next sequence number of its stream, keeps
// a bounded history for replay, and hands every stored message to the
// subscribers of its stream in sequence order. Two implementations: the
// in-process LocalBroker (single machine) and RedisBroker (cluster).
//
// Threading: every method may be called from any thread.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <vector>

#include <QByteArray>
#include <QString>

class QObject;

namespace bfg {

// One stored message, shared read-only by every session that delivers it.
// `wire` is the whole WebSocket frame carrying its encoded ServerFrame,
// built once per message: every connection it goes to writes these bytes.
struct BrokerMessage
{
    QString stream;
    quint64 seq = 0;
    QString epoch;
    QString id;
    qint64 publishTimeUs = 0;
    QByteArray payload;
    bool ephemeral = false; // seq 0: never stored, never replayed
    QByteArray wire;
};
using MessagePtr = std::shared_ptr<const BrokerMessage>;

// Builds a message and its WebSocket frame.
MessagePtr makeMessage(QString stream, quint64 seq, QString epoch, QString id, qint64 publishTimeUs,
                       QByteArray payload, bool ephemeral = false);

// Receives the live messages of the streams it subscribed. deliver() runs on
// a broker thread with each stream's messages in seq order; it must not
// block. A jump in seq or a new epoch means the broker could not fill a gap
// (history lost or trimmed): the subscriber makes its client resume.
class Subscriber
{
public:
    virtual ~Subscriber() = default;
    virtual void deliver(const MessagePtr &message) = 0;
};

// Hashes stream names for std::unordered_map. Not noexcept on purpose: with
// such a hasher libstdc++ keeps each node's hash and compares it before the
// key, so a lookup among thousands of names of one length reads one name
// (std::hash<QString> is noexcept, and then every probe reads a name).
struct StreamNameHash
{
    size_t operator()(const QString &name) const;
};

struct PublishItem
{
    QString stream;
    QByteArray payload;
    QString id; // optional: makes the publish idempotent within the history window
    // Delivered to the stream's current subscribers only: no seq (0), no
    // history, no dedup, no order with the stored messages.
    bool ephemeral = false;
};

struct PublishResult
{
    QString stream;
    quint64 seq = 0;
    QString epoch;
    bool duplicate = false;
};

struct StreamPoint
{
    QString epoch;
    quint64 seq = 0;
};

struct Subscription
{
    QString epoch;
    quint64 seq = 0;                // last seq delivered before the live feed takes over
    bool recovered = true;          // false: the gap after `from` could not be replayed
    std::vector<MessagePtr> replay; // messages after `from` up to `seq`, in order
};

// What a node reports about its broker.
struct BrokerHealth
{
    bool up = true;
    QString state; // "local", "redis up", "redis down: <reason>" ...
};

class Broker
{
public:
    using PublishCallback =
        std::function<void(const std::vector<PublishResult> &results, const QString &error)>;
    using SubscribeCallback = std::function<void(const Subscription &subscription, const QString &error)>;

    virtual ~Broker() = default;

    virtual bool start(QString *error) = 0;
    // Finishes what was accepted (stores and delivers it), then stops.
    virtual void stop() = 0;

    // Stores `items`, then calls `done` on `context`'s thread, and delivers
    // them to their subscribers (the local broker before `done`; Redis
    // fans out independently, so `done` may come first). `context` must
    // outlive the broker's stop(). On failure `error` is set and results are empty; the items of
    // one stream are stored all or none, but a failed batch that spans
    // streams may have stored some of them (a publisher retries with message
    // ids, which makes the retry store each message once).
    virtual void publish(std::vector<PublishItem> items, QObject *context, PublishCallback done) = 0;

    // Registers `subscriber` for `stream` at once (counted: subscribe twice,
    // unsubscribe twice), then calls `done` on `context`'s thread with what
    // came after `from` (without `from`, nothing is replayed) up to
    // Subscription::seq. Every message above that seq reaches deliver(), in
    // order; some may arrive before `done` runs, and some at or below seq may
    // arrive too. On error (broker unreachable) `done` gets the text and the
    // caller still owes the unsubscribe. `context` must outlive the call.
    virtual void subscribe(const QString &stream, const std::optional<StreamPoint> &from,
                           Subscriber *subscriber, QObject *context, SubscribeCallback done) = 0;
    // After it returns, `subscriber` gets no more messages of `stream` (unless
    // subscribed again).
    virtual void unsubscribe(const QString &stream, Subscriber *subscriber) = 0;

    virtual BrokerHealth health() const = 0;
};

} // namespace bfg
