// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 BFG developers
//
// The server's half of RFC 6455 (common/websocket.h): the frames a push node
// sends carry their length in the shortest form and no mask, close reasons
// are cut where UTF-8 allows, upgrade requests as Qt and browsers send them
// are accepted and anything else is refused with the status a client acts
// on, and the frame reader reports each client message exactly once however
// the bytes arrive, refusing what the RFC forbids with the close code to send.
#include <QCryptographicHash>
#include <QRandomGenerator>
#include <QStringDecoder>
#include <QTest>

#include "common/websocket.h"

namespace websocket = bfg::websocket;
using websocket::FrameReader;
using websocket::Opcode;
using Event = FrameReader::Event;

namespace {
// The message size limit of the readers under test, unless a row says otherwise.
constexpr qint64 MaxMessage = 65536;
constexpr qsizetype MaxControlPayload = 125;
constexpr qsizetype MaxCloseReason = 123;

// The nonce of RFC 6455 section 1.3 and the accept key it must give.
const QByteArray RfcKey = QByteArrayLiteral("dGhlIHNhbXBsZSBub25jZQ==");
const QByteArray RfcAccept = QByteArrayLiteral("s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");

// UTF-8 characters of each encoded length, for cuts at the close reason limit.
const QByteArray TwoByteChar = QByteArrayLiteral("\xc3\xa9");          // é
const QByteArray ThreeByteChar = QByteArrayLiteral("\xe2\x82\xac");    // €
const QByteArray FourByteChar = QByteArrayLiteral("\xf0\x9f\x98\x80"); // 😀

QByteArray bytes(const char *data, qsizetype size)
{
    return QByteArray(data, size);
}

// Bytes 0, 1, 2, ... wrapping at 251, so that a payload shifted or cut shows.
QByteArray pattern(qsizetype size)
{
    QByteArray out(size, Qt::Uninitialized);
    for (qsizetype i = 0; i < size; ++i)
        out[i] = char(i % 251);
    return out;
}

// Parts one after the other (a QTest row takes a QByteArray, not a QStringBuilder).
QByteArray concat(std::initializer_list<QByteArrayView> parts)
{
    QByteArray out;
    for (const QByteArrayView part : parts)
        out.append(part);
    return out;
}

QByteArray closePayload(int code, QByteArrayView reason = {})
{
    QByteArray out;
    out.append(char((code >> 8) & 0xFF));
    out.append(char(code & 0xFF));
    out.append(reason);
    return out;
}

// A frame header: the first byte as given, the length in the shortest form.
QByteArray frameHeader(quint8 firstByte, quint64 length, bool masked)
{
    const int maskBit = masked ? 0x80 : 0;
    QByteArray out;
    out.append(char(firstByte));
    if (length < 126) {
        out.append(char(maskBit | int(length)));
    } else if (length <= 0xFFFF) {
        out.append(char(maskBit | 126));
        out.append(char((length >> 8) & 0xFF));
        out.append(char(length & 0xFF));
    } else {
        out.append(char(maskBit | 127));
        for (int shift = 56; shift >= 0; shift -= 8)
            out.append(char((length >> shift) & 0xFF));
    }
    return out;
}

// A fresh masking key per frame, as a client draws them; seeded, so that a
// failure repeats.
QByteArray nextMaskKey()
{
    static QRandomGenerator generator(6455);
    QByteArray key(4, Qt::Uninitialized);
    const quint32 bits = generator.generate();
    for (int i = 0; i < 4; ++i)
        key[i] = char((bits >> (8 * i)) & 0xFF);
    return key;
}

// A client frame with any first byte (FIN, RSV bits, opcode), masked as RFC
// 6455 5.3 requires unless `masked` is false.
QByteArray rawFrame(quint8 firstByte, QByteArrayView payload, bool masked = true)
{
    QByteArray out = frameHeader(firstByte, quint64(payload.size()), masked);
    if (!masked) {
        out.append(payload);
        return out;
    }
    const QByteArray key = nextMaskKey();
    out.append(key);
    for (qsizetype i = 0; i < payload.size(); ++i)
        out.append(char(payload[i] ^ key[i % 4]));
    return out;
}

QByteArray clientFrame(Opcode opcode, QByteArrayView payload, bool fin = true)
{
    return rawFrame(quint8((fin ? 0x80 : 0x00) | quint8(opcode)), payload);
}

// The header of a masked frame declaring `length` bytes, mask key included:
// what arrives before any of the payload.
QByteArray headerOnly(quint8 firstByte, quint64 length)
{
    return frameHeader(firstByte, length, true) + nextMaskKey();
}

// What a FrameReader handler was called with.
struct Report
{
    Event event = Event::Error;
    int code = 0;
    QByteArray payload;
};

const char *eventName(Event event)
{
    switch (event) {
    case Event::Text:
        return "Text";
    case Event::Binary:
        return "Binary";
    case Event::Ping:
        return "Ping";
    case Event::Pong:
        return "Pong";
    case Event::Close:
        return "Close";
    case Event::Error:
        return "Error";
    }
    return "?";
}

// One line per report that tells every byte apart (long payloads by their
// SHA-1) and reads well in a failed comparison.
QByteArray describe(const QList<Report> &reports)
{
    QByteArrayList lines;
    for (const Report &report : reports) {
        QByteArray line = QByteArray(eventName(report.event)) + ' ' + QByteArray::number(report.code) + ' ';
        if (report.payload.size() <= 48) {
            line += '"';
            for (const char c : report.payload) {
                if (c >= 0x20 && c < 0x7F && c != '"' && c != '\\')
                    line += c;
                else
                    line += "\\x" + QByteArray::number(quint8(c), 16).rightJustified(2, '0');
            }
            line += '"';
        } else {
            line += '[' + QByteArray::number(report.payload.size()) + " bytes, sha1 " +
                    QCryptographicHash::hash(report.payload, QCryptographicHash::Sha1).toHex().left(16) + ']';
        }
        lines.append(line);
    }
    return '{' + lines.join("; ") + '}';
}

class Recorder
{
public:
    FrameReader::Handler handler()
    {
        return [this](Event event, int code, QByteArrayView payload) {
            m_reports.append({event, code, payload.toByteArray()});
        };
    }
    const QList<Report> &reports() const { return m_reports; }

private:
    QList<Report> m_reports;
};

// An upgrade request head: the lines joined with CRLF and the blank line.
QByteArray requestHead(const QByteArrayList &lines)
{
    return lines.join("\r\n") + "\r\n\r\n";
}

// What QWebSocket (Qt 6) sends to ws://push.example.com:8443/ws?token=abc.
QByteArrayList qtRequestLines()
{
    return {"GET /ws?token=abc HTTP/1.1", "Host: push.example.com:8443",  "Upgrade: websocket",
            "Connection: Upgrade",        "Sec-WebSocket-Key: " + RfcKey, "Sec-WebSocket-Version: 13"};
}

// The Qt request with the line that starts with `prefix` replaced by
// `replacement`, or dropped when `replacement` is empty.
QByteArray qtRequestWith(const QByteArray &prefix, const QByteArray &replacement)
{
    QByteArrayList lines;
    bool found = false;
    for (const QByteArray &line : qtRequestLines()) {
        if (!line.startsWith(prefix)) {
            lines.append(line);
            continue;
        }
        found = true;
        if (!replacement.isEmpty())
            lines.append(replacement);
    }
    Q_ASSERT(found);
    return requestHead(lines);
}
} // namespace

