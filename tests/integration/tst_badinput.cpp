// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 BFG developers
//
// "Nothing a client sends crashes a daemon" (DESIGN.md, "Wire formats"):
// a real bfgd gets malformed HTTP requests, WebSocket frames and raw bytes,
// answers each with the documented error (JSON {"error": {"code",
// "message"}} with the right status; an Error frame and the matching close
// code), and a well-behaved client connected all along still gets its
// messages.
#include <QFile>
#include <QJsonDocument>
#include <QJsonObject>
#include <QNetworkAccessManager>
#include <QNetworkReply>
#include <QNetworkRequest>
#include <QTcpSocket>
#include <QTest>
#include <QWebSocket>

#include "bfg/v1/api.pb.h"
#include "bfg/v1/frames.pb.h"
#include "common/protocol.h"
#include "common/token.h"
#include "tests/support/bfgdprocess.h"
#include "tests/support/testhttp.h"

using namespace Qt::Literals::StringLiterals;
namespace v1 = bfg::v1;
namespace protocol = bfg::protocol;

namespace {
constexpr int WaitMs = 10000;
constexpr int HandshakeTimeoutMs = 2000; // short, so that a silent client is cut off quickly
const QByteArray JsonType = QByteArrayLiteral("application/json");
const QByteArray ProtobufType = QByteArrayLiteral("application/x-protobuf");

using bfg::test::HttpResult;

// A WebSocket client that records every ServerFrame and how the node closed.
class WsClient : public QObject
{
public:
    WsClient()
    {
        connect(&m_socket, &QWebSocket::connected, this, [this] { m_connected = true; });
        connect(&m_socket, &QWebSocket::disconnected, this, [this] {
            m_closed = true;
            m_closeCode = int(m_socket.closeCode());
            m_framesAtClose = m_frames.size();
        });
        connect(&m_socket, &QWebSocket::textMessageReceived, this,
                [this](const QString &) { ++m_textFrames; });
        connect(&m_socket, &QWebSocket::binaryMessageReceived, this, [this](const QByteArray &bytes) {
            v1::ServerFrame frame;
            if (!protocol::decode(bytes, &frame)) {
                ++m_undecodable;
                return;
            }
            if (frame.kind_case() == v1::ServerFrame::kPing) {
                v1::ClientFrame pong;
                pong.mutable_pong()->set_nonce(frame.ping().nonce());
                m_socket.sendBinaryMessage(protocol::encode(pong));
                return;
            }
            m_frames.push_back(frame);
        });
    }

    void open(const QUrl &url) { m_socket.open(url); }
    QWebSocket &socket() { return m_socket; }

    void sendHello(const QByteArray &token, const QList<std::pair<QString, quint64>> &positions = {})
    {
        v1::ClientFrame frame;
        v1::Hello *hello = frame.mutable_hello();
        hello->set_token(token.toStdString());
        hello->set_client("tst_badinput");
        for (const auto &[stream, seq] : positions) {
            v1::StreamPosition *position = hello->add_positions();
            position->set_stream(stream.toStdString());
            position->set_epoch("0");
            position->set_seq(seq);
        }
        m_socket.sendBinaryMessage(protocol::encode(frame));
    }

    bool isConnected() const { return m_connected; }
    bool isClosed() const { return m_closed; }
    int closeCode() const { return m_closeCode; }
    const std::vector<v1::ServerFrame> &frames() const { return m_frames; }
    size_t framesAtClose() const { return m_framesAtClose; }
    int undecodable() const { return m_undecodable; }
    int textFrames() const { return m_textFrames; }

    bool hasFrame(v1::ServerFrame::KindCase kind) const
    {
        return std::any_of(m_frames.begin(), m_frames.end(),
                           [kind](const v1::ServerFrame &f) { return f.kind_case() == kind; });
    }

private:
    QWebSocket m_socket;
    std::vector<v1::ServerFrame> m_frames;
    bool m_connected = false;
    bool m_closed = false;
    int m_closeCode = -1;
    size_t m_framesAtClose = 0;
    int m_undecodable = 0;
    int m_textFrames = 0;
};

QByteArray errorCode(const QByteArray &jsonBody)
{
    return QJsonDocument::fromJson(jsonBody)
        .object()
        .value(u"error"_s)
        .toObject()
        .value(u"code"_s)
        .toString()
        .toUtf8();
}
} // namespace

