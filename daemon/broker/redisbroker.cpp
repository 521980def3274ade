// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 BFG developers
#include "daemon/broker/redisbroker.h"

#include <deque>

#include <QCryptographicHash>
#include <QElapsedTimer>
#include <QMetaObject>
#include <QRandomGenerator>
#include <QThread>
#include <QTimer>

#include "common/logging.h"
#include "common/protocol.h"
#include "daemon/broker/circuitbreaker.h"
#include "daemon/broker/redisconnection.h"
#include "daemon/broker/redisscripts.h"

using namespace Qt::Literals::StringLiterals;

namespace bfg {

namespace {
constexpr int DeadlineTickMs = 100;
constexpr int FetchRetryMs = 500;
constexpr int SubscribeChunk = 500;  // channels per SUBSCRIBE after a reconnect
constexpr size_t MaxPending = 10000; // live messages held per stream while its gap is read
constexpr int StartWaitStepMs = 10;

QByteArray channelOf(const QString &stream)
{
    return "bfg:{" + stream.toUtf8() + '}';
}

QString streamOfChannel(const QByteArray &channel)
{
    if (!channel.startsWith("bfg:{") || !channel.endsWith('}'))
        return {};
    return QString::fromUtf8(channel.mid(5, channel.size() - 6));
}

QString newEpoch()
{
    return QString::number(QRandomGenerator::system()->generate64(), 16);
}

struct Script
{
    explicit Script(const char *body)
        : text(QByteArray(redisscripts::Head) + body)
        , sha(QCryptographicHash::hash(text, QCryptographicHash::Sha1).toHex())
    {}
    QByteArray text;
    QByteArray sha;
};

const Script &publishScript()
{
    static const Script script(redisscripts::Publish);
    return script;
}

const Script &readScript()
{
    static const Script script(redisscripts::Read);
    return script;
}

bool isTransportError(const RedisReply &reply)
{
    return reply.isError() &&
           (reply.string == RedisConnection::UnavailableError || reply.string == RedisConnection::LostError ||
            reply.string.startsWith("redis timeout"));
}

// The entries of an XRANGE reply ({id, {t, time, i, id, p, payload}}) as messages.
std::vector<MessagePtr> messagesFromEntries(const QString &stream, const QString &epoch,
                                            const RedisReply &entries)
{
    std::vector<MessagePtr> messages;
    messages.reserve(size_t(entries.elements.size()));
    for (const RedisReply &entry : entries.elements) {
        if (entry.elements.size() != 2)
            continue;
        const QByteArray id = entry.elements[0].string;
        const quint64 seq = id.left(id.indexOf('-')).toULongLong();
        QByteArray messageId, payload;
        qint64 timeUs = 0;
        const QList<RedisReply> &fields = entry.elements[1].elements;
        for (qsizetype i = 0; i + 1 < fields.size(); i += 2) {
            const QByteArray &name = fields[i].string;
            if (name == "t")
                timeUs = fields[i + 1].string.toLongLong();
            else if (name == "i")
                messageId = fields[i + 1].string;
            else if (name == "p")
                payload = fields[i + 1].string;
        }
        messages.push_back(
            makeMessage(stream, seq, epoch, QString::fromUtf8(messageId), timeUs, std::move(payload)));
    }
    return messages;
}

// A Read script reply: {epoch, seq, recovered, entries}.
bool parseRead(const QString &stream, const RedisReply &reply, Subscription *out)
{
    if (reply.type != RedisReply::Type::Array || reply.elements.size() != 4)
        return false;
    out->epoch = QString::fromUtf8(reply.elements[0].string);
    out->seq = quint64(reply.elements[1].integer);
    out->recovered = reply.elements[2].integer != 0;
    out->replay = messagesFromEntries(stream, out->epoch, reply.elements[3]);
    return true;
}

// The epoch line of an ephemeral message's batch: not hex, never an epoch.
constexpr char EphemeralEpoch[] = "!";

// A PUBLISHed batch: "<epoch>\n" then per message "<seq> <time µs> <id
// length> <payload length>\n<id><payload>"; ephemeral messages come alone,
// with the epoch line "!" and seq 0.
bool parseBatch(const QString &stream, const QByteArray &bytes, std::vector<MessagePtr> *out)
{
    qsizetype at = bytes.indexOf('\n');
    if (at <= 0)
        return false;
    const bool ephemeral = bytes.left(at) == EphemeralEpoch;
    const QString epoch = ephemeral ? QString() : QString::fromUtf8(bytes.left(at));
    ++at;
    while (at < bytes.size()) {
        const qsizetype end = bytes.indexOf('\n', at);
        if (end < 0)
            return false;
        const QList<QByteArray> header = bytes.mid(at, end - at).split(' ');
        if (header.size() != 4)
            return false;
        bool ok[4];
        const quint64 seq = header[0].toULongLong(&ok[0]);
        const qint64 timeUs = header[1].toLongLong(&ok[1]);
        const qsizetype idLength = header[2].toLongLong(&ok[2]);
        const qsizetype payloadLength = header[3].toLongLong(&ok[3]);
        if (!ok[0] || !ok[1] || !ok[2] || !ok[3] || idLength < 0 || payloadLength < 0 ||
            end + 1 + idLength + payloadLength > bytes.size())
            return false;
        const QByteArray id = bytes.mid(end + 1, idLength);
        out->push_back(makeMessage(stream, ephemeral ? 0 : seq, epoch, QString::fromUtf8(id), timeUs,
                                   bytes.mid(end + 1 + idLength, payloadLength), ephemeral));
        at = end + 1 + idLength + payloadLength;
    }
    return true;
}
} // namespace

// Everything that touches Redis, on the broker's thread.
class RedisBrokerCore : public QObject
{
public:
    struct Request
    {
        std::optional<StreamPoint> from;
        QObject *context = nullptr;
        Broker::SubscribeCallback done;
    };

