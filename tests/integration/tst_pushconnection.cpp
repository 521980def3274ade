// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 BFG developers
//
// The push node's own WebSocket layer, seen from a raw TCP client that
// controls every byte: the upgrade and its refusals, a hello sent in the
// same packet as the upgrade, WebSocket pings, the close handshake, the
// bound on pending handshakes, and a consumer that stops reading: the node
// closes it with SLOW_CONSUMER instead of queueing without bound, and the
// client resumes from what it had without losing a message.
#include <csignal>

#include <QHostAddress>
#include <QNetworkAccessManager>
#include <QFile>
#include <QProcess>
#include <QRandomGenerator>
#include <QTcpSocket>
#include <QElapsedTimer>
#include <QTest>

#include "bfg/v1/api.pb.h"
#include "bfg/v1/frames.pb.h"
#include "common/protocol.h"
#include "common/token.h"
#include "common/websocket.h"
#include "tests/support/bfgdprocess.h"
#include "tests/support/rawclient.h"
#include "tests/support/redisserver.h"
#include "tests/support/testhttp.h"

using namespace Qt::Literals::StringLiterals;
using bfg::test::BfgdProcess;
namespace protocol = bfg::protocol;
namespace v1 = bfg::v1;
namespace ws = bfg::websocket;
using bfg::test::closeCodeOf;
using bfg::test::RawClient;

namespace {
constexpr int WaitMs = 10000;

} // namespace

class TestPushConnection : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void upgradeIsAnswered();
    void badUpgradeGetsAnHttpError_data();
    void badUpgradeGetsAnHttpError();
    void helloInTheUpgradePacketIsRead();
    void pingIsAnsweredAndCloseIsEchoed();
    void pendingHandshakesAreBounded();
    void slowConsumerIsClosedAndResumesWithoutLoss();
    void publicStreamReachesEveryClient();
    void stopWithSubscriptionsPendingAtTheBrokerIsClean();
    void tokensAreCheckedWithDistinctCodes();
    void patternsGrantTheStreamsAHelloNames();
    void publishTokensAreScoped();
    void floodFromOneClientClosesOnlyIt();
    void webSocketPingsCountAgainstTheLimit();
    void connectionsPerAddressAreLimited();
    void publishRequestsAreLimitedPerKey();
    void connectionsPerUserAreLimited_data();
    void connectionsPerUserAreLimited();

private:
    v1::AssignResponse assign(const BfgdProcess &bfgd, const QString &user);
    bool publish(const BfgdProcess &bfgd, const QString &stream, int count, int payloadBytes);

    QNetworkAccessManager m_network;
};

v1::AssignResponse TestPushConnection::assign(const BfgdProcess &bfgd, const QString &user)
{
    return bfg::test::assignUntilReady(m_network, bfgd.decisionUrl(), user, WaitMs);
}

bool TestPushConnection::publish(const BfgdProcess &bfgd, const QString &stream, int count, int payloadBytes)
{
    QUrl url = bfgd.publishUrl();
    url.setPath(u"/v1/publish"_s);
    constexpr int PerRequest = 20;
    for (int sent = 0; sent < count; sent += PerRequest) {
        v1::PublishRequest request;
        for (int i = sent; i < std::min(count, sent + PerRequest); ++i) {
            v1::PublishItem *item = request.add_items();
            item->set_stream(stream.toStdString());
            item->set_payload(std::string(size_t(payloadBytes), char('a' + i % 26)));
        }
        const auto result = bfg::test::httpCall(m_network, {"POST",
                                                            url,
                                                            protocol::encode(request),
                                                            "application/x-protobuf",
                                                            {},
                                                            "application/x-protobuf",
                                                            {}});
        if (result.status != 200) {
            qWarning() << "publish failed:" << result.describe();
            return false;
        }
    }
    return true;
}

void TestPushConnection::upgradeIsAnswered()
{
    BfgdProcess bfgd;
    QString error;
    QVERIFY2(bfgd.start(&error), qPrintable(error));
    RawClient client;
    QVERIFY(client.connectTo(bfgd.pushUrl()));
    client.write(RawClient::upgradeRequest());
    const QByteArray head = client.readResponseHead();
    QVERIFY2(head.startsWith("HTTP/1.1 101 "), head.constData());
    // The RFC 6455 example key and its answer.
    QVERIFY2(head.contains("Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"), head.constData());
}

