// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 BFG developers
//
// The WebSocket frames and the small rules around them (common/protocol.h):
// every frame kind survives encode/decode, bytes that are not a frame are
// refused, error codes fall in the range a client acts on, and names are
// validated the way the HTTP and WebSocket boundaries rely on.
#include <google/protobuf/stubs/logging.h>
#include <google/protobuf/util/message_differencer.h>

#include <QTest>

#include "bfg/v1/frames.pb.h"
#include "common/protocol.h"

using namespace Qt::Literals::StringLiterals;
namespace v1 = bfg::v1;
namespace protocol = bfg::protocol;

namespace {
v1::ServerFrame serverFrame(const QString &kind)
{
    v1::ServerFrame frame;
    if (kind == u"welcome"_s) {
        v1::Welcome *welcome = frame.mutable_welcome();
        welcome->set_session_id("node-a-0-17");
        welcome->set_node_id("node-a");
        welcome->set_heartbeat_interval_ms(25000);
        v1::StreamState *state = welcome->add_streams();
        state->set_stream("user:alice");
        state->set_epoch("9f3c2a");
        state->set_seq(41);
        state->set_recovered(true);
        state = welcome->add_streams();
        state->set_stream("room:lobby");
        state->set_epoch("77aa");
        state->set_seq(0);
        state->set_recovered(false);
    } else if (kind == u"message"_s) {
        v1::Message *message = frame.mutable_message();
        message->set_stream("user:alice");
        message->set_seq(42);
        message->set_epoch("9f3c2a");
        message->set_id("order-1001");
        message->set_publish_time_us(1'800'000'000'123'456);
        message->set_payload(std::string("\x00\x01\xff binary \xe2\x9c\x93", 14));
    } else if (kind == u"ping"_s) {
        frame.mutable_ping()->set_nonce(0xfedcba9876543210ULL);
    } else if (kind == u"pong"_s) {
        frame.mutable_pong()->set_nonce(7);
    } else if (kind == u"reconnect"_s) {
        v1::Reconnect *reconnect = frame.mutable_reconnect();
        reconnect->set_code(v1::DRAINING);
        reconnect->set_reason("node is draining");
        reconnect->set_retry_after_ms(1500);
    } else if (kind == u"error"_s) {
        frame.mutable_error()->set_code(v1::NOT_ENTITLED);
        frame.mutable_error()->set_text("the token does not grant stream user:bob");
    }
    return frame;
}

v1::ClientFrame clientFrame(const QString &kind)
{
    v1::ClientFrame frame;
    if (kind == u"hello"_s) {
        v1::Hello *hello = frame.mutable_hello();
        hello->set_token("eyJhbGciOiJIUzI1NiJ9.e30.c2ln");
        hello->set_client("bfg-probe/0.1");
        v1::StreamPosition *position = hello->add_positions();
        position->set_stream("user:alice");
        position->set_epoch("9f3c2a");
        position->set_seq(41);
    } else if (kind == u"first hello"_s) {
        frame.mutable_hello()->set_token("t");
    } else if (kind == u"ping"_s) {
        frame.mutable_ping()->set_nonce(123456789);
    } else if (kind == u"pong"_s) {
        frame.mutable_pong()->set_nonce(0xffffffffffffffffULL);
    }
    return frame;
}

QByteArray bytes(const char *data, qsizetype size)
{
    return QByteArray(data, size);
}

bool sameMessage(const google::protobuf::Message &a, const google::protobuf::Message &b)
{
    return google::protobuf::util::MessageDifferencer::Equals(a, b);
}
} // namespace

class TestFrames : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void serverFrameSurvivesEncodeDecode_data();
    void serverFrameSurvivesEncodeDecode();
    void clientFrameSurvivesEncodeDecode_data();
    void clientFrameSurvivesEncodeDecode();
    void garbageIsNotAClientFrame_data();
    void garbageIsNotAClientFrame();
    void framesWithoutKindDecodeAsEmpty_data();
    void framesWithoutKindDecodeAsEmpty();
    void errorFrameCarriesCodeAndText_data();
    void errorFrameCarriesCodeAndText();
    void codeRangeTellsWhetherToRetry_data();
    void codeRangeTellsWhetherToRetry();
    void userIdValidation_data();
    void userIdValidation();
    void streamNameValidation_data();
    void streamNameValidation();
    void userStreamIsPrefixed();
    void constantTimeEqualsComparesBytes_data();
    void constantTimeEqualsComparesBytes();
};

