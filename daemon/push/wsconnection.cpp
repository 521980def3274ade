// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 BFG developers
#include "daemon/push/wsconnection.h"

#include <algorithm>
#include <cerrno>

#ifdef Q_OS_WIN
#include <winsock2.h>
#else
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>
#endif

#include <openssl/err.h>
#include <openssl/ssl.h>

#include <QEvent>
#include <QSocketNotifier>

#include "common/logging.h"

namespace bfg {

namespace {
constexpr qsizetype ReadChunk = 64 * 1024;
constexpr int MaxWriteSlices = 64;
constexpr qsizetype TlsRecordBytes = 16 * 1024; // TLS's largest record

// One read buffer per thread, shared by all its connections: an idle
// connection keeps no read buffer of its own.
char *readBuffer()
{
    thread_local std::unique_ptr<char[]> buffer(new char[ReadChunk]);
    return buffer.get();
}

// The few socket calls, for POSIX and for Winsock.
#ifdef Q_OS_WIN
using Slice = WSABUF;
void setSlice(Slice *slice, const char *data, qsizetype size)
{
    slice->buf = const_cast<char *>(data);
    slice->len = ULONG(size);
}
qsizetype readSome(qintptr socket, char *data, qsizetype size)
{
    const int n = ::recv(SOCKET(socket), data, int(size), 0);
    if (n < 0)
        errno = WSAGetLastError() == WSAEWOULDBLOCK ? EAGAIN : EIO;
    return n;
}
qsizetype writeSlices(qintptr socket, Slice *slices, int count)
{
    DWORD sent = 0;
    if (WSASend(SOCKET(socket), slices, DWORD(count), &sent, 0, nullptr, nullptr) == 0)
        return qsizetype(sent);
    errno = WSAGetLastError() == WSAEWOULDBLOCK ? EAGAIN : EIO;
    return -1;
}
void prepareSocket(qintptr socket)
{
    u_long nonBlocking = 1;
    ioctlsocket(SOCKET(socket), FIONBIO, &nonBlocking);
    const BOOL on = TRUE;
    setsockopt(SOCKET(socket), IPPROTO_TCP, TCP_NODELAY, reinterpret_cast<const char *>(&on), sizeof on);
}
void closeSocket(qintptr socket)
{
    ::closesocket(SOCKET(socket));
}
#else
using Slice = iovec;
void setSlice(Slice *slice, const char *data, qsizetype size)
{
    slice->iov_base = const_cast<char *>(data);
    slice->iov_len = size_t(size);
}
qsizetype readSome(qintptr socket, char *data, qsizetype size)
{
    return ::read(int(socket), data, size_t(size));
}
qsizetype writeSlices(qintptr socket, Slice *slices, int count)
{
    return ::writev(int(socket), slices, count);
}
void prepareSocket(qintptr socket)
{
    const int fd = int(socket);
    ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
    // Writes are coalesced here, once per loop turn: Nagle would only add delay.
    const int on = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on);
}
void closeSocket(qintptr socket)
{
    ::close(int(socket));
}
#endif
} // namespace

// A socket notifier that calls its connection directly: no signal
// connection (and its memory) per socket.
class WsConnection::Notifier : public QSocketNotifier
{
public:
    Notifier(qintptr socket, Type type, WsConnection *connection)
        : QSocketNotifier(socket, type)
        , m_connection(connection)
    {}

protected:
    bool event(QEvent *event) override
    {
        if (event->type() != QEvent::SockAct)
            return QSocketNotifier::event(event);
        if (type() == Read)
            m_connection->onReadable();
        else
            m_connection->onWritable();
        return true;
    }

private:
    WsConnection *m_connection;
};

WsConnection::WsConnection(qintptr socket, Listener *listener, qint64 maxMessageBytes, ssl_ctx_st *tls)
    : m_socket(socket)
    , m_listener(listener)
    , m_reader(maxMessageBytes)
{
    prepareSocket(socket);
    if (tls) {
        m_ssl = SSL_new(tls);
        if (m_ssl && SSL_set_fd(m_ssl, int(socket)) == 1)
            SSL_set_accept_state(m_ssl); // the TLS handshake runs inside the first reads
        else
            m_tlsBroken = true; // never plain text instead: the first read closes it
    }
    m_readNotifier = std::make_unique<Notifier>(socket, QSocketNotifier::Read, this);
}

