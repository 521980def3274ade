// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 BFG developers
//
// Chat over the connection, seen from raw WebSocket clients: a Publish is
// acked with the seq its message got and reaches every member of the room,
// the sender included, under an id that names the sender; a retry after a
// reconnect stores nothing new; a stream the token does not let the client
// publish to or read is refused with an Error naming the request, and the
// session goes on; Subscribe and Unsubscribe add and remove rooms; an
// ephemeral message is delivered but never replayed; and with members on two
// push nodes of a Redis cluster, concurrent senders' messages reach every
// member in one order.
#include <QTest>

#include "bfg/v1/api.pb.h"
#include "bfg/v1/frames.pb.h"
#include "common/protocol.h"
#include "common/token.h"
#include "tests/support/bfgdprocess.h"
#include "tests/support/localcluster.h"
#include "tests/support/rawclient.h"
#include "tests/support/redisserver.h"
#include "tests/support/testhttp.h"

using namespace Qt::Literals::StringLiterals;
using bfg::test::BfgdProcess;
using bfg::test::RawClient;
namespace protocol = bfg::protocol;
namespace v1 = bfg::v1;
namespace ws = bfg::websocket;

namespace {
constexpr int WaitMs = 10000;

QByteArray clientFrame(const v1::ClientFrame &frame)
{
    return RawClient::masked(ws::Opcode::Binary, protocol::encode(frame));
}

QByteArray publishFrame(const QString &stream, const QByteArray &payload, const QString &clientMessageId,
                        bool ephemeral = false)
{
    v1::ClientFrame frame;
    v1::Publish *publish = frame.mutable_publish();
    publish->set_stream(stream.toStdString());
    publish->set_payload(payload.toStdString());
    publish->set_client_message_id(clientMessageId.toStdString());
    publish->set_ephemeral(ephemeral);
    return clientFrame(frame);
}

QByteArray subscribeFrame(const QString &stream, const std::string &epoch = {}, quint64 seq = 0)
{
    v1::ClientFrame frame;
    v1::StreamPosition *position = frame.mutable_subscribe()->add_positions();
    position->set_stream(stream.toStdString());
    position->set_epoch(epoch);
    position->set_seq(seq);
    return clientFrame(frame);
}

QByteArray unsubscribeFrame(const QString &stream)
{
    v1::ClientFrame frame;
    frame.mutable_unsubscribe()->add_streams(stream.toStdString());
    return clientFrame(frame);
}

// A client of the chat: connected, welcomed, reading its personal stream and `rooms`.
struct Member
{
    RawClient client;

    bool join(const QUrl &push, const std::string &token, const QStringList &rooms)
    {
        if (!client.connectTo(push))
            return false;
        QByteArray hello;
        {
            v1::ClientFrame frame;
            frame.mutable_hello()->set_token(token);
            for (const QString &room : rooms)
                frame.mutable_hello()->add_positions()->set_stream(room.toStdString());
            hello = clientFrame(frame);
        }
        if (!client.upgrade(hello))
            return false;
        const std::optional<v1::ServerFrame> welcome = client.nextServerFrame(QDeadlineTimer(WaitMs));
        return welcome && welcome->has_welcome();
    }

    // The next frame of `kind`, skipping pings; nullopt when another kind comes first or none.
    std::optional<v1::ServerFrame> next(v1::ServerFrame::KindCase kind)
    {
        for (;;) {
            std::optional<v1::ServerFrame> frame = client.nextServerFrame(QDeadlineTimer(WaitMs));
            if (frame && frame->has_ping())
                continue;
            if (!frame || frame->kind_case() != kind) {
                if (frame)
                    qWarning() << "expected frame kind" << kind << "got" << frame->DebugString().c_str();
                return std::nullopt;
            }
            return frame;
        }
    }

    // Nothing arrives within `ms` (pings aside).
    bool quietFor(int ms)
    {
        QDeadlineTimer deadline(ms);
        while (!deadline.hasExpired()) {
            const std::optional<v1::ServerFrame> frame = client.nextServerFrame(deadline);
            if (frame && !frame->has_ping()) {
                qWarning() << "unexpected" << frame->DebugString().c_str();
                return false;
            }
        }
        return true;
    }
};
} // namespace