void TestPushConnection::badUpgradeGetsAnHttpError_data()
{
    QTest::addColumn<QByteArray>("request");
    QTest::addColumn<QByteArray>("status");
    const QByteArray good = RawClient::upgradeRequest();
    QTest::addRow("plain HTTP GET") << QByteArray("GET /v1/ws HTTP/1.1\r\nHost: x\r\n\r\n")
                                    << QByteArray("426");
    QTest::addRow("POST") << QByteArray(good).replace("GET", "POST") << QByteArray("405");
    QTest::addRow("version 8") << QByteArray(good).replace("Version: 13", "Version: 8") << QByteArray("426");
    QTest::addRow("short key") << QByteArray(good).replace("dGhlIHNhbXBsZSBub25jZQ==", "c2hvcnQ=")
                               << QByteArray("400");
    QTest::addRow("head above 8 KiB")
        << "GET /v1/ws HTTP/1.1\r\nX-Filler: " + QByteArray(9000, 'x') << QByteArray("431");
}

void TestPushConnection::badUpgradeGetsAnHttpError()
{
    QFETCH(QByteArray, request);
    QFETCH(QByteArray, status);
    BfgdProcess bfgd;
    QString error;
    QVERIFY2(bfgd.start(&error), qPrintable(error));
    RawClient client;
    QVERIFY(client.connectTo(bfgd.pushUrl()));
    client.write(request);
    const QByteArray answer = client.readAll(WaitMs);
    QVERIFY2(answer.startsWith(QByteArray("HTTP/1.1 " + status + ' ')), answer.constData());
    QVERIFY2(answer.contains("Connection: close\r\n"), answer.constData());
    // And the node hung up after answering.
    QTRY_VERIFY_WITH_TIMEOUT(!client.isConnected(), WaitMs);
    QVERIFY(bfgd.isRunning());
}

void TestPushConnection::helloInTheUpgradePacketIsRead()
{
    BfgdProcess bfgd;
    QString error;
    QVERIFY2(bfgd.start(&error), qPrintable(error));
    const v1::AssignResponse assigned = assign(bfgd, u"eager"_s);
    QVERIFY(!assigned.token().empty());

    RawClient client;
    QVERIFY(client.connectTo(bfgd.pushUrl()));
    // One write: the node must not drop the frame that came behind the head.
    QVERIFY(client.upgrade(RawClient::hello(assigned.token())));
    const auto welcome = client.nextServerFrame(QDeadlineTimer(WaitMs));
    QVERIFY(welcome);
    QCOMPARE(welcome->kind_case(), v1::ServerFrame::kWelcome);
    QCOMPARE(welcome->welcome().streams_size(), 1);
    QCOMPARE(welcome->welcome().streams(0).stream(), "user:eager");
}

void TestPushConnection::pingIsAnsweredAndCloseIsEchoed()
{
    BfgdProcess bfgd;
    QString error;
    QVERIFY2(bfgd.start(&error), qPrintable(error));
    RawClient client;
    QVERIFY(client.connectTo(bfgd.pushUrl()));
    QVERIFY(client.upgrade());

    client.write(RawClient::masked(ws::Opcode::Ping, "are you there"));
    auto pong = client.next(QDeadlineTimer(WaitMs));
    QVERIFY(pong);
    QCOMPARE(pong->opcode, ws::Opcode::Pong);
    QCOMPARE(pong->payload, QByteArray("are you there"));

    QByteArray close("\x0b\xb9", 2); // 3001, a retry-range code
    client.write(RawClient::masked(ws::Opcode::Close, close + "bye"));
    auto echo = client.next(QDeadlineTimer(WaitMs));
    QVERIFY(echo);
    QCOMPARE(echo->opcode, ws::Opcode::Close);
    QCOMPARE(closeCodeOf(echo->payload), 3001);
    // The server closes the TCP connection once the handshake is done, and
    // sends nothing after its close frame.
    QVERIFY2(!client.isConnected() || client.socket().waitForDisconnected(WaitMs),
             "the node kept the connection open after the close handshake");
    QVERIFY(client.readAll(0).isEmpty());
    QCOMPARE(client.socket().bytesAvailable(), 0);
}

void TestPushConnection::pendingHandshakesAreBounded()
{
    BfgdProcess bfgd({u"--set"_s, u"push/workers=1"_s, u"--set"_s, u"push/max_pending_connections=2"_s});
    QString error;
    QVERIFY2(bfgd.start(&error), qPrintable(error));
    RawClient first, second, third;
    QVERIFY(first.connectTo(bfgd.pushUrl()));
    QVERIFY(second.connectTo(bfgd.pushUrl()));
    QTest::qWait(200); // the node takes them in
    QVERIFY(third.connectTo(bfgd.pushUrl()));
    const QByteArray answer = third.readAll(WaitMs);
    QVERIFY2(answer.startsWith("HTTP/1.1 503 "), answer.constData());

    // The first two still get their upgrade; once one leaves, there is room again.
    QVERIFY(first.upgrade());
    first.socket().abort();
    QTest::qWait(200);
    RawClient fourth;
    QVERIFY(fourth.connectTo(bfgd.pushUrl()));
    QVERIFY(fourth.upgrade());
}