Q_DECLARE_METATYPE(Report)

class TestWebSocket : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void frameHasShortestLengthAndNoMask_data();
    void frameHasShortestLengthAndNoMask();
    void payloadOfRefusesWhatIsNotOneServerFrame_data();
    void payloadOfRefusesWhatIsNotOneServerFrame();
    void closeFrameCutsReasonAtCharacterBoundary_data();
    void closeFrameCutsReasonAtCharacterBoundary();

    void acceptKeyMatchesKnownAnswers_data();
    void acceptKeyMatchesKnownAnswers();
    void requestHeadEndFindsTheBlankLine_data();
    void requestHeadEndFindsTheBlankLine();
    void upgradeFromRealClientsIsAccepted_data();
    void upgradeFromRealClientsIsAccepted();
    void upgradeIsRefusedWithStatus_data();
    void upgradeIsRefusedWithStatus();
    void upgradeResponseCarriesAcceptKey();
    void errorResponseIsCompleteAndCloses_data();
    void errorResponseIsCompleteAndCloses();

    void readerReportsMessagesFedAtOnce_data();
    void readerReportsMessagesFedAtOnce();
    void readerReportsMessagesFedByteByByte_data();
    void readerReportsMessagesFedByteByByte();
    void readerReportsMessagesSplitAnywhere_data();
    void readerReportsMessagesSplitAnywhere();
    void readerChecksCloseCodes_data();
    void readerChecksCloseCodes();
    void readerFailsWithCloseCode_data();
    void readerFailsWithCloseCode();
    void readerFailsOnceFedByteByByte_data();
    void readerFailsOnceFedByteByByte();
    void bufferedBytesCountsAPartialFrame();
    void bufferedBytesCountsAnUnfinishedMessage();

private:
    static void addMessageRows();
    static void addFailureRows();
};

void TestWebSocket::frameHasShortestLengthAndNoMask_data()
{
    QTest::addColumn<Opcode>("opcode");
    QTest::addColumn<int>("payloadSize");
    QTest::addColumn<QByteArray>("header");

    QTest::addRow("empty binary") << Opcode::Binary << 0 << bytes("\x82\x00", 2);
    QTest::addRow("text, 5 bytes") << Opcode::Text << 5 << bytes("\x81\x05", 2);
    QTest::addRow("binary, 125 bytes: last 7-bit length") << Opcode::Binary << 125 << bytes("\x82\x7d", 2);
    QTest::addRow("binary, 126 bytes: first 16-bit length")
        << Opcode::Binary << 126 << bytes("\x82\x7e\x00\x7e", 4);
    QTest::addRow("binary, 65535 bytes: last 16-bit length")
        << Opcode::Binary << 65535 << bytes("\x82\x7e\xff\xff", 4);
    QTest::addRow("binary, 65536 bytes: first 64-bit length")
        << Opcode::Binary << 65536 << bytes("\x82\x7f\x00\x00\x00\x00\x00\x01\x00\x00", 10);
    QTest::addRow("text, 70000 bytes")
        << Opcode::Text << 70000 << bytes("\x81\x7f\x00\x00\x00\x00\x00\x01\x11\x70", 10);
    QTest::addRow("empty ping") << Opcode::Ping << 0 << bytes("\x89\x00", 2);
    QTest::addRow("pong, 125 bytes") << Opcode::Pong << 125 << bytes("\x8a\x7d", 2);
    QTest::addRow("close, 2 bytes") << Opcode::Close << 2 << bytes("\x88\x02", 2);
}

void TestWebSocket::frameHasShortestLengthAndNoMask()
{
    QFETCH(Opcode, opcode);
    QFETCH(int, payloadSize);
    QFETCH(QByteArray, header);

    const QByteArray payload = pattern(payloadSize);
    const QByteArray built = websocket::frame(opcode, payload);
    QCOMPARE(built.size(), header.size() + payloadSize);
    QCOMPARE(built.first(header.size()), header);
    QVERIFY2(quint8(built[0]) & 0x80, "FIN must be set");
    QVERIFY2(!(quint8(built[1]) & 0x80), "a server frame must not be masked");
    QCOMPARE(built.sliced(header.size()), payload);

    const QByteArrayView unwrapped = websocket::payloadOf(built);
    QCOMPARE(unwrapped.size(), qsizetype(payloadSize));
    QCOMPARE(unwrapped.toByteArray(), payload);
}

void TestWebSocket::payloadOfRefusesWhatIsNotOneServerFrame_data()
{
    QTest::addColumn<QByteArray>("bytes");

    const QByteArray small = websocket::frame(Opcode::Binary, "hello");
    const QByteArray medium = websocket::frame(Opcode::Binary, pattern(300));
    const QByteArray large = websocket::frame(Opcode::Binary, pattern(70000));

    QTest::addRow("nothing") << QByteArray();
    QTest::addRow("first byte only") << small.first(1);
    QTest::addRow("last payload byte missing") << small.chopped(1);
    QTest::addRow("one byte too many") << concat({small, "x"});
    QTest::addRow("two frames") << concat({small, small});
    QTest::addRow("16-bit length cut") << medium.first(3);
    QTest::addRow("16-bit length frame without its last byte") << medium.chopped(1);
    QTest::addRow("64-bit length cut") << large.first(6);
    QTest::addRow("64-bit length frame without its last byte") << large.chopped(1);
    QTest::addRow("header only") << large.first(10);
    QByteArray maskBitSet = small;
    maskBitSet[1] = char(maskBitSet[1] | 0x80);
    QTest::addRow("mask bit set, length otherwise right") << maskBitSet;
    QTest::addRow("masked (a client frame)") << clientFrame(Opcode::Binary, "hello");
    QTest::addRow("masked, empty payload") << clientFrame(Opcode::Ping, {});
}

void TestWebSocket::payloadOfRefusesWhatIsNotOneServerFrame()
{
    QFETCH(QByteArray, bytes);

    QVERIFY(websocket::payloadOf(bytes).isEmpty());
}