WsConnection::~WsConnection()
{
    if (m_state == State::Closed)
        return;
    // Deleted while still connected (the worker going away): no callbacks.
    m_listener = nullptr;
    teardown();
}

void WsConnection::onReadable()
{
    if (m_ssl || m_tlsBroken) {
        readTls();
        return;
    }
    char *buffer = readBuffer();
    const qsizetype n = readSome(m_socket, buffer, ReadChunk);
    if (n > 0) {
        received(buffer, n);
        return;
    }
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
        return;
    teardown(); // end of stream or a socket error
}

void WsConnection::received(char *data, qsizetype size)
{
    if (m_state == State::Handshake)
        readHandshake(data, size);
    else if (m_state != State::Closed)
        readFrames(data, size);
}

void WsConnection::readTls()
{
    if (!m_ssl || m_tlsBroken) {
        teardown();
        return;
    }
    const bool flushAfter = m_tlsWriteWantsRead; // a write waited for this read
    m_tlsWriteWantsRead = false;
    char *buffer = readBuffer();
    // Until the socket has nothing more: a record read into OpenSSL leaves
    // nothing for the notifier to see.
    while (m_state != State::Closed && !m_closeWhenFlushed) {
        size_t n = 0;
        if (SSL_read_ex(m_ssl, buffer, size_t(ReadChunk), &n) == 1) {
            received(buffer, qsizetype(n));
            continue;
        }
        const int error = SSL_get_error(m_ssl, 0);
        if (error == SSL_ERROR_WANT_READ)
            break;
        if (error == SSL_ERROR_WANT_WRITE) {
            m_tlsReadWantsWrite = true;
            waitWritable();
            break;
        }
        if (error != SSL_ERROR_ZERO_RETURN) { // not the peer's close_notify
            char reason[256];
            ERR_error_string_n(ERR_peek_last_error(), reason, sizeof reason);
            qCDebug(lcPush) << "TLS connection failed:" << (ERR_peek_last_error() ? reason : "socket error");
            m_tlsBroken = true;
        }
        ERR_clear_error();
        teardown();
        return;
    }
    if (flushAfter && m_state != State::Closed)
        flush();
}

void WsConnection::readHandshake(char *data, qsizetype size)
{
    if (m_refusalStatus) { // decided before the TLS handshake: the client can read it now
        close(0, m_refusalReason, m_refusalStatus);
        return;
    }
    m_head.append(data, size);
    const qsizetype end = websocket::requestHeadEnd(m_head);
    if (end < 0) {
        if (m_head.size() > websocket::MaxRequestHeadBytes)
            close(0, "request head too large", 431);
        return;
    }
    const websocket::UpgradeRequest request = websocket::parseUpgradeRequest(m_head.first(end));
    if (!request.ok) {
        close(0, request.error, request.status);
        return;
    }
    QByteArray rest = m_head.sliced(end);
    m_head = QByteArray();
    m_path = request.path;
    m_state = State::Open;
    queue(websocket::upgradeResponse(request));
    m_listener->onUpgraded(this);
    // A client may send its first frame right behind the upgrade request.
    if (!rest.isEmpty() && m_state != State::Closed)
        readFrames(rest.data(), rest.size());
}

void WsConnection::readFrames(char *data, qsizetype size)
{
    m_reader.consume(data, size,
                     [this](websocket::FrameReader::Event event, int code, QByteArrayView payload) {
                         onFrameEvent(event, code, payload);
                     });
}