class TestBadInput : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void initTestCase();
    void cleanupTestCase();

    void httpErrorsAreJsonWithTheRightStatus_data();
    void httpErrorsAreJsonWithTheRightStatus();
    void badWebSocketInputGetsErrorFrameAndCloseCode_data();
    void badWebSocketInputGetsErrorFrameAndCloseCode();
    void secondHelloIsAProtocolViolation();
    void frameAboveTwiceTheLimitIsCutOff();
    void wrongWebSocketPathIsABadRequest();
    void silentClientIsClosedAfterTheHandshakeTimeout();
    void rawGarbageOnEveryPortIsSurvived_data();
    void rawGarbageOnEveryPortIsSurvived();
    // Runs last: the client connected in initTestCase saw all of the above.
    void goodClientIsUnaffectedByBadInput();

private:
    bool http(const QByteArray &method, const QUrl &url, const QByteArray &contentType,
              const QByteArray &body, HttpResult *result,
              const QList<std::pair<QByteArray, QByteArray>> &headers = {});
    bool assign(const QString &user, v1::AssignResponse *response);
    QByteArray signWithNodeSecret(const bfg::TokenClaims &claims) const;
    QUrl baseUrl(const QString &role) const;

    bfg::test::BfgdProcess m_bfgd{{u"--set"_s, u"push/handshake_timeout_ms=%1"_s.arg(HandshakeTimeoutMs)}};
    QNetworkAccessManager m_network;
    QByteArray m_secret;
    QByteArray m_aliceToken;
    WsClient m_good;
};

bool TestBadInput::http(const QByteArray &method, const QUrl &url, const QByteArray &contentType,
                        const QByteArray &body, HttpResult *result,
                        const QList<std::pair<QByteArray, QByteArray>> &headers)
{
    bfg::test::HttpCall call;
    call.method = method;
    call.url = url;
    call.body = body;
    call.contentType = contentType;
    call.headers = headers;
    *result = bfg::test::httpCall(m_network, call, WaitMs);
    return result->finished;
}

bool TestBadInput::assign(const QString &user, v1::AssignResponse *response)
{
    QUrl url = baseUrl(u"decision"_s);
    url.setPath(u"/v1/assign"_s);
    url.setQuery(u"user="_s + user);
    // Until the node's first report arrives the answer is 503: ask again.
    return QTest::qWaitFor(
        [&] {
            HttpResult result;
            return http("GET", url, {}, {}, &result, {{"Accept", ProtobufType}}) && result.status == 200 &&
                   protocol::decode(result.body, response) && !response->token().empty();
        },
        15000);
}

QByteArray TestBadInput::signWithNodeSecret(const bfg::TokenClaims &claims) const
{
    return bfg::TokenSigner(m_secret).sign(claims);
}

QUrl TestBadInput::baseUrl(const QString &role) const
{
    return role == u"decision"_s ? m_bfgd.decisionUrl() : m_bfgd.publishUrl();
}

void TestBadInput::initTestCase()
{
    QString error;
    QVERIFY2(m_bfgd.start(&error), qPrintable(error));
    QVERIFY(m_bfgd.decisionUrl().isValid());
    QVERIFY(m_bfgd.pushUrl().isValid());
    QVERIFY(m_bfgd.publishUrl().isValid());

    // bfgd made its secret in the data directory on first start; the tests
    // sign tokens that are valid but wrong in one other respect with it.
    QFile secret(m_bfgd.dataDir() + u"/secret"_s);
    QVERIFY2(secret.open(QIODevice::ReadOnly), qPrintable(secret.errorString()));
    m_secret = secret.readAll().trimmed();
    QVERIFY(m_secret.size() >= 16);

    v1::AssignResponse good;
    QVERIFY2(assign(u"good"_s, &good), "the decision server never assigned a node");
    QCOMPARE(QUrl(QString::fromStdString(good.uri())), m_bfgd.pushUrl());
    m_good.open(QUrl(QString::fromStdString(good.uri())));
    QTRY_VERIFY_WITH_TIMEOUT(m_good.isConnected(), WaitMs);
    m_good.sendHello(QByteArray::fromStdString(good.token()));
    QTRY_VERIFY_WITH_TIMEOUT(m_good.hasFrame(v1::ServerFrame::kWelcome), WaitMs);
    const v1::Welcome &welcome = m_good.frames().front().welcome();
    QCOMPARE(welcome.streams_size(), 1);
    QCOMPARE(welcome.streams(0).stream(), std::string("user:good"));

    v1::AssignResponse alice;
    QVERIFY(assign(u"alice"_s, &alice));
    m_aliceToken = QByteArray::fromStdString(alice.token());
}