void TestWebSocket::closeFrameCutsReasonAtCharacterBoundary_data()
{
    QTest::addColumn<int>("code");
    QTest::addColumn<QByteArray>("codeBytes");
    QTest::addColumn<QByteArray>("reason");
    QTest::addColumn<QByteArray>("keptReason");

    const QByteArray a122 = QByteArray(122, 'a');
    const QByteArray a121 = QByteArray(121, 'a');
    const QByteArray a120 = QByteArray(120, 'a');
    const QByteArray a119 = QByteArray(119, 'a');

    QTest::addRow("1000, no reason") << 1000 << bytes("\x03\xe8", 2) << QByteArray() << QByteArray();
    QTest::addRow("1001 with a reason")
        << 1001 << bytes("\x03\xe9", 2) << QByteArray("node is draining") << QByteArray("node is draining");
    QTest::addRow("1009") << 1009 << bytes("\x03\xf1", 2) << QByteArray("too big") << QByteArray("too big");
    QTest::addRow("3000") << 3000 << bytes("\x0b\xb8", 2) << QByteArray("x") << QByteArray("x");
    QTest::addRow("4999") << 4999 << bytes("\x13\x87", 2) << QByteArray("y") << QByteArray("y");
    QTest::addRow("ASCII, exactly 123 bytes")
        << 1000 << bytes("\x03\xe8", 2) << QByteArray(123, 'r') << QByteArray(123, 'r');
    QTest::addRow("ASCII, 124 bytes")
        << 1000 << bytes("\x03\xe8", 2) << QByteArray(124, 'r') << QByteArray(123, 'r');
    QTest::addRow("ASCII, 300 bytes")
        << 1000 << bytes("\x03\xe8", 2) << pattern(300).toHex() << pattern(300).toHex().first(123);
    QTest::addRow("2-byte character across the limit")
        << 1000 << bytes("\x03\xe8", 2) << concat({a122, TwoByteChar, "tail"}) << a122;
    QTest::addRow("2-byte character ending at the limit")
        << 1000 << bytes("\x03\xe8", 2) << concat({a121, TwoByteChar, "tail"}) << concat({a121, TwoByteChar});
    QTest::addRow("3-byte character, two bytes past the limit")
        << 1000 << bytes("\x03\xe8", 2) << concat({a121, ThreeByteChar, "tail"}) << a121;
    QTest::addRow("3-byte character, one byte past the limit")
        << 1000 << bytes("\x03\xe8", 2) << concat({a122, ThreeByteChar}) << a122;
    QTest::addRow("3-byte character ending at the limit")
        << 1000 << bytes("\x03\xe8", 2) << concat({a120, ThreeByteChar, "tail"})
        << concat({a120, ThreeByteChar});
    QTest::addRow("4-byte character, one byte past the limit")
        << 1000 << bytes("\x03\xe8", 2) << concat({a120, FourByteChar}) << a120;
    QTest::addRow("4-byte character ending at the limit")
        << 1000 << bytes("\x03\xe8", 2) << concat({a119, FourByteChar, "tail"})
        << concat({a119, FourByteChar});
    QTest::addRow("2-byte characters only")
        << 1000 << bytes("\x03\xe8", 2) << TwoByteChar.repeated(100) << TwoByteChar.repeated(61);
    QTest::addRow("3-byte characters only")
        << 1000 << bytes("\x03\xe8", 2) << ThreeByteChar.repeated(50) << ThreeByteChar.repeated(41);
    QTest::addRow("4-byte characters only")
        << 1000 << bytes("\x03\xe8", 2) << FourByteChar.repeated(40) << FourByteChar.repeated(30);
}

void TestWebSocket::closeFrameCutsReasonAtCharacterBoundary()
{
    QFETCH(int, code);
    QFETCH(QByteArray, codeBytes);
    QFETCH(QByteArray, reason);
    QFETCH(QByteArray, keptReason);

    const QByteArray built = websocket::closeFrame(code, reason);
    QCOMPARE(quint8(built[0]), quint8(0x88)); // FIN, close
    const QByteArray payload = websocket::payloadOf(built).toByteArray();
    QCOMPARE(payload.size(), 2 + keptReason.size());
    QVERIFY(payload.size() <= MaxControlPayload);
    QCOMPARE(payload.first(2), codeBytes);
    QCOMPARE(payload.sliced(2), keptReason);

    // Whatever was kept is a prefix of the reason and still valid UTF-8.
    QVERIFY(keptReason.size() <= MaxCloseReason);
    QVERIFY(reason.startsWith(keptReason));
    QStringDecoder decoder(QStringDecoder::Utf8);
    const QString text = decoder.decode(payload.sliced(2));
    QVERIFY(!decoder.hasError());
    QCOMPARE(text.toUtf8(), keptReason);
}

void TestWebSocket::acceptKeyMatchesKnownAnswers_data()
{
    QTest::addColumn<QByteArray>("key");
    QTest::addColumn<QByteArray>("accept");

    QTest::addRow("RFC 6455 section 1.3") << RfcKey << RfcAccept;
    QTest::addRow("another key") << QByteArray("x3JJHMbDL1EzLkh9GBhXDw==")
                                 << QByteArray("HSmrc0sMlYUkAGmm5OPpG2HaGWk=");
}

void TestWebSocket::acceptKeyMatchesKnownAnswers()
{
    QFETCH(QByteArray, key);
    QFETCH(QByteArray, accept);

    QCOMPARE(websocket::acceptKey(key), accept);
}

void TestWebSocket::requestHeadEndFindsTheBlankLine_data()
{
    QTest::addColumn<QByteArray>("bytes");
    QTest::addColumn<qsizetype>("end");

    const QByteArray head = requestHead(qtRequestLines());
    QTest::addRow("nothing yet") << QByteArray() << qsizetype(-1);
    QTest::addRow("request line only") << QByteArray("GET /ws HTTP/1.1\r\n") << qsizetype(-1);
    QTest::addRow("blank line not complete") << head.chopped(1) << qsizetype(-1);
    QTest::addRow("blank line missing") << head.chopped(2) << qsizetype(-1);
    QTest::addRow("whole head") << head << head.size();
    QTest::addRow("head and the first frame behind it")
        << concat({head, clientFrame(Opcode::Binary, "\r\n\r\n")}) << head.size();
    QTest::addRow("blank line alone") << QByteArray("\r\n\r\n") << qsizetype(4);
}

void TestWebSocket::requestHeadEndFindsTheBlankLine()
{
    QFETCH(QByteArray, bytes);
    QFETCH(qsizetype, end);

    QCOMPARE(websocket::requestHeadEnd(bytes), end);
}

