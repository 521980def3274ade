// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 BFG developers
//
// The in-process broker of the single-machine default. Sequence numbers
// and the history window live in memory; a writer thread stores every
// message in SQLite (WAL) before anyone sees it: it commits what queued up
// while the previous commit ran (group commit), then delivers the batch to
// subscribers and answers the publishers. So a restart of bfgd, even a
// crash, loses no message a publisher was told was stored, and a client
// never sees a sequence number that a restart could hand out again.
#pragma once

#include <condition_variable>
#include <deque>
#include <future>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <unordered_set>

#include <QHash>

#include "daemon/broker/broker.h"

namespace bfg {

class HistoryTable;
struct StreamRow;

struct LocalBrokerOptions
{
    QString databasePath;         // SQLite file for the history
    int historySize = 100;        // messages kept per stream for replay
    int historyAgeSeconds = 300;  // and for at most this long
    int streamTtlSeconds = 86400; // a stream silent this long is forgotten
};

class LocalBroker final : public Broker
{
public:
    explicit LocalBroker(LocalBrokerOptions options);
    ~LocalBroker() override;
    Q_DISABLE_COPY_MOVE(LocalBroker)

    bool start(QString *error) override;
    void stop() override;
    void publish(std::vector<PublishItem> items, QObject *context, PublishCallback done) override;
    void subscribe(const QString &stream, const std::optional<StreamPoint> &from, Subscriber *subscriber,
                   QObject *context, SubscribeCallback done) override;
    void unsubscribe(const QString &stream, Subscriber *subscriber) override;
    BrokerHealth health() const override { return {true, QStringLiteral("local")}; }

    // subscribe() without the round trip: registration and replay are one
    // step under the broker's lock, so the answer can be returned at once.
    Subscription subscribeNow(const QString &stream, const std::optional<StreamPoint> &from,
                              Subscriber *subscriber);

    // Drops from memory what fell out of the history window by age and
    // forgets streams idle past stream_ttl_s, as the writer does every
    // second (tests call it).
    void pruneNow();

private:
    struct Stream
    {
        QString name;
        QString epoch;             // for the life of this entry: a stream made again gets a new one
        quint64 lastSeq = 0;       // last seq handed out
        quint64 dispatchedSeq = 0; // last seq stored and delivered
        qint64 updatedUs = 0;
        std::deque<MessagePtr> history;
        // Idempotency over the history window: a message id's hash -> its seq.
        // Integer keys, so a lookup reads no strings; a hit is confirmed on the
        // stored message (seqOfId). Two ids of one stream with equal 64-bit
        // hashes inside one window would lose the first's dedup.
        QHash<size_t, quint64> seqByIdHash;
        QHash<Subscriber *, int> subscribers;
        bool rowQueued = false;       // its row (epoch) goes to disk with its first message
        bool positionPending = false; // in m_positionsDue; not forgotten before it is stored
        qint64 positionDueUs = 0;     // the publish time of the first message it records
    };
    struct Batch
    {
        std::vector<MessagePtr> messages; // new ones; duplicates are only answered
        // Per message: its stream (entries stay put while they have messages
        // queued: pruneNow() forgets only streams with nothing in flight), and
        // whether it is the stream's first, which stores the stream's row.
        std::vector<Stream *> streams;
        std::vector<bool> firstOfStream;
        std::vector<PublishResult> results;
        QObject *context = nullptr;
        PublishCallback done;
    };

    Stream &streamLocked(const QString &name, qint64 nowUs);
    static std::optional<quint64> seqOfId(const Stream &stream, const QString &id);
    void evictLocked(Stream &stream, qint64 cutoffUs);
    void writerLoop(std::promise<QString> started);
    // Deletes the log's messages older than the window, and none at or after
    // `keepFromUs`.
    void pruneDisk(HistoryTable &table, qint64 nowUs, qint64 keepFromUs);
    // Up to `count` positions from the front of m_positionsDue that became
    // due before `dueBeforeUs`.
    void takeDuePositionsLocked(size_t count, qint64 dueBeforeUs, std::vector<StreamRow> *out);
    static QString newEpoch();

    LocalBrokerOptions m_options;
    std::mutex m_mutex;
    std::condition_variable m_wake;
    std::unordered_map<QString, Stream, StreamNameHash> m_streams;
    std::deque<Batch> m_queue;
    std::deque<Stream *> m_positionsDue; // stored past their row's position, oldest first
    bool m_stopping = false;
    bool m_running = false;
    std::thread m_writer;
};

} // namespace bfg