void TestPushConnection::slowConsumerIsClosedAndResumesWithoutLoss()
{
    constexpr int Messages = 400;
    constexpr int PayloadBytes = 30000; // 12 MB in all: far above the kernel's buffers and the node's queue
    BfgdProcess bfgd(
        {u"--set"_s, u"push/max_send_queue_bytes=65536"_s, u"--set"_s, u"broker/history_size=1000"_s});
    QString error;
    QVERIFY2(bfgd.start(&error), qPrintable(error));
    const v1::AssignResponse assigned = assign(bfgd, u"slow"_s);
    QVERIFY(!assigned.token().empty());

    RawClient slow;
    QVERIFY(slow.connectTo(bfgd.pushUrl(), 65536));
    QVERIFY(slow.upgrade(RawClient::hello(assigned.token())));
    const auto welcome = slow.nextServerFrame(QDeadlineTimer(WaitMs));
    QVERIFY(welcome && welcome->has_welcome());
    const std::string epoch = welcome->welcome().streams(0).epoch();

    // Stop reading: Qt takes at most 64 KiB from the kernel while the event loop runs.
    slow.socket().setReadBufferSize(65536);
    QVERIFY(publish(bfgd, u"user:slow"_s, Messages, PayloadBytes));

    // Read it all now: messages 1..k in order, then the node's close.
    slow.socket().setReadBufferSize(0);
    quint64 last = 0;
    int closeCode = 0;
    QDeadlineTimer deadline(3 * WaitMs);
    while (closeCode == 0) {
        const auto frame = slow.next(deadline);
        QVERIFY2(frame, "the node neither closed the slow consumer nor delivered everything");
        if (frame->opcode == ws::Opcode::Close) {
            closeCode = closeCodeOf(frame->payload);
            break;
        }
        v1::ServerFrame decoded;
        QVERIFY(protocol::decode(frame->payload, &decoded));
        if (decoded.has_ping())
            continue;
        QVERIFY2(decoded.has_message(), decoded.DebugString().c_str());
        QCOMPARE(decoded.message().seq(), last + 1);
        last = decoded.message().seq();
    }
    QCOMPARE(closeCode, int(v1::SLOW_CONSUMER));
    QVERIFY(protocol::isRetryCode(closeCode));
    QVERIFY2(last < quint64(Messages), "everything fit: the test did not make a slow consumer");

    // It resumes from what it had and gets the rest, once each, in order.
    RawClient resumed;
    QVERIFY(resumed.connectTo(bfgd.pushUrl()));
    const v1::AssignResponse again = assign(bfgd, u"slow"_s);
    QVERIFY(resumed.upgrade(RawClient::hello(again.token(), u"user:slow"_s, epoch, last)));
    const auto rewelcome = resumed.nextServerFrame(QDeadlineTimer(WaitMs));
    QVERIFY(rewelcome && rewelcome->has_welcome());
    QVERIFY(rewelcome->welcome().streams(0).recovered());
    deadline = QDeadlineTimer(3 * WaitMs);
    while (last < quint64(Messages)) {
        const auto frame = resumed.nextServerFrame(deadline);
        QVERIFY2(frame, qPrintable(u"stopped after seq %1"_s.arg(last)));
        if (frame->has_ping())
            continue;
        QVERIFY(frame->has_message());
        QCOMPARE(frame->message().seq(), last + 1);
        QCOMPARE(frame->message().payload().size(), size_t(PayloadBytes));
        last = frame->message().seq();
    }
    QVERIFY(bfgd.isRunning());
}

void TestPushConnection::publicStreamReachesEveryClient()
{
    BfgdProcess bfgd({u"--set"_s, u"decision/public_streams=fx:EURUSD"_s});
    QString error;
    QVERIFY2(bfgd.start(&error), qPrintable(error));
    std::vector<std::unique_ptr<RawClient>> clients;
    for (const QString &user : {u"ann"_s, u"bob"_s, u"cy"_s}) {
        const v1::AssignResponse assigned = assign(bfgd, user);
        QVERIFY(!assigned.token().empty());
        auto &client = clients.emplace_back(std::make_unique<RawClient>());
        QVERIFY(client->connectTo(bfgd.pushUrl()));
        QVERIFY(client->upgrade(RawClient::hello(assigned.token())));
        const auto welcome = client->nextServerFrame(QDeadlineTimer(WaitMs));
        QVERIFY(welcome && welcome->has_welcome());
        QCOMPARE(welcome->welcome().streams_size(), 2);
        QCOMPARE(welcome->welcome().streams(1).stream(), "fx:EURUSD");
    }
    QVERIFY(publish(bfgd, u"fx:EURUSD"_s, 3, 100));
    for (auto &client : clients) {
        for (quint64 seq = 1; seq <= 3; ++seq) {
            const auto frame = client->nextServerFrame(QDeadlineTimer(WaitMs));
            QVERIFY(frame && frame->has_message());
            QCOMPARE(frame->message().stream(), "fx:EURUSD");
            QCOMPARE(frame->message().seq(), seq);
        }
    }
}

