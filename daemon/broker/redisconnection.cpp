// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 BFG developers
#include "daemon/broker/redisconnection.h"

#include <memory>
#include <vector>

#include <hiredis/async.h>
#include <hiredis/hiredis.h>

#include <QPointer>
#include <QSocketNotifier>

#include "common/logging.h"

using namespace Qt::Literals::StringLiterals;

namespace bfg {

namespace {
struct Pending
{
    RedisConnection::Callback done;
};

RedisReply copyReply(const redisReply &r)
{
    RedisReply out;
    switch (r.type) {
    case REDIS_REPLY_STATUS:
        out.type = RedisReply::Type::Status;
        out.string = QByteArray(r.str, qsizetype(r.len));
        break;
    case REDIS_REPLY_ERROR:
        out.type = RedisReply::Type::Error;
        out.string = QByteArray(r.str, qsizetype(r.len));
        break;
    case REDIS_REPLY_STRING:
        out.type = RedisReply::Type::String;
        out.string = QByteArray(r.str, qsizetype(r.len));
        break;
    case REDIS_REPLY_INTEGER:
        out.type = RedisReply::Type::Integer;
        out.integer = r.integer;
        break;
    case REDIS_REPLY_ARRAY:
        out.type = RedisReply::Type::Array;
        out.elements.reserve(qsizetype(r.elements));
        for (size_t i = 0; i < r.elements; ++i)
            out.elements.append(copyReply(*r.element[i]));
        break;
    default:
        out.type = RedisReply::Type::Nil;
        break;
    }
    return out;
}

// Commands whose callback hiredis calls more than once (pub/sub, MONITOR):
// command() promises exactly one call and frees its state after it.
bool isMultiReply(const QByteArray &name)
{
    const QByteArray lower = name.toLower();
    return lower == "subscribe" || lower == "psubscribe" || lower == "ssubscribe" || lower == "unsubscribe" ||
           lower == "punsubscribe" || lower == "sunsubscribe" || lower == "monitor";
}
} // namespace

RedisReply RedisReply::error(const QByteArray &text)
{
    RedisReply r;
    r.type = Type::Error;
    r.string = text;
    return r;
}

RedisReply RedisReply::status(const QByteArray &text)
{
    RedisReply r;
    r.type = Type::Status;
    r.string = text;
    return r;
}

RedisReply RedisReply::fromInteger(qint64 value)
{
    RedisReply r;
    r.type = Type::Integer;
    r.integer = value;
    return r;
}

RedisReply RedisReply::fromString(const QByteArray &value)
{
    RedisReply r;
    r.type = Type::String;
    r.string = value;
    return r;
}

RedisReply RedisReply::array(QList<RedisReply> elements)
{
    RedisReply r;
    r.type = Type::Array;
    r.elements = std::move(elements);
    return r;
}

bool operator==(const RedisReply &a, const RedisReply &b)
{
    return a.type == b.type && a.integer == b.integer && a.string == b.string && a.elements == b.elements;
}

// hiredis calls these with ev.data / ac->data, which the destructor clears
// before it frees the context: a null pointer means "the RedisConnection is
// gone, do nothing" (free may be deferred by hiredis while in a callback).
struct RedisConnection::Hooks
{
    static RedisConnection *of(void *data) { return static_cast<RedisConnection *>(data); }

    static void addRead(void *data)
    {
        if (data)
            of(data)->addNotifier(false);
    }
    static void delRead(void *data)
    {
        if (data)
            of(data)->disableNotifier(false);
    }
    static void addWrite(void *data)
    {
        if (data)
            of(data)->addNotifier(true);
    }
    static void delWrite(void *data)
    {
        if (data)
            of(data)->disableNotifier(true);
    }
    static void cleanup(void *data)
    {
        if (data)
            of(data)->removeNotifiers();
    }

    static void onConnect(const redisAsyncContext *ac, int status)
    {
        RedisConnection *self = of(ac->data);
        if (!self)
            return;
        if (status != REDIS_OK) {
            // hiredis frees the context right after this returns.
            self->contextGone(QString::fromUtf8(ac->errstr));
            return;
        }
        self->handshake();
    }

    static void onDisconnect(const redisAsyncContext *ac, int status)
    {
        RedisConnection *self = of(ac->data);
        if (!self)
            return;
        // hiredis frees the context right after this returns.
        self->contextGone(status == REDIS_OK ? u"closed"_s : QString::fromUtf8(ac->errstr));
    }

    static void onReply(redisAsyncContext *ac, void *reply, void *privdata)
    {
        std::unique_ptr<Pending> pending(static_cast<Pending *>(privdata));
        RedisConnection *self = of(ac->data);
        if (!self)
            return;
        --self->m_inFlight;
        // A null reply: the connection is going away; commands issued from
        // the callbacks below must fail fast rather than reach a dying context.
        if (!reply)
            self->m_connected = false;
        const RedisReply copy =
            reply ? copyReply(*static_cast<redisReply *>(reply)) : RedisReply::error(LostError);
        // `self` may be destroyed inside done(); hiredis defers the free.
        if (pending->done)
            pending->done(copy);
    }