void TestFrames::serverFrameSurvivesEncodeDecode_data()
{
    QTest::addColumn<QString>("kind");
    QTest::addColumn<int>("kindCase");

    QTest::addRow("welcome") << u"welcome"_s << int(v1::ServerFrame::kWelcome);
    QTest::addRow("message with binary payload") << u"message"_s << int(v1::ServerFrame::kMessage);
    QTest::addRow("ping") << u"ping"_s << int(v1::ServerFrame::kPing);
    QTest::addRow("pong") << u"pong"_s << int(v1::ServerFrame::kPong);
    QTest::addRow("reconnect") << u"reconnect"_s << int(v1::ServerFrame::kReconnect);
    QTest::addRow("error") << u"error"_s << int(v1::ServerFrame::kError);
}

void TestFrames::serverFrameSurvivesEncodeDecode()
{
    QFETCH(QString, kind);
    QFETCH(int, kindCase);

    const v1::ServerFrame original = serverFrame(kind);
    QCOMPARE(int(original.kind_case()), kindCase);
    const QByteArray encoded = protocol::encode(original);
    QVERIFY(!encoded.isEmpty());
    QCOMPARE(encoded.size(), qsizetype(original.ByteSizeLong()));

    v1::ServerFrame decoded;
    QVERIFY(protocol::decode(encoded, &decoded));
    QCOMPARE(int(decoded.kind_case()), kindCase);
    QVERIFY2(sameMessage(original, decoded), decoded.DebugString().c_str());
}

void TestFrames::clientFrameSurvivesEncodeDecode_data()
{
    QTest::addColumn<QString>("kind");
    QTest::addColumn<int>("kindCase");

    QTest::addRow("hello with positions") << u"hello"_s << int(v1::ClientFrame::kHello);
    QTest::addRow("hello with token only") << u"first hello"_s << int(v1::ClientFrame::kHello);
    QTest::addRow("ping") << u"ping"_s << int(v1::ClientFrame::kPing);
    QTest::addRow("pong with the largest nonce") << u"pong"_s << int(v1::ClientFrame::kPong);
}

void TestFrames::clientFrameSurvivesEncodeDecode()
{
    QFETCH(QString, kind);
    QFETCH(int, kindCase);

    const v1::ClientFrame original = clientFrame(kind);
    const QByteArray encoded = protocol::encode(original);
    QVERIFY(!encoded.isEmpty());

    v1::ClientFrame decoded;
    QVERIFY(protocol::decode(encoded, &decoded));
    QCOMPARE(int(decoded.kind_case()), kindCase);
    QVERIFY2(sameMessage(original, decoded), decoded.DebugString().c_str());
    if (kind == u"hello"_s) {
        QCOMPARE(decoded.hello().positions_size(), 1);
        QCOMPARE(decoded.hello().positions(0).seq(), quint64(41));
        QCOMPARE(decoded.hello().positions(0).stream(), std::string("user:alice"));
    }
}

void TestFrames::garbageIsNotAClientFrame_data()
{
    QTest::addColumn<QByteArray>("bytes");

    QTest::addRow("truncated varint") << bytes("\x08\x80", 2);
    QTest::addRow("varint longer than ten bytes")
        << bytes("\x08\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01", 12);
    QTest::addRow("wire type 6") << bytes("\x0e\x01", 2);
    QTest::addRow("wire type 7") << bytes("\x0f\x01", 2);
    QTest::addRow("field number 0") << bytes("\x00\x01", 2);
    QTest::addRow("end group without start") << bytes("\x0c", 1);
    QTest::addRow("length beyond the buffer") << bytes("\x0a\x05\x0a\x01", 4);
    QTest::addRow("hello cut in the middle") << protocol::encode(clientFrame(u"hello"_s)).chopped(3);
    QTest::addRow("hello with a negative length") << bytes("\x0a\xff\xff\xff\xff\x0f", 6);
    QTest::addRow("token that is not UTF-8") << bytes("\x0a\x03\x0a\x01\xff", 5);
    QTest::addRow("text \"hello\"") << QByteArrayLiteral("hello");
    QTest::addRow("JSON hello") << QByteArrayLiteral(R"({"hello":{"token":"x"}})");
}

void TestFrames::garbageIsNotAClientFrame()
{
    QFETCH(QByteArray, bytes);

    const google::protobuf::LogSilencer quiet; // the UTF-8 row makes libprotobuf log an error
    v1::ClientFrame frame;
    QVERIFY2(!protocol::decode(bytes, &frame), frame.DebugString().c_str());
}