class TestChat : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void initTestCase();
    void publishIsAckedAndReachesEveryMember();
    void retryAfterReconnectIsStoredOnce();
    void refusedRequestsLeaveTheSessionOpen();
    void subscribeAndUnsubscribeRooms();
    void ephemeralMessagesAreNotReplayed();
    void concurrentSendersOnTwoNodesGetOneOrder();

private:
    std::string token(const QUrl &decision, const QString &user);

    std::unique_ptr<BfgdProcess> m_bfgd;
    QNetworkAccessManager m_network;
};

void TestChat::initTestCase()
{
    // Anyone reads any room; clients publish to rooms 4* and message each other.
    m_bfgd =
        std::make_unique<BfgdProcess>(QStringList{u"--set"_s, u"decision/public_streams=room:*"_s, u"--set"_s,
                                                  u"decision/client_publish=room:4*,user:*"_s});
    QString error;
    QVERIFY2(m_bfgd->start(&error), qPrintable(error));
}

std::string TestChat::token(const QUrl &decision, const QString &user)
{
    return bfg::test::assignUntilReady(m_network, decision, user, WaitMs).token();
}

void TestChat::publishIsAckedAndReachesEveryMember()
{
    Member alice, bob;
    QVERIFY(alice.join(m_bfgd->pushUrl(), token(m_bfgd->decisionUrl(), u"alice"_s), {u"room:41"_s}));
    QVERIFY(bob.join(m_bfgd->pushUrl(), token(m_bfgd->decisionUrl(), u"bob"_s), {u"room:41"_s}));

    alice.client.write(publishFrame(u"room:41"_s, "hello room", u"m-1"_s));
    // The sender gets its own message through the room, like bob, and the ack.
    std::optional<v1::ServerFrame> ack, own;
    for (int i = 0; i < 2; ++i) {
        std::optional<v1::ServerFrame> frame = alice.client.nextServerFrame(QDeadlineTimer(WaitMs));
        QVERIFY(frame);
        (frame->has_publish_ack() ? ack : own) = frame;
    }
    QVERIFY(ack && own && own->has_message());
    QCOMPARE(ack->publish_ack().client_message_id(), "m-1");
    QCOMPARE(ack->publish_ack().stream(), "room:41");
    QCOMPARE(ack->publish_ack().seq(), quint64(1));
    QVERIFY(!ack->publish_ack().duplicate());
    QCOMPARE(own->message().seq(), quint64(1));
    QCOMPARE(own->message().id(), "alice/m-1"); // the sender, as the node saw it
    QCOMPARE(own->message().epoch(), ack->publish_ack().epoch());

    const std::optional<v1::ServerFrame> seen = bob.next(v1::ServerFrame::kMessage);
    QVERIFY(seen);
    QCOMPARE(seen->message().stream(), "room:41");
    QCOMPARE(seen->message().seq(), quint64(1));
    QCOMPARE(seen->message().id(), "alice/m-1");
    QCOMPARE(seen->message().payload(), "hello room");

    // A direct message: user:* lets alice write to bob's personal stream.
    alice.client.write(publishFrame(u"user:bob"_s, "psst", u"dm-1"_s));
    QVERIFY(alice.next(v1::ServerFrame::kPublishAck));
    const std::optional<v1::ServerFrame> direct = bob.next(v1::ServerFrame::kMessage);
    QVERIFY(direct);
    QCOMPARE(direct->message().stream(), "user:bob");
    QCOMPARE(direct->message().id(), "alice/dm-1");
}