void TestWebSocket::upgradeFromRealClientsIsAccepted_data()
{
    QTest::addColumn<QByteArray>("head");
    QTest::addColumn<QByteArray>("path");
    QTest::addColumn<QByteArray>("key");

    QTest::addRow("QWebSocket") << requestHead(qtRequestLines()) << QByteArray("/ws") << RfcKey;
    QTest::addRow("Firefox: keep-alive, Upgrade")
        << requestHead({"GET /ws?token=eyJhbGciOiJIUzI1NiJ9.e30.c2ln&resume=1 HTTP/1.1",
                        "Host: push.example.com",
                        "User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Firefox/128.0", "Accept: */*",
                        "Accept-Language: en-US,en;q=0.5", "Accept-Encoding: gzip, deflate, br",
                        "Sec-WebSocket-Version: 13", "Origin: https://app.example.com",
                        "Sec-WebSocket-Extensions: permessage-deflate",
                        "Sec-WebSocket-Key: x3JJHMbDL1EzLkh9GBhXDw==", "Connection: keep-alive, Upgrade",
                        "Sec-Fetch-Dest: empty", "Sec-Fetch-Mode: websocket", "Sec-Fetch-Site: same-site",
                        "Pragma: no-cache", "Cache-Control: no-cache", "Upgrade: websocket"})
        << QByteArray("/ws") << QByteArray("x3JJHMbDL1EzLkh9GBhXDw==");
    QTest::addRow("Chrome") << requestHead(
                                   {"GET / HTTP/1.1", "Host: localhost:8080", "Connection: Upgrade",
                                    "Pragma: no-cache", "Cache-Control: no-cache",
                                    "User-Agent: Mozilla/5.0 Chrome/126.0.0.0 Safari/537.36",
                                    "Upgrade: websocket", "Origin: http://localhost:8080",
                                    "Sec-WebSocket-Version: 13", "Accept-Encoding: gzip, deflate, br, zstd",
                                    "Accept-Language: en-US,en;q=0.9", "Sec-WebSocket-Key: " + RfcKey,
                                    "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits"})
                            << QByteArray("/") << RfcKey;
    QTest::addRow("header names in lower case")
        << requestHead({"GET /push/v1?x=1 HTTP/1.1", "host: h", "upgrade: websocket",
                        "connection: keep-alive, upgrade", "sec-websocket-key: " + RfcKey,
                        "sec-websocket-version: 13"})
        << QByteArray("/push/v1") << RfcKey;
    QTest::addRow("header names and values in odd case")
        << requestHead({"GET /ws HTTP/1.1", "HOST: h", "UPGRADE: WebSocket",
                        "CONNECTION: Keep-Alive, UPGRADE", "SEC-WEBSOCKET-KEY: " + RfcKey,
                        "Sec-Websocket-Version: 13"})
        << QByteArray("/ws") << RfcKey;
    QTest::addRow("no space after colons, spaces around values")
        << requestHead({"GET /ws HTTP/1.1", "Host:h", "Upgrade:websocket", "Connection:keep-alive,Upgrade",
                        "Sec-WebSocket-Key:  " + RfcKey + " ", "Sec-WebSocket-Version:13 "})
        << QByteArray("/ws") << RfcKey;
    QTest::addRow("Connection over two lines")
        << requestHead({"GET /ws HTTP/1.1", "Host: h", "Upgrade: websocket", "Connection: keep-alive",
                        "Connection: Upgrade", "Sec-WebSocket-Key: " + RfcKey, "Sec-WebSocket-Version: 13"})
        << QByteArray("/ws") << RfcKey;
    QTest::addRow("query with a second question mark")
        << qtRequestWith("GET ", "GET /ws/a?b=1?c=2 HTTP/1.1") << QByteArray("/ws/a") << RfcKey;
    QTest::addRow("root with a query")
        << qtRequestWith("GET ", "GET /?token=abc HTTP/1.1") << QByteArray("/") << RfcKey;
    QTest::addRow("key with + and /")
        << qtRequestWith("Sec-WebSocket-Key", "Sec-WebSocket-Key: +/+/+/+/+/+/+/+/+/+/+w==")
        << QByteArray("/ws") << QByteArray("+/+/+/+/+/+/+/+/+/+/+w==");
}

void TestWebSocket::upgradeFromRealClientsIsAccepted()
{
    QFETCH(QByteArray, head);
    QFETCH(QByteArray, path);
    QFETCH(QByteArray, key);

    QCOMPARE(websocket::requestHeadEnd(head), head.size());
    const websocket::UpgradeRequest request = websocket::parseUpgradeRequest(head);
    QVERIFY2(request.ok, request.error.constData());
    QCOMPARE(request.status, 101);
    QCOMPARE(request.path, path);
    QCOMPARE(request.key, key);
    QVERIFY(websocket::upgradeResponse(request).contains(
        QByteArray("Sec-WebSocket-Accept: " + websocket::acceptKey(key))));
}

