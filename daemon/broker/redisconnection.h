// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 BFG developers
//
// One asynchronous connection to a Redis server, driven by the Qt event loop
// of the thread the object lives in (hiredis' async API, with socket
// notifiers for its I/O). The Redis broker builds on it: it sends binary-safe
// commands and gets RedisReply values back, so no caller touches hiredis
// types. The connection heals itself: after a failed connect or a lost
// connection it reconnects with exponential backoff and full jitter, sending
// AUTH and SELECT first when configured. While it is down, commands fail at once
// with an error reply instead of queueing; commands in flight when the
// connection drops get their callback once, with an error.
//
// A connection is either a command connection (command()) or a pub/sub one
// (subscribe()/unsubscribe() and the message handler), never both: Redis
// takes no other commands on a subscribed connection. A pub/sub connection
// forgets its channels when it drops; its owner subscribes again on
// connected().
#pragma once

#include <functional>

#include <QByteArray>
#include <QList>
#include <QObject>
#include <QString>
#include <QTimer>

#include "common/backoff.h"

struct redisAsyncContext;
class QSocketNotifier;

namespace bfg {

// A reply copied out of hiredis' redisReply (which hiredis frees after the
// callback). Status, Error and String replies keep their text in `string`.
struct RedisReply
{
    enum class Type { Nil, Status, Error, Integer, String, Array };

    Type type = Type::Nil;
    qint64 integer = 0;
    QByteArray string;
    QList<RedisReply> elements;

    bool isError() const { return type == Type::Error; }
    bool isNil() const { return type == Type::Nil; }
    QString errorText() const { return isError() ? QString::fromUtf8(string) : QString(); }

    static RedisReply error(const QByteArray &text);
    static RedisReply status(const QByteArray &text);
    static RedisReply fromInteger(qint64 value);
    static RedisReply fromString(const QByteArray &value);
    static RedisReply array(QList<RedisReply> elements);
};

bool operator==(const RedisReply &a, const RedisReply &b);
inline bool operator!=(const RedisReply &a, const RedisReply &b)
{
    return !(a == b);
}

class RedisConnection : public QObject
{
    Q_OBJECT
public:
    using Callback = std::function<void(const RedisReply &)>;

    // The error text of a command issued while the connection is down.
    static constexpr const char *UnavailableError = "redis unavailable";
    // ... and of a command in flight when the connection was lost.
    static constexpr const char *LostError = "redis connection lost";
    static constexpr int DefaultBackoffBaseMs = 100;
    static constexpr int DefaultBackoffCapMs = 1000; // a restarted Redis is found within a second
    static constexpr int ConnectTimeoutMs = 5000;
    // Commands awaiting a reply beyond this fail at once (a stalled server
    // must not grow our memory without bound).
    static constexpr int MaxInFlight = 100000;

    // `password` empty: no AUTH; `db` 0: no SELECT.
    RedisConnection(const QString &host, quint16 port, const QString &password = {}, int db = 0,
                    QObject *parent = nullptr);
    // Disconnects; callbacks of commands still in flight are dropped, never called.
    ~RedisConnection() override;
    Q_DISABLE_COPY_MOVE(RedisConnection)

    // Starts connecting (and keeps reconnecting until destroyed).
    void open();
    // Connected and past AUTH/SELECT: commands go to the server.
    bool isConnected() const { return m_connected; }
    int inFlight() const { return m_inFlight; }

    // Sends `args` (command name first, binary-safe). `done` runs exactly once
    // on this object's thread, unless the connection is destroyed first: with
    // the reply, or with an error reply when Redis is unavailable (queued, not
    // from inside this call) or the connection was lost mid-command.
    void command(const QList<QByteArray> &args, Callback done);

    // Pub/sub. Every reply of a subscribed connection reaches `handler` on
    // this object's thread: ["subscribe", channel, count], ["message",
    // channel, payload], ["unsubscribe", channel, count]. Without a
    // connection these do nothing (the owner subscribes on connected()).
    // Do not SUBSCRIBE a channel whose UNSUBSCRIBE is unconfirmed: hiredis
    // 0.14 would drop the new subscription's messages.
    void setMessageHandler(Callback handler) { m_messageHandler = std::move(handler); }
    bool subscribe(const QList<QByteArray> &channels);
    bool unsubscribe(const QList<QByteArray> &channels);

Q_SIGNALS:
    void connected();
    void disconnected(const QString &reason);

private:
    struct Hooks; // hiredis callbacks (the .cpp)

    void connectNow();
    void scheduleReconnect();
    bool send(const QList<QByteArray> &args, Callback done);
    bool sendPubSub(const QByteArray &command, const QList<QByteArray> &channels);
    void failLater(Callback done, const QByteArray &text);
    void handshake();
    void dropContext(const QString &reason);
    void contextGone(const QString &reason);
    void addNotifier(bool write);
    void disableNotifier(bool write);
    void removeNotifiers();

    QString m_host;
    quint16 m_port;
    QByteArray m_password;
    int m_db;

    redisAsyncContext *m_ctx = nullptr;
    QSocketNotifier *m_readNotifier = nullptr;
    QSocketNotifier *m_writeNotifier = nullptr;
    bool m_wanted = false;
    bool m_connected = false; // commands accepted
    bool m_up = false;        // connected() emitted, disconnected() owed
    QByteArray m_handshakeError;
    int m_inFlight = 0;
    Callback m_messageHandler;
    Backoff m_backoff;
    QTimer m_reconnectTimer;
    QTimer m_connectTimeout;
};

} // namespace bfg
