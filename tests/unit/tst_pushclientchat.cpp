// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 BFG developers
//
// PushClient's chat side against a scripted node: a tiny decision server
// answering every assign with the node's URI, and a QWebSocketServer whose
// every frame the test reads and answers by hand. Publish and ack, a
// publish not acked when the connection drops sent again with its id (and
// an ephemeral one not), refusals that leave the session open, a refusal
// for now retried, subscriptions resumed in the Hello after a reconnect,
// subscriptions refused, unsubscribe stopping delivery.
#include <deque>

#include <QSignalSpy>
#include <QTcpServer>
#include <QTcpSocket>
#include <QTest>
#include <QWebSocket>
#include <QWebSocketServer>

#include "common/decisionclient.h"
#include "common/protocol.h"
#include "common/pushclient.h"

using namespace Qt::Literals::StringLiterals;
using bfg::PushClient;
namespace v1 = bfg::v1;

namespace {

// Answers every HTTP request with one assignment (JSON), keep-alive.
class FakeDecision : public QObject
{
public:
    explicit FakeDecision(QObject *parent = nullptr)
        : QObject(parent)
    {
        QObject::connect(&m_server, &QTcpServer::newConnection, this, [this] {
            while (QTcpSocket *socket = m_server.nextPendingConnection()) {
                socket->setParent(this);
                QObject::connect(socket, &QTcpSocket::readyRead, this, [this, socket] { serve(socket); });
            }
        });
        m_server.listen(QHostAddress::LocalHost, 0);
    }

    QUrl url() const { return QUrl(u"http://127.0.0.1:%1"_s.arg(m_server.serverPort())); }
    void setNodeUrl(const QUrl &url) { m_nodeUrl = url; }
    int assigns() const { return m_assigns; }

private:
    void serve(QTcpSocket *socket)
    {
        QByteArray &buffer = m_buffers[socket];
        buffer += socket->readAll();
        qsizetype end;
        while ((end = buffer.indexOf("\r\n\r\n")) >= 0) {
            buffer.remove(0, end + 4);
            ++m_assigns;
            const QByteArray body = "{\"uri\":\"" + m_nodeUrl.toEncoded() +
                                    "\",\"node\":\"fake-node\",\"token\":\"t0k3n\",\"expires\":4102444800}";
            socket->write("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: " +
                          QByteArray::number(body.size()) + "\r\n\r\n" + body);
        }
    }

    QTcpServer m_server;
    QUrl m_nodeUrl;
    QHash<QTcpSocket *, QByteArray> m_buffers;
    int m_assigns = 0;
};

// The push node, scripted by the test: every ClientFrame it receives is kept in order.
class FakeNode : public QObject
{
public:
    explicit FakeNode(QObject *parent = nullptr)
        : QObject(parent)
        , m_server(u"fake"_s, QWebSocketServer::NonSecureMode)
    {
        QObject::connect(&m_server, &QWebSocketServer::newConnection, this, [this] {
            while (QWebSocket *socket = m_server.nextPendingConnection()) {
                socket->setParent(this);
                m_socket = socket;
                ++m_connections;
                QObject::connect(socket, &QWebSocket::binaryMessageReceived, this,
                                 [this, socket](const QByteArray &bytes) {
                                     if (socket != m_socket)
                                         return;
                                     v1::ClientFrame frame;
                                     if (bfg::protocol::decode(bytes, &frame))
                                         m_frames.push_back(frame);
                                 });
            }
        });
        m_server.listen(QHostAddress::LocalHost, 0);
    }

    QUrl url() const { return QUrl(u"ws://127.0.0.1:%1/v1/ws"_s.arg(m_server.serverPort())); }
    int connections() const { return m_connections; }
    bool hasFrame() const { return !m_frames.empty(); }

    // The next frame the client sent (waits for it); KIND_NOT_SET when none came.
    v1::ClientFrame next()
    {
        if (!QTest::qWaitFor([this] { return !m_frames.empty(); }, 5000))
            return {};
        v1::ClientFrame frame = m_frames.front();
        m_frames.pop_front();
        return frame;
    }

    void send(const v1::ServerFrame &frame) { m_socket->sendBinaryMessage(bfg::protocol::encode(frame)); }