void WsConnection::onFrameEvent(websocket::FrameReader::Event event, int code, QByteArrayView payload)
{
    using Event = websocket::FrameReader::Event;
    switch (event) {
    case Event::Text:
    case Event::Binary:
        // After our close frame the peer may still send; none of it counts.
        if (m_state == State::Open)
            m_listener->onMessage(this, payload, event == Event::Text);
        return;
    case Event::Ping:
    case Event::Pong:
        if (m_state != State::Open)
            return;
        m_listener->onControlFrame(this, payload.size());
        if (event == Event::Ping && m_state == State::Open)
            queue(websocket::frame(websocket::Opcode::Pong, payload));
        return;
    case Event::Close:
        // The close handshake: echo the peer's code unless we closed first,
        // then hang up once the echo is out (the server closes TCP first).
        if (!m_closeSent) {
            queue(
                websocket::closeFrame(code == websocket::CloseNoStatus ? websocket::CloseNormal : code, {}));
            m_closeSent = true;
        }
        m_state = State::Closing;
        closeAfterFlush();
        return;
    case Event::Error:
        m_listener->onProtocolError(this, code);
        close(code, payload);
        closeAfterFlush(); // a broken peer is not waited for
        return;
    }
}

void WsConnection::send(const QByteArray &wireFrame)
{
    if (m_state == State::Open)
        queue(wireFrame);
}

void WsConnection::queue(QByteArray bytes)
{
    m_queuedBytes += bytes.size();
    m_queue.push_back(std::move(bytes));
    if (!m_flushRequested && !m_waitingWritable) {
        m_flushRequested = true;
        m_listener->onFlushNeeded(this);
    }
}

void WsConnection::discardQueued()
{
    // The first frame stays if part of it went out: the stream must stay whole.
    const size_t keep = m_queueHead + (m_headOffset > 0 ? 1 : 0);
    for (size_t i = keep; i < m_queue.size(); ++i)
        m_queuedBytes -= m_queue[i].size();
    m_queue.resize(std::min(keep, m_queue.size()));
}

void WsConnection::flush()
{
    m_flushRequested = false;
    if (m_state == State::Closed || m_waitingWritable)
        return;
    if (m_ssl && !flushTls())
        return;
    while (m_queueHead < m_queue.size()) {
        Slice slices[MaxWriteSlices];
        int count = 0;
        for (size_t i = m_queueHead; i < m_queue.size() && count < MaxWriteSlices; ++i, ++count) {
            const QByteArray &bytes = m_queue[i];
            const qsizetype skip = i == m_queueHead ? m_headOffset : 0;
            setSlice(&slices[count], bytes.constData() + skip, bytes.size() - skip);
        }
        qsizetype written = writeSlices(m_socket, slices, count);
        if (written < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK) {
                compactQueue();
                waitWritable();
                return;
            }
            teardown(); // the peer is gone (EPIPE, ECONNRESET)
            return;
        }
        m_queuedBytes -= written;
        while (written > 0) {
            const qsizetype left = m_queue[m_queueHead].size() - m_headOffset;
            if (written < left) {
                m_headOffset += written;
                break;
            }
            written -= left;
            m_queue[m_queueHead++] = QByteArray(); // drop our reference now
            m_headOffset = 0;
        }
    }
    m_queue.clear();
    m_queueHead = 0;
    if (m_queue.capacity() > 16)
        m_queue.shrink_to_fit(); // a burst is over: idle connections stay small
    if (m_closeWhenFlushed)
        teardown();
}

