// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 BFG developers
//
// The server's half of RFC 6455, without sockets: the opening handshake
// (parse the upgrade request, build the answer), frames to send (built once,
// unmasked, so one buffer serves every connection it goes to), and an
// incremental reader of client frames that unmasks in place, reassembles
// fragments, checks the protocol rules and the size limit, and reports what
// it found through a callback. Pure functions and plain data: the push
// workers drive it, the unit tests and the fuzzers feed it bytes.
#pragma once

#include <functional>

#include <QByteArray>
#include <QByteArrayView>

namespace bfg::websocket {

enum class Opcode : quint8 {
    Continuation = 0x0,
    Text = 0x1,
    Binary = 0x2,
    Close = 0x8,
    Ping = 0x9,
    Pong = 0xA
};

// RFC 6455 close codes this layer uses itself.
inline constexpr int CloseNormal = 1000;
inline constexpr int CloseProtocolError = 1002;
inline constexpr int CloseNoStatus = 1005; // a close frame without a code (never sent)
inline constexpr int CloseTooBig = 1009;

// Longest request head (request line and headers) an upgrade may have.
inline constexpr qsizetype MaxRequestHeadBytes = 8192;

// One whole unmasked frame (FIN set) as a server sends it.
QByteArray frame(Opcode opcode, QByteArrayView payload);
// The same in two steps, for a payload written in place: the header's size,
// and the header written at `out` (returns where the payload goes).
qsizetype headerSize(qsizetype payloadSize);
char *writeHeader(char *out, Opcode opcode, qsizetype payloadSize);
// The payload of one whole unmasked frame (what frame() built); empty if
// `serverFrame` is not one.
QByteArrayView payloadOf(QByteArrayView serverFrame);
// A close frame: the code, then at most 123 bytes of reason (cut at a UTF-8
// character boundary).
QByteArray closeFrame(int code, QByteArrayView reason);

struct UpgradeRequest
{
    bool ok = false;
    int status = 400; // when !ok: the HTTP status to answer with
    QByteArray error; // when !ok: why, for the answer's body and the log
    QByteArray path;  // the request target without the query
    QByteArray key;   // Sec-WebSocket-Key
};

// Where the request head ends (the index just after "\r\n\r\n"), or -1
// when it has not fully arrived.
qsizetype requestHeadEnd(QByteArrayView bytes);
// Checks a complete request head: GET, HTTP/1.1, Upgrade: websocket,
// Connection: upgrade, Sec-WebSocket-Version: 13 and a 16-byte key.
UpgradeRequest parseUpgradeRequest(QByteArrayView head);
// "101 Switching Protocols" with the accept key (and no extensions).
QByteArray upgradeResponse(const UpgradeRequest &request);
// A plain HTTP error answer that closes the connection.
QByteArray errorResponse(int status, QByteArrayView text);
// base64(SHA-1(key + the RFC's GUID)).
QByteArray acceptKey(QByteArrayView key);

// Reads client frames. Feed it what arrived, in order; it calls the
// handler once per complete message or control frame. After an error it
// reports nothing more and ignores further input: the connection is to be
// closed with closeCode().
class FrameReader
{
public:
    enum class Event { Text, Binary, Ping, Pong, Close, Error };
    // For Close: `code` is the peer's code (CloseNoStatus if it sent none)
    // and `payload` its reason. For Error: `code` is the close code to send
    // and `payload` says why. The view lives until the handler returns.
    using Handler = std::function<void(Event event, int code, QByteArrayView payload)>;

    explicit FrameReader(qint64 maxMessageBytes);

    // Consumes `size` bytes at `data`; unmasks them in place, so `data`
    // must be writable and is garbage afterwards. Returns false once the
    // reader has failed (now or before).
    bool consume(char *data, qsizetype size, const Handler &handler);

    bool hasFailed() const { return m_failed; }
    int closeCode() const { return m_closeCode; }
    // Bytes of incomplete frames it holds (a connection's read backlog).
    qsizetype bufferedBytes() const { return m_partial.size() + m_message.size(); }

private:
    // Parses whole frames from `data`; returns how many bytes it used.
    qsizetype parse(char *data, qsizetype size, const Handler &handler);
    bool fail(int code, QByteArrayView why, const Handler &handler);
    void dispatch(Opcode opcode, bool fin, char *payload, qsizetype size, const Handler &handler);

    qint64 m_maxMessageBytes;
    QByteArray m_partial; // the start of a frame that has not fully arrived
    QByteArray m_message; // fragments of a message that has not ended
    Opcode m_messageOpcode = Opcode::Continuation;
    bool m_inMessage = false;
    bool m_failed = false;
    bool m_closed = false; // the peer's close frame came: nothing after it counts
    int m_closeCode = 0;
};

} // namespace bfg::websocket