    // Reads the Hello and answers Welcome, listing user:alice and `more`.
    v1::Hello welcome(const QList<v1::StreamState> &more = {})
    {
        const v1::ClientFrame hello = next();
        v1::ServerFrame frame;
        v1::Welcome *welcome = frame.mutable_welcome();
        welcome->set_session_id("s1");
        welcome->set_node_id("fake-node");
        welcome->set_heartbeat_interval_ms(25000);
        v1::StreamState *own = welcome->add_streams();
        own->set_stream("user:alice");
        own->set_epoch("e0");
        own->set_recovered(true);
        for (const v1::StreamState &state : more)
            *welcome->add_streams() = state;
        send(frame);
        return hello.hello();
    }

    void ack(const std::string &id, const std::string &stream, quint64 seq, bool duplicate = false)
    {
        v1::ServerFrame frame;
        v1::PublishAck *ack = frame.mutable_publish_ack();
        ack->set_client_message_id(id);
        ack->set_stream(stream);
        ack->set_epoch(seq ? "e1" : "");
        ack->set_seq(seq);
        ack->set_duplicate(duplicate);
        send(frame);
    }

    void error(v1::ErrorCode code, const std::string &id, const std::string &stream)
    {
        v1::ServerFrame frame;
        frame.mutable_error()->set_code(code);
        frame.mutable_error()->set_text("refused");
        frame.mutable_error()->set_client_message_id(id);
        frame.mutable_error()->set_stream(stream);
        send(frame);
    }

    void message(const std::string &stream, quint64 seq, bool ephemeral = false)
    {
        v1::ServerFrame frame;
        v1::Message *message = frame.mutable_message();
        message->set_stream(stream);
        message->set_seq(seq);
        message->set_epoch(ephemeral ? "" : "e1");
        message->set_id("bob/x" + std::to_string(seq));
        message->set_payload("hello");
        message->set_ephemeral(ephemeral);
        send(frame);
    }

    // Cuts the connection as a network failure would.
    void drop()
    {
        m_frames.clear();
        m_socket->abort();
    }

private:
    QWebSocketServer m_server;
    QWebSocket *m_socket = nullptr;
    std::deque<v1::ClientFrame> m_frames;
    int m_connections = 0;
};

v1::StreamState state(const std::string &stream, const std::string &epoch, quint64 seq, bool recovered = true)
{
    v1::StreamState state;
    state.set_stream(stream);
    state.set_epoch(epoch);
    state.set_seq(seq);
    state.set_recovered(recovered);
    return state;
}

const v1::StreamPosition *positionOf(const v1::Hello &hello, const std::string &stream)
{
    for (const v1::StreamPosition &position : hello.positions()) {
        if (position.stream() == stream)
            return &position;
    }
    return nullptr;
}

} // namespace

class TestPushClientChat : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void init();
    void cleanup();
    void publishIsAnsweredByItsAck();
    void publishNotAckedIsSentAgainWithItsIdAfterAReconnect();
    void ephemeralPublishIsNotSentAgain();
    void refusalLeavesTheSessionOpen();
    void refusalForNowIsRetriedLater();
    void publishesMadeOfflineGoOutAfterTheWelcome();
    void invalidPublishIsRefusedWithoutSending();
    void subscriptionIsResumedInTheHello();
    void subscriptionRefusedIsForgotten();
    void unsubscribeStopsDeliveryAndResume();
    void ephemeralMessagesMoveNoPosition();

private:
    void startLive(const QList<v1::StreamState> &more = {});

    FakeDecision *m_decision = nullptr;
    FakeNode *m_node = nullptr;
    bfg::DecisionClient *m_decisionClient = nullptr;
    PushClient *m_client = nullptr;
};

void TestPushClientChat::init()
{
    m_decision = new FakeDecision(this);
    m_node = new FakeNode(this);
    m_decision->setNodeUrl(m_node->url());
    m_decisionClient = new bfg::DecisionClient({m_decision->url()}, this);
    PushClient::Options options;
    options.userId = u"alice"_s;
    options.backoffBaseMs = 10;
    options.backoffCapMs = 50;
    m_client = new PushClient(m_decisionClient, options, this);
}

void TestPushClientChat::cleanup()
{
    delete m_client;
    delete m_decisionClient;
    delete m_node;
    delete m_decision;
}

void TestPushClientChat::startLive(const QList<v1::StreamState> &more)
{
    m_client->start();
    m_node->welcome(more);
    QTRY_COMPARE(m_client->state(), PushClient::State::Live);
}