void TestPushConnection::stopWithSubscriptionsPendingAtTheBrokerIsClean()
{
    // Clients whose subscriptions Redis has not answered when bfgd is told to
    // stop: the broker fails them on its way out, and its answers must not
    // reach push workers that are already gone (a crash or a hang at exit).
    bfg::test::RedisServer redis;
    QString error;
    QVERIFY2(redis.start(&error), qPrintable(error));
    BfgdProcess bfgd({u"--set"_s, u"broker/type=redis"_s, u"--set"_s,
                      u"broker/redis_address=127.0.0.1:%1"_s.arg(redis.port()), u"--set"_s,
                      u"broker/redis_timeout_ms=30000"_s, u"--set"_s, u"push/drain_timeout_ms=0"_s});
    QVERIFY2(bfgd.start(&error), qPrintable(error));
    std::vector<v1::AssignResponse> tokens;
    for (int i = 0; i < 20; ++i) {
        tokens.push_back(assign(bfgd, u"pending%1"_s.arg(i)));
        QVERIFY(!tokens.back().token().empty());
    }

    QVERIFY(::kill(pid_t(redis.processId()), SIGSTOP) == 0); // Redis stops answering
    std::vector<std::unique_ptr<RawClient>> clients;
    for (const v1::AssignResponse &assigned : tokens) {
        auto &client = clients.emplace_back(std::make_unique<RawClient>());
        QVERIFY(client->connectTo(bfgd.pushUrl()));
        QVERIFY(client->upgrade(RawClient::hello(assigned.token())));
    }
    QTest::qWait(300); // the hellos reach the broker

    const int exitCode = bfgd.stop();
    ::kill(pid_t(redis.processId()), SIGCONT);
    QVERIFY2(exitCode == 0, bfgd.output().right(3000).constData());
}

namespace {
// What a refused hello gets: an Error frame with the code, then a close with
// the same code, and nothing before them (no Welcome, no message).
void verifyRefused(RawClient &client, v1::ErrorCode code)
{
    const auto error = client.nextServerFrame(QDeadlineTimer(WaitMs));
    QVERIFY2(error && error->has_error(), error ? error->DebugString().c_str() : "no frame");
    QCOMPARE(int(error->error().code()), int(code));
    const auto close = client.next(QDeadlineTimer(WaitMs));
    QVERIFY(close && close->opcode == ws::Opcode::Close);
    QCOMPARE(closeCodeOf(close->payload), int(code));
}

bfg::TokenClaims connectClaims(const QString &user, qint64 expiresAt)
{
    bfg::TokenClaims claims;
    claims.subject = user;
    claims.scope = bfg::TokenSigner::ConnectScope;
    claims.streams = {u"user:"_s + user};
    claims.issuedAt = expiresAt - 60;
    claims.expiresAt = expiresAt;
    return claims;
}
} // namespace