void TestChat::retryAfterReconnectIsStoredOnce()
{
    Member bob;
    QVERIFY(bob.join(m_bfgd->pushUrl(), token(m_bfgd->decisionUrl(), u"bob"_s), {u"room:42"_s}));
    quint64 firstSeq = 0;
    {
        Member alice;
        QVERIFY(alice.join(m_bfgd->pushUrl(), token(m_bfgd->decisionUrl(), u"alice"_s), {}));
        alice.client.write(publishFrame(u"room:42"_s, "once", u"retry-1"_s));
        const std::optional<v1::ServerFrame> ack = alice.next(v1::ServerFrame::kPublishAck);
        QVERIFY(ack);
        firstSeq = ack->publish_ack().seq();
        // Gone before it could act on the ack: it will send the message again.
    }
    Member again;
    QVERIFY(again.join(m_bfgd->pushUrl(), token(m_bfgd->decisionUrl(), u"alice"_s), {}));
    again.client.write(publishFrame(u"room:42"_s, "once", u"retry-1"_s));
    const std::optional<v1::ServerFrame> ack = again.next(v1::ServerFrame::kPublishAck);
    QVERIFY(ack);
    QVERIFY(ack->publish_ack().duplicate());
    QCOMPARE(ack->publish_ack().seq(), firstSeq);

    // Another user's identical id is another message.
    Member carol;
    QVERIFY(carol.join(m_bfgd->pushUrl(), token(m_bfgd->decisionUrl(), u"carol"_s), {}));
    carol.client.write(publishFrame(u"room:42"_s, "mine", u"retry-1"_s));
    const std::optional<v1::ServerFrame> carolAck = carol.next(v1::ServerFrame::kPublishAck);
    QVERIFY(carolAck && !carolAck->publish_ack().duplicate());
    QCOMPARE(carolAck->publish_ack().seq(), firstSeq + 1);

    // Bob saw alice's message once, then carol's.
    const std::optional<v1::ServerFrame> first = bob.next(v1::ServerFrame::kMessage);
    const std::optional<v1::ServerFrame> second = bob.next(v1::ServerFrame::kMessage);
    QVERIFY(first && second);
    QCOMPARE(first->message().id(), "alice/retry-1");
    QCOMPARE(second->message().id(), "carol/retry-1");
    QVERIFY(bob.quietFor(300));
}

void TestChat::refusedRequestsLeaveTheSessionOpen()
{
    Member alice;
    QVERIFY(alice.join(m_bfgd->pushUrl(), token(m_bfgd->decisionUrl(), u"alice"_s), {}));
    const struct
    {
        QByteArray frame;
        v1::ErrorCode code;
        const char *clientMessageId;
        const char *stream;
    } refusals[] = {
        {publishFrame(u"room:secret"_s, "no", u"r-1"_s), v1::NOT_ENTITLED, "r-1", "room:secret"},
        {publishFrame(u"fx:EURUSD"_s, "no", u"r-2"_s), v1::NOT_ENTITLED, "r-2", "fx:EURUSD"},
        {publishFrame(u"room:43"_s, "no", u"bad id!"_s), v1::BAD_REQUEST, "bad id!", "room:43"},
        // Above the payload limit (max_frame_bytes - 512), within the frame limit.
        {publishFrame(u"room:43"_s, QByteArray(64 * 1024 - 300, 'x'), u"r-3"_s), v1::BAD_REQUEST, "r-3",
         "room:43"},
        {subscribeFrame(u"user:bob"_s), v1::NOT_ENTITLED, "", "user:bob"},
        {subscribeFrame(u"fx:EURUSD"_s), v1::NOT_ENTITLED, "", "fx:EURUSD"},
    };
    for (const auto &refusal : refusals) {
        alice.client.write(refusal.frame);
        const std::optional<v1::ServerFrame> error = alice.next(v1::ServerFrame::kError);
        QVERIFY2(error, refusal.clientMessageId);
        QCOMPARE(int(error->error().code()), int(refusal.code));
        QCOMPARE(error->error().client_message_id(), refusal.clientMessageId);
        QCOMPARE(error->error().stream(), refusal.stream);
    }
    // Still open, and nothing was stored in room:secret: a backend's first message there gets seq 1.
    alice.client.write(publishFrame(u"room:43"_s, "fine", u"r-4"_s));
    const std::optional<v1::ServerFrame> ack = alice.next(v1::ServerFrame::kPublishAck);
    QVERIFY(ack);
    QCOMPARE(ack->publish_ack().client_message_id(), "r-4");
    QUrl url = m_bfgd->publishUrl();
    url.setPath(u"/v1/publish"_s);
    const auto published = bfg::test::httpCall(
        m_network,
        {"POST", url, R"({"stream":"room:secret","text":"first"})", "application/json", {}, {}, {}});
    QCOMPARE(published.status, 200);
    QCOMPARE(published.json().value(u"seq"_s).toInteger(), 1);
}

