// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 BFG developers
#include "daemon/broker/localbroker.h"

#include <algorithm>
#include <chrono>
#include <limits>

#ifdef Q_OS_LINUX
#include <pthread.h>
#endif

#include <QMetaObject>
#include <QRandomGenerator>

#include "bfg/v1/frames.pb.h"
#include "common/logging.h"
#include "common/protocol.h"
#include "daemon/store/database.h"
#include "daemon/store/historytable.h"

using namespace Qt::Literals::StringLiterals;

namespace bfg {

namespace {
constexpr auto PruneInterval = std::chrono::seconds(1);
constexpr auto RetryAfterStoreFailure = std::chrono::milliseconds(500);
// A stream's position is written a second after its first message not yet
// recorded (one write covers the messages of that second), along with a
// commit of messages: at least PositionsPerCommit per commit. Writing every
// due position at once took 40-100 ms a second at 19,000 streams: the writer
// stalled, and p99 latency was that stall.
constexpr qint64 PositionDelayUs = 1000000;
constexpr size_t PositionsPerCommit = 512;

size_t idHash(const QString &id)
{
    return qHash(id, QHashSeed::globalSeed());
}

} // namespace

LocalBroker::LocalBroker(LocalBrokerOptions options)
    : m_options(std::move(options))
{}

LocalBroker::~LocalBroker()
{
    stop();
}

QString LocalBroker::newEpoch()
{
    return QString::number(QRandomGenerator::system()->generate64(), 16);
}

bool LocalBroker::start(QString *error)
{
    if (m_running) {
        *error = u"broker already started"_s;
        return false;
    }
    // Everything is (re)loaded from the store by the writer.
    m_streams.clear();
    std::promise<QString> started;
    std::future<QString> result = started.get_future();
    m_stopping = false;
    m_writer = std::thread(&LocalBroker::writerLoop, this, std::move(started));
    const QString failure = result.get();
    if (!failure.isEmpty()) {
        m_writer.join();
        *error = failure;
        return false;
    }
    m_running = true;
    return true;
}

void LocalBroker::stop()
{
    {
        std::lock_guard lock(m_mutex);
        if (!m_running)
            return;
        m_stopping = true;
    }
    m_wake.notify_all();
    m_writer.join();
    m_running = false;
}

LocalBroker::Stream &LocalBroker::streamLocked(const QString &name, qint64 nowUs)
{
    auto [it, inserted] = m_streams.try_emplace(name);
    if (inserted) {
        it->second.name = name;
        it->second.epoch = newEpoch();
        it->second.updatedUs = nowUs;
    }
    return it->second;
}

void LocalBroker::evictLocked(Stream &stream, qint64 cutoffUs)
{
    while (!stream.history.empty()) {
        const MessagePtr &oldest = stream.history.front();
        const bool tooMany = stream.history.size() > size_t(m_options.historySize);
        const bool tooOld = oldest->publishTimeUs < cutoffUs && oldest->seq <= stream.dispatchedSeq;
        if (!tooMany && !tooOld)
            break;
        if (!oldest->id.isEmpty()) {
            const auto entry = stream.seqByIdHash.find(idHash(oldest->id));
            if (entry != stream.seqByIdHash.end() && *entry == oldest->seq)
                stream.seqByIdHash.erase(entry);
        }
        stream.history.pop_front();
    }
}

std::optional<quint64> LocalBroker::seqOfId(const Stream &stream, const QString &id)
{
    const auto known = stream.seqByIdHash.constFind(idHash(id));
    if (known == stream.seqByIdHash.cend())
        return std::nullopt;
    const auto message =
        std::lower_bound(stream.history.cbegin(), stream.history.cend(), *known,
                         [](const MessagePtr &stored, quint64 seq) { return stored->seq < seq; });
    if (message == stream.history.cend() || (*message)->seq != *known || (*message)->id != id)
        return std::nullopt; // another id with the same hash
    return *known;
}

void LocalBroker::publish(std::vector<PublishItem> items, QObject *context, PublishCallback done)
{
    Batch batch;
    batch.context = context;
    batch.done = std::move(done);
    batch.results.reserve(items.size());
    const qint64 nowUs = protocol::nowUs();
    {
        std::lock_guard lock(m_mutex);
        if (!m_running || m_stopping) {
            QMetaObject::invokeMethod(
                context, [done = std::move(batch.done)] { done({}, u"broker is not running"_s); },
                Qt::QueuedConnection);
            return;
        }
        for (PublishItem &item : items) {
            if (item.ephemeral) {
                // To whoever reads the stream now; a stream nobody reads is not made for it.
                if (const auto found = m_streams.find(item.stream); found != m_streams.end()) {
                    const MessagePtr message =
                        makeMessage(item.stream, 0, {}, item.id, nowUs, std::move(item.payload), true);
                    const auto &subscribers = found->second.subscribers;
                    for (auto it = subscribers.cbegin(); it != subscribers.cend(); ++it)
                        it.key()->deliver(message);
                }
                batch.results.push_back({item.stream, 0, {}, false});
                continue;
            }
            Stream &stream = streamLocked(item.stream, nowUs);
            if (!item.id.isEmpty()) {
                if (const std::optional<quint64> known = seqOfId(stream, item.id)) {
                    batch.results.push_back({item.stream, *known, stream.epoch, true});
                    continue;
                }
            }
            const quint64 seq = ++stream.lastSeq;
            stream.updatedUs = nowUs;
            MessagePtr message =
                makeMessage(item.stream, seq, stream.epoch, item.id, nowUs, std::move(item.payload));
            if (!item.id.isEmpty())
                stream.seqByIdHash.insert(idHash(item.id), seq);
            stream.history.push_back(message);
            evictLocked(stream, 0);
            batch.results.push_back({item.stream, seq, stream.epoch, false});
            batch.messages.push_back(std::move(message));
            batch.streams.push_back(&stream);
            batch.firstOfStream.push_back(!stream.rowQueued);
            stream.rowQueued = true;
        }
        m_queue.push_back(std::move(batch));
    }
    m_wake.notify_one();
}

void LocalBroker::subscribe(const QString &stream, const std::optional<StreamPoint> &from,
                            Subscriber *subscriber, QObject *context, SubscribeCallback done)
{
    QMetaObject::invokeMethod(
        context,
        [done = std::move(done), subscription = subscribeNow(stream, from, subscriber)] {
            done(subscription, {});
        },
        Qt::QueuedConnection);
}

Subscription LocalBroker::subscribeNow(const QString &name, const std::optional<StreamPoint> &from,
                                       Subscriber *subscriber)
{
    std::lock_guard lock(m_mutex);
    Stream &stream = streamLocked(name, protocol::nowUs());
    ++stream.subscribers[subscriber];

    Subscription result;
    result.epoch = stream.epoch;
    result.seq = stream.dispatchedSeq;
    if (!from)
        return result;

    // A client that has seen nothing of the stream can take it from the
    // start in any epoch; otherwise the epoch must be the one it knew.
    const quint64 after = from->epoch == stream.epoch ? from->seq : 0;
    const bool sameHistory = from->epoch == stream.epoch || from->seq == 0;
    const quint64 oldestKept =
        stream.history.empty() ? stream.dispatchedSeq + 1 : stream.history.front()->seq;
    result.recovered = sameHistory && after <= stream.dispatchedSeq && oldestKept <= after + 1;
    if (!result.recovered)
        return result;
    for (const MessagePtr &message : stream.history) {
        if (message->seq > stream.dispatchedSeq)
            break;
        if (message->seq > after)
            result.replay.push_back(message);
    }
    return result;
}

void LocalBroker::unsubscribe(const QString &name, Subscriber *subscriber)
{
    std::lock_guard lock(m_mutex);
    const auto it = m_streams.find(name);
    if (it == m_streams.end())
        return;
    auto entry = it->second.subscribers.find(subscriber);
    if (entry != it->second.subscribers.end() && --entry.value() <= 0)
        it->second.subscribers.erase(entry);
}

void LocalBroker::pruneNow()
{
    const qint64 nowUs = protocol::nowUs();
    const qint64 cutoffUs = nowUs - qint64(m_options.historyAgeSeconds) * 1000000;
    const qint64 idleCutoffUs = nowUs - qint64(m_options.streamTtlSeconds) * 1000000;
    std::lock_guard lock(m_mutex);
    for (auto it = m_streams.begin(); it != m_streams.end();) {
        Stream &stream = it->second;
        evictLocked(stream, cutoffUs);
        const bool idle = stream.updatedUs < idleCutoffUs && stream.subscribers.isEmpty() &&
                          stream.lastSeq == stream.dispatchedSeq && !stream.positionPending;
        it = idle ? m_streams.erase(it) : std::next(it);
    }
}

void LocalBroker::pruneDisk(HistoryTable &table, qint64 nowUs, qint64 keepFromUs)
{
    // The disk keeps history_age_s of messages; history_size applies in
    // memory and when loading.
    table.deleteMessagesBefore(std::min(keepFromUs, nowUs - qint64(m_options.historyAgeSeconds) * 1000000));
    table.deleteStreamsIdleSince(nowUs - qint64(m_options.streamTtlSeconds) * 1000000);
}

void LocalBroker::takeDuePositionsLocked(size_t count, qint64 dueBeforeUs, std::vector<StreamRow> *out)
{
    for (; count > 0 && !m_positionsDue.empty() && m_positionsDue.front()->positionDueUs < dueBeforeUs;
         --count) {
        Stream *stream = m_positionsDue.front();
        m_positionsDue.pop_front();
        out->push_back({stream->name, stream->epoch, stream->dispatchedSeq, stream->updatedUs});
        stream->positionPending = false;
    }
}

void LocalBroker::writerLoop(std::promise<QString> started)
{
#ifdef Q_OS_LINUX
    pthread_setname_np(pthread_self(), "bfg-history"); // in top -H and perf
#endif
    Database database;
    QString error;
    if (!database.open(m_options.databasePath, Database::Schema::History, &error)) {
        started.set_value(u"history store: "_s + error);
        return;
    }
    HistoryTable table(database.db());

    // Load what survived the last run: every stream's epoch and position,
    // and the messages still inside the window.
    const qint64 loadUs = protocol::nowUs();
    size_t loadedMessages = 0;
    // Stream rows on disk: a stream's row (its epoch) is written with its
    // first message; later positions at most once a second each (one entry
    // per stream waits in m_positionsDue), spread over the commits of
    // messages, and all of them when the writer is idle. The log holds the messages they
    // would record and loading takes the larger of the two, so a crash loses
    // no position; the log keeps every message newer than the oldest
    // position not yet written (pruneDisk).
    bool loaded = table.loadStreams(
        [this](StreamRow &&row) {
            Stream &stream = m_streams[row.stream];
            stream.name = row.stream;
            stream.rowQueued = true;
            stream.epoch = row.epoch;
            stream.lastSeq = stream.dispatchedSeq = row.lastSeq;
            stream.updatedUs = row.updatedUs;
        },
        &error);
    loaded =
        loaded && table.loadMessages(
                      loadUs - qint64(m_options.historyAgeSeconds) * 1000000,
                      [this, &loadedMessages](HistoryRow &&row) {
                          const auto it = m_streams.find(row.stream);
                          if (it == m_streams.end())
                              return; // no stream row: written by a newer schema, not ours to replay
                          Stream &stream = it->second;
                          // The log can be ahead of the stored position (a crash
                          // before it was written): it is written again soon,
                          // before the log could lose those messages.
                          if (row.seq > stream.lastSeq && !stream.positionPending) {
                              stream.positionPending = true;
                              stream.positionDueUs = row.publishTimeUs;
                              m_positionsDue.push_back(&stream);
                          }
                          stream.lastSeq = stream.dispatchedSeq = std::max(stream.lastSeq, row.seq);
                          if (!row.id.isEmpty())
                              stream.seqByIdHash.insert(idHash(row.id), row.seq);
                          stream.history.push_back(makeMessage(row.stream, row.seq, stream.epoch, row.id,
                                                               row.publishTimeUs, std::move(row.payload)));
                          evictLocked(stream, 0);
                          ++loadedMessages;
                      },
                      &error);
    if (!loaded) {
        started.set_value(u"history store: "_s + error);
        return;
    }
    qCInfo(lcBroker).noquote() << logEvent("broker_ready",
                                           {{"type", u"local"_s},
                                            {"streams", QString::number(m_streams.size())},
                                            {"replay_window_messages", QString::number(loadedMessages)},
                                            {"store", m_options.databasePath}});
    started.set_value(QString());

    // Positions taken from m_positionsDue whose write failed: written first
    // next time (a stream's newer row, later in the same write, wins).
    std::vector<StreamRow> unsavedPositions;
    auto flushAllPositions = [this, &table, &unsavedPositions] {
        {
            std::lock_guard lock(m_mutex);
            takeDuePositionsLocked(m_positionsDue.size(), std::numeric_limits<qint64>::max(),
                                   &unsavedPositions);
        }
        if (unsavedPositions.empty())
            return;
        QString flushError;
        if (table.append({}, unsavedPositions, &flushError))
            unsavedPositions.clear();
        else
            qCWarning(lcBroker) << "storing" << unsavedPositions.size()
                                << "stream positions failed, retrying:" << flushError;
    };

    auto nextPrune = std::chrono::steady_clock::now() + PruneInterval;
    bool committedSincePrune = false;
    std::vector<HistoryRow> rows;
    std::vector<StreamRow> positions;
    for (;;) {
        std::deque<Batch> batches;
        {
            std::unique_lock lock(m_mutex);
            m_wake.wait_until(lock, nextPrune, [this] { return m_stopping || !m_queue.empty(); });
            if (m_queue.empty() && m_stopping) {
                lock.unlock();
                flushAllPositions();
                break;
            }
            batches.swap(m_queue);
            if (!batches.empty()) {
                positions = std::move(unsavedPositions);
                unsavedPositions.clear();
                takeDuePositionsLocked(std::max(PositionsPerCommit, m_positionsDue.size() / 8),
                                       protocol::nowUs() - PositionDelayUs, &positions);
            }
        }

        if (!batches.empty()) {
            committedSincePrune = true;
            rows.clear();
            for (const Batch &batch : batches) {
                for (size_t i = 0; i < batch.messages.size(); ++i) {
                    const MessagePtr &message = batch.messages[i];
                    rows.push_back({message->stream, message->seq, message->id, message->publishTimeUs,
                                    message->payload});
                    // A new stream's row, after any older row of the same name.
                    if (batch.firstOfStream[i])
                        positions.push_back(
                            {message->stream, message->epoch, message->seq, message->publishTimeUs});
                }
            }
            // Nothing is delivered or acknowledged before it is stored. A failing
            // disk blocks publishing (publishers time out and retry with their
            // ids) rather than losing or reordering anything.
            bool stored = true;
            while ((!rows.empty() || !positions.empty()) && !table.append(rows, positions, &error)) {
                qCCritical(lcBroker) << "storing" << rows.size() << "messages failed, retrying:" << error;
                std::this_thread::sleep_for(RetryAfterStoreFailure);
                std::lock_guard lock(m_mutex);
                if (m_stopping) {
                    qCCritical(lcBroker) << "stopping with" << rows.size() << "messages not stored";
                    stored = false;
                    break;
                }
            }
            if (stored) {
                std::lock_guard lock(m_mutex);
                for (const Batch &batch : batches) {
                    for (size_t i = 0; i < batch.messages.size(); ++i) {
                        const MessagePtr &message = batch.messages[i];
                        Stream &stream = *batch.streams[i];
                        stream.dispatchedSeq = message->seq;
                        if (!batch.firstOfStream[i] && !stream.positionPending) {
                            stream.positionPending = true;
                            stream.positionDueUs = message->publishTimeUs;
                            m_positionsDue.push_back(&stream);
                        }
                        for (auto it = stream.subscribers.cbegin(); it != stream.subscribers.cend(); ++it)
                            it.key()->deliver(message);
                    }
                }
            }
            for (Batch &batch : batches) {
                QMetaObject::invokeMethod(
                    batch.context,
                    [done = std::move(batch.done), results = std::move(batch.results), stored] {
                        if (stored)
                            done(results, {});
                        else
                            done({}, u"the history store failed; nothing was stored"_s);
                    },
                    Qt::QueuedConnection);
            }
        }

        if (std::chrono::steady_clock::now() >= nextPrune) {
            if (!committedSincePrune)
                flushAllPositions(); // idle: nobody waits for this write
            committedSincePrune = false;
            pruneNow();
            // The log keeps what the positions not yet written would record.
            qint64 keepFromUs = std::numeric_limits<qint64>::max();
            if (!unsavedPositions.empty()) {
                keepFromUs = std::numeric_limits<qint64>::min();
            } else {
                std::lock_guard lock(m_mutex);
                if (!m_positionsDue.empty())
                    keepFromUs = m_positionsDue.front()->positionDueUs;
            }
            pruneDisk(table, protocol::nowUs(), keepFromUs);
            nextPrune = std::chrono::steady_clock::now() + PruneInterval;
        }
    }
}

} // namespace bfg
