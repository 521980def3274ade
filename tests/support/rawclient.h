// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 BFG developers
//
// A WebSocket client written out by hand over a blocking socket, plain or
// TLS, for the suites that must control every byte a push node sees.
#pragma once

#include <optional>
#include <utility>

#include <QDeadlineTimer>
#include <QHostAddress>
#include <QRandomGenerator>
#include <QSslConfiguration>
#include <QSslSocket>
#include <QUrl>

#include "bfg/v1/frames.pb.h"
#include "common/protocol.h"
#include "common/websocket.h"

namespace bfg::test {

namespace v1 = bfg::v1;
namespace ws = bfg::websocket;

// A WebSocket client written out by hand over a blocking QTcpSocket.
class RawClient
{
public:
    static constexpr int WaitMs = 10000;

    struct Frame
    {
        ws::Opcode opcode;
        QByteArray payload;
    };

    bool connectTo(const QUrl &url, int receiveBufferBytes = 0, const QHostAddress &from = {})
    {
        if (receiveBufferBytes > 0) // before connecting: the window is agreed then
            m_socket.setSocketOption(QAbstractSocket::ReceiveBufferSizeSocketOption, receiveBufferBytes);
        if (!from.isNull() && !m_socket.bind(from))
            return false;
        m_socket.connectToHost(url.host(), quint16(url.port()));
        return m_socket.waitForConnected(WaitMs);
    }

    // Connects over TLS trusting only `trusted`; false when the handshake
    // fails (socket().sslHandshakeErrors() says why).
    bool connectEncrypted(const QUrl &url, const QList<QSslCertificate> &trusted)
    {
        QSslConfiguration configuration = QSslConfiguration::defaultConfiguration();
        configuration.setCaCertificates(trusted);
        m_socket.setSslConfiguration(configuration);
        m_socket.connectToHostEncrypted(url.host(), quint16(url.port()));
        return m_socket.waitForEncrypted(WaitMs);
    }

    static QByteArray upgradeRequest(const QByteArray &path = "/v1/ws")
    {
        return "GET " + path +
               " HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
               "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";
    }

    // Sends the upgrade request and `behind` in one write; true on a 101.
    bool upgrade(const QByteArray &behind = {})
    {
        write(upgradeRequest() + behind);
        return readResponseHead().startsWith("HTTP/1.1 101 ");
    }

    void write(const QByteArray &bytes)
    {
        m_socket.write(bytes);
        m_socket.waitForBytesWritten(WaitMs);
    }

    // The status line and headers of the answer to an upgrade request.
    QByteArray readResponseHead()
    {
        QDeadlineTimer deadline(WaitMs);
        while (ws::requestHeadEnd(m_buffer) < 0 && !deadline.hasExpired()) {
            if (!fill(deadline))
                break;
        }
        const qsizetype end = ws::requestHeadEnd(m_buffer);
        if (end < 0)
            return {};
        const QByteArray head = m_buffer.first(end);
        m_buffer.remove(0, end);
        return head;
    }

    QByteArray readAll(int waitMs)
    {
        QDeadlineTimer deadline(waitMs);
        while (!deadline.hasExpired() && fill(deadline)) {
        }
        return std::exchange(m_buffer, QByteArray());
    }

    static QByteArray masked(ws::Opcode opcode, const QByteArray &payload)
    {
        QByteArray frame = ws::frame(opcode, payload);
        const qsizetype headerSize = frame.size() - payload.size();
        frame[1] = char(frame[1] | 0x80);
        const quint32 key = QRandomGenerator::global()->generate();
        const char mask[4] = {char(key), char(key >> 8), char(key >> 16), char(key >> 24)};
        QByteArray out = frame.first(headerSize) + QByteArray(mask, 4);
        for (qsizetype i = 0; i < payload.size(); ++i)
            out.append(char(payload[i] ^ mask[i & 3]));
        return out;
    }

    static QByteArray hello(const std::string &token, const QString &stream = {},
                            const std::string &epoch = {}, quint64 seq = 0)
    {
        v1::ClientFrame frame;
        frame.mutable_hello()->set_token(token);
        if (!stream.isEmpty()) {
            v1::StreamPosition *position = frame.mutable_hello()->add_positions();
            position->set_stream(stream.toStdString());
            position->set_epoch(epoch);
            position->set_seq(seq);
        }
        return masked(ws::Opcode::Binary, protocol::encode(frame));
    }

    // The next whole server frame, waiting for it at most until `deadline`.
    std::optional<Frame> next(QDeadlineTimer deadline)
    {
        for (;;) {
            if (std::optional<Frame> frame = take())
                return frame;
            if (deadline.hasExpired() || !fill(deadline))
                return std::nullopt;
        }
    }

    std::optional<v1::ServerFrame> nextServerFrame(QDeadlineTimer deadline)
    {
        const std::optional<Frame> frame = next(deadline);
        v1::ServerFrame decoded;
        if (!frame || frame->opcode != ws::Opcode::Binary || !protocol::decode(frame->payload, &decoded))
            return std::nullopt;
        return decoded;
    }

    bool isConnected() const { return m_socket.state() == QAbstractSocket::ConnectedState; }
    QSslSocket &socket() { return m_socket; }

private:
    bool fill(QDeadlineTimer deadline)
    {
        if (m_socket.bytesAvailable() == 0 &&
            !m_socket.waitForReadyRead(int(std::max<qint64>(1, deadline.remainingTime()))))
            return false;
        m_buffer += m_socket.readAll();
        return true;
    }

    std::optional<Frame> take()
    {
        if (m_buffer.size() < 2)
            return std::nullopt;
        const auto *bytes = reinterpret_cast<const quint8 *>(m_buffer.constData());
        qsizetype headerSize = 2;
        quint64 length = bytes[1] & 0x7F;
        if (length >= 126) {
            headerSize = length == 126 ? 4 : 10;
            if (m_buffer.size() < headerSize)
                return std::nullopt;
            length = 0;
            for (qsizetype i = 2; i < headerSize; ++i)
                length = (length << 8) | bytes[i];
        }
        if (quint64(m_buffer.size() - headerSize) < length)
            return std::nullopt;
        Frame frame{ws::Opcode(bytes[0] & 0x0F), m_buffer.mid(headerSize, qsizetype(length))};
        m_buffer.remove(0, headerSize + qsizetype(length));
        return frame;
    }

    QSslSocket m_socket;
    QByteArray m_buffer;
};

inline int closeCodeOf(const QByteArray &payload)
{
    return payload.size() >= 2 ? (quint8(payload[0]) << 8) | quint8(payload[1]) : ws::CloseNoStatus;
}
} // namespace bfg::test
