// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 BFG developers
#include "common/websocket.h"

#include <cstring>

#include <QCryptographicHash>
#include <QList>

namespace bfg::websocket {

namespace {
constexpr char AcceptGuid[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
constexpr qsizetype MaxControlPayload = 125;
constexpr qsizetype MaxCloseReason = MaxControlPayload - 2;

// RFC 6455 7.4 and the IANA registry (1012-1014 were added later): the
// codes a peer may send in a close frame.
bool isValidCloseCode(int code)
{
    return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) || (code >= 3000 && code <= 4999);
}

bool hasToken(QByteArrayView headerValue, QByteArrayView token)
{
    for (const QByteArray &part : headerValue.toByteArray().split(',')) {
        if (part.trimmed().compare(token, Qt::CaseInsensitive) == 0)
            return true;
    }
    return false;
}

const char *reasonPhrase(int status)
{
    switch (status) {
    case 400:
        return "Bad Request";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 426:
        return "Upgrade Required";
    case 431:
        return "Request Header Fields Too Large";
    case 429:
        return "Too Many Requests";
    case 503:
        return "Service Unavailable";
    default:
        return "Error";
    }
}

UpgradeRequest refuse(int status, QByteArray error)
{
    UpgradeRequest request;
    request.status = status;
    request.error = std::move(error);
    return request;
}
} // namespace

qsizetype headerSize(qsizetype payloadSize)
{
    return payloadSize < 126 ? 2 : payloadSize <= 0xFFFF ? 4 : 10;
}

char *writeHeader(char *out, Opcode opcode, qsizetype payloadSize)
{
    *out++ = char(0x80 | quint8(opcode));
    if (payloadSize < 126) {
        *out++ = char(payloadSize);
    } else if (payloadSize <= 0xFFFF) {
        *out++ = char(126);
        *out++ = char(payloadSize >> 8);
        *out++ = char(payloadSize);
    } else {
        *out++ = char(127);
        for (int shift = 56; shift >= 0; shift -= 8)
            *out++ = char(quint64(payloadSize) >> shift);
    }
    return out;
}

QByteArray frame(Opcode opcode, QByteArrayView payload)
{
    QByteArray out(headerSize(payload.size()) + payload.size(), Qt::Uninitialized);
    char *body = writeHeader(out.data(), opcode, payload.size());
    if (!payload.isEmpty())
        memcpy(body, payload.data(), size_t(payload.size()));
    return out;
}

QByteArrayView payloadOf(QByteArrayView serverFrame)
{
    if (serverFrame.size() < 2 || (serverFrame[1] & 0x80))
        return {};
    qsizetype headerSize = 2;
    quint64 length = quint8(serverFrame[1]) & 0x7F;
    if (length >= 126) {
        headerSize = length == 126 ? 4 : 10;
        if (serverFrame.size() < headerSize)
            return {};
        length = 0;
        for (qsizetype i = 2; i < headerSize; ++i)
            length = (length << 8) | quint8(serverFrame[i]);
    }
    if (quint64(serverFrame.size() - headerSize) != length)
        return {};
    return serverFrame.sliced(headerSize);
}

QByteArray closeFrame(int code, QByteArrayView reason)
{
    qsizetype length = std::min(reason.size(), MaxCloseReason);
    // Do not cut a UTF-8 sequence: step back over continuation bytes.
    if (length < reason.size()) {
        while (length > 0 && (quint8(reason[length]) & 0xC0) == 0x80)
            --length;
    }
    QByteArray payload;
    payload.reserve(2 + length);
    payload.append(char(code >> 8));
    payload.append(char(code));
    payload.append(reason.first(length));
    return frame(Opcode::Close, payload);
}

qsizetype requestHeadEnd(QByteArrayView bytes)
{
    const qsizetype at = bytes.indexOf(QByteArrayView("\r\n\r\n"));
    return at < 0 ? -1 : at + 4;
}

UpgradeRequest parseUpgradeRequest(QByteArrayView head)
{
    const QList<QByteArray> lines = head.toByteArray().split('\n');
    if (lines.isEmpty())
        return refuse(400, "empty request");
    const QList<QByteArray> requestLine = lines.front().trimmed().split(' ');
    if (requestLine.size() != 3 || !requestLine[2].startsWith("HTTP/1."))
        return refuse(400, "malformed request line");
    if (requestLine[0] != "GET")
        return refuse(405, "a WebSocket upgrade is a GET");
    if (requestLine[2] != "HTTP/1.1")
        return refuse(400, "a WebSocket upgrade needs HTTP/1.1");

    QByteArray upgrade, connection, version, key;
    for (qsizetype i = 1; i < lines.size(); ++i) {
        const QByteArray line = lines[i].trimmed();
        if (line.isEmpty())
            break;
        const qsizetype colon = line.indexOf(':');
        if (colon <= 0)
            return refuse(400, "malformed header line");
        const QByteArray name = line.first(colon).trimmed().toLower();
        const QByteArray value = line.sliced(colon + 1).trimmed();
        // Repeated headers are one comma-separated list (RFC 9110 5.3).
        QByteArray *slot = name == "upgrade"                 ? &upgrade
                           : name == "connection"            ? &connection
                           : name == "sec-websocket-version" ? &version
                           : name == "sec-websocket-key"     ? &key
                                                             : nullptr;
        if (slot)
            *slot = slot->isEmpty() ? value : *slot + ", " + value;
    }
    if (!hasToken(upgrade, "websocket") || !hasToken(connection, "upgrade"))
        return refuse(426, "this port speaks WebSocket only (Upgrade: websocket)");
    if (version != "13")
        return refuse(426, "unsupported Sec-WebSocket-Version (13 is supported)");
    // Strict: the lenient decoder skips what is not base64 and could still make 16 bytes.
    const QByteArray::FromBase64Result decodedKey =
        QByteArray::fromBase64Encoding(key, QByteArray::AbortOnBase64DecodingErrors);
    if (!decodedKey || decodedKey.decoded.size() != 16)
        return refuse(400, "Sec-WebSocket-Key is not 16 bytes of base64");

    UpgradeRequest request;
    request.ok = true;
    request.status = 101;
    request.key = key;
    const QByteArray &target = requestLine[1];
    const qsizetype query = target.indexOf('?');
    request.path = query < 0 ? target : target.first(query);
    return request;
}

QByteArray acceptKey(QByteArrayView key)
{
    QCryptographicHash hash(QCryptographicHash::Sha1);
    hash.addData(key);
    hash.addData(QByteArrayView(AcceptGuid));
    return hash.result().toBase64();
}

QByteArray upgradeResponse(const UpgradeRequest &request)
{
    return "HTTP/1.1 101 Switching Protocols\r\n"
           "Upgrade: websocket\r\n"
           "Connection: Upgrade\r\n"
           "Sec-WebSocket-Accept: " +
           acceptKey(request.key) + "\r\n\r\n";
}

QByteArray errorResponse(int status, QByteArrayView text)
{
    const QByteArray body = text.toByteArray() + '\n';
    QByteArray out =
        "HTTP/1.1 " + QByteArray::number(status) + ' ' + reasonPhrase(status) +
        "\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: " + QByteArray::number(body.size()) +
        "\r\nConnection: close\r\n";
    if (status == 426)
        out += "Sec-WebSocket-Version: 13\r\nUpgrade: websocket\r\n";
    return out + "\r\n" + body;
}

FrameReader::FrameReader(qint64 maxMessageBytes)
    : m_maxMessageBytes(maxMessageBytes)
{}

bool FrameReader::consume(char *data, qsizetype size, const Handler &handler)
{
    if (m_failed || m_closed)
        return !m_failed;
    if (m_partial.isEmpty()) {
        const qsizetype used = parse(data, size, handler);
        if (!m_failed && !m_closed && used < size)
            m_partial = QByteArray(data + used, size - used);
    } else {
        m_partial.append(data, size);
        const qsizetype used = parse(m_partial.data(), m_partial.size(), handler);
        if (m_failed || m_closed)
            m_partial = QByteArray();
        else
            m_partial.remove(0, used);
    }
    return !m_failed;
}

qsizetype FrameReader::parse(char *data, qsizetype size, const Handler &handler)
{
    qsizetype pos = 0;
    while (!m_failed && !m_closed && size - pos >= 2) {
        const auto *bytes = reinterpret_cast<const quint8 *>(data + pos);
        const bool fin = bytes[0] & 0x80;
        const quint8 op = bytes[0] & 0x0F;
        const bool masked = bytes[1] & 0x80;
        quint64 length = bytes[1] & 0x7F;
        qsizetype headerSize = 2;
        if (length == 126) {
            if (size - pos < 4)
                break;
            length = (quint64(bytes[2]) << 8) | bytes[3];
            headerSize = 4;
        } else if (length == 127) {
            if (size - pos < 10)
                break;
            length = 0;
            for (int i = 0; i < 8; ++i)
                length = (length << 8) | bytes[2 + i];
            headerSize = 10;
            if (length >> 63)
                return fail(CloseProtocolError, "frame length with the top bit set", handler), pos;
        }

        if (bytes[0] & 0x70)
            return fail(CloseProtocolError, "reserved bits set (no extension was agreed)", handler), pos;
        if (!masked)
            return fail(CloseProtocolError, "client frames must be masked", handler), pos;
        const bool control = op & 0x8;
        if (control) {
            if (op != quint8(Opcode::Close) && op != quint8(Opcode::Ping) && op != quint8(Opcode::Pong))
                return fail(CloseProtocolError, "unknown control opcode", handler), pos;
            if (!fin || length > quint64(MaxControlPayload))
                return fail(CloseProtocolError, "fragmented or oversized control frame", handler), pos;
        } else {
            if (op > quint8(Opcode::Binary))
                return fail(CloseProtocolError, "unknown data opcode", handler), pos;
            if (op == quint8(Opcode::Continuation) && !m_inMessage)
                return fail(CloseProtocolError, "continuation frame without a message to continue", handler),
                       pos;
            if (op != quint8(Opcode::Continuation) && m_inMessage)
                return fail(CloseProtocolError, "new message before the last one ended", handler), pos;
            // Checked on the header, before any of the payload is kept.
            if (length > quint64(m_maxMessageBytes) ||
                quint64(m_message.size()) + length > quint64(m_maxMessageBytes))
                return fail(CloseTooBig, "message above the size limit", handler), pos;
        }

        headerSize += 4; // the mask
        if (size - pos < headerSize || quint64(size - pos - headerSize) < length)
            break; // the rest (or the mask) has not arrived
        char *payload = data + pos + headerSize;
        const char *mask = payload - 4;
        for (quint64 i = 0; i < length; ++i)
            payload[i] ^= mask[i & 3];
        pos += headerSize + qsizetype(length);
        dispatch(Opcode(op), fin, payload, qsizetype(length), handler);
    }
    return pos;
}

void FrameReader::dispatch(Opcode opcode, bool fin, char *payload, qsizetype size, const Handler &handler)
{
    const QByteArrayView view(payload, size);
    switch (opcode) {
    case Opcode::Ping:
        handler(Event::Ping, 0, view);
        return;
    case Opcode::Pong:
        handler(Event::Pong, 0, view);
        return;
    case Opcode::Close: {
        if (size == 1) {
            fail(CloseProtocolError, "close frame with a one-byte payload", handler);
            return;
        }
        const int code = size >= 2 ? (quint8(payload[0]) << 8) | quint8(payload[1]) : CloseNoStatus;
        if (size >= 2 && !isValidCloseCode(code)) {
            fail(CloseProtocolError, "invalid close code", handler);
            return;
        }
        m_closed = true;
        m_message = QByteArray(); // a message cut short by the close is dropped
        m_inMessage = false;
        handler(Event::Close, code, size >= 2 ? view.sliced(2) : QByteArrayView());
        return;
    }
    case Opcode::Continuation:
    case Opcode::Text:
    case Opcode::Binary:
        break;
    }
    if (fin && !m_inMessage) {
        handler(opcode == Opcode::Text ? Event::Text : Event::Binary, 0, view); // the common case: no copy
        return;
    }
    if (!m_inMessage) {
        m_inMessage = true;
        m_messageOpcode = opcode;
    }
    m_message.append(view);
    if (!fin)
        return;
    const QByteArray message = std::exchange(m_message, QByteArray());
    m_inMessage = false;
    handler(m_messageOpcode == Opcode::Text ? Event::Text : Event::Binary, 0, message);
}

bool FrameReader::fail(int code, QByteArrayView why, const Handler &handler)
{
    m_failed = true;
    m_closeCode = code;
    m_partial = QByteArray();
    m_message = QByteArray();
    handler(Event::Error, code, why);
    return false;
}

} // namespace bfg::websocket