void TestFrames::framesWithoutKindDecodeAsEmpty_data()
{
    // These are valid protobuf but carry no kind: the push node must treat
    // them as a protocol violation by kind, not by decoding.
    QTest::addColumn<QByteArray>("bytes");

    QTest::addRow("empty") << QByteArray();
    QTest::addRow("unknown field 10") << bytes("\x50\x01", 2);
    QTest::addRow("unknown length-delimited field 15") << bytes("\x7a\x02hi", 4);
}

void TestFrames::framesWithoutKindDecodeAsEmpty()
{
    QFETCH(QByteArray, bytes);

    v1::ClientFrame frame;
    QVERIFY(protocol::decode(bytes, &frame));
    QCOMPARE(frame.kind_case(), v1::ClientFrame::KIND_NOT_SET);
}

void TestFrames::errorFrameCarriesCodeAndText_data()
{
    QTest::addColumn<int>("code");
    QTest::addColumn<QString>("text");

    QTest::addRow("protocol violation") << int(v1::PROTOCOL_VIOLATION) << u"frame is not a ClientFrame"_s;
    QTest::addRow("bad token") << int(v1::BAD_TOKEN) << u"token signature does not match"_s;
    QTest::addRow("non-ASCII text") << int(v1::NOT_ENTITLED) << u"naïve ✓ stream"_s;
    QTest::addRow("empty text") << int(v1::NODE_SHUTDOWN) << QString();
}

void TestFrames::errorFrameCarriesCodeAndText()
{
    QFETCH(int, code);
    QFETCH(QString, text);

    const QByteArray encoded = protocol::errorFrame(v1::ErrorCode(code), text);
    v1::ServerFrame frame;
    QVERIFY(protocol::decode(encoded, &frame));
    QCOMPARE(frame.kind_case(), v1::ServerFrame::kError);
    QCOMPARE(int(frame.error().code()), code);
    QCOMPARE(QString::fromStdString(frame.error().text()), text);
}

void TestFrames::codeRangeTellsWhetherToRetry_data()
{
    QTest::addColumn<int>("code");
    QTest::addColumn<bool>("retry");
    QTest::addColumn<bool>("terminal");

    QTest::addRow("3000 first retry code") << 3000 << true << false;
    QTest::addRow("3499 last retry code") << 3499 << true << false;
    QTest::addRow("3500 first terminal code") << 3500 << false << true;
    QTest::addRow("3999 last terminal code") << 3999 << false << true;
    QTest::addRow("2999 below the ranges") << 2999 << false << false;
    QTest::addRow("1000 normal WebSocket close") << 1000 << false << false;
    QTest::addRow("1009 WebSocket message too big") << 1009 << false << false;
    QTest::addRow("4000 above the ranges") << 4000 << false << false;
    QTest::addRow("0 unspecified") << 0 << false << false;
    QTest::addRow("-3000 negative") << -3000 << false << false;

    // Every named code sits in the range its comment in frames.proto promises.
    for (v1::ErrorCode code :
         {v1::NODE_SHUTDOWN, v1::DRAINING, v1::OVERLOADED, v1::SLOW_CONSUMER, v1::HEARTBEAT_TIMEOUT,
          v1::INTERNAL_ERROR, v1::RESUME_GAP, v1::HANDSHAKE_TIMEOUT})
        QTest::addRow("%s", v1::ErrorCode_Name(code).c_str()) << int(code) << true << false;
    for (v1::ErrorCode code : {v1::BAD_TOKEN, v1::TOKEN_EXPIRED, v1::NOT_ENTITLED, v1::PROTOCOL_VIOLATION,
                               v1::FRAME_TOO_LARGE, v1::BAD_REQUEST})
        QTest::addRow("%s", v1::ErrorCode_Name(code).c_str()) << int(code) << false << true;
}

void TestFrames::codeRangeTellsWhetherToRetry()
{
    QFETCH(int, code);
    QFETCH(bool, retry);
    QFETCH(bool, terminal);

    QCOMPARE(protocol::isRetryCode(code), retry);
    QCOMPARE(protocol::isTerminalCode(code), terminal);
}

