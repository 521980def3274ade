// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 BFG developers
#include "common/httpconnection.h"

#include <algorithm>
#include <utility>

#include <QSslSocket>

using namespace Qt::Literals::StringLiterals;

namespace bfg {

namespace {
constexpr qsizetype MaxHeadBytes = 16 * 1024;
constexpr qsizetype MaxBodyBytes = 64 * 1024 * 1024;

// The value of header `name` (without the colon) in `head` (status line and
// header lines, without the blank line), or empty.
QByteArrayView headerValue(QByteArrayView head, QByteArrayView name)
{
    qsizetype from = head.indexOf("\r\n");
    while (from >= 0) {
        from += 2;
        const qsizetype end = head.indexOf("\r\n", from);
        const QByteArrayView line = head.sliced(from, (end < 0 ? head.size() : end) - from);
        if (line.size() > name.size() && line[name.size()] == ':' &&
            line.first(name.size()).compare(name, Qt::CaseInsensitive) == 0)
            return line.sliced(name.size() + 1).trimmed();
        from = end;
    }
    return {};
}
} // namespace

QByteArrayView HttpConnection::Response::header(QByteArrayView name) const
{
    return headerValue(head, name);
}

HttpConnection::HttpConnection(const QUrl &server, int timeoutMs, QObject *parent)
    : QObject(parent)
    , m_server(server)
    , m_tls(server.scheme() == u"https"_s)
    , m_timeoutMs(timeoutMs)
{
    m_timeoutTimer.setSingleShot(true);
    connect(&m_timeoutTimer, &QTimer::timeout, this,
            [this] { fail(u"no answer within %1 ms"_s.arg(m_timeoutMs), true); });
}

HttpConnection::~HttpConnection() = default;

void HttpConnection::request(QByteArrayView method, const QByteArray &target, const QByteArray &headers,
                             const QByteArray &body, Callback done)
{
    Q_ASSERT(!m_done);
    m_done = std::move(done);
    QByteArray host = m_server.host(QUrl::FullyEncoded).toUtf8();
    if (host.contains(':'))
        host = '[' + host + ']'; // an IPv6 literal
    m_request.clear();
    m_request.reserve(target.size() + headers.size() + body.size() + 128);
    m_request += method;
    m_request += ' ' + target + " HTTP/1.1\r\nHost: " + host + ':' +
                 QByteArray::number(m_server.port(m_tls ? 443 : 80)) + "\r\n" + headers;
    if (!body.isEmpty() || method != "GET")
        m_request += "Content-Length: " + QByteArray::number(body.size()) + "\r\n";
    m_request += "\r\n";
    m_request += body;
    m_reused = m_connected;
    m_retried = false;
    m_timeoutTimer.start(m_timeoutMs);
    send();
}

void HttpConnection::send()
{
    m_in.clear();
    m_scanned = 0;
    m_haveHead = false;
    if (m_socket && m_connected)
        m_socket->write(m_request);
    else if (!m_socket)
        openSocket(); // writes once connected
}

void HttpConnection::openSocket()
{
    const auto port = quint16(m_server.port(m_tls ? 443 : 80));
    if (m_tls) {
        auto *socket = new QSslSocket(this);
        connect(socket, &QSslSocket::encrypted, this, &HttpConnection::onConnected);
        m_socket = socket;
    } else {
        m_socket = new QTcpSocket(this);
        connect(m_socket, &QTcpSocket::connected, this, &HttpConnection::onConnected);
    }
    connect(m_socket, &QTcpSocket::readyRead, this, &HttpConnection::onReadyRead);
    connect(m_socket, &QTcpSocket::disconnected, this, &HttpConnection::onDisconnected);
    connect(m_socket, &QTcpSocket::errorOccurred, this, [this] {
        // Refused or reset: `disconnected` may not follow from every state.
        if (m_socket && m_socket->state() == QAbstractSocket::UnconnectedState)
            onDisconnected();
    });
    if (m_tls)
        static_cast<QSslSocket *>(m_socket)->connectToHostEncrypted(m_server.host(), port);
    else
        m_socket->connectToHost(m_server.host(), port);
}

void HttpConnection::onConnected()
{
    m_connected = true;
    if (m_done)
        m_socket->write(m_request);
}

void HttpConnection::onReadyRead()
{
    m_in += m_socket->readAll();
    if (!m_done) {
        if (!m_in.isEmpty())
            resetSocket(); // an answer nobody asked for: this connection is out of step
        return;
    }
    if (!m_haveHead) {
        const qsizetype headEnd = m_in.indexOf("\r\n\r\n", std::max<qsizetype>(0, m_scanned - 3));
        m_scanned = m_in.size();
        if (headEnd < 0) {
            if (m_in.size() > MaxHeadBytes)
                fail(u"HTTP answer header too long"_s);
            return;
        }
        if (!parseHead(headEnd))
            return;
    }
    if (m_in.size() - m_bodyStart < m_contentLength)
        return;
    Response response;
    response.status = m_status;
    response.head = m_in.first(m_bodyStart - 4);
    response.body = m_in.mid(m_bodyStart, m_contentLength);
    if (m_closeAfter || m_in.size() > m_bodyStart + m_contentLength)
        resetSocket(); // asked to, or more than one answer: start over on a new connection
    finish(std::move(response));
}

bool HttpConnection::parseHead(qsizetype headEnd)
{
    const QByteArrayView head = QByteArrayView(m_in).first(headEnd);
    // "HTTP/1.1 200 OK"
    const qsizetype lineEnd = head.indexOf("\r\n");
    const QByteArrayView statusLine = lineEnd < 0 ? head : head.first(lineEnd);
    bool ok = false;
    m_status = statusLine.size() >= 12 && statusLine.startsWith("HTTP/1.") && statusLine[8] == ' '
                   ? statusLine.sliced(9, 3).toInt(&ok)
                   : 0;
    if (!ok || m_status < 100 || m_status > 599) {
        fail(u"malformed HTTP answer"_s);
        return false;
    }
    if (!headerValue(head, "transfer-encoding").isEmpty()) {
        fail(u"HTTP answer with Transfer-Encoding: unsupported"_s);
        return false;
    }
    const QByteArrayView length = headerValue(head, "content-length");
    m_contentLength = length.isEmpty() ? 0 : length.toLongLong(&ok);
    if (length.isEmpty() ? m_status >= 200 && m_status != 204 && m_status != 304 : !ok) {
        fail(u"HTTP answer without a usable Content-Length"_s);
        return false;
    }
    if (m_contentLength < 0 || m_contentLength > MaxBodyBytes) {
        fail(u"HTTP answer body too large"_s);
        return false;
    }
    m_closeAfter = headerValue(head, "connection").compare("close", Qt::CaseInsensitive) == 0 ||
                   statusLine.startsWith("HTTP/1.0");
    m_bodyStart = headEnd + 4;
    m_haveHead = true;
    return true;
}

void HttpConnection::onDisconnected()
{
    const QString error = m_socket && m_socket->error() != QAbstractSocket::UnknownSocketError
                              ? m_socket->errorString()
                              : u"connection closed before the answer"_s;
    const bool answered = !m_in.isEmpty();
    resetSocket();
    if (!m_done)
        return;
    if (m_reused && !m_retried && !answered) {
        m_retried = true;
        send();
        return;
    }
    fail(error);
}

void HttpConnection::fail(const QString &error, bool timedOut)
{
    resetSocket();
    Response response;
    response.error = error;
    response.timedOut = timedOut;
    finish(std::move(response));
}

void HttpConnection::finish(Response response)
{
    m_timeoutTimer.stop();
    m_in.clear();
    m_scanned = 0;
    m_haveHead = false;
    m_request.clear();
    // Idle before the callback: it may send the next request right away.
    if (Callback done = std::exchange(m_done, nullptr))
        done(response);
}

void HttpConnection::resetSocket()
{
    m_connected = false;
    if (QTcpSocket *socket = std::exchange(m_socket, nullptr)) {
        socket->disconnect(this);
        socket->abort();
        socket->deleteLater();
    }
}

} // namespace bfg
