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

#include <QEvent>
#include <QSocketNotifier>

namespace bfg {

namespace {
constexpr qsizetype ReadChunk = 64 * 1024;
constexpr int MaxWriteSlices = 64;

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

WsConnection::WsConnection(qintptr socket, Listener *listener, qint64 maxMessageBytes)
    : m_socket(socket)
    , m_listener(listener)
    , m_reader(maxMessageBytes)
{
    prepareSocket(socket);
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
    char *buffer = readBuffer();
    const qsizetype n = readSome(m_socket, buffer, ReadChunk);
    if (n > 0) {
        if (m_state == State::Handshake)
            readHandshake(buffer, n);
        else if (m_state != State::Closed)
            readFrames(buffer, n);
        return;
    }
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
        return;
    teardown(); // end of stream or a socket error
}

void WsConnection::readHandshake(char *data, qsizetype size)
{
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
        if (m_state == State::Open)
            queue(websocket::frame(websocket::Opcode::Pong, payload));
        return;
    case Event::Pong:
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
                m_waitingWritable = true;
                if (!m_writeNotifier)
                    m_writeNotifier = std::make_unique<Notifier>(m_socket, QSocketNotifier::Write, this);
                else
                    m_writeNotifier->setEnabled(true);
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
    flush();
}

void WsConnection::close(int code, QByteArrayView reason, int httpStatus)
{
    switch (m_state) {
    case State::Handshake:
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
    closeSocket(m_socket);
    m_queue = {};
    m_queueHead = 0;
    m_headOffset = 0;
    m_queuedBytes = 0;
    if (m_listener)
        m_listener->onDisconnected(this);
}

} // namespace bfg