bool WsConnection::flushTls()
{
    for (;;) {
        if (m_tlsOutOffset == m_tlsOut.size()) {
            m_tlsOut.clear();
            m_tlsOutOffset = 0;
            if (m_queueHead == m_queue.size())
                return true;
            // The next record: whole frames, and the start of one when it
            // does not fit. What moved here counts as gone from the queue
            // (discardQueued keeps a frame begun).
            qsizetype size = 0;
            for (size_t i = m_queueHead; i < m_queue.size() && size < TlsRecordBytes; ++i)
                size += m_queue[i].size() - (i == m_queueHead ? m_headOffset : 0);
            m_tlsOut.reserve(std::min(size, TlsRecordBytes));
            while (m_queueHead < m_queue.size() && m_tlsOut.size() < TlsRecordBytes) {
                const QByteArray &bytes = m_queue[m_queueHead];
                const qsizetype take =
                    std::min(bytes.size() - m_headOffset, TlsRecordBytes - m_tlsOut.size());
                m_tlsOut.append(bytes.constData() + m_headOffset, take);
                m_headOffset += take;
                if (m_headOffset == bytes.size()) {
                    m_queue[m_queueHead++] = QByteArray();
                    m_headOffset = 0;
                }
            }
        }
        size_t written = 0;
        if (SSL_write_ex(m_ssl, m_tlsOut.constData() + m_tlsOutOffset,
                         size_t(m_tlsOut.size() - m_tlsOutOffset), &written) == 1) {
            m_tlsOutOffset += qsizetype(written);
            m_queuedBytes -= qint64(written);
            continue;
        }
        switch (SSL_get_error(m_ssl, 0)) {
        case SSL_ERROR_WANT_WRITE: // repeated with the same bytes once writable
            compactQueue();
            waitWritable();
            return false;
        case SSL_ERROR_WANT_READ: // the next read resumes it
            m_tlsWriteWantsRead = true;
            return false;
        default:
            m_tlsBroken = true;
            ERR_clear_error();
            teardown(); // the peer is gone
            return false;
        }
    }
}

void WsConnection::waitWritable()
{
    m_waitingWritable = true;
    if (!m_writeNotifier)
        m_writeNotifier = std::make_unique<Notifier>(m_socket, QSocketNotifier::Write, this);
    else
        m_writeNotifier->setEnabled(true);
}

void WsConnection::compactQueue()
{
    // A consumer that stays behind would otherwise keep every emptied slot.
    if (m_queueHead < 1024 || m_queueHead * 2 < m_queue.size())
        return;
    m_queue.erase(m_queue.begin(), m_queue.begin() + qsizetype(m_queueHead));
    m_queueHead = 0;
}

void WsConnection::onWritable()
{
    m_writeNotifier->setEnabled(false);
    m_waitingWritable = false;
    if (m_tlsReadWantsWrite) { // a read waited for this write
        m_tlsReadWantsWrite = false;
        readTls();
    }
    flush();
}

void WsConnection::close(int code, QByteArrayView reason, int httpStatus)
{
    switch (m_state) {
    case State::Handshake:
        if (m_ssl && !SSL_is_init_finished(m_ssl)) {
            // Nothing can be said before the TLS handshake: said after it.
            m_refusalStatus = httpStatus;
            m_refusalReason = reason.toByteArray();
            return;
        }
        m_state = State::Closing;
        m_head = QByteArray();
        queue(websocket::errorResponse(httpStatus, reason));
        closeAfterFlush();
        return;
    case State::Open:
        m_state = State::Closing;
        queue(websocket::closeFrame(code, reason));
        m_closeSent = true;
        return;
    case State::Closing:
    case State::Closed:
        return;
    }
}

void WsConnection::closeAfterFlush()
{
    m_closeWhenFlushed = true;
    // Nothing more is read: what the peer sends now would only be dropped.
    m_readNotifier->setEnabled(false);
    if (!m_flushRequested && !m_waitingWritable) {
        m_flushRequested = true;
        m_listener->onFlushNeeded(this);
    }
}

void WsConnection::abort()
{
    teardown();
}

void WsConnection::teardown()
{
    if (m_state == State::Closed)
        return;
    m_state = State::Closed;
    // Unwatched before it is closed: the number may be reused at once.
    m_readNotifier->setEnabled(false);
    if (m_writeNotifier)
        m_writeNotifier->setEnabled(false);
    if (m_ssl) {
        if (!m_tlsBroken && SSL_is_init_finished(m_ssl))
            SSL_shutdown(m_ssl); // close_notify, if the socket takes it
        SSL_free(m_ssl);
        m_ssl = nullptr;
        ERR_clear_error();
    }
    closeSocket(m_socket);
    m_tlsOut = QByteArray();
    m_tlsOutOffset = 0;
    m_queue = {};
    m_queueHead = 0;
    m_headOffset = 0;
    m_queuedBytes = 0;
    if (m_listener)
        m_listener->onDisconnected(this);
}

} // namespace bfg