void TestWebSocket::upgradeIsRefusedWithStatus_data()
{
    QTest::addColumn<QByteArray>("head");
    QTest::addColumn<int>("status");

    QTest::addRow("POST") << qtRequestWith("GET ", "POST /ws HTTP/1.1") << 405;
    QTest::addRow("HEAD") << qtRequestWith("GET ", "HEAD /ws HTTP/1.1") << 405;
    QTest::addRow("HTTP/1.0") << qtRequestWith("GET ", "GET /ws HTTP/1.0") << 400;
    QTest::addRow("HTTP/2.0") << qtRequestWith("GET ", "GET /ws HTTP/2.0") << 400;
    QTest::addRow("version without HTTP/") << qtRequestWith("GET ", "GET /ws 1.1") << 400;
    QTest::addRow("request line of two words") << qtRequestWith("GET ", "GET /ws") << 400;
    QTest::addRow("request line of four words") << qtRequestWith("GET ", "GET /ws HTTP/1.1 extra") << 400;
    QTest::addRow("garbage request line") << requestHead({"hello there"}) << 400;
    QTest::addRow("binary garbage") << bytes("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n", 15)
                                    << 400;
    QTest::addRow("blank line only") << QByteArray("\r\n\r\n") << 400;
    QTest::addRow("no Upgrade header") << qtRequestWith("Upgrade:", {}) << 426;
    QTest::addRow("Upgrade: h2c") << qtRequestWith("Upgrade:", "Upgrade: h2c") << 426;
    QTest::addRow("no Connection header") << qtRequestWith("Connection:", {}) << 426;
    QTest::addRow("Connection: keep-alive only")
        << qtRequestWith("Connection:", "Connection: keep-alive") << 426;
    QTest::addRow("upgrade only inside another token")
        << qtRequestWith("Connection:", "Connection: keep-alive, x-upgrade") << 426;
    QTest::addRow("no version") << qtRequestWith("Sec-WebSocket-Version:", {}) << 426;
    QTest::addRow("version 8") << qtRequestWith("Sec-WebSocket-Version:", "Sec-WebSocket-Version: 8") << 426;
    QTest::addRow("version 14") << qtRequestWith("Sec-WebSocket-Version:", "Sec-WebSocket-Version: 14")
                                << 426;
    QTest::addRow("no key") << qtRequestWith("Sec-WebSocket-Key:", {}) << 400;
    QTest::addRow("empty key") << qtRequestWith("Sec-WebSocket-Key:", "Sec-WebSocket-Key:") << 400;
    QTest::addRow("key of 15 bytes") << qtRequestWith("Sec-WebSocket-Key:",
                                                      "Sec-WebSocket-Key: AAAAAAAAAAAAAAAAAAAA")
                                     << 400;
    QTest::addRow("key of 17 bytes") << qtRequestWith("Sec-WebSocket-Key:",
                                                      "Sec-WebSocket-Key: AAAAAAAAAAAAAAAAAAAAAAA=")
                                     << 400;
    QTest::addRow("key that is not base64")
        << qtRequestWith("Sec-WebSocket-Key:", "Sec-WebSocket-Key: not a websocket key!") << 400;
    QTest::addRow("16-byte key with a character outside base64")
        << qtRequestWith("Sec-WebSocket-Key:", "Sec-WebSocket-Key: dGhlIHNhbXBs*ZSBub25jZQ==") << 400;
    QTest::addRow("two keys") << requestHead(qtRequestLines()
                                             << "Sec-WebSocket-Key: x3JJHMbDL1EzLkh9GBhXDw==")
                              << 400;
    QTest::addRow("header line without a colon") << qtRequestWith("Host:", "Host push.example.com") << 400;
    QTest::addRow("header line starting with a colon") << qtRequestWith("Host:", ": push.example.com") << 400;
}

void TestWebSocket::upgradeIsRefusedWithStatus()
{
    QFETCH(QByteArray, head);
    QFETCH(int, status);

    const websocket::UpgradeRequest request = websocket::parseUpgradeRequest(head);
    QVERIFY(!request.ok);
    QCOMPARE(request.status, status);
    QVERIFY(!request.error.isEmpty());
    QVERIFY(websocket::errorResponse(request.status, request.error)
                .startsWith(QByteArray("HTTP/1.1 " + QByteArray::number(status) + ' ')));
}

void TestWebSocket::upgradeResponseCarriesAcceptKey()
{
    const websocket::UpgradeRequest request = websocket::parseUpgradeRequest(requestHead(qtRequestLines()));
    QVERIFY(request.ok);

    const QByteArray response = websocket::upgradeResponse(request);
    QVERIFY(response.startsWith("HTTP/1.1 101 Switching Protocols\r\n"));
    QVERIFY(response.contains(QByteArray("\r\nSec-WebSocket-Accept: " + RfcAccept + "\r\n")));
    QVERIFY(response.contains("\r\nUpgrade: websocket\r\n"));
    QVERIFY(response.contains("\r\nConnection: Upgrade\r\n"));
    QVERIFY(!response.contains("Sec-WebSocket-Extensions"));        // no deflate: frames go out as built
    QCOMPARE(websocket::requestHeadEnd(response), response.size()); // nothing after the head
}

void TestWebSocket::errorResponseIsCompleteAndCloses_data()
{
    QTest::addColumn<int>("status");
    QTest::addColumn<QByteArray>("text");

    QTest::addRow("400") << 400 << QByteArray("Sec-WebSocket-Key is not 16 bytes of base64");
    QTest::addRow("404") << 404 << QByteArray("no such path");
    QTest::addRow("405") << 405 << QByteArray("a WebSocket upgrade is a GET");
    QTest::addRow("426") << 426 << QByteArray("this port speaks WebSocket only");
    QTest::addRow("431") << 431 << QByteArray("request head too large");
    QTest::addRow("503") << 503 << QByteArray("node is draining");
    QTest::addRow("non-ASCII text") << 400 << concat({"na", TwoByteChar, "ve ", ThreeByteChar});
    QTest::addRow("empty text") << 503 << QByteArray();
}

void TestWebSocket::errorResponseIsCompleteAndCloses()
{
    QFETCH(int, status);
    QFETCH(QByteArray, text);

    const QByteArray response = websocket::errorResponse(status, text);
    const qsizetype headEnd = websocket::requestHeadEnd(response);
    QVERIFY(headEnd > 0);

    const QByteArrayList lines = response.first(headEnd - 4).split('\n');
    QVERIFY(lines.front().startsWith(QByteArray("HTTP/1.1 " + QByteArray::number(status) + ' ')));
    QVERIFY(lines.front().size() > QByteArray("HTTP/1.1 400 \r").size()); // a reason phrase
    QMultiMap<QByteArray, QByteArray> headers;
    for (qsizetype i = 0; i < lines.size(); ++i) {
        QByteArray line = lines[i];
        if (i + 1 < lines.size()) {
            QVERIFY2(line.endsWith('\r'), "every line ends with CRLF");
            line.chop(1);
        }
        QVERIFY(!line.contains('\r'));
        if (i == 0)
            continue;
        const qsizetype colon = line.indexOf(':');
        QVERIFY2(colon > 0, line.constData());
        headers.insert(line.first(colon).toLower(), line.sliced(colon + 1).trimmed());
    }

    const QByteArray body = response.sliced(headEnd);
    QCOMPARE(headers.values("content-length"), QByteArrayList{QByteArray::number(body.size())});
    QCOMPARE(headers.value("connection").toLower(), QByteArray("close"));
    QVERIFY(headers.value("content-type").startsWith("text/plain"));
    QVERIFY(body.contains(text));
    if (status == 426)
        QCOMPARE(headers.values("sec-websocket-version"), QByteArrayList{"13"});
    else
        QVERIFY(!headers.contains("sec-websocket-version"));
}