void TestPushClientChat::publishIsAnsweredByItsAck()
{
    startLive();
    QSignalSpy published(m_client, &PushClient::published);
    QCOMPARE(m_client->publish(u"room:1"_s, "hi", u"m1"_s), u"m1"_s);
    const v1::ClientFrame frame = m_node->next();
    QVERIFY(frame.has_publish());
    QCOMPARE(frame.publish().stream(), "room:1");
    QCOMPARE(frame.publish().payload(), "hi");
    QCOMPARE(frame.publish().client_message_id(), "m1");
    QVERIFY(!frame.publish().ephemeral());
    QCOMPARE(m_client->pendingPublishes(), 1);

    m_node->ack("m1", "room:1", 7);
    QTRY_COMPARE(published.size(), 1);
    QCOMPARE(published[0][0].toString(), u"m1"_s);
    QCOMPARE(published[0][1].toString(), u"room:1"_s);
    QCOMPARE(published[0][2].toString(), u"e1"_s);
    QCOMPARE(published[0][3].toULongLong(), 7u);
    QCOMPARE(published[0][4].toBool(), false);
    QCOMPARE(m_client->pendingPublishes(), 0);

    // Without an id the client makes up a valid one, different every time.
    const QString a = m_client->publish(u"room:1"_s, "a");
    const QString b = m_client->publish(u"room:1"_s, "b");
    QVERIFY(!a.isEmpty() && a != b);
    QCOMPARE(QString::fromStdString(m_node->next().publish().client_message_id()), a);
    QCOMPARE(QString::fromStdString(m_node->next().publish().client_message_id()), b);
}

void TestPushClientChat::publishNotAckedIsSentAgainWithItsIdAfterAReconnect()
{
    startLive();
    QSignalSpy published(m_client, &PushClient::published);
    QSignalSpy refused(m_client, &PushClient::publishRefused);
    m_client->publish(u"room:1"_s, "one", u"m1"_s);
    m_client->publish(u"room:1"_s, "two", u"m2"_s);
    QCOMPARE(m_node->next().publish().client_message_id(), "m1");
    QCOMPARE(m_node->next().publish().client_message_id(), "m2");
    m_node->ack("m1", "room:1", 1);
    QTRY_COMPARE(published.size(), 1);

    m_node->drop(); // m2 was stored, but its ack never came
    QTRY_COMPARE(m_node->connections(), 2);
    m_node->welcome();
    // Only m2, with its id; then the node acks it as the duplicate it is.
    const v1::ClientFrame again = m_node->next();
    QVERIFY(again.has_publish());
    QCOMPARE(again.publish().client_message_id(), "m2");
    QCOMPARE(again.publish().payload(), "two");
    m_node->ack("m2", "room:1", 2, true);
    QTRY_COMPARE(published.size(), 2);
    QCOMPARE(published[1][0].toString(), u"m2"_s);
    QCOMPARE(published[1][3].toULongLong(), 2u);
    QCOMPARE(published[1][4].toBool(), true);
    QCOMPARE(m_client->pendingPublishes(), 0);
    QVERIFY(refused.isEmpty());
    QTest::qWait(50);
    QVERIFY(!m_node->hasFrame());
}

void TestPushClientChat::ephemeralPublishIsNotSentAgain()
{
    startLive();
    QSignalSpy refused(m_client, &PushClient::publishRefused);
    m_client->publish(u"room:1"_s, "typing", u"t1"_s, true);
    const v1::ClientFrame frame = m_node->next();
    QVERIFY(frame.publish().ephemeral());
    m_node->drop();
    QTRY_COMPARE(refused.size(), 1);
    QCOMPARE(refused[0][0].toString(), u"t1"_s);
    QCOMPARE(refused[0][1].toInt(), int(QWebSocketProtocol::CloseCodeAbnormalDisconnection));
    QCOMPARE(m_client->pendingPublishes(), 0);
    QTRY_COMPARE(m_node->connections(), 2);
    m_node->welcome();
    QTest::qWait(50);
    QVERIFY(!m_node->hasFrame());
}