    RedisBrokerCore(RedisBroker *owner, const RedisBrokerOptions &options)
        : m_owner(owner)
        , m_options(options)
    {}
    ~RedisBrokerCore() override
    {
        m_stopping = true;
        failAll(u"broker stopped"_s);
    }

    void open();
    void publish(std::vector<PublishItem> items, QObject *context, Broker::PublishCallback done);
    void request(const QString &stream, Request request);
    void release(const QString &stream);

private:
    enum class Channel { None, Subscribing, Subscribed, Unsubscribing };
    struct StreamState
    {
        quint64 generation = 0;
        Channel channel = Channel::None;
        bool resubscribe = false;        // subscribe again once the unsubscribe is confirmed
        bool known = false;              // epoch/seq below are set
        QString epoch;                   // of the last message handed to the subscribers
        quint64 seq = 0;                 // ... and its seq
        bool fetching = false;           // reading the history to fill a gap
        bool refetch = false;            // read again when that read is answered
        std::vector<MessagePtr> pending; // live messages waiting for that read
        std::vector<Request> waiting;    // subscriptions waiting for the channel
    };
    struct Call
    {
        bool answered = false;
        RedisConnection::Callback done;
    };

    void call(const QList<QByteArray> &args, RedisConnection::Callback done);
    void eval(const Script &script, const QList<QByteArray> &keysAndArgs, int keyCount,
              RedisConnection::Callback done);
    void expireCalls();
    void failAll(const QString &reason);
    void updateHealth();

    void readStream(const QString &stream, const std::optional<StreamPoint> &from,
                    RedisConnection::Callback done);
    void answer(const QString &stream, Request request);
    static void fail(Request &request, const QString &error);

    StreamState &stateOf(const QString &stream);
    void ensureChannel(const QString &stream, StreamState &state);
    void onPubSub(const RedisReply &reply);
    void onPubSubConnected();
    void onPubSubDisconnected();
    void fetch(const QString &stream);
    void onLive(const QString &stream, StreamState &state, const MessagePtr &message, bool acceptJumps);
    void countSubscribed();