void TestFrames::userIdValidation_data()
{
    QTest::addColumn<QString>("userId");
    QTest::addColumn<bool>("valid");

    QTest::addRow("plain name") << u"alice"_s << true;
    QTest::addRow("digits") << u"42"_s << true;
    QTest::addRow("one character") << u"a"_s << true;
    QTest::addRow("email-like") << u"trader.7@example.com"_s << true;
    QTest::addRow("dash and underscore") << u"desk-1_fx"_s << true;
    QTest::addRow("128 characters") << QString(128, u'x') << true;
    QTest::addRow("129 characters") << QString(129, u'x') << false;
    QTest::addRow("empty") << QString() << false;
    QTest::addRow("space") << u"bob smith"_s << false;
    QTest::addRow("colon") << u"user:bob"_s << false;
    QTest::addRow("slash") << u"a/b"_s << false;
    QTest::addRow("percent") << u"a%20b"_s << false;
    QTest::addRow("non-ASCII letter") << u"jörg"_s << false;
    QTest::addRow("trailing newline") << u"alice\n"_s << false;
    QTest::addRow("embedded newline") << u"ali\nce"_s << false;
    QTest::addRow("NUL") << QString(u"ali\0ce"_s) << false;
}

void TestFrames::userIdValidation()
{
    QFETCH(QString, userId);
    QFETCH(bool, valid);

    QCOMPARE(protocol::isValidUserId(userId), valid);
}

void TestFrames::streamNameValidation_data()
{
    QTest::addColumn<QString>("stream");
    QTest::addColumn<bool>("valid");

    QTest::addRow("user stream") << u"user:42"_s << true;
    QTest::addRow("fx feed") << u"fx:EURUSD"_s << true;
    QTest::addRow("room") << u"room:lobby"_s << true;
    QTest::addRow("colons in the name") << u"room:team:ops"_s << true;
    QTest::addRow("shortest, 3 characters") << u"a:b"_s << true;
    QTest::addRow("email user stream") << u"user:trader.7@example.com"_s << true;
    QTest::addRow("200 characters") << QString(u"user:"_s + QString(195, u'x')) << true;
    QTest::addRow("201 characters") << QString(u"user:"_s + QString(196, u'x')) << false;
    QTest::addRow("empty") << QString() << false;
    QTest::addRow("no colon") << u"lobby"_s << false;
    QTest::addRow("no kind") << u":lobby"_s << false;
    QTest::addRow("no name") << u"room:"_s << false;
    QTest::addRow("space") << u"user:bob smith"_s << false;
    QTest::addRow("slash") << u"user:../bob"_s << false;
    QTest::addRow("wildcard") << u"user:*"_s << false;
    QTest::addRow("non-ASCII") << u"user:jörg"_s << false;
    QTest::addRow("trailing newline") << u"user:bob\n"_s << false;
}

void TestFrames::streamNameValidation()
{
    QFETCH(QString, stream);
    QFETCH(bool, valid);

    QCOMPARE(protocol::isValidStreamName(stream), valid);
}

void TestFrames::userStreamIsPrefixed()
{
    QCOMPARE(protocol::userStream(u"alice"_s), u"user:alice"_s);
    QVERIFY(protocol::isValidStreamName(protocol::userStream(u"trader.7@example.com"_s)));
}

void TestFrames::constantTimeEqualsComparesBytes_data()
{
    QTest::addColumn<QByteArray>("a");
    QTest::addColumn<QByteArray>("b");
    QTest::addColumn<bool>("equal");

    QTest::addRow("same") << QByteArrayLiteral("s3cret-key") << QByteArrayLiteral("s3cret-key") << true;
    QTest::addRow("both empty") << QByteArray() << QByteArray() << true;
    QTest::addRow("last byte differs")
        << QByteArrayLiteral("s3cret-key") << QByteArrayLiteral("s3cret-kez") << false;
    QTest::addRow("first byte differs")
        << QByteArrayLiteral("s3cret-key") << QByteArrayLiteral("t3cret-key") << false;
    QTest::addRow("prefix") << QByteArrayLiteral("s3cret") << QByteArrayLiteral("s3cret-key") << false;
    QTest::addRow("empty against non-empty") << QByteArray() << QByteArrayLiteral("x") << false;
    QTest::addRow("embedded NUL") << bytes("a\0b", 3) << bytes("a\0c", 3) << false;
}

void TestFrames::constantTimeEqualsComparesBytes()
{
    QFETCH(QByteArray, a);
    QFETCH(QByteArray, b);
    QFETCH(bool, equal);

    QCOMPARE(protocol::constantTimeEquals(a, b), equal);
    QCOMPARE(protocol::constantTimeEquals(b, a), equal);
}

QTEST_GUILESS_MAIN(TestFrames)
#include "tst_frames.moc"