void TestWebSocket::addMessageRows()
{
    QTest::addColumn<QByteArray>("input");
    QTest::addColumn<QList<Report>>("expected");

    const QByteArray text = QByteArray("h") + TwoByteChar + "llo, w" + ThreeByteChar + "rld " + FourByteChar;
    const QByteArray binary = bytes("\x00\x01\xff\xfe\x80\x7f binary", 13);

    QTest::addRow("binary message") << clientFrame(Opcode::Binary, binary)
                                    << QList<Report>{{Event::Binary, 0, binary}};
    QTest::addRow("text message") << clientFrame(Opcode::Text, text) << QList<Report>{{Event::Text, 0, text}};
    QTest::addRow("empty binary message")
        << clientFrame(Opcode::Binary, {}) << QList<Report>{{Event::Binary, 0, {}}};
    QTest::addRow("empty text message")
        << clientFrame(Opcode::Text, {}) << QList<Report>{{Event::Text, 0, {}}};
    for (const qsizetype size : {qsizetype(125), qsizetype(126), qsizetype(65535), qsizetype(MaxMessage)}) {
        QTest::addRow("binary message of %lld bytes", qlonglong(size))
            << clientFrame(Opcode::Binary, pattern(size)) << QList<Report>{{Event::Binary, 0, pattern(size)}};
    }
    QTest::addRow("several frames in one buffer")
        << concat({clientFrame(Opcode::Text, "one"), clientFrame(Opcode::Binary, "two"),
                   clientFrame(Opcode::Ping, "3"), clientFrame(Opcode::Text, "four")})
        << QList<Report>{{Event::Text, 0, "one"},
                         {Event::Binary, 0, "two"},
                         {Event::Ping, 0, "3"},
                         {Event::Text, 0, "four"}};
    QTest::addRow("fragmented binary with a ping between fragments")
        << concat({clientFrame(Opcode::Binary, "ab", false), clientFrame(Opcode::Continuation, "cd", false),
                   clientFrame(Opcode::Ping, "are you there"), clientFrame(Opcode::Continuation, "ef", true)})
        << QList<Report>{{Event::Ping, 0, "are you there"}, {Event::Binary, 0, "abcdef"}};
    QTest::addRow("fragmented text cut inside a character, pong between")
        << concat({clientFrame(Opcode::Text, text.first(2), false), clientFrame(Opcode::Pong, "beat"),
                   clientFrame(Opcode::Continuation, text.sliced(2), true)})
        << QList<Report>{{Event::Pong, 0, "beat"}, {Event::Text, 0, text}};
    QTest::addRow("fragmented message with empty fragments")
        << concat({clientFrame(Opcode::Text, {}, false), clientFrame(Opcode::Continuation, "abc", false),
                   clientFrame(Opcode::Continuation, {}, true)})
        << QList<Report>{{Event::Text, 0, "abc"}};
    QTest::addRow("fragments adding up to the limit")
        << concat({clientFrame(Opcode::Binary, pattern(MaxMessage).first(MaxMessage / 2), false),
                   clientFrame(Opcode::Continuation, pattern(MaxMessage).sliced(MaxMessage / 2), true)})
        << QList<Report>{{Event::Binary, 0, pattern(MaxMessage)}};
    QTest::addRow("messages around a fragmented one")
        << concat({clientFrame(Opcode::Text, "before"), clientFrame(Opcode::Binary, "frag", false),
                   clientFrame(Opcode::Continuation, "mented", true), clientFrame(Opcode::Text, "after")})
        << QList<Report>{
               {Event::Text, 0, "before"}, {Event::Binary, 0, "fragmented"}, {Event::Text, 0, "after"}};
    QTest::addRow("ping with payload")
        << clientFrame(Opcode::Ping, "nonce-17") << QList<Report>{{Event::Ping, 0, "nonce-17"}};
    QTest::addRow("empty ping") << clientFrame(Opcode::Ping, {}) << QList<Report>{{Event::Ping, 0, {}}};
    QTest::addRow("pong of the largest control payload")
        << clientFrame(Opcode::Pong, pattern(MaxControlPayload))
        << QList<Report>{{Event::Pong, 0, pattern(MaxControlPayload)}};
    QTest::addRow("close with code and reason") << clientFrame(Opcode::Close, closePayload(1000, "bye"))
                                                << QList<Report>{{Event::Close, 1000, "bye"}};
    QTest::addRow("close with code only")
        << clientFrame(Opcode::Close, closePayload(1001)) << QList<Report>{{Event::Close, 1001, {}}};
    QTest::addRow("close with the longest reason")
        << clientFrame(Opcode::Close, closePayload(4000, QByteArray(MaxCloseReason, 'r')))
        << QList<Report>{{Event::Close, 4000, QByteArray(MaxCloseReason, 'r')}};
    QTest::addRow("close with empty payload")
        << clientFrame(Opcode::Close, {}) << QList<Report>{{Event::Close, websocket::CloseNoStatus, {}}};
    QTest::addRow("nothing after a close frame")
        << concat({clientFrame(Opcode::Close, closePayload(1000)), clientFrame(Opcode::Text, "late"),
                   clientFrame(Opcode::Ping, "late"), rawFrame(0xF7, "not even a frame", false)})
        << QList<Report>{{Event::Close, 1000, {}}};
    QTest::addRow("close inside a fragmented message")
        << concat({clientFrame(Opcode::Binary, "abc", false), clientFrame(Opcode::Close, closePayload(1001)),
                   clientFrame(Opcode::Continuation, "def", true)})
        << QList<Report>{{Event::Close, 1001, {}}};
}

void TestWebSocket::readerReportsMessagesFedAtOnce_data()
{
    addMessageRows();
}

void TestWebSocket::readerReportsMessagesFedAtOnce()
{
    QFETCH(QByteArray, input);
    QFETCH(QList<Report>, expected);

    FrameReader reader(MaxMessage);
    Recorder recorder;
    QVERIFY(reader.consume(input.data(), input.size(), recorder.handler()));
    QCOMPARE(describe(recorder.reports()), describe(expected));
    QVERIFY(!reader.hasFailed());
    QCOMPARE(reader.bufferedBytes(), 0); // nothing held after a whole input, close or not
}

void TestWebSocket::readerReportsMessagesFedByteByByte_data()
{
    addMessageRows();
}

void TestWebSocket::readerReportsMessagesFedByteByByte()
{
    QFETCH(QByteArray, input);
    QFETCH(QList<Report>, expected);

    FrameReader reader(MaxMessage);
    Recorder recorder;
    for (qsizetype i = 0; i < input.size(); ++i) {
        QVERIFY(reader.consume(input.data() + i, 1, recorder.handler()));
        QVERIFY(reader.bufferedBytes() <= i + 1);
    }
    QCOMPARE(describe(recorder.reports()), describe(expected));
    QVERIFY(!reader.hasFailed());
    QCOMPARE(reader.bufferedBytes(), 0); // nothing held after a whole input, close or not
}

void TestWebSocket::readerReportsMessagesSplitAnywhere_data()
{
    addMessageRows();
}

