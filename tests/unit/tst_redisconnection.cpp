// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 BFG developers
//
// RedisConnection against a real redis-server (tests/support/redisserver.h):
// replies of every type copied out intact, binary-safe arguments, errors as
// values, reconnect after a server restart with fast failure while it is
// down, AOF data kept across the restart, and a clean destructor with
// commands still in flight.
#include <memory>

#include <QSignalSpy>
#include <QTest>

#include "daemon/broker/redisconnection.h"
#include "tests/support/redisserver.h"

using namespace Qt::Literals::StringLiterals;
using bfg::RedisConnection;
using bfg::RedisReply;
using bfg::test::RedisServer;

namespace {
constexpr int WaitMs = 10000;

struct Outcome
{
    int calls = 0;
    RedisReply reply;
};

std::shared_ptr<Outcome> send(RedisConnection &connection, const QList<QByteArray> &args)
{
    auto outcome = std::make_shared<Outcome>();
    connection.command(args, [outcome](const RedisReply &reply) {
        ++outcome->calls;
        outcome->reply = reply;
    });
    return outcome;
}
} // namespace

class TestRedisConnection : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void initTestCase();
    void init();
    void cleanup();

    void pingAnswersPong();
    void binaryValuesRoundTrip();
    void incrReturnsIntegers();
    void luaNestedArrayBecomesReplyTree();
    void commandErrorIsAReplyNotACrash();
    void subscribeIsRefused();
    void restartReconnectsFailsFastWhileDownAndKeepsData();
    void unreachableServerRetriesWithoutSignals();
    void destructorWithCommandsInFlight();
    void destroyFromInsideCallback();

private:
    std::unique_ptr<RedisConnection> connectToServer();

    RedisServer m_server;
};

void TestRedisConnection::initTestCase()
{
    QString error;
    QVERIFY2(m_server.start(&error), qPrintable(error));
}

void TestRedisConnection::init()
{
    if (!m_server.isRunning()) {
        QString error;
        QVERIFY2(m_server.start(&error), qPrintable(error));
    }
}

void TestRedisConnection::cleanup()
{
    if (QTest::currentTestFailed())
        qWarning().noquote() << "redis-server log:" << QString::fromUtf8(m_server.log());
}

std::unique_ptr<RedisConnection> TestRedisConnection::connectToServer()
{
    auto connection = std::make_unique<RedisConnection>(u"127.0.0.1"_s, m_server.port());
    QSignalSpy connected(connection.get(), &RedisConnection::connected);
    connection->open();
    if (!connected.wait(WaitMs) && !connection->isConnected())
        return nullptr;
    return connection;
}

void TestRedisConnection::pingAnswersPong()
{
    auto connection = connectToServer();
    QVERIFY(connection);
    QVERIFY(connection->isConnected());
    auto pong = send(*connection, {"PING"});
    QTRY_COMPARE_WITH_TIMEOUT(pong->calls, 1, WaitMs);
    QCOMPARE(pong->reply.type, RedisReply::Type::Status);
    QCOMPARE(pong->reply.string, "PONG"_ba);
    QVERIFY(!pong->reply.isError());
}

void TestRedisConnection::binaryValuesRoundTrip()
{
    auto connection = connectToServer();
    QVERIFY(connection);
    const QByteArray key("bin\0key\r\n", 9);
    const QByteArray value("a\0b\r\nc\0\0\xff\r\n", 12);
    auto set = send(*connection, {"SET", key, value});
    auto get = send(*connection, {"GET", key});
    auto missing = send(*connection, {"GET", "no such key"});
    QTRY_COMPARE_WITH_TIMEOUT(missing->calls, 1, WaitMs);
    QCOMPARE(set->calls, 1);
    QCOMPARE(set->reply, RedisReply::status("OK"));
    QCOMPARE(get->calls, 1);
    QCOMPARE(get->reply.type, RedisReply::Type::String);
    QCOMPARE(get->reply.string.size(), value.size());
    QCOMPARE(get->reply.string, value);
    QVERIFY(missing->reply.isNil());
}

void TestRedisConnection::incrReturnsIntegers()
{
    auto connection = connectToServer();
    QVERIFY(connection);
    send(*connection, {"DEL", "counter"});
    auto first = send(*connection, {"INCR", "counter"});
    auto second = send(*connection, {"INCRBY", "counter", "41"});
    QTRY_COMPARE_WITH_TIMEOUT(second->calls, 1, WaitMs);
    QCOMPARE(first->reply, RedisReply::fromInteger(1));
    QCOMPARE(second->reply, RedisReply::fromInteger(42));
}

void TestRedisConnection::luaNestedArrayBecomesReplyTree()
{
    auto connection = connectToServer();
    QVERIFY(connection);
    auto eval =
        send(*connection, {"EVAL", "return {1, 'two', {3, 'four', {}}, redis.status_reply('ok')}", "0"});
    QTRY_COMPARE_WITH_TIMEOUT(eval->calls, 1, WaitMs);
    const RedisReply expected = RedisReply::array({
        RedisReply::fromInteger(1),
        RedisReply::fromString("two"),
        RedisReply::array(
            {RedisReply::fromInteger(3), RedisReply::fromString("four"), RedisReply::array({})}),
        RedisReply::status("ok"),
    });
    QCOMPARE(eval->reply.elements.size(), 4);
    QCOMPARE(eval->reply.elements.at(2).elements.size(), 3);
    QVERIFY(eval->reply == expected);
}