void TestPushConnection::tokensAreCheckedWithDistinctCodes()
{
    // The node signs with `current` and still accepts `previous` (a rotation in progress).
    const QByteArray current = QByteArrayLiteral("current-secret-0123456789abcdef");
    const QByteArray previous = QByteArrayLiteral("previous-secret-0123456789abcdef");
    BfgdProcess bfgd({u"--set"_s, u"general/secret="_s + QString::fromLatin1(current), u"--set"_s,
                      u"general/previous_secrets="_s + QString::fromLatin1(previous)});
    QString error;
    QVERIFY2(bfgd.start(&error), qPrintable(error));
    const qint64 now = protocol::nowMs() / 1000;
    const bfg::TokenSigner signer(current);

    auto helloWith = [&](const QByteArray &token, const QString &stream = {}) {
        auto client = std::make_unique<RawClient>();
        if (!client->connectTo(bfgd.pushUrl()) ||
            !client->upgrade(RawClient::hello(token.toStdString(), stream)))
            qWarning() << "no upgrade";
        return client;
    };
    auto welcomed = [](RawClient &client) {
        const auto frame = client.nextServerFrame(QDeadlineTimer(WaitMs));
        return frame && frame->has_welcome();
    };

    // Accepted: the decision server's token, and one of the previous secret.
    const v1::AssignResponse assigned = assign(bfgd, u"alice"_s);
    QVERIFY(welcomed(*helloWith(QByteArray::fromStdString(assigned.token()))));
    QVERIFY(welcomed(*helloWith(signer.sign(connectClaims(u"alice"_s, now + 60)))));
    QVERIFY(welcomed(*helloWith(bfg::TokenSigner(previous).sign(connectClaims(u"alice"_s, now + 60)))));

    // Refused, each with its own code.
    verifyRefused(*helloWith("not a token at all"), v1::BAD_TOKEN);
    verifyRefused(*helloWith(signer.sign(connectClaims(u"alice"_s, now - 1))), v1::TOKEN_EXPIRED);
    {
        // alice's token with bob as the subject and the signature kept.
        const QList<QByteArray> parts = signer.sign(connectClaims(u"alice"_s, now + 60)).split('.');
        QByteArray payload = QByteArray::fromBase64(parts[1], QByteArray::Base64UrlEncoding);
        payload.replace("alice", "bob");
        const QByteArray tampered =
            parts[0] + '.' +
            payload.toBase64(QByteArray::Base64UrlEncoding | QByteArray::OmitTrailingEquals) + '.' + parts[2];
        verifyRefused(*helloWith(tampered), v1::TOKEN_TAMPERED);
    }
    verifyRefused(*helloWith(bfg::TokenSigner(QByteArrayLiteral("nobody-knows-this-0123456789"))
                                 .sign(connectClaims(u"alice"_s, now + 60))),
                  v1::TOKEN_TAMPERED);
    {
        bfg::TokenClaims node = connectClaims(u"node-1"_s, now + 60);
        node.scope = bfg::TokenSigner::NodeScope;
        node.streams.clear();
        verifyRefused(*helloWith(signer.sign(node)), v1::WRONG_SCOPE);
    }
    // alice's valid token cannot read bob's stream.
    verifyRefused(*helloWith(QByteArray::fromStdString(assigned.token()), u"user:bob"_s), v1::NOT_ENTITLED);
}

void TestPushConnection::patternsGrantTheStreamsAHelloNames()
{
    // fx:* in every connect token: a client reads the fx streams it names, and no other kind.
    BfgdProcess bfgd({u"--set"_s, u"decision/public_streams=fx:*"_s});
    QString error;
    QVERIFY2(bfgd.start(&error), qPrintable(error));
    const v1::AssignResponse assigned = assign(bfgd, u"dana"_s);
    QVERIFY(!assigned.token().empty());

    RawClient reader;
    QVERIFY(reader.connectTo(bfgd.pushUrl()));
    QVERIFY(reader.upgrade(RawClient::hello(assigned.token(), u"fx:EURUSD"_s)));
    const auto welcome = reader.nextServerFrame(QDeadlineTimer(WaitMs));
    QVERIFY(welcome && welcome->has_welcome());
    QCOMPARE(welcome->welcome().streams_size(), 2);
    QCOMPARE(welcome->welcome().streams(0).stream(), "user:dana");
    QCOMPARE(welcome->welcome().streams(1).stream(), "fx:EURUSD");
    QVERIFY(publish(bfgd, u"fx:EURUSD"_s, 2, 10));
    QVERIFY(publish(bfgd, u"fx:GBPUSD"_s, 1, 10)); // not named in the hello: not sent
    for (quint64 seq = 1; seq <= 2; ++seq) {
        const auto frame = reader.nextServerFrame(QDeadlineTimer(WaitMs));
        QVERIFY(frame && frame->has_message());
        QCOMPARE(frame->message().stream(), "fx:EURUSD");
        QCOMPARE(frame->message().seq(), seq);
    }
    QVERIFY(!reader.nextServerFrame(QDeadlineTimer(500)));

    // A shared stream the token does not grant (a room left, a public stream
    // withdrawn since the client last read it) is refused on its own after
    // the welcome: the client goes on with what it may read.
    RawClient outsider;
    QVERIFY(outsider.connectTo(bfgd.pushUrl()));
    QVERIFY(outsider.upgrade(RawClient::hello(assigned.token(), u"news:all"_s)));
    const auto admitted = outsider.nextServerFrame(QDeadlineTimer(WaitMs));
    QVERIFY(admitted && admitted->has_welcome());
    QCOMPARE(admitted->welcome().streams_size(), 1);
    QCOMPARE(admitted->welcome().streams(0).stream(), "user:dana");
    const auto refusal = outsider.nextServerFrame(QDeadlineTimer(WaitMs));
    QVERIFY(refusal && refusal->has_error());
    QCOMPARE(int(refusal->error().code()), int(v1::NOT_ENTITLED));
    QCOMPARE(refusal->error().stream(), "news:all");
    QVERIFY(publish(bfgd, u"news:all"_s, 1, 10));
    QVERIFY(publish(bfgd, u"user:dana"_s, 1, 10));
    const auto personal = outsider.nextServerFrame(QDeadlineTimer(WaitMs));
    QVERIFY(personal && personal->has_message());
    QCOMPARE(personal->message().stream(), "user:dana"); // and nothing of news:all
}