void TestChat::subscribeAndUnsubscribeRooms()
{
    Member alice, bob;
    QVERIFY(alice.join(m_bfgd->pushUrl(), token(m_bfgd->decisionUrl(), u"alice"_s), {}));
    QVERIFY(bob.join(m_bfgd->pushUrl(), token(m_bfgd->decisionUrl(), u"bob"_s), {}));
    alice.client.write(publishFrame(u"room:44"_s, "before bob", u"s-1"_s));
    QVERIFY(alice.next(v1::ServerFrame::kPublishAck));

    // Bob joins from the start of the room's history: Subscribed, then the replay.
    bob.client.write(subscribeFrame(u"room:44"_s, "", 0));
    const std::optional<v1::ServerFrame> subscribed = bob.next(v1::ServerFrame::kSubscribed);
    QVERIFY(subscribed);
    QCOMPARE(subscribed->subscribed().streams_size(), 1);
    QCOMPARE(subscribed->subscribed().streams(0).stream(), "room:44");
    QCOMPARE(subscribed->subscribed().streams(0).seq(), quint64(1));

    // From now on: alice's next message reaches bob live.
    alice.client.write(publishFrame(u"room:44"_s, "hi bob", u"s-2"_s));
    QVERIFY(alice.next(v1::ServerFrame::kPublishAck));
    const std::optional<v1::ServerFrame> live = bob.next(v1::ServerFrame::kMessage);
    QVERIFY(live);
    QCOMPARE(live->message().seq(), quint64(2));
    QCOMPARE(live->message().payload(), "hi bob");

    bob.client.write(unsubscribeFrame(u"room:44"_s));
    const std::optional<v1::ServerFrame> unsubscribed = bob.next(v1::ServerFrame::kUnsubscribed);
    QVERIFY(unsubscribed);
    QCOMPARE(unsubscribed->unsubscribed().streams(0), "room:44");
    alice.client.write(publishFrame(u"room:44"_s, "bob left", u"s-3"_s));
    QVERIFY(alice.next(v1::ServerFrame::kPublishAck));
    QVERIFY(bob.quietFor(500));

    // And back, resuming after seq 2: the one message missed is replayed.
    bob.client.write(subscribeFrame(u"room:44"_s, subscribed->subscribed().streams(0).epoch(), 2));
    QVERIFY(bob.next(v1::ServerFrame::kSubscribed));
    const std::optional<v1::ServerFrame> missed = bob.next(v1::ServerFrame::kMessage);
    QVERIFY(missed);
    QCOMPARE(missed->message().seq(), quint64(3));
    QCOMPARE(missed->message().payload(), "bob left");
}