void TestWebSocket::readerReportsMessagesSplitAnywhere()
{
    QFETCH(QByteArray, input);
    QFETCH(QList<Report>, expected);

    // Every cut for small inputs, about 300 spread over large ones.
    const qsizetype step = std::max<qsizetype>(1, input.size() / 300);
    for (qsizetype cut = 0; cut <= input.size(); cut += step) {
        QByteArray data = input; // unmasked in place
        FrameReader reader(MaxMessage);
        Recorder recorder;
        QVERIFY(reader.consume(data.data(), cut, recorder.handler()));
        QVERIFY(reader.consume(data.data() + cut, data.size() - cut, recorder.handler()));
        const QByteArray got = describe(recorder.reports());
        QVERIFY2(got == describe(expected),
                 qPrintable(QString(QString::number(cut) + u": " + QString::fromLatin1(got))));
        QCOMPARE(reader.bufferedBytes(), 0); // nothing held after a whole input, close or not
    }
}

void TestWebSocket::readerChecksCloseCodes_data()
{
    QTest::addColumn<int>("code");
    QTest::addColumn<bool>("valid");

    for (const int code :
         {1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000, 3001, 4000, 4999})
        QTest::addRow("%d", code) << code << true;
    for (const int code : {0, 999, 1004, 1005, 1006, 1015, 1016, 2000, 2999, 5000, 65535})
        QTest::addRow("%d", code) << code << false;
}

void TestWebSocket::readerChecksCloseCodes()
{
    QFETCH(int, code);
    QFETCH(bool, valid);

    FrameReader reader(MaxMessage);
    Recorder recorder;
    QByteArray input = clientFrame(Opcode::Close, closePayload(code, "why"));
    QCOMPARE(reader.consume(input.data(), input.size(), recorder.handler()), valid);
    QCOMPARE(reader.hasFailed(), !valid);
    QCOMPARE(recorder.reports().size(), 1);
    const Report &report = recorder.reports().front();
    if (valid) {
        QCOMPARE(describe(recorder.reports()), describe({{Event::Close, code, "why"}}));
    } else {
        QCOMPARE(eventName(report.event), "Error");
        QCOMPARE(report.code, websocket::CloseProtocolError);
        QCOMPARE(reader.closeCode(), websocket::CloseProtocolError);
    }
}

void TestWebSocket::addFailureRows()
{
    QTest::addColumn<QByteArray>("input");
    QTest::addColumn<qint64>("limit");
    QTest::addColumn<int>("code");
    QTest::addColumn<QList<Report>>("before");

    constexpr int Protocol = websocket::CloseProtocolError;
    constexpr int TooBig = websocket::CloseTooBig;
    const QList<Report> none;

    QTest::addRow("unmasked text frame") << rawFrame(0x81, "hi", false) << MaxMessage << Protocol << none;
    QTest::addRow("unmasked empty ping") << rawFrame(0x89, {}, false) << MaxMessage << Protocol << none;
    QTest::addRow("unmasked close") << rawFrame(0x88, closePayload(1000), false) << MaxMessage << Protocol
                                    << none;
    QTest::addRow("RSV1 set") << rawFrame(0xC1, "hi") << MaxMessage << Protocol << none;
    QTest::addRow("RSV2 set") << rawFrame(0xA2, "hi") << MaxMessage << Protocol << none;
    QTest::addRow("RSV3 set") << rawFrame(0x91, "hi") << MaxMessage << Protocol << none;
    QTest::addRow("RSV1 on a ping") << rawFrame(0xC9, {}) << MaxMessage << Protocol << none;
    for (int opcode = 0x3; opcode <= 0x7; ++opcode) {
        QTest::addRow("data opcode 0x%X", opcode)
            << rawFrame(quint8(0x80 | opcode), "x") << MaxMessage << Protocol << none;
    }
    for (int opcode = 0xB; opcode <= 0xF; ++opcode) {
        QTest::addRow("control opcode 0x%X", opcode)
            << rawFrame(quint8(0x80 | opcode), {}) << MaxMessage << Protocol << none;
    }
    QTest::addRow("ping without FIN") << rawFrame(0x09, "p") << MaxMessage << Protocol << none;
    QTest::addRow("close without FIN")
        << rawFrame(0x08, closePayload(1000)) << MaxMessage << Protocol << none;
    QTest::addRow("ping of 126 bytes")
        << clientFrame(Opcode::Ping, pattern(126)) << MaxMessage << Protocol << none;
    QTest::addRow("pong of 126 bytes")
        << clientFrame(Opcode::Pong, pattern(126)) << MaxMessage << Protocol << none;
    QTest::addRow("close of 126 bytes")
        << clientFrame(Opcode::Close, closePayload(1000, QByteArray(124, 'r'))) << MaxMessage << Protocol
        << none;
    QTest::addRow("ping header declaring 70000 bytes")
        << headerOnly(0x89, 70000) << MaxMessage << Protocol << none;
    QTest::addRow("final continuation without a message")
        << clientFrame(Opcode::Continuation, "x", true) << MaxMessage << Protocol << none;
    QTest::addRow("continuation without a message")
        << clientFrame(Opcode::Continuation, "x", false) << MaxMessage << Protocol << none;
    QTest::addRow("continuation after a whole message")
        << concat({clientFrame(Opcode::Text, "whole"), clientFrame(Opcode::Continuation, "x", true)})
        << MaxMessage << Protocol << QList<Report>{{Event::Text, 0, "whole"}};
    QTest::addRow("text frame inside a fragmented message")
        << concat({clientFrame(Opcode::Binary, "ab", false), clientFrame(Opcode::Text, "cd", true)})
        << MaxMessage << Protocol << none;
    QTest::addRow("binary fragment inside a fragmented message")
        << concat({clientFrame(Opcode::Text, "ab", false), clientFrame(Opcode::Ping, "p"),
                   clientFrame(Opcode::Binary, "cd", false)})
        << MaxMessage << Protocol << QList<Report>{{Event::Ping, 0, "p"}};
    QTest::addRow("close with a one-byte payload")
        << clientFrame(Opcode::Close, bytes("\x03", 1)) << MaxMessage << Protocol << none;
    QTest::addRow("close with code 1005")
        << clientFrame(Opcode::Close, closePayload(1005)) << MaxMessage << Protocol << none;
    QTest::addRow("16-bit length above the limit, header only")
        << headerOnly(0x82, 1001) << qint64(1000) << TooBig << none;
    QTest::addRow("64-bit length above the limit, header only")
        << headerOnly(0x82, quint64(MaxMessage) + 1) << MaxMessage << TooBig << none;
    QTest::addRow("text of 1 TiB, header only")
        << headerOnly(0x81, quint64(1) << 40) << MaxMessage << TooBig << none;
    QTest::addRow("first fragment above the limit, header only")
        << headerOnly(0x02, 1001) << qint64(1000) << TooBig << none;
    QTest::addRow("fragments one byte above the limit, last header only")
        << concat({clientFrame(Opcode::Binary, pattern(500), false), headerOnly(0x80, 501)}) << qint64(1000)
        << TooBig << none;
    QTest::addRow("three whole fragments above the limit")
        << concat({clientFrame(Opcode::Text, QByteArray(400, 'a'), false),
                   clientFrame(Opcode::Continuation, QByteArray(400, 'b'), false),
                   clientFrame(Opcode::Continuation, QByteArray(201, 'c'), true)})
        << qint64(1000) << TooBig << none;
    QTest::addRow("64-bit length with the top bit set")
        << headerOnly(0x82, quint64(1) << 63) << MaxMessage << Protocol << none;
    QTest::addRow("64-bit length of all ones")
        << headerOnly(0x82, ~quint64(0)) << MaxMessage << Protocol << none;
    QTest::addRow("unmasked frame after a message")
        << concat({clientFrame(Opcode::Text, "ok"), rawFrame(0x82, "bad", false)}) << MaxMessage << Protocol
        << QList<Report>{{Event::Text, 0, "ok"}};
}