    // Pub/sub replies: hiredis keeps calling this for every message of a
    // subscribed channel (privdata is unused) and once with a null reply per
    // channel when the context goes, which the disconnect signal covers.
    static void onPubSub(redisAsyncContext *ac, void *reply, void *)
    {
        RedisConnection *self = of(ac->data);
        if (!self || !reply || !self->m_messageHandler)
            return;
        self->m_messageHandler(copyReply(*static_cast<redisReply *>(reply)));
    }
};

RedisConnection::RedisConnection(const QString &host, quint16 port, const QString &password, int db,
                                 QObject *parent)
    : QObject(parent)
    , m_host(host)
    , m_port(port)
    , m_password(password.toUtf8())
    , m_db(db)
    , m_backoff(DefaultBackoffBaseMs, DefaultBackoffCapMs)
{
    m_reconnectTimer.setSingleShot(true);
    connect(&m_reconnectTimer, &QTimer::timeout, this, &RedisConnection::connectNow);
    m_connectTimeout.setSingleShot(true);
    m_connectTimeout.setInterval(ConnectTimeoutMs);
    connect(&m_connectTimeout, &QTimer::timeout, this, [this] {
        if (m_ctx && !m_connected)
            dropContext(u"connect timeout"_s);
    });
}

RedisConnection::~RedisConnection()
{
    m_wanted = false;
    m_reconnectTimer.stop();
    m_connectTimeout.stop();
    if (redisAsyncContext *ac = m_ctx) {
        m_ctx = nullptr;
        ac->data = nullptr;
        ac->ev.data = nullptr;
        // Runs pending callbacks with a null reply (dropped by onReply, which
        // frees their state) and closes the socket; deferred by hiredis when
        // we are inside one of its callbacks.
        redisAsyncFree(ac);
    }
    removeNotifiers();
}

void RedisConnection::open()
{
    if (m_wanted)
        return;
    m_wanted = true;
    connectNow();
}

void RedisConnection::connectNow()
{
    m_reconnectTimer.stop();
    if (m_ctx || !m_wanted)
        return;
    m_handshakeError.clear();
    redisAsyncContext *ac = redisAsyncConnect(m_host.toUtf8().constData(), m_port);
    if (!ac || ac->err) {
        qCWarning(lcBroker) << "redis connect to" << m_host << m_port
                            << "failed:" << (ac ? ac->errstr : "out of memory");
        if (ac)
            redisAsyncFree(ac);
        scheduleReconnect();
        return;
    }
    m_ctx = ac;
    ac->data = this;
    ac->ev.data = this;
    ac->ev.addRead = &Hooks::addRead;
    ac->ev.delRead = &Hooks::delRead;
    ac->ev.addWrite = &Hooks::addWrite;
    ac->ev.delWrite = &Hooks::delWrite;
    ac->ev.cleanup = &Hooks::cleanup;
    // Setting the connect callback arms the write notifier: the first
    // writable event tells hiredis whether the connect succeeded.
    redisAsyncSetConnectCallback(ac, &Hooks::onConnect);
    redisAsyncSetDisconnectCallback(ac, &Hooks::onDisconnect);
    m_connectTimeout.start();
}

void RedisConnection::handshake()
{
    auto check = [this](const char *step) {
        return [this, step](const RedisReply &reply) {
            if (!reply.isError() || !m_handshakeError.isEmpty())
                return;
            m_handshakeError = QByteArray(step) + ": " + reply.string;
            qCWarning(lcBroker) << "redis" << m_host << m_port << m_handshakeError.constData();
            if (m_ctx && !(m_ctx->c.flags & (REDIS_DISCONNECTING | REDIS_FREEING)))
                redisAsyncDisconnect(m_ctx); // reconnects with backoff
        };
    };
    if (!m_password.isEmpty())
        send({"AUTH", m_password}, check("AUTH"));
    if (m_db != 0)
        send({"SELECT", QByteArray::number(m_db)}, check("SELECT"));
    send({"PING"}, [this](const RedisReply &reply) {
        if (reply.isError() || !m_handshakeError.isEmpty() || !m_ctx)
            return;
        m_connectTimeout.stop();
        m_backoff.reset();
        m_connected = true;
        m_up = true;
        qCInfo(lcBroker).noquote() << logEvent("redis_connected",
                                               {{"redis", m_host + u':' + QString::number(m_port)}});
        Q_EMIT connected();
    });
}

void RedisConnection::contextGone(const QString &reason)
{
    m_ctx = nullptr;
    m_connected = false;
    m_connectTimeout.stop();
    removeNotifiers();
    const bool wasUp = m_up;
    m_up = false;
    scheduleReconnect();
    if (wasUp) {
        qCWarning(lcBroker).noquote() << logEvent(
            "redis_lost", {{"redis", m_host + u':' + QString::number(m_port)}, {"reason", reason}});
        Q_EMIT disconnected(reason); // last: a slot may delete us
    } else {
        qCInfo(lcBroker) << "redis connect to" << m_host << m_port << "failed:" << reason;
    }
}

void RedisConnection::dropContext(const QString &reason)
{
    redisAsyncContext *ac = m_ctx;
    if (!ac)
        return;
    QPointer<RedisConnection> guard(this);
    // Calls onDisconnect (hence contextGone) only if the socket had connected.
    redisAsyncFree(ac);
    if (guard && m_ctx == ac)
        contextGone(reason);
}

void RedisConnection::scheduleReconnect()
{
    if (!m_wanted || m_ctx || m_reconnectTimer.isActive())
        return;
    const int delayMs = m_backoff.nextDelayMs();
    qCDebug(lcBroker) << "redis reconnect in" << delayMs << "ms";
    m_reconnectTimer.start(delayMs);
}

void RedisConnection::command(const QList<QByteArray> &args, Callback done)
{
    if (args.isEmpty())
        return failLater(std::move(done), "empty command");
    if (isMultiReply(args.first()))
        return failLater(std::move(done), "pub/sub and MONITOR are not supported by command()");
    if (!m_connected || !m_ctx)
        return failLater(std::move(done), UnavailableError);
    if (m_inFlight >= MaxInFlight)
        return failLater(std::move(done), "redis too many commands in flight");
    Callback copy = done;
    if (!send(args, std::move(done)))
        failLater(std::move(copy), UnavailableError);
}

bool RedisConnection::send(const QList<QByteArray> &args, Callback done)
{
    std::vector<const char *> argv;
    std::vector<size_t> lens;
    argv.reserve(size_t(args.size()));
    lens.reserve(size_t(args.size()));
    for (const QByteArray &arg : args) {
        argv.push_back(arg.constData());
        lens.push_back(size_t(arg.size()));
    }
    auto *pending = new Pending{std::move(done)};
    if (redisAsyncCommandArgv(m_ctx, &Hooks::onReply, pending, int(argv.size()), argv.data(), lens.data()) !=
        REDIS_OK) {
        delete pending;
        return false;
    }
    ++m_inFlight;
    return true;
}

bool RedisConnection::subscribe(const QList<QByteArray> &channels)
{
    return sendPubSub("SUBSCRIBE", channels);
}

bool RedisConnection::unsubscribe(const QList<QByteArray> &channels)
{
    return sendPubSub("UNSUBSCRIBE", channels);
}

bool RedisConnection::sendPubSub(const QByteArray &command, const QList<QByteArray> &channels)
{
    if (!m_connected || !m_ctx || channels.isEmpty())
        return false;
    std::vector<const char *> argv{command.constData()};
    std::vector<size_t> lens{size_t(command.size())};
    for (const QByteArray &channel : channels) {
        argv.push_back(channel.constData());
        lens.push_back(size_t(channel.size()));
    }
    return redisAsyncCommandArgv(m_ctx, &Hooks::onPubSub, nullptr, int(argv.size()), argv.data(),
                                 lens.data()) == REDIS_OK;
}

void RedisConnection::failLater(Callback done, const QByteArray &text)
{
    if (!done)
        return;
    // Queued, so that a caller never sees its callback run inside command().
    QMetaObject::invokeMethod(
        this, [done = std::move(done), text] { done(RedisReply::error(text)); }, Qt::QueuedConnection);
}

void RedisConnection::addNotifier(bool write)
{
    QSocketNotifier *&notifier = write ? m_writeNotifier : m_readNotifier;
    if (notifier) {
        notifier->setEnabled(true);
        return;
    }
    if (!m_ctx)
        return;
    redisAsyncContext *ac = m_ctx;
    notifier = new QSocketNotifier(ac->c.fd, write ? QSocketNotifier::Write : QSocketNotifier::Read, this);
    connect(notifier, &QSocketNotifier::activated, this, [ac, write] {
        if (write)
            redisAsyncHandleWrite(ac);
        else
            redisAsyncHandleRead(ac);
    });
}

void RedisConnection::disableNotifier(bool write)
{
    // hiredis toggles write interest around every command: keep the notifier.
    if (QSocketNotifier *notifier = write ? m_writeNotifier : m_readNotifier)
        notifier->setEnabled(false);
}

void RedisConnection::removeNotifiers()
{
    for (QSocketNotifier **notifier : {&m_readNotifier, &m_writeNotifier}) {
        if (*notifier) {
            // Possibly called from inside the notifier's own activated().
            (*notifier)->setEnabled(false);
            (*notifier)->deleteLater();
            *notifier = nullptr;
        }
    }
}

} // namespace bfg