void TestChat::ephemeralMessagesAreNotReplayed()
{
    Member alice, bob;
    QVERIFY(alice.join(m_bfgd->pushUrl(), token(m_bfgd->decisionUrl(), u"alice"_s), {u"room:45"_s}));
    QVERIFY(bob.join(m_bfgd->pushUrl(), token(m_bfgd->decisionUrl(), u"bob"_s), {u"room:45"_s}));
    alice.client.write(publishFrame(u"room:45"_s, "stored", u"e-1"_s));
    alice.client.write(publishFrame(u"room:45"_s, "typing", u"e-2"_s, true));
    const std::optional<v1::ServerFrame> stored = bob.next(v1::ServerFrame::kMessage);
    const std::optional<v1::ServerFrame> typing = bob.next(v1::ServerFrame::kMessage);
    QVERIFY(stored && typing);
    QCOMPARE(stored->message().seq(), quint64(1));
    QVERIFY(typing->message().ephemeral());
    QCOMPARE(typing->message().seq(), quint64(0));
    QCOMPARE(typing->message().id(), "alice/e-2");

    // A reader resuming from before both gets the stored message only.
    Member late;
    QVERIFY(late.client.connectTo(m_bfgd->pushUrl()));
    QVERIFY(late.client.upgrade(RawClient::hello(token(m_bfgd->decisionUrl(), u"dave"_s), u"room:45"_s,
                                                 stored->message().epoch(), 0)));
    QVERIFY(late.next(v1::ServerFrame::kWelcome));
    const std::optional<v1::ServerFrame> replayed = late.next(v1::ServerFrame::kMessage);
    QVERIFY(replayed);
    QCOMPARE(replayed->message().payload(), "stored");
    QVERIFY(late.quietFor(500));
}

void TestChat::concurrentSendersOnTwoNodesGetOneOrder()
{
    bfg::test::RedisServer redis;
    QString error;
    QVERIFY2(redis.start(&error), qPrintable(error));
    bfg::test::LocalCluster cluster(
        {u"--set"_s, u"decision/public_streams=room:*"_s, u"--set"_s, u"decision/client_publish=room:*"_s},
        {u"--set"_s, u"broker/type=redis"_s, u"--set"_s,
         u"broker/redis_address=127.0.0.1:%1"_s.arg(redis.port())});
    QVERIFY2(cluster.startDecision(&error), qPrintable(error));
    for (int i = 0; i < 2; ++i)
        QVERIFY2(cluster.addPushNode(&error), qPrintable(error));

    // Two senders and a listener on node 0, a sender on node 1.
    const QString room = u"room:order"_s;
    const QString users[] = {u"ann"_s, u"ben"_s, u"cid"_s, u"lee"_s};
    const int nodeOf[] = {0, 1, 0, 1};
    Member members[4];
    for (int i = 0; i < 4; ++i)
        QVERIFY(members[i].join(cluster.push(nodeOf[i]).pushUrl(),
                                token(cluster.decision().decisionUrl(), users[i]), {room}));
    // Each of the first three sends 40 messages at once, without waiting for acks.
    constexpr int PerSender = 40;
    for (int i = 0; i < 3; ++i) {
        QByteArray burst;
        for (int n = 0; n < PerSender; ++n)
            burst += publishFrame(room, QByteArray::number(n), u"c-%1"_s.arg(n));
        members[i].client.write(burst);
    }
    // Every member sees every message once, seqs 1..120, in one order.
    QStringList orders[4];
    for (int i = 0; i < 4; ++i) {
        QHash<QString, int> nextOfSender;
        for (int expected = 1; expected <= 3 * PerSender;) {
            std::optional<v1::ServerFrame> frame = members[i].client.nextServerFrame(QDeadlineTimer(WaitMs));
            QVERIFY2(frame, qPrintable(u"%1 stopped at seq %2"_s.arg(users[i]).arg(expected)));
            if (frame->has_publish_ack() || frame->has_ping())
                continue;
            QVERIFY2(frame->has_message(), frame->DebugString().c_str());
            QCOMPARE(frame->message().seq(), quint64(expected));
            const QString id = QString::fromStdString(frame->message().id());
            // Each sender's messages in the order it sent them.
            const QString sender = id.section(u'/', 0, 0);
            QCOMPARE(id, u"%1/c-%2"_s.arg(sender).arg(nextOfSender[sender]++));
            orders[i].append(id);
            ++expected;
        }
    }
    for (int i = 1; i < 4; ++i)
        QCOMPARE(orders[i], orders[0]);
    // Both nodes' senders are in it.
    QVERIFY(orders[0].contains(u"ben/c-0"_s) && orders[0].contains(u"ann/c-0"_s));
}

QTEST_GUILESS_MAIN(TestChat)
#include "tst_chat.moc"