    RedisBroker *m_owner;
    RedisBrokerOptions m_options;
    RedisConnection *m_command = nullptr;
    RedisConnection *m_pubsub = nullptr;
    CircuitBreaker m_breaker;
    QString m_lastError;
    std::deque<std::pair<qint64, std::shared_ptr<Call>>> m_calls; // by deadline
    QTimer *m_deadlineTimer = nullptr;
    std::unordered_map<QString, StreamState> m_streams;
    quint64 m_nextGeneration = 1;
    bool m_stopping = false;
};

void RedisBrokerCore::open()
{
    m_command = new RedisConnection(m_options.host, m_options.port, m_options.password, m_options.db, this);
    m_pubsub = new RedisConnection(m_options.host, m_options.port, m_options.password, m_options.db, this);
    m_pubsub->setMessageHandler([this](const RedisReply &reply) { onPubSub(reply); });
    connect(m_command, &RedisConnection::connected, this, [this] {
        // Scripts first: a fresh server (a restart) knows none, and EVALSHAs
        // answered NOSCRIPT, sent again as EVAL, would run after later
        // publishes and take their numbers out of order.
        for (const Script *script : {&publishScript(), &readScript()})
            m_command->command({"SCRIPT", "LOAD", script->text}, {});
        m_breaker.recordSuccess();
        updateHealth();
    });
    connect(m_command, &RedisConnection::disconnected, this, [this](const QString &reason) {
        m_lastError = reason;
        m_breaker.trip(protocol::nowMs());
        updateHealth();
    });
    connect(m_pubsub, &RedisConnection::connected, this, &RedisBrokerCore::onPubSubConnected);
    connect(m_pubsub, &RedisConnection::disconnected, this, [this](const QString &reason) {
        m_lastError = reason;
        onPubSubDisconnected();
    });
    m_deadlineTimer = new QTimer(this);
    m_deadlineTimer->setInterval(DeadlineTickMs);
    connect(m_deadlineTimer, &QTimer::timeout, this, &RedisBrokerCore::expireCalls);
    m_deadlineTimer->start();
    m_command->open();
    m_pubsub->open();
    updateHealth();
}

void RedisBrokerCore::updateHealth()
{
    BrokerHealth health;
    const bool commandUp = m_command && m_command->isConnected();
    const bool pubsubUp = m_pubsub && m_pubsub->isConnected();
    health.up = commandUp && pubsubUp && m_breaker.state(protocol::nowMs()) == CircuitBreaker::State::Closed;
    if (health.up)
        health.state = u"redis up"_s;
    else if (commandUp && pubsubUp)
        health.state = u"redis degraded: publishes refused for now (%1)"_s.arg(m_lastError);
    else
        health.state = u"redis down: %1"_s.arg(m_lastError.isEmpty() ? u"connecting"_s : m_lastError);
    std::lock_guard lock(m_owner->m_healthMutex);
    m_owner->m_health = health;
}

void RedisBrokerCore::call(const QList<QByteArray> &args, RedisConnection::Callback done)
{
    auto pending = std::make_shared<Call>();
    pending->done = std::move(done);
    m_calls.emplace_back(protocol::nowMs() + m_options.timeoutMs, pending);
    m_command->command(args, [pending](const RedisReply &reply) {
        if (pending->answered)
            return; // timed out already
        pending->answered = true;
        pending->done(reply);
    });
}

void RedisBrokerCore::expireCalls()
{
    const qint64 nowMs = protocol::nowMs();
    while (!m_calls.empty() && (m_calls.front().first <= nowMs || m_calls.front().second->answered)) {
        std::shared_ptr<Call> pending = std::move(m_calls.front().second);
        m_calls.pop_front();
        if (pending->answered)
            continue;
        pending->answered = true;
        m_lastError = u"no answer within %1 ms"_s.arg(m_options.timeoutMs);
        pending->done(RedisReply::error("redis timeout: no answer within " +
                                        QByteArray::number(m_options.timeoutMs) + " ms"));
    }
    // Answered calls behind an unanswered one wait for it; that is fine:
    // the queue is bounded by the commands in flight.
    updateHealth();
}

void RedisBrokerCore::failAll(const QString &reason)
{
    for (auto &[deadline, pending] : m_calls) {
        if (!pending->answered) {
            pending->answered = true;
            pending->done(RedisReply::error(reason.toUtf8()));
        }
    }
    m_calls.clear();
    for (auto &[stream, state] : m_streams) {
        for (Request &request : state.waiting)
            fail(request, reason);
        state.waiting.clear();
    }
}

void RedisBrokerCore::eval(const Script &script, const QList<QByteArray> &keysAndArgs, int keyCount,
                           RedisConnection::Callback done)
{
    QList<QByteArray> args{"EVALSHA", script.sha, QByteArray::number(keyCount)};
    args += keysAndArgs;
    call(args, [this, &script, keysAndArgs, keyCount, done = std::move(done)](const RedisReply &reply) {
        if (!reply.isError() || !reply.string.startsWith("NOSCRIPT")) {
            done(reply);
            return;
        }
        // First use on this server (or it restarted): send the body, which
        // also caches it for the EVALSHAs after.
        QList<QByteArray> args{"EVAL", script.text, QByteArray::number(keyCount)};
        args += keysAndArgs;
        call(args, done);
    });
}

void RedisBrokerCore::publish(std::vector<PublishItem> items, QObject *context, Broker::PublishCallback done)
{
    auto finish = [context, done](std::vector<PublishResult> results, const QString &error) {
        QMetaObject::invokeMethod(
            context, [done, results = std::move(results), error] { done(results, error); },
            Qt::QueuedConnection);
    };
    if (items.empty()) { // nothing to store (and no breaker probe to spend on it)
        finish({}, {});
        return;
    }
    const qint64 nowMs = protocol::nowMs();
    if (!m_command->isConnected()) {
        finish({}, u"redis unavailable: %1"_s.arg(m_lastError.isEmpty() ? u"connecting"_s : m_lastError));
        return;
    }
    if (!m_breaker.allow(nowMs)) {
        finish({}, u"redis unavailable: publishes refused for %1 ms after failures (%2)"_s
                       .arg(std::max<qint64>(0, m_breaker.openUntilMs() - nowMs))
                       .arg(m_lastError));
        return;
    }

    // Ephemeral items: one PUBLISH each, to whichever nodes read the stream now.
    for (PublishItem &item : items) {
        if (!item.ephemeral)
            continue;
        const QByteArray id = item.id.toUtf8();
        QByteArray body = QByteArray(EphemeralEpoch) + "\n0 " + QByteArray::number(protocol::nowUs()) + ' ' +
                          QByteArray::number(id.size()) + ' ' + QByteArray::number(item.payload.size()) +
                          '\n' + id + item.payload;
        m_command->command({"PUBLISH", channelOf(item.stream), std::move(body)}, {});
    }
    // One script per stream, its items in their order.
    struct Batch
    {
        std::vector<PublishResult> results;
        QString error;
        int outstanding = 0;
    };
    auto batch = std::make_shared<Batch>();
    batch->results.resize(items.size());
    QHash<QString, std::vector<size_t>> byStream;
    std::vector<QString> order;
    for (size_t i = 0; i < items.size(); ++i) {
        if (items[i].ephemeral) {
            batch->results[i] = {items[i].stream, 0, {}, false};
            continue;
        }
        auto &indexes = byStream[items[i].stream];
        if (indexes.empty())
            order.push_back(items[i].stream);
        indexes.push_back(i);
    }
    batch->outstanding = int(order.size());
    if (order.empty()) { // only ephemeral items
        finish(std::move(batch->results), {});
        return;
    }
    const QByteArray nowUs = QByteArray::number(protocol::nowUs());
    const QByteArray historySize = QByteArray::number(m_options.historySize);
    const QByteArray ageUs = QByteArray::number(qint64(m_options.historyAgeSeconds) * 1000000);
    const QByteArray ttlMs = QByteArray::number(qint64(m_options.streamTtlSeconds) * 1000);
    const QByteArray idTtl = QByteArray::number(m_options.historyAgeSeconds);
    for (const QString &stream : order) {
        const std::vector<size_t> &indexes = byStream[stream];
        const QByteArray prefix = channelOf(stream);
        QList<QByteArray> keys{prefix + ":m", prefix + ":h"};
        QList<QByteArray> args{prefix, newEpoch().toUtf8(),
                               nowUs,  historySize,
                               ageUs,  ttlMs,
                               idTtl,  QByteArray::number(qsizetype(indexes.size()))};
        for (size_t index : indexes) {
            PublishItem &item = items[index];
            const QByteArray id = item.id.toUtf8();
            if (id.isEmpty()) {
                args << "0" << QByteArray();
            } else {
                keys << prefix + ":id:" + id;
                args << QByteArray::number(keys.size()) << id;
            }
            args << std::move(item.payload);
        }
        const int keyCount = int(keys.size());
        eval(publishScript(), keys + args, keyCount,
             [this, batch, indexes, stream, finish](const RedisReply &reply) {
                 const bool ok = reply.type == RedisReply::Type::Array &&
                                 reply.elements.size() == qsizetype(1 + 2 * indexes.size());
                 if (ok) {
                     m_breaker.recordSuccess();
                     const QString epoch = QString::fromUtf8(reply.elements[0].string);
                     for (size_t i = 0; i < indexes.size(); ++i)
                         batch->results[indexes[i]] = {
                             stream, quint64(reply.elements[qsizetype(1 + 2 * i)].integer), epoch,
                             reply.elements[qsizetype(2 + 2 * i)].integer != 0};
                 } else {
                     // Only a missing answer counts against Redis; an error
                     // reply (OOM, a script error) shows it is there, and
                     // settles a half-open breaker's probe either way.
                     if (isTransportError(reply))
                         m_breaker.recordFailure(protocol::nowMs());
                     else
                         m_breaker.recordSuccess();
                     if (batch->error.isEmpty())
                         batch->error =
                             reply.isError() ? reply.errorText() : u"unexpected reply from redis"_s;
                     qCWarning(lcBroker) << "publish to" << stream << "failed:" << batch->error;
                 }
                 if (--batch->outstanding > 0)
                     return;
                 if (batch->error.isEmpty())
                     finish(std::move(batch->results), {});
                 else
                     finish({}, batch->error);
                 updateHealth();
             });
    }
}

void RedisBrokerCore::readStream(const QString &stream, const std::optional<StreamPoint> &from,
                                 RedisConnection::Callback done)
{
    const QByteArray prefix = channelOf(stream);
    QList<QByteArray> keysAndArgs{prefix + ":m",
                                  prefix + ":h",
                                  newEpoch().toUtf8(),
                                  QByteArray::number(qint64(m_options.streamTtlSeconds) * 1000),
                                  from ? "1" : "0",
                                  from ? from->epoch.toUtf8() : QByteArray(),
                                  QByteArray::number(from ? from->seq : 0),
                                  QByteArray::number(protocol::nowUs()),
                                  QByteArray::number(qint64(m_options.historyAgeSeconds) * 1000000)};
    eval(readScript(), keysAndArgs, 2, std::move(done));
}

void RedisBrokerCore::fail(Request &request, const QString &error)
{
    QMetaObject::invokeMethod(
        request.context, [done = std::move(request.done), error] { done({}, error); }, Qt::QueuedConnection);
}

void RedisBrokerCore::answer(const QString &stream, Request request)
{
    readStream(stream, request.from, [stream, request](const RedisReply &reply) mutable {
        Subscription subscription;
        QString error;
        if (reply.isError())
            error = reply.errorText();
        else if (!parseRead(stream, reply, &subscription))
            error = u"unexpected reply from redis"_s;
        QMetaObject::invokeMethod(
            request.context,
            [done = std::move(request.done), subscription = std::move(subscription), error] {
                done(subscription, error);
            },
            Qt::QueuedConnection);
    });
}

RedisBrokerCore::StreamState &RedisBrokerCore::stateOf(const QString &stream)
{
    auto [it, inserted] = m_streams.try_emplace(stream);
    if (inserted)
        it->second.generation = m_nextGeneration++;
    return it->second;
}

void RedisBrokerCore::request(const QString &stream, Request request)
{
    StreamState &state = stateOf(stream);
    if (!m_pubsub->isConnected() || !m_command->isConnected()) {
        fail(request, u"redis unavailable: %1"_s.arg(m_lastError.isEmpty() ? u"connecting"_s : m_lastError));
        return; // the caller unsubscribes, which forgets the stream
    }
    ensureChannel(stream, state);
    if (state.channel == Channel::Subscribed)
        answer(stream, std::move(request));
    else
        state.waiting.push_back(std::move(request));
}

void RedisBrokerCore::ensureChannel(const QString &stream, StreamState &state)
{
    switch (state.channel) {
    case Channel::None:
        if (m_pubsub->subscribe({channelOf(stream)}))
            state.channel = Channel::Subscribing;
        break;
    case Channel::Unsubscribing:
        state.resubscribe = true; // hiredis must see the unsubscribe through first
        break;
    case Channel::Subscribing:
    case Channel::Subscribed:
        break;
    }
}

void RedisBrokerCore::release(const QString &stream)
{
    if (m_owner->hasSubscribers(stream))
        return;
    const auto it = m_streams.find(stream);
    if (it == m_streams.end())
        return;
    StreamState &state = it->second;
    for (Request &request : state.waiting)
        fail(request, u"unsubscribed"_s);
    state.waiting.clear();
    state.resubscribe = false;
    switch (state.channel) {
    case Channel::None:
        m_streams.erase(it);
        break;
    case Channel::Subscribed:
        if (m_pubsub->unsubscribe({channelOf(stream)}))
            state.channel = Channel::Unsubscribing;
        else
            m_streams.erase(it);
        break;
    case Channel::Subscribing: // released when the subscribe is confirmed
    case Channel::Unsubscribing:
        break;
    }
    countSubscribed();
}

void RedisBrokerCore::onPubSub(const RedisReply &reply)
{
    if (reply.type != RedisReply::Type::Array || reply.elements.size() < 3)
        return;
    const QByteArray kind = reply.elements[0].string;
    const QString stream = streamOfChannel(reply.elements[1].string);
    const auto it = m_streams.find(stream);
    if (it == m_streams.end())
        return;
    StreamState &state = it->second;
    if (kind == "message") {
        std::vector<MessagePtr> messages;
        if (!parseBatch(stream, reply.elements[2].string, &messages)) {
            qCWarning(lcBroker) << "undecodable message batch on" << reply.elements[1].string;
            return;
        }
        for (const MessagePtr &message : messages) {
            if (message->ephemeral)
                m_owner->dispatch(message); // outside the stream's order and history
            else
                onLive(stream, state, message, false);
        }
    } else if (kind == "subscribe") {
        state.channel = Channel::Subscribed;
        countSubscribed();
        if (!m_owner->hasSubscribers(stream)) {
            release(stream);
            return;
        }
        // The node's own position first (or the catch-up after a
        // reconnect), then the waiting clients: one connection, in order.
        fetch(stream);
        std::vector<Request> waiting = std::move(state.waiting);
        state.waiting.clear();
        for (Request &request : waiting)
            answer(stream, std::move(request));
    } else if (kind == "unsubscribe") {
        state.channel = Channel::None;
        if (state.resubscribe || m_owner->hasSubscribers(stream)) {
            state.resubscribe = false;
            ensureChannel(stream, state);
        } else {
            m_streams.erase(it);
        }
        countSubscribed();
    }
}

void RedisBrokerCore::onPubSubConnected()
{
    QList<QByteArray> channels;
    for (auto it = m_streams.begin(); it != m_streams.end();) {
        if (!m_owner->hasSubscribers(it->first)) {
            it = m_streams.erase(it);
            continue;
        }
        it->second.channel = Channel::Subscribing;
        it->second.resubscribe = false;
        channels << channelOf(it->first);
        if (channels.size() >= SubscribeChunk) {
            m_pubsub->subscribe(channels);
            channels.clear();
        }
        ++it;
    }
    if (!channels.isEmpty())
        m_pubsub->subscribe(channels);
    qCInfo(lcBroker) << "redis pub/sub connected; subscribing" << m_streams.size() << "streams again";
    updateHealth();
}

void RedisBrokerCore::onPubSubDisconnected()
{
    for (auto &[stream, state] : m_streams) {
        state.channel = Channel::None;
        for (Request &request : state.waiting)
            fail(request, u"redis connection lost"_s);
        state.waiting.clear();
    }
    countSubscribed();
    updateHealth();
}

void RedisBrokerCore::fetch(const QString &stream)
{
    StreamState &state = m_streams[stream];
    if (state.fetching) {
        // That read may have run before what this one is for (a new
        // subscription after a reconnect): read once more after it.
        state.refetch = true;
        return;
    }
    state.fetching = true;
    std::optional<StreamPoint> from;
    if (state.known)
        from = StreamPoint{state.epoch, state.seq};
    const quint64 generation = state.generation;
    readStream(stream, from, [this, stream, generation](const RedisReply &reply) {
        const auto it = m_streams.find(stream);
        if (m_stopping || it == m_streams.end() || it->second.generation != generation)
            return; // stopping, or forgotten meanwhile
        StreamState &state = it->second;
        state.fetching = false;
        Subscription read;
        if (reply.isError() || !parseRead(stream, reply, &read)) {
            qCWarning(lcBroker) << "reading the history of" << stream << "failed:" << reply.errorText();
            QTimer::singleShot(FetchRetryMs, this, [this, stream, generation] {
                const auto again = m_streams.find(stream);
                if (again != m_streams.end() && again->second.generation == generation &&
                    again->second.channel == Channel::Subscribed)
                    fetch(stream);
            });
            return;
        }
        if (!state.known) {
            state.known = true;
            state.epoch = read.epoch;
            state.seq = read.seq;
        } else if (read.epoch == state.epoch) {
            for (const MessagePtr &message : read.replay) {
                if (message->seq > state.seq) {
                    state.seq = message->seq;
                    m_owner->dispatch(message);
                }
            }
            if (!read.recovered)
                qCWarning(lcBroker) << stream << "lost history after seq" << state.seq
                                    << "; its readers resume from" << read.seq;
        } else {
            qCWarning(lcBroker) << stream << "has a new epoch" << read.epoch << "(redis lost it)";
            state.epoch = read.epoch;
            state.seq = read.seq;
        }
        std::vector<MessagePtr> pending = std::move(state.pending);
        state.pending.clear();
        for (const MessagePtr &message : pending)
            onLive(stream, state, message, true);
        if (std::exchange(state.refetch, false))
            fetch(stream);
    });
}

void RedisBrokerCore::onLive(const QString &stream, StreamState &state, const MessagePtr &message,
                             bool acceptJumps)
{
    if (!state.known || state.fetching) {
        if (state.pending.size() >= MaxPending) {
            // The history is not coming back soon: start over from what the
            // next read says; readers that miss something resume.
            state.pending.clear();
            state.known = false;
        }
        state.pending.push_back(message);
        if (!state.fetching)
            fetch(stream);
        return;
    }
    if (message->epoch != state.epoch) {
        // Redis lost the stream and a publish started a new epoch: readers
        // see the epoch change and resume (recovered: false).
        state.epoch = message->epoch;
        state.seq = message->seq;
        m_owner->dispatch(message);
        return;
    }
    if (message->seq <= state.seq)
        return;
    if (message->seq == state.seq + 1 || acceptJumps) {
        state.seq = message->seq;
        m_owner->dispatch(message);
        return;
    }
    // Missed some (Redis or the pub/sub connection was away): read them first.
    state.pending.push_back(message);
    fetch(stream);
}

void RedisBrokerCore::countSubscribed()
{
    int subscribed = 0;
    for (const auto &[stream, state] : m_streams)
        subscribed += state.channel == Channel::Subscribed ? 1 : 0;
    std::lock_guard lock(m_owner->m_healthMutex);
    m_owner->m_subscribedStreams = subscribed;
}

RedisBroker::RedisBroker(RedisBrokerOptions options)
    : m_options(std::move(options))
{}

RedisBroker::~RedisBroker()
{
    stop();
}

bool RedisBroker::start(QString *error)
{
    if (m_thread) {
        *error = u"broker already started"_s;
        return false;
    }
    m_thread = new QThread;
    m_thread->setObjectName(u"redis-broker"_s);
    m_core = new RedisBrokerCore(this, m_options);
    m_core->moveToThread(m_thread);
    m_thread->start();
    QMetaObject::invokeMethod(
        m_core, [core = m_core] { core->open(); }, Qt::BlockingQueuedConnection);

    // Start with Redis there if it is: wait a moment for the connections.
    QElapsedTimer waited;
    waited.start();
    while (!health().up && waited.elapsed() < m_options.timeoutMs)
        QThread::msleep(StartWaitStepMs);
    const BrokerHealth now = health();
    if (now.up)
        qCInfo(lcBroker).noquote() << logEvent(
            "broker_ready", {{"type", u"redis"_s},
                             {"redis", m_options.host + u':' + QString::number(m_options.port)},
                             {"db", QString::number(m_options.db)}});
    else
        qCWarning(lcBroker) << "redis broker starting without redis (" << now.state
                            << "); publishes fail and clients wait until it is reachable";
    return true;
}

void RedisBroker::stop()
{
    if (!m_thread)
        return;
    // The core fails what is still in flight, so every callback runs once.
    QMetaObject::invokeMethod(
        m_core, [core = m_core] { delete core; }, Qt::BlockingQueuedConnection);
    m_core = nullptr;
    m_thread->quit();
    m_thread->wait();
    delete m_thread;
    m_thread = nullptr;
}

void RedisBroker::publish(std::vector<PublishItem> items, QObject *context, PublishCallback done)
{
    if (!m_core) {
        QMetaObject::invokeMethod(
            context, [done = std::move(done)] { done({}, u"broker is not running"_s); },
            Qt::QueuedConnection);
        return;
    }
    QMetaObject::invokeMethod(
        m_core,
        [core = m_core, items = std::move(items), context, done = std::move(done)]() mutable {
            core->publish(std::move(items), context, std::move(done));
        },
        Qt::QueuedConnection);
}

void RedisBroker::subscribe(const QString &stream, const std::optional<StreamPoint> &from,
                            Subscriber *subscriber, QObject *context, SubscribeCallback done)
{
    {
        std::lock_guard lock(m_registryMutex);
        ++m_registry[stream][subscriber];
    }
    if (!m_core) {
        QMetaObject::invokeMethod(
            context, [done = std::move(done)] { done({}, u"broker is not running"_s); },
            Qt::QueuedConnection);
        return;
    }
    QMetaObject::invokeMethod(
        m_core,
        [core = m_core, stream,
         request = RedisBrokerCore::Request{from, context, std::move(done)}]() mutable {
            core->request(stream, std::move(request));
        },
        Qt::QueuedConnection);
}

void RedisBroker::unsubscribe(const QString &stream, Subscriber *subscriber)
{
    {
        std::lock_guard lock(m_registryMutex);
        const auto it = m_registry.find(stream);
        if (it == m_registry.end())
            return;
        auto entry = it->second.find(subscriber);
        if (entry == it->second.end())
            return;
        if (--entry.value() <= 0)
            it->second.erase(entry);
        if (!it->second.isEmpty())
            return;
        m_registry.erase(it);
    }
    if (m_core)
        QMetaObject::invokeMethod(
            m_core, [core = m_core, stream] { core->release(stream); }, Qt::QueuedConnection);
}

void RedisBroker::dispatch(const MessagePtr &message)
{
    std::lock_guard lock(m_registryMutex);
    const auto it = m_registry.find(message->stream);
    if (it == m_registry.end())
        return;
    for (auto subscriber = it->second.cbegin(); subscriber != it->second.cend(); ++subscriber)
        subscriber.key()->deliver(message);
}

bool RedisBroker::hasSubscribers(const QString &stream) const
{
    std::lock_guard lock(m_registryMutex);
    return m_registry.find(stream) != m_registry.end();
}

BrokerHealth RedisBroker::health() const
{
    std::lock_guard lock(m_healthMutex);
    return m_health;
}

int RedisBroker::subscribedStreams() const
{
    std::lock_guard lock(m_healthMutex);
    return m_subscribedStreams;
}

} // namespace bfg