void TestPushConnection::publishTokensAreScoped()
{
    // A backend's token from `bfgd --issue-token publish`, for room:* only, with
    // publish keys configured (so an anonymous publisher is refused).
    BfgdProcess bfgd({u"--set"_s, u"push/publish_keys=static-key-0123456789"_s});
    QString error;
    QVERIFY2(bfgd.start(&error), qPrintable(error));
    QProcess issuer;
    issuer.start(bfg::test::bfgdPath(),
                 {u"--data-dir"_s, bfgd.dataDir(), u"--issue-token"_s, u"publish"_s, u"--token-subject"_s,
                  u"chat-backend"_s, u"--token-streams"_s, u"room:*"_s, u"--token-days"_s, u"30"_s});
    QVERIFY(issuer.waitForFinished(WaitMs));
    QCOMPARE(issuer.exitCode(), 0);
    const QByteArray token = issuer.readAllStandardOutput().trimmed();
    QFile secretFile(bfgd.dataDir() + u"/secret"_s);
    QVERIFY(secretFile.open(QIODevice::ReadOnly));
    const bfg::TokenSigner signer(secretFile.readAll().trimmed());
    const bfg::TokenCheck issued = signer.verify(token, protocol::nowMs() / 1000);
    QCOMPARE(issued.error, bfg::TokenError::None);
    QCOMPARE(issued.claims.scope, bfg::TokenSigner::PublishScope);
    QCOMPARE(issued.claims.subject, u"chat-backend"_s);
    QCOMPARE(issued.claims.streams, QStringList{u"room:*"_s});
    QVERIFY(qAbs(issued.claims.expiresAt - (protocol::nowMs() / 1000 + 30 * 86400)) < 60);

    QUrl url = bfgd.publishUrl();
    url.setPath(u"/v1/publish"_s);
    auto publishAs = [&](const QByteArray &authorization, const QByteArray &body) {
        return bfg::test::httpCall(
            m_network, {"POST", url, body, "application/json", authorization, "application/json", {}});
    };
    const QByteArray toRoom = R"({"stream":"room:1","text":"hello"})";
    const QByteArray toUser = R"({"stream":"user:alice","text":"hello"})";

    auto first = publishAs(bfg::test::bearer(token), toRoom);
    QCOMPARE(first.status, 200);
    QCOMPARE(first.json().value(u"seq"_s).toInt(), 1);
    // Outside its streams: refused, and a batch with one such item stores nothing.
    auto personal = publishAs(bfg::test::bearer(token), toUser);
    QCOMPARE(personal.status, 403);
    QCOMPARE(personal.errorCode(), u"not_entitled"_s);
    auto mixed = publishAs(bfg::test::bearer(token), R"({"items":[)" + toRoom + "," + toUser + "]}");
    QCOMPARE(mixed.status, 403);
    auto second = publishAs(bfg::test::bearer(token), toRoom);
    QCOMPARE(second.json().value(u"seq"_s).toInt(), 2); // the mixed batch's room:1 item was not stored

    // The static key publishes anywhere; nothing and a wrong key nowhere.
    QCOMPARE(publishAs(bfg::test::bearer("static-key-0123456789"), toUser).status, 200);
    QCOMPARE(publishAs({}, toRoom).status, 401);
    QCOMPARE(publishAs(bfg::test::bearer("wrong-key"), toRoom).errorCode(), u"unauthorized"_s);
    // Tokens: a connect token is the wrong scope; an altered one is tampered.
    const v1::AssignResponse assigned = assign(bfgd, u"alice"_s);
    auto connectToken = publishAs(bfg::test::bearer(QByteArray::fromStdString(assigned.token())), toUser);
    QCOMPARE(connectToken.status, 403);
    QCOMPARE(connectToken.errorCode(), u"wrong_scope"_s);
    QByteArray altered = token;
    altered[altered.size() - 3] = altered[altered.size() - 3] == 'A' ? 'B' : 'A';
    auto tampered = publishAs(bfg::test::bearer(altered), toRoom);
    QCOMPARE(tampered.status, 401);
    QCOMPARE(tampered.errorCode(), u"token_tampered"_s);
    bfg::TokenClaims expired = issued.claims;
    expired.expiresAt = protocol::nowMs() / 1000 - 1;
    auto late = publishAs(bfg::test::bearer(signer.sign(expired)), toRoom);
    QCOMPARE(late.status, 401);
    QCOMPARE(late.errorCode(), u"token_expired"_s);
}