void TestPushClientChat::refusalLeavesTheSessionOpen()
{
    startLive();
    QSignalSpy refused(m_client, &PushClient::publishRefused);
    QSignalSpy published(m_client, &PushClient::published);
    QSignalSpy disconnected(m_client, &PushClient::disconnected);
    m_client->publish(u"room:secret"_s, "x", u"m1"_s);
    m_node->next();
    m_node->error(v1::NOT_ENTITLED, "m1", "");
    QTRY_COMPARE(refused.size(), 1);
    QCOMPARE(refused[0][0].toString(), u"m1"_s);
    QCOMPARE(refused[0][1].toInt(), int(v1::NOT_ENTITLED));
    QCOMPARE(m_client->pendingPublishes(), 0);
    QCOMPARE(m_client->state(), PushClient::State::Live);

    m_client->publish(u"room:1"_s, "y", u"m2"_s);
    QCOMPARE(m_node->next().publish().client_message_id(), "m2");
    m_node->ack("m2", "room:1", 1);
    QTRY_COMPARE(published.size(), 1);
    QVERIFY(disconnected.isEmpty());
    QCOMPARE(m_node->connections(), 1);
}

void TestPushClientChat::refusalForNowIsRetriedLater()
{
    startLive();
    QSignalSpy refused(m_client, &PushClient::publishRefused);
    QSignalSpy published(m_client, &PushClient::published);
    m_client->publish(u"room:1"_s, "x", u"m1"_s);
    m_node->next();
    m_node->error(v1::BROKER_UNAVAILABLE, "m1", "");
    // Sent again on the same connection after a backoff, with the same id.
    const v1::ClientFrame again = m_node->next();
    QVERIFY(again.has_publish());
    QCOMPARE(again.publish().client_message_id(), "m1");
    m_node->ack("m1", "room:1", 1);
    QTRY_COMPARE(published.size(), 1);
    QVERIFY(refused.isEmpty());
    QCOMPARE(m_node->connections(), 1);
}

void TestPushClientChat::publishesMadeOfflineGoOutAfterTheWelcome()
{
    m_client->publish(u"room:1"_s, "early", u"m1"_s);
    m_client->subscribe({u"room:1"_s});
    m_client->start();
    m_node->welcome();
    const v1::ClientFrame subscribe = m_node->next();
    QVERIFY(subscribe.has_subscribe());
    QCOMPARE(subscribe.subscribe().positions_size(), 1);
    QCOMPARE(subscribe.subscribe().positions(0).stream(), "room:1");
    QVERIFY(subscribe.subscribe().positions(0).epoch().empty());
    const v1::ClientFrame publish = m_node->next();
    QVERIFY(publish.has_publish());
    QCOMPARE(publish.publish().client_message_id(), "m1");
}

void TestPushClientChat::invalidPublishIsRefusedWithoutSending()
{
    startLive();
    QSignalSpy refused(m_client, &PushClient::publishRefused);
    m_client->publish(u"room:1"_s, "x", u"bad id!"_s);
    m_client->publish(u"room:1"_s, "x", QString(65, u'a'));
    m_client->publish(u"no stream"_s, "x", u"ok"_s);
    QVERIFY(refused.isEmpty()); // from the event loop, not from inside publish()
    QTRY_COMPARE(refused.size(), 3);
    for (const QList<QVariant> &refusal : refused)
        QCOMPARE(refusal[1].toInt(), int(v1::BAD_REQUEST));
    QCOMPARE(m_client->pendingPublishes(), 0);
    QTest::qWait(50);
    QVERIFY(!m_node->hasFrame());
}

void TestPushClientChat::subscriptionIsResumedInTheHello()
{
    startLive();
    QSignalSpy subscribed(m_client, &PushClient::subscribed);
    QSignalSpy received(m_client, &PushClient::messageReceived);
    m_client->subscribe({u"room:1"_s});
    const v1::ClientFrame frame = m_node->next();
    QVERIFY(frame.has_subscribe());
    QCOMPARE(frame.subscribe().positions(0).stream(), "room:1");

    v1::ServerFrame answer;
    *answer.mutable_subscribed()->add_streams() = state("room:1", "e1", 10);
    m_node->send(answer);
    QTRY_COMPARE(subscribed.size(), 1);
    QCOMPARE(m_client->positions().value(u"room:1"_s).seq(), 10u);
    m_node->message("room:1", 11);
    m_node->message("room:1", 12);
    QTRY_COMPARE(received.size(), 2);
    QCOMPARE(m_client->positions().value(u"room:1"_s).seq(), 12u);
    QCOMPARE(m_client->subscriptions(), QStringList{u"room:1"_s});

    m_node->drop();
    QTRY_COMPARE(m_node->connections(), 2);
    const v1::Hello hello = m_node->welcome({state("room:1", "e1", 14)});
    const v1::StreamPosition *room = positionOf(hello, "room:1");
    QVERIFY(room);
    QCOMPARE(room->epoch(), "e1");
    QCOMPARE(room->seq(), 12u);
    QVERIFY(positionOf(hello, "user:alice"));
    // Resumed by the Hello: no Subscribe again.
    QTRY_COMPARE(m_client->state(), PushClient::State::Live);
    QTest::qWait(50);
    QVERIFY(!m_node->hasFrame());
}