void TestBadInput::cleanupTestCase()
{
    m_good.socket().close();
    if (m_bfgd.isRunning())
        QCOMPARE(m_bfgd.stop(), 0); // a graceful exit, not a crash
}

void TestBadInput::httpErrorsAreJsonWithTheRightStatus_data()
{
    QTest::addColumn<QString>("role"); // decision or publish
    QTest::addColumn<QByteArray>("method");
    QTest::addColumn<QString>("path");
    QTest::addColumn<QByteArray>("contentType");
    QTest::addColumn<QByteArray>("body");
    QTest::addColumn<QByteArray>("authorization");
    QTest::addColumn<int>("status");
    QTest::addColumn<QByteArray>("code");

    const QString d = u"decision"_s;
    const QString p = u"publish"_s;
    const QByteArray none;

    // Routing.
    QTest::addRow("decision: unknown path") << d << QByteArray("GET") << u"/v1/nothing-here"_s << none << none
                                            << none << 404 << QByteArray("not_found");
    QTest::addRow("decision: root") << d << QByteArray("GET") << u"/"_s << none << none << none << 404
                                    << QByteArray("not_found");
    QTest::addRow("decision: extra segment") << d << QByteArray("GET") << u"/v1/assign/extra"_s << none
                                             << none << none << 404 << QByteArray("not_found");
    QTest::addRow("publish: unknown path") << p << QByteArray("GET") << u"/v2/publish"_s << none << none
                                           << none << 404 << QByteArray("not_found");
    QTest::addRow("decision: POST assign")
        << d << QByteArray("POST") << u"/v1/assign?user=a"_s << JsonType << QByteArray("{}") << none << 405
        << QByteArray("method_not_allowed");
    QTest::addRow("decision: DELETE assign") << d << QByteArray("DELETE") << u"/v1/assign"_s << none << none
                                             << none << 405 << QByteArray("method_not_allowed");
    QTest::addRow("decision: GET report") << d << QByteArray("GET") << u"/v1/nodes/x/report"_s << none << none
                                          << none << 405 << QByteArray("method_not_allowed");
    QTest::addRow("publish: GET publish") << p << QByteArray("GET") << u"/v1/publish"_s << none << none
                                          << none << 405 << QByteArray("method_not_allowed");
    QTest::addRow("publish: PUT publish")
        << p << QByteArray("PUT") << u"/v1/publish"_s << JsonType << QByteArray("{}") << none << 405
        << QByteArray("method_not_allowed");

    // Assign.
    QTest::addRow("assign without user") << d << QByteArray("GET") << u"/v1/assign"_s << none << none << none
                                         << 400 << QByteArray("bad_request");
    QTest::addRow("assign with empty user") << d << QByteArray("GET") << u"/v1/assign?user="_s << none << none
                                            << none << 400 << QByteArray("bad_request");
    QTest::addRow("assign with space in user") << d << QByteArray("GET") << u"/v1/assign?user=bob%20smith"_s
                                               << none << none << none << 400 << QByteArray("bad_request");
    QTest::addRow("assign with colon in user") << d << QByteArray("GET") << u"/v1/assign?user=user:bob"_s
                                               << none << none << none << 400 << QByteArray("bad_request");
    QTest::addRow("assign with invalid UTF-8 user")
        << d << QByteArray("GET") << u"/v1/assign?user=%FF%FE"_s << none << none << none << 400
        << QByteArray("bad_request");
    QTest::addRow("assign with 129-character user")
        << d << QByteArray("GET") << QString(u"/v1/assign?user="_s + QString(129, u'u')) << none << none
        << none << 400 << QByteArray("bad_request");
    QTest::addRow("assign with newline after user")
        << d << QByteArray("GET") << u"/v1/assign?user=alice%0A"_s << none << none << none << 400
        << QByteArray("bad_request");
    QTest::addRow("assign with 300-character affinity")
        << d << QByteArray("GET") << QString(u"/v1/assign?user=a&affinity="_s + QString(300, u'k')) << none
        << none << none << 400 << QByteArray("bad_request");

    // Node reports.
    const QByteArray reportBody(R"({"node_id":"x","uri":"ws://127.0.0.1:1/v1/ws"})");
    QTest::addRow("report without authorization")
        << d << QByteArray("POST") << u"/v1/nodes/x/report"_s << JsonType << reportBody << none << 401
        << QByteArray("unauthorized");
    QTest::addRow("report with a garbage bearer token")
        << d << QByteArray("POST") << u"/v1/nodes/x/report"_s << JsonType << reportBody
        << QByteArray("Bearer garbage.garbage.garbage") << 401 << QByteArray("unauthorized");
    QTest::addRow("report with basic auth")
        << d << QByteArray("POST") << u"/v1/nodes/x/report"_s << JsonType << reportBody
        << QByteArray("Basic eDp5") << 401 << QByteArray("unauthorized");
    QTest::addRow("report with a connect token")
        << d << QByteArray("POST") << u"/v1/nodes/x/report"_s << JsonType << reportBody
        << QByteArray("Bearer @connect:x") << 403 << QByteArray("forbidden");
    QTest::addRow("report with another node's token")
        << d << QByteArray("POST") << u"/v1/nodes/x/report"_s << JsonType << reportBody
        << QByteArray("Bearer @node:y") << 403 << QByteArray("forbidden");
    QTest::addRow("report with a garbage JSON body")
        << d << QByteArray("POST") << u"/v1/nodes/x/report"_s << JsonType << QByteArray("{not json")
        << QByteArray("Bearer @node:x") << 400 << QByteArray("bad_request");
    QTest::addRow("report with a garbage protobuf body")
        << d << QByteArray("POST") << u"/v1/nodes/x/report"_s << ProtobufType << QByteArray("\x0f\x01\xff", 3)
        << QByteArray("Bearer @node:x") << 400 << QByteArray("bad_request");
    QTest::addRow("report body above 64 KiB")
        << d << QByteArray("POST") << u"/v1/nodes/x/report"_s << JsonType << QByteArray(70 * 1024, ' ')
        << QByteArray("Bearer @node:x") << 413 << QByteArray("body_too_large");

    // Publish.
    const QByteArray pub("POST");
    const QString publishPath = u"/v1/publish"_s;
    QTest::addRow("publish malformed JSON")
        << p << pub << publishPath << JsonType << QByteArray(R"({"stream":"user:good","text":)") << none
        << 400 << QByteArray("bad_request");
    QTest::addRow("publish empty body")
        << p << pub << publishPath << JsonType << none << none << 400 << QByteArray("bad_request");
    QTest::addRow("publish JSON array")
        << p << pub << publishPath << JsonType << QByteArray(R"(["user:good"])") << none << 400
        << QByteArray("bad_request");
    QTest::addRow("publish without text or payload_b64")
        << p << pub << publishPath << JsonType << QByteArray(R"({"stream":"user:good"})") << none << 400
        << QByteArray("bad_request");
    QTest::addRow("publish with both text and payload_b64")
        << p << pub << publishPath << JsonType
        << QByteArray(R"({"stream":"user:good","text":"a","payload_b64":"YQ=="})") << none << 400
        << QByteArray("bad_request");
    QTest::addRow("publish with text not a string")
        << p << pub << publishPath << JsonType << QByteArray(R"({"stream":"user:good","text":42})") << none
        << 400 << QByteArray("bad_request");
    QTest::addRow("publish with invalid base64")
        << p << pub << publishPath << JsonType << QByteArray(R"({"stream":"user:good","payload_b64":"***"})")
        << none << 400 << QByteArray("bad_request");
    QTest::addRow("publish without stream")
        << p << pub << publishPath << JsonType << QByteArray(R"({"text":"hello"})") << none << 400
        << QByteArray("bad_request");
    QTest::addRow("publish to an invalid stream name")
        << p << pub << publishPath << JsonType << QByteArray(R"({"stream":"user good","text":"x"})") << none
        << 400 << QByteArray("bad_request");
    QTest::addRow("publish to a stream without kind")
        << p << pub << publishPath << JsonType << QByteArray(R"({"stream":"good","text":"x"})") << none << 400
        << QByteArray("bad_request");
    QTest::addRow("publish with empty items")
        << p << pub << publishPath << JsonType << QByteArray(R"({"items":[]})") << none << 400
        << QByteArray("bad_request");
    QTest::addRow("publish with items not objects")
        << p << pub << publishPath << JsonType << QByteArray(R"({"items":[1,2]})") << none << 400
        << QByteArray("bad_request");
    // All or nothing: the good client must not see the first item.
    QTest::addRow("publish batch with one invalid stream")
        << p << pub << publishPath << JsonType
        << QByteArray(R"({"items":[{"stream":"user:good","text":"must not arrive"},)"
                      R"({"stream":"bad name","text":"x"}]})")
        << none << 400 << QByteArray("bad_request");
    QTest::addRow("publish with a 129-character id")
        << p << pub << publishPath << JsonType
        << QByteArray(R"({"stream":"user:good","text":"x","id":")" + QByteArray(129, 'i') + R"("})") << none
        << 400 << QByteArray("bad_request");
    QTest::addRow("publish payload above the frame limit")
        << p << pub << publishPath << JsonType
        << QByteArray(R"({"stream":"user:good","text":")" + QByteArray(65536, 'x') + R"("})") << none << 413
        << QByteArray("payload_too_large");
    QTest::addRow("publish garbage protobuf")
        << p << pub << publishPath << ProtobufType << QByteArray("\x0a\x05\x0a\x01", 4) << none << 400
        << QByteArray("bad_request");
    QTest::addRow("publish protobuf with invalid wire type")
        << p << pub << publishPath << ProtobufType << QByteArray("\x0f\x01\xff\xff", 4) << none << 400
        << QByteArray("bad_request");
    QTest::addRow("publish protobuf without items")
        << p << pub << publishPath << ProtobufType << none << none << 400 << QByteArray("bad_request");
    {
        v1::PublishRequest request;
        v1::PublishItem *item = request.add_items();
        item->set_stream("no-kind");
        item->set_payload("x");
        QTest::addRow("publish protobuf to an invalid stream name")
            << p << pub << publishPath << ProtobufType << protocol::encode(request) << none << 400
            << QByteArray("bad_request");
    }
}

void TestBadInput::httpErrorsAreJsonWithTheRightStatus()
{
    QFETCH(QString, role);
    QFETCH(QByteArray, method);
    QFETCH(QString, path);
    QFETCH(QByteArray, contentType);
    QFETCH(QByteArray, body);
    QFETCH(QByteArray, authorization);
    QFETCH(int, status);
    QFETCH(QByteArray, code);

    // "@scope:subject": a token signed with the node's own secret.
    if (authorization.startsWith("Bearer @")) {
        const QList<QByteArray> parts = authorization.mid(8).split(':');
        bfg::TokenClaims claims;
        claims.scope = QString::fromLatin1(parts[0]);
        claims.subject = QString::fromLatin1(parts[1]);
        claims.issuedAt = protocol::nowMs() / 1000;
        claims.expiresAt = claims.issuedAt + 60;
        authorization = "Bearer " + signWithNodeSecret(claims);
    }
    QList<std::pair<QByteArray, QByteArray>> headers;
    if (!authorization.isEmpty())
        headers.append({"Authorization", authorization});

    const QUrl url(baseUrl(role).toString() + path);
    HttpResult result;
    QVERIFY2(http(method, url, contentType, body, &result, headers), "no answer");
    QCOMPARE(result.status, status);
    QVERIFY2(result.contentType.startsWith(JsonType), result.contentType.constData());
    QJsonParseError parseError;
    const QJsonDocument document = QJsonDocument::fromJson(result.body, &parseError);
    QVERIFY2(parseError.error == QJsonParseError::NoError, result.body.constData());
    const QJsonObject error = document.object().value(u"error"_s).toObject();
    QVERIFY2(error.value(u"code"_s).isString(), result.body.constData());
    QVERIFY2(error.value(u"message"_s).isString(), result.body.constData());
    QVERIFY(!error.value(u"message"_s).toString().isEmpty());
    QCOMPARE(errorCode(result.body), code);
}

void TestBadInput::badWebSocketInputGetsErrorFrameAndCloseCode_data()
{
    QTest::addColumn<QString>("action");
    QTest::addColumn<int>("code");

    QTest::addRow("garbage binary frame") << u"garbage"_s << int(v1::PROTOCOL_VIOLATION);
    QTest::addRow("empty binary frame") << u"empty"_s << int(v1::PROTOCOL_VIOLATION);
    QTest::addRow("text frame") << u"text"_s << int(v1::PROTOCOL_VIOLATION);
    QTest::addRow("ping before hello") << u"ping"_s << int(v1::PROTOCOL_VIOLATION);
    QTest::addRow("pong before hello") << u"pong"_s << int(v1::PROTOCOL_VIOLATION);
    QTest::addRow("hello with a garbage token") << u"garbage token"_s << int(v1::BAD_TOKEN);
    QTest::addRow("hello with an empty token") << u"empty token"_s << int(v1::BAD_TOKEN);
    QTest::addRow("hello with another secret's token") << u"foreign token"_s << int(v1::TOKEN_TAMPERED);
    QTest::addRow("hello with a node token") << u"node token"_s << int(v1::WRONG_SCOPE);
    QTest::addRow("hello with an expired token") << u"expired token"_s << int(v1::TOKEN_EXPIRED);
    QTest::addRow("hello resuming another user's stream") << u"not entitled"_s << int(v1::NOT_ENTITLED);
    QTest::addRow("frame above max_frame_bytes") << u"oversized"_s << int(v1::FRAME_TOO_LARGE);
}

void TestBadInput::badWebSocketInputGetsErrorFrameAndCloseCode()
{
    QFETCH(QString, action);
    QFETCH(int, code);

    WsClient client;
    client.open(m_bfgd.pushUrl());
    QTRY_VERIFY_WITH_TIMEOUT(client.isConnected(), WaitMs);

    const qint64 now = protocol::nowMs() / 1000;
    bfg::TokenClaims claims;
    claims.subject = u"mallory"_s;
    claims.scope = bfg::TokenSigner::ConnectScope;
    claims.streams = {u"user:mallory"_s};
    claims.issuedAt = now;
    claims.expiresAt = now + 60;

    if (action == u"garbage"_s) {
        client.socket().sendBinaryMessage(QByteArray("\x0f\x01garbage\xff\xff", 11));
    } else if (action == u"empty"_s) {
        client.socket().sendBinaryMessage(QByteArray());
    } else if (action == u"text"_s) {
        client.socket().sendTextMessage(uR"({"hello":{"token":"x"}})"_s);
    } else if (action == u"ping"_s) {
        v1::ClientFrame frame;
        frame.mutable_ping()->set_nonce(1);
        client.socket().sendBinaryMessage(protocol::encode(frame));
    } else if (action == u"pong"_s) {
        v1::ClientFrame frame;
        frame.mutable_pong()->set_nonce(1);
        client.socket().sendBinaryMessage(protocol::encode(frame));
    } else if (action == u"garbage token"_s) {
        client.sendHello("not-a-token");
    } else if (action == u"empty token"_s) {
        client.sendHello({});
    } else if (action == u"foreign token"_s) {
        client.sendHello(bfg::TokenSigner("a-secret-this-node-never-had-0123").sign(claims));
    } else if (action == u"node token"_s) {
        claims.scope = bfg::TokenSigner::NodeScope;
        client.sendHello(signWithNodeSecret(claims));
    } else if (action == u"expired token"_s) {
        claims.issuedAt = now - 120;
        claims.expiresAt = now - 60;
        client.sendHello(signWithNodeSecret(claims));
    } else if (action == u"not entitled"_s) {
        client.sendHello(m_aliceToken, {{u"user:alice"_s, 0}, {u"user:bob"_s, 0}});
    } else if (action == u"oversized"_s) {
        // Between max_frame_bytes (64 KiB) and twice it: refused by the node,
        // not cut off by the WebSocket layer.
        client.socket().sendBinaryMessage(QByteArray(100000, '\x01'));
    } else {
        QFAIL("unknown action");
    }

    QTRY_VERIFY_WITH_TIMEOUT(client.isClosed(), WaitMs);
    QCOMPARE(client.undecodable(), 0);
    QCOMPARE(client.textFrames(), 0);
    QCOMPARE(client.frames().size(), size_t(1)); // no welcome, no message: only the error
    QCOMPARE(client.framesAtClose(), size_t(1)); // and it came before the close
    const v1::ServerFrame &frame = client.frames().front();
    QCOMPARE(frame.kind_case(), v1::ServerFrame::kError);
    QCOMPARE(int(frame.error().code()), code);
    QVERIFY(!frame.error().text().empty());
    QCOMPARE(client.closeCode(), code);
    QVERIFY(protocol::isTerminalCode(client.closeCode()));
}

void TestBadInput::secondHelloIsAProtocolViolation()
{
    v1::AssignResponse response;
    QVERIFY(assign(u"twice"_s, &response));
    WsClient client;
    client.open(m_bfgd.pushUrl());
    QTRY_VERIFY_WITH_TIMEOUT(client.isConnected(), WaitMs);
    client.sendHello(QByteArray::fromStdString(response.token()));
    QTRY_VERIFY_WITH_TIMEOUT(client.hasFrame(v1::ServerFrame::kWelcome), WaitMs);

    client.sendHello(QByteArray::fromStdString(response.token()));
    QTRY_VERIFY_WITH_TIMEOUT(client.isClosed(), WaitMs);
    QCOMPARE(client.frames().size(), size_t(2));
    QCOMPARE(client.frames().back().kind_case(), v1::ServerFrame::kError);
    QCOMPARE(client.frames().back().error().code(), v1::PROTOCOL_VIOLATION);
    QCOMPARE(client.closeCode(), int(v1::PROTOCOL_VIOLATION));
}

void TestBadInput::frameAboveTwiceTheLimitIsCutOff()
{
    // Above twice max_frame_bytes the WebSocket layer refuses the frame
    // before the node reads it: closed with 1009 (message too big).
    WsClient client;
    client.open(m_bfgd.pushUrl());
    QTRY_VERIFY_WITH_TIMEOUT(client.isConnected(), WaitMs);
    client.socket().sendBinaryMessage(QByteArray(300000, '\x02'));
    QTRY_VERIFY_WITH_TIMEOUT(client.isClosed(), WaitMs);
    QVERIFY(!client.hasFrame(v1::ServerFrame::kWelcome));
    QCOMPARE(client.closeCode(), int(QWebSocketProtocol::CloseCodeTooMuchData));
}

void TestBadInput::wrongWebSocketPathIsABadRequest()
{
    QUrl url = m_bfgd.pushUrl();
    url.setPath(u"/v2/ws"_s);
    WsClient client;
    client.open(url);
    QTRY_VERIFY_WITH_TIMEOUT(client.isClosed(), WaitMs);
    QCOMPARE(client.frames().size(), size_t(1));
    QCOMPARE(client.frames().front().error().code(), v1::BAD_REQUEST);
    QCOMPARE(client.closeCode(), int(v1::BAD_REQUEST));
}

void TestBadInput::silentClientIsClosedAfterTheHandshakeTimeout()
{
    WsClient client;
    client.open(m_bfgd.pushUrl());
    QTRY_VERIFY_WITH_TIMEOUT(client.isConnected(), WaitMs);
    // No hello: the node closes with a retry code once the timeout passed.
    QTRY_VERIFY_WITH_TIMEOUT(client.isClosed(), HandshakeTimeoutMs + WaitMs);
    QCOMPARE(client.closeCode(), int(v1::HANDSHAKE_TIMEOUT));
    QVERIFY(protocol::isRetryCode(client.closeCode()));
    QVERIFY(!client.hasFrame(v1::ServerFrame::kWelcome));
}

void TestBadInput::rawGarbageOnEveryPortIsSurvived_data()
{
    QTest::addColumn<QString>("port");
    QTest::addColumn<QByteArray>("bytes");

    const QByteArray tlsHello("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n", 15);
    const QByteArray badRequestLine("GARBAGE / HTTP/9.9\r\nHost: x\r\n\r\n");
    const QByteArray binary = QByteArray(4096, '\xff') + "\r\n\r\n";
    for (const QString &port : {u"decision"_s, u"push"_s, u"publish"_s}) {
        QTest::addRow("%s: TLS hello", qPrintable(port)) << port << tlsHello;
        QTest::addRow("%s: bad request line", qPrintable(port)) << port << badRequestLine;
        QTest::addRow("%s: binary", qPrintable(port)) << port << binary;
    }
}

void TestBadInput::rawGarbageOnEveryPortIsSurvived()
{
    QFETCH(QString, port);
    QFETCH(QByteArray, bytes);

    const QUrl url = port == u"decision"_s ? m_bfgd.decisionUrl()
                     : port == u"push"_s   ? m_bfgd.pushUrl()
                                           : m_bfgd.publishUrl();
    QTcpSocket socket;
    socket.connectToHost(url.host(), quint16(url.port()));
    QTRY_COMPARE_WITH_TIMEOUT(socket.state(), QAbstractSocket::ConnectedState, WaitMs);
    socket.write(bytes);
    // The node answers with an error or hangs up (at the latest after its
    // handshake timeout); it must not crash or keep the connection forever.
    QTRY_VERIFY_WITH_TIMEOUT(socket.state() == QAbstractSocket::UnconnectedState ||
                                 socket.bytesAvailable() > 0,
                             HandshakeTimeoutMs + WaitMs);
    socket.abort();
    QVERIFY2(m_bfgd.isRunning(), m_bfgd.output().right(2000).constData());
}

void TestBadInput::goodClientIsUnaffectedByBadInput()
{
    QVERIFY2(m_bfgd.isRunning(), m_bfgd.output().right(2000).constData());
    QVERIFY(!m_good.isClosed());

    QUrl url = m_bfgd.publishUrl();
    url.setPath(u"/v1/publish"_s);
    HttpResult result;
    QVERIFY(http("POST", url, JsonType, R"({"stream":"user:good","text":"still here"})", &result));
    QCOMPARE(result.status, 200);
    const QJsonObject published = QJsonDocument::fromJson(result.body).object();
    QCOMPARE(published.value(u"stream"_s).toString(), u"user:good"_s);
    // Seq 1: none of the refused publishes above left a message behind.
    QCOMPARE(published.value(u"seq"_s).toInteger(), qint64(1));

    QTRY_VERIFY_WITH_TIMEOUT(m_good.hasFrame(v1::ServerFrame::kMessage), WaitMs);
    std::vector<v1::Message> messages;
    for (const v1::ServerFrame &frame : m_good.frames()) {
        QVERIFY2(frame.kind_case() != v1::ServerFrame::kError, frame.DebugString().c_str());
        if (frame.kind_case() == v1::ServerFrame::kMessage)
            messages.push_back(frame.message());
    }
    QCOMPARE(messages.size(), size_t(1));
    QCOMPARE(messages.front().stream(), std::string("user:good"));
    QCOMPARE(messages.front().seq(), quint64(1));
    QCOMPARE(QByteArray::fromStdString(messages.front().payload()), QByteArray("still here"));
    QVERIFY(!m_good.isClosed());

    // The decision server still assigns, too.
    v1::AssignResponse after;
    QVERIFY(assign(u"after"_s, &after));
    QVERIFY2(m_bfgd.isRunning(), m_bfgd.output().right(2000).constData());
}

QTEST_GUILESS_MAIN(TestBadInput)
#include "tst_badinput.moc"