void TestPushConnection::floodFromOneClientClosesOnlyIt()
{
    BfgdProcess bfgd({u"--set"_s, u"push/inbound_frames_per_s=10"_s});
    QString error;
    QVERIFY2(bfgd.start(&error), qPrintable(error));
    std::unique_ptr<RawClient> clients[2];
    const QString users[2] = {u"flooder"_s, u"neighbour"_s};
    for (int i = 0; i < 2; ++i) {
        const v1::AssignResponse assigned = assign(bfgd, users[i]);
        clients[i] = std::make_unique<RawClient>();
        QVERIFY(clients[i]->connectTo(bfgd.pushUrl()));
        QVERIFY(clients[i]->upgrade(RawClient::hello(assigned.token())));
        const auto welcome = clients[i]->nextServerFrame(QDeadlineTimer(WaitMs));
        QVERIFY(welcome && welcome->has_welcome());
    }
    // 60 pings at once: more than the 20 a burst allows.
    QByteArray flood;
    for (int i = 0; i < 60; ++i) {
        v1::ClientFrame ping;
        ping.mutable_ping()->set_nonce(quint64(i));
        flood += RawClient::masked(ws::Opcode::Binary, protocol::encode(ping));
    }
    clients[0]->write(flood);
    int pongs = 0;
    std::optional<v1::ServerFrame> frame;
    while ((frame = clients[0]->nextServerFrame(QDeadlineTimer(WaitMs))) && frame->has_pong())
        ++pongs;
    QVERIFY2(pongs >= 10 && pongs <= 21, qPrintable(QString::number(pongs)));
    QVERIFY(frame && frame->has_error());
    QCOMPARE(int(frame->error().code()), int(v1::RATE_LIMITED));
    const auto close = clients[0]->next(QDeadlineTimer(WaitMs));
    QVERIFY(close && close->opcode == ws::Opcode::Close);
    QCOMPARE(closeCodeOf(close->payload), int(v1::RATE_LIMITED));
    // The neighbour still gets its messages.
    QVERIFY(publish(bfgd, u"user:neighbour"_s, 1, 10));
    const auto message = clients[1]->nextServerFrame(QDeadlineTimer(WaitMs));
    QVERIFY(message && message->has_message());
    QCOMPARE(message->message().stream(), "user:neighbour");
}

void TestPushConnection::webSocketPingsCountAgainstTheLimit()
{
    // WebSocket pings are answered by the node's WebSocket layer, below the
    // protocol: a flood of them is limited like a flood of messages.
    BfgdProcess bfgd({u"--set"_s, u"push/inbound_frames_per_s=10"_s});
    QString error;
    QVERIFY2(bfgd.start(&error), qPrintable(error));
    const v1::AssignResponse assigned = assign(bfgd, u"pinger"_s);
    RawClient client;
    QVERIFY(client.connectTo(bfgd.pushUrl()));
    QVERIFY(client.upgrade(RawClient::hello(assigned.token())));
    const auto welcome = client.nextServerFrame(QDeadlineTimer(WaitMs));
    QVERIFY(welcome && welcome->has_welcome());
    QByteArray flood;
    for (int i = 0; i < 60; ++i)
        flood += RawClient::masked(ws::Opcode::Ping, QByteArray::number(i));
    client.write(flood);
    int pongs = 0;
    std::optional<RawClient::Frame> frame;
    while ((frame = client.next(QDeadlineTimer(WaitMs))) && frame->opcode == ws::Opcode::Pong)
        ++pongs;
    QVERIFY2(pongs >= 10 && pongs <= 21, qPrintable(QString::number(pongs)));
    v1::ServerFrame refusal;
    QVERIFY(frame && frame->opcode == ws::Opcode::Binary && protocol::decode(frame->payload, &refusal));
    QCOMPARE(int(refusal.error().code()), int(v1::RATE_LIMITED));
    const auto close = client.next(QDeadlineTimer(WaitMs));
    QVERIFY(close && close->opcode == ws::Opcode::Close);
    QCOMPARE(closeCodeOf(close->payload), int(v1::RATE_LIMITED));
}

void TestPushConnection::connectionsPerAddressAreLimited()
{
    // 2 a second (a burst of 4) from one address; others are not counted against it.
    BfgdProcess bfgd({u"--set"_s, u"push/connections_per_ip_per_s=2"_s});
    QString error;
    QVERIFY2(bfgd.start(&error), qPrintable(error));
    std::vector<std::unique_ptr<RawClient>> clients;
    int upgraded = 0, refused = 0;
    QElapsedTimer clock;
    clock.start();
    for (int i = 0; i < 10; ++i) {
        auto &client = clients.emplace_back(std::make_unique<RawClient>());
        QVERIFY(client->connectTo(bfgd.pushUrl()));
        client->write(RawClient::upgradeRequest());
        const QByteArray head = client->readResponseHead();
        upgraded += head.startsWith("HTTP/1.1 101 ") ? 1 : 0;
        refused += head.startsWith("HTTP/1.1 429 ") ? 1 : 0;
    }
    // The burst at once, then 2 a second: how many more depends on how long
    // the connects took (a loaded machine), the rest were refused.
    const int allowed = 4 + int(2 * clock.elapsed() / 1000) + 1;
    const QString counts = u"%1 upgraded, %2 refused, %3 allowed"_s.arg(upgraded).arg(refused).arg(allowed);
    QVERIFY2(upgraded >= 4 && upgraded <= allowed, qPrintable(counts));
    QVERIFY2(refused >= 10 - allowed, qPrintable(counts));
    QCOMPARE(upgraded + refused, 10);
    RawClient elsewhere;
    QVERIFY(elsewhere.connectTo(bfgd.pushUrl(), 0, QHostAddress(u"127.0.0.2"_s)));
    QVERIFY(elsewhere.upgrade());
}