void TestPushClientChat::subscriptionRefusedIsForgotten()
{
    startLive();
    QSignalSpy refused(m_client, &PushClient::subscriptionRefused);
    QSignalSpy subscribed(m_client, &PushClient::subscribed);
    m_client->subscribe({u"room:1"_s, u"vip:1"_s});
    const v1::ClientFrame frame = m_node->next();
    QCOMPARE(frame.subscribe().positions_size(), 2);
    m_node->error(v1::NOT_ENTITLED, "", "vip:1");
    v1::ServerFrame answer;
    *answer.mutable_subscribed()->add_streams() = state("room:1", "e1", 0);
    m_node->send(answer);
    QTRY_COMPARE(subscribed.size(), 1);
    QCOMPARE(refused.size(), 1);
    QCOMPARE(refused[0][0].toString(), u"vip:1"_s);
    QCOMPARE(refused[0][1].toInt(), int(v1::NOT_ENTITLED));
    QCOMPARE(m_client->subscriptions(), QStringList{u"room:1"_s});
    QCOMPARE(m_client->state(), PushClient::State::Live);
    QVERIFY(!m_client->positions().contains(u"vip:1"_s));
}

void TestPushClientChat::unsubscribeStopsDeliveryAndResume()
{
    startLive();
    QSignalSpy received(m_client, &PushClient::messageReceived);
    QSignalSpy unsubscribed(m_client, &PushClient::unsubscribed);
    m_client->subscribe({u"room:1"_s});
    m_node->next();
    v1::ServerFrame answer;
    *answer.mutable_subscribed()->add_streams() = state("room:1", "e1", 3);
    m_node->send(answer);
    m_node->message("room:1", 4);
    QTRY_COMPARE(received.size(), 1);

    m_client->unsubscribe({u"room:1"_s});
    const v1::ClientFrame frame = m_node->next();
    QVERIFY(frame.has_unsubscribe());
    QCOMPARE(frame.unsubscribe().streams(0), "room:1");
    m_node->message("room:1", 5); // was on the way
    v1::ServerFrame done;
    done.mutable_unsubscribed()->add_streams("room:1");
    m_node->send(done);
    QTRY_COMPARE(unsubscribed.size(), 1);
    QCOMPARE(received.size(), 1);
    QVERIFY(m_client->subscriptions().isEmpty());
    QVERIFY(!m_client->positions().contains(u"room:1"_s));

    m_node->drop();
    QTRY_COMPARE(m_node->connections(), 2);
    const v1::Hello hello = m_node->welcome();
    QVERIFY(!positionOf(hello, "room:1"));
    QTest::qWait(50);
    QVERIFY(!m_node->hasFrame());
}

void TestPushClientChat::ephemeralMessagesMoveNoPosition()
{
    startLive();
    QSignalSpy received(m_client, &PushClient::messageReceived);
    m_client->subscribe({u"room:1"_s});
    m_node->next();
    v1::ServerFrame answer;
    *answer.mutable_subscribed()->add_streams() = state("room:1", "e1", 3);
    m_node->send(answer);
    m_node->message("room:1", 4);
    m_node->message("room:1", 0, true);
    m_node->message("room:1", 5);
    QTRY_COMPARE(received.size(), 3);
    QVERIFY(received[1][0].value<v1::Message>().ephemeral());
    const v1::StreamPosition position = m_client->positions().value(u"room:1"_s);
    QCOMPARE(position.seq(), 5u);
    QCOMPARE(position.epoch(), "e1");
}

QTEST_GUILESS_MAIN(TestPushClientChat)
#include "tst_pushclientchat.moc"