void TestWebSocket::readerFailsWithCloseCode_data()
{
    addFailureRows();
}

void TestWebSocket::readerFailsWithCloseCode()
{
    QFETCH(QByteArray, input);
    QFETCH(qint64, limit);
    QFETCH(int, code);
    QFETCH(QList<Report>, before);

    FrameReader reader(limit);
    Recorder recorder;
    QVERIFY(!reader.consume(input.data(), input.size(), recorder.handler()));
    QVERIFY(reader.hasFailed());
    QCOMPARE(reader.closeCode(), code);
    QCOMPARE(reader.bufferedBytes(), 0);

    QCOMPARE(recorder.reports().size(), before.size() + 1);
    QCOMPARE(describe(recorder.reports().first(before.size())), describe(before));
    const Report &error = recorder.reports().last();
    QCOMPARE(eventName(error.event), "Error");
    QCOMPARE(error.code, code);
    QVERIFY2(!error.payload.isEmpty(), "an error says why");

    // Whatever comes next is ignored.
    QByteArray more = clientFrame(Opcode::Text, "more") + clientFrame(Opcode::Close, closePayload(1000));
    QVERIFY(!reader.consume(more.data(), more.size(), recorder.handler()));
    QCOMPARE(recorder.reports().size(), before.size() + 1);
    QCOMPARE(reader.closeCode(), code);
    QCOMPARE(reader.bufferedBytes(), 0);
}

void TestWebSocket::readerFailsOnceFedByteByByte_data()
{
    addFailureRows();
}

void TestWebSocket::readerFailsOnceFedByteByByte()
{
    QFETCH(QByteArray, input);
    QFETCH(qint64, limit);
    QFETCH(int, code);
    QFETCH(QList<Report>, before);

    input += clientFrame(Opcode::Text, "more");
    FrameReader reader(limit);
    Recorder recorder;
    qsizetype failedAt = -1;
    for (qsizetype i = 0; i < input.size(); ++i) {
        const bool ok = reader.consume(input.data() + i, 1, recorder.handler());
        if (!ok && failedAt < 0)
            failedAt = i;
        QCOMPARE(ok, failedAt < 0);
    }
    QVERIFY(failedAt >= 0);
    QVERIFY(reader.hasFailed());
    QCOMPARE(reader.closeCode(), code);
    QCOMPARE(reader.bufferedBytes(), 0);
    QCOMPARE(recorder.reports().size(), before.size() + 1);
    QCOMPARE(describe(recorder.reports().first(before.size())), describe(before));
    QCOMPARE(eventName(recorder.reports().last().event), "Error");
    QCOMPARE(recorder.reports().last().code, code);
}

void TestWebSocket::bufferedBytesCountsAPartialFrame()
{
    FrameReader reader(MaxMessage);
    Recorder recorder;
    QCOMPARE(reader.bufferedBytes(), 0);

    QByteArray input = clientFrame(Opcode::Binary, pattern(100)); // 2 + 4 + 100 bytes
    QCOMPARE(input.size(), 106);
    QVERIFY(reader.consume(input.data(), 1, recorder.handler()));
    QCOMPARE(reader.bufferedBytes(), 1);
    QVERIFY(reader.consume(input.data() + 1, 49, recorder.handler()));
    QCOMPARE(reader.bufferedBytes(), 50);
    QVERIFY(recorder.reports().isEmpty());
    QVERIFY(reader.consume(input.data() + 50, 56, recorder.handler()));
    QCOMPARE(reader.bufferedBytes(), 0);
    QCOMPARE(describe(recorder.reports()), describe({{Event::Binary, 0, pattern(100)}}));

    // A whole frame and the start of the next in one read: only the start is kept.
    QByteArray two = clientFrame(Opcode::Text, "first") + clientFrame(Opcode::Text, "second");
    const qsizetype firstSize = 2 + 4 + 5;
    QVERIFY(reader.consume(two.data(), firstSize + 3, recorder.handler()));
    QCOMPARE(reader.bufferedBytes(), 3);
    QVERIFY(reader.consume(two.data() + firstSize + 3, two.size() - firstSize - 3, recorder.handler()));
    QCOMPARE(reader.bufferedBytes(), 0);
    QCOMPARE(
        describe(recorder.reports()),
        describe({{Event::Binary, 0, pattern(100)}, {Event::Text, 0, "first"}, {Event::Text, 0, "second"}}));
}

void TestWebSocket::bufferedBytesCountsAnUnfinishedMessage()
{
    FrameReader reader(MaxMessage);
    Recorder recorder;
    const QByteArray payload = pattern(50);

    QByteArray first = clientFrame(Opcode::Binary, payload.first(30), false);
    QVERIFY(reader.consume(first.data(), first.size(), recorder.handler()));
    QCOMPARE(reader.bufferedBytes(), 30);

    QByteArray ping = clientFrame(Opcode::Ping, "p");
    QVERIFY(reader.consume(ping.data(), ping.size(), recorder.handler()));
    QCOMPARE(reader.bufferedBytes(), 30);

    QByteArray last = clientFrame(Opcode::Continuation, payload.sliced(30), true);
    QVERIFY(reader.consume(last.data(), 5, recorder.handler()));
    QCOMPARE(reader.bufferedBytes(), 35);
    QVERIFY(reader.consume(last.data() + 5, last.size() - 5, recorder.handler()));
    QCOMPARE(reader.bufferedBytes(), 0);
    QCOMPARE(describe(recorder.reports()), describe({{Event::Ping, 0, "p"}, {Event::Binary, 0, payload}}));
}

QTEST_GUILESS_MAIN(TestWebSocket)
#include "tst_websocket.moc"