void TestRedisConnection::commandErrorIsAReplyNotACrash()
{
    auto connection = connectToServer();
    QVERIFY(connection);
    send(*connection, {"SET", "text", "not a number"});
    auto incr = send(*connection, {"INCR", "text"});
    auto unknown = send(*connection, {"NOSUCHCOMMAND"});
    auto after = send(*connection, {"PING"});
    QTRY_COMPARE_WITH_TIMEOUT(after->calls, 1, WaitMs);
    QVERIFY(incr->reply.isError());
    QVERIFY2(incr->reply.errorText().contains(u"not an integer"_s), qPrintable(incr->reply.errorText()));
    QVERIFY(unknown->reply.isError());
    QCOMPARE(after->reply, RedisReply::status("PONG"));
    QVERIFY(connection->isConnected());
}

void TestRedisConnection::subscribeIsRefused()
{
    auto connection = connectToServer();
    QVERIFY(connection);
    auto subscribe = send(*connection, {"subscribe", "channel"});
    QTRY_COMPARE_WITH_TIMEOUT(subscribe->calls, 1, WaitMs);
    QVERIFY(subscribe->reply.isError());
    auto ping = send(*connection, {"PING"});
    QTRY_COMPARE_WITH_TIMEOUT(ping->calls, 1, WaitMs);
    QCOMPARE(ping->reply, RedisReply::status("PONG"));
}

void TestRedisConnection::restartReconnectsFailsFastWhileDownAndKeepsData()
{
    auto connection = connectToServer();
    QVERIFY(connection);
    QSignalSpy connected(connection.get(), &RedisConnection::connected);
    QSignalSpy disconnected(connection.get(), &RedisConnection::disconnected);

    auto set = send(*connection, {"SET", "durable", "before restart"});
    QTRY_COMPARE_WITH_TIMEOUT(set->calls, 1, WaitMs);
    QCOMPARE(set->reply, RedisReply::status("OK"));

    // A slow command in flight when the server goes: its callback runs once, with an error.
    auto inFlight = send(*connection, {"BLPOP", "never filled", "5"});
    m_server.stop();
    QTRY_COMPARE_WITH_TIMEOUT(disconnected.size(), 1, WaitMs);
    QVERIFY(!connection->isConnected());
    QTRY_COMPARE_WITH_TIMEOUT(inFlight->calls, 1, WaitMs);
    QCOMPARE(inFlight->reply, RedisReply::error(RedisConnection::LostError));

    // While down: an error at once (from the event loop), never a queue.
    QElapsedTimer timer;
    timer.start();
    auto whileDown = send(*connection, {"GET", "durable"});
    QCOMPARE(whileDown->calls, 0); // not from inside command()
    QTRY_COMPARE_WITH_TIMEOUT(whileDown->calls, 1, 1000);
    QVERIFY(timer.elapsed() < 1000);
    QCOMPARE(whileDown->reply, RedisReply::error(RedisConnection::UnavailableError));
    QCOMPARE(connected.size(), 0);

    QString error;
    QVERIFY2(m_server.restart(&error), qPrintable(error));
    QTRY_COMPARE_WITH_TIMEOUT(connected.size(), 1, WaitMs);
    QVERIFY(connection->isConnected());
    QCOMPARE(disconnected.size(), 1);
    QCOMPARE(inFlight->calls, 1);

    auto get = send(*connection, {"GET", "durable"});
    QTRY_COMPARE_WITH_TIMEOUT(get->calls, 1, WaitMs);
    QCOMPARE(get->reply, RedisReply::fromString("before restart"));
}

void TestRedisConnection::unreachableServerRetriesWithoutSignals()
{
    // A port nobody listens on (the server's, while it is stopped).
    m_server.stop();
    RedisConnection connection(u"127.0.0.1"_s, m_server.port());
    QSignalSpy connected(&connection, &RedisConnection::connected);
    QSignalSpy disconnected(&connection, &RedisConnection::disconnected);
    connection.open();
    auto refused = send(connection, {"PING"});
    QTRY_COMPARE_WITH_TIMEOUT(refused->calls, 1, WaitMs);
    QVERIFY(refused->reply.isError());

    QString error;
    QVERIFY2(m_server.start(&error), qPrintable(error));
    QTRY_COMPARE_WITH_TIMEOUT(connected.size(), 1, WaitMs);
    QCOMPARE(disconnected.size(), 0);
}

void TestRedisConnection::destructorWithCommandsInFlight()
{
    auto connection = connectToServer();
    QVERIFY(connection);
    auto calls = std::make_shared<int>(0);
    for (int i = 0; i < 1000; ++i)
        connection->command({"SET", "k" + QByteArray::number(i), QByteArray(1000, 'x')},
                            [calls](const RedisReply &) { ++*calls; });
    connection->command({"BLPOP", "never filled", "1"}, [calls](const RedisReply &) { ++*calls; });
    QVERIFY(connection->inFlight() > 0);
    connection.reset();
    // Nothing runs after destruction, not even later from the event loop.
    QTest::qWait(50); // let any (wrongly) queued callback run before we look
    QCOMPARE(*calls, 0);

    // The server is still fine.
    auto again = connectToServer();
    QVERIFY(again);
    auto ping = send(*again, {"PING"});
    QTRY_COMPARE_WITH_TIMEOUT(ping->calls, 1, WaitMs);
}

void TestRedisConnection::destroyFromInsideCallback()
{
    auto connection = connectToServer();
    QVERIFY(connection);
    int later = 0;
    bool destroyed = false;
    connection->command({"PING"}, [&](const RedisReply &) {
        connection.reset(); // hiredis defers freeing its context
        destroyed = true;
    });
    connection->command({"PING"}, [&](const RedisReply &) { ++later; });
    QTRY_VERIFY_WITH_TIMEOUT(destroyed, WaitMs);
    QTest::qWait(50);
    QCOMPARE(later, 0);
}

QTEST_GUILESS_MAIN(TestRedisConnection)
#include "tst_redisconnection.moc"