void TestPushConnection::publishRequestsAreLimitedPerKey()
{
    BfgdProcess bfgd({u"--set"_s, u"push/publish_requests_per_s=2"_s, u"--set"_s,
                      u"push/publish_keys=busy-key-0123456789,calm-key-0123456789"_s});
    QString error;
    QVERIFY2(bfgd.start(&error), qPrintable(error));
    QUrl url = bfgd.publishUrl();
    url.setPath(u"/v1/publish"_s);
    auto publishWith = [&](const QByteArray &key) {
        return bfg::test::httpCall(m_network, {"POST",
                                               url,
                                               R"({"stream":"room:1","text":"x"})",
                                               "application/json",
                                               bfg::test::bearer(key),
                                               "application/json",
                                               {}});
    };
    int limited = 0;
    QElapsedTimer clock;
    clock.start();
    for (int i = 0; i < 6; ++i) {
        const auto result = publishWith("busy-key-0123456789");
        if (result.status == 429) {
            ++limited;
            QCOMPARE(result.errorCode(), u"rate_limited"_s);
            QVERIFY(result.retryAfter.toInt() >= 1);
        } else {
            QCOMPARE(result.status, 200);
        }
    }
    // A burst of 2, then 2 a second for as long as the requests took.
    const int allowed = 2 + int(2 * clock.elapsed() / 1000) + 1;
    QVERIFY2(limited >= 6 - allowed, qPrintable(u"%1 limited, %2 allowed"_s.arg(limited).arg(allowed)));
    QCOMPARE(publishWith("calm-key-0123456789").status, 200); // its own budget
}

void TestPushConnection::connectionsPerUserAreLimited_data()
{
    QTest::addColumn<QString>("policy");
    QTest::newRow("close the oldest") << u"close_oldest"_s;
    QTest::newRow("refuse the new") << u"refuse_new"_s;
}

void TestPushConnection::connectionsPerUserAreLimited()
{
    QFETCH(QString, policy);
    BfgdProcess bfgd({u"--set"_s, u"push/max_connections_per_user=2"_s, u"--set"_s,
                      u"push/connections_per_user_policy="_s + policy});
    QString error;
    QVERIFY2(bfgd.start(&error), qPrintable(error));
    auto open = [&](const QString &user) {
        auto client = std::make_unique<RawClient>();
        const v1::AssignResponse assigned = assign(bfgd, user);
        if (!client->connectTo(bfgd.pushUrl()) || !client->upgrade(RawClient::hello(assigned.token())))
            qWarning() << "no upgrade for" << user;
        return client;
    };
    auto welcomed = [](RawClient &client) {
        const auto frame = client.nextServerFrame(QDeadlineTimer(WaitMs));
        return frame && frame->has_welcome();
    };
    auto first = open(u"ann"_s);
    QVERIFY(welcomed(*first));
    auto second = open(u"ann"_s);
    QVERIFY(welcomed(*second));
    auto other = open(u"ben"_s); // another user is not counted against ann
    QVERIFY(welcomed(*other));
    auto third = open(u"ann"_s);
    if (policy == u"close_oldest"_s) {
        QVERIFY(welcomed(*third));
        verifyRefused(*first, v1::REPLACED);
        QVERIFY(publish(bfgd, u"user:ann"_s, 1, 10)); // both remaining sessions get it
        for (RawClient *client : {second.get(), third.get()}) {
            const auto message = client->nextServerFrame(QDeadlineTimer(WaitMs));
            QVERIFY(message && message->has_message());
            QCOMPARE(message->message().seq(), quint64(1));
        }
    } else {
        verifyRefused(*third, v1::TOO_MANY_CONNECTIONS);
        // Once one leaves, a new one is taken.
        first.reset();
        QTRY_VERIFY_WITH_TIMEOUT(welcomed(*open(u"ann"_s)), WaitMs);
    }
}

QTEST_GUILESS_MAIN(TestPushConnection)
#include "tst_pushconnection.moc"
