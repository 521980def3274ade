// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 BFG developers
#include "client/httpconnection.h"

#include <algorithm>
#include <utility>

#include <QSslSocket>

using namespace Qt::Literals::StringLiterals;

namespace bfg::probe {

namespace {
constexpr qsizetype MaxHeadBytes = 16 * 1024;
constexpr qsizetype MaxBodyBytes = 64 * 1024 * 1024;

// The value of header `name` (lower case, with the colon) in the head of an answer
// (status line and header lines, without the blank line), or empty.
QByteArrayView headerValue(QByteArrayView head, QByteArrayView name)
{
    qsizetype from = head.indexOf("\r\n");
    while (from >= 0) {
        from += 2;
        qsizetype end = head.indexOf("\r\n", from);
        const QByteArrayView line = head.sliced(from, (end < 0 ? head.size() : end) - from);
        if (line.size() > name.size() && line.first(name.size()).compare(name, Qt::CaseInsensitive) == 0)
            return line.sliced(name.size()).trimmed();
        from = end;
    }
    return {};
}
} // namespace

HttpConnection::HttpConnection(const QUrl &url, int timeoutMs, QObject *parent)
    : QObject(parent)
    , m_url(url)
    , m_tls(url.scheme() == u"https"_s)
    , m_timeoutMs(timeoutMs)
{
    m_timeoutTimer.setSingleShot(true);
    connect(&m_timeoutTimer, &QTimer::timeout, this,
            [this] { fail(u"no answer within %1 ms"_s.arg(m_timeoutMs)); });
}

HttpConnection::~HttpConnection() = default;

void HttpConnection::post(const QByteArray &path, const QByteArray &headers, const QByteArray &body,
                          Callback done)
{
    Q_ASSERT(!m_done);
    m_done = std::move(done);
    QByteArray host = m_url.host(QUrl::FullyEncoded).toUtf8();
    if (host.contains(':'))
        host = '[' + host + ']'; // an IPv6 literal
    const int port = m_url.port(m_tls ? 443 : 80);
    m_request.clear();
    m_request.reserve(path.size() + headers.size() + body.size() + 128);
    m_request += "POST " + path + " HTTP/1.1\r\nHost: " + host + ':' + QByteArray::number(port) + "\r\n" +
                 headers + "Content-Length: " + QByteArray::number(body.size()) + "\r\n\r\n";
    m_request += body;
    m_in.clear();
    m_scanned = 0;
    m_haveHead = false;
    m_timeoutTimer.start(m_timeoutMs);

    if (m_socket && m_connected) {
        m_socket->write(std::exchange(m_request, {}));
        return;
    }
    if (!m_socket) {
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
            static_cast<QSslSocket *>(m_socket)->connectToHostEncrypted(m_url.host(), quint16(port));
        else
            m_socket->connectToHost(m_url.host(), quint16(port));
    }
}

void HttpConnection::onConnected()
{
    m_connected = true;
    if (!m_request.isEmpty())
        m_socket->write(std::exchange(m_request, {}));
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
    response.body = m_in.mid(m_bodyStart, m_contentLength);
    response.retryAfter = m_retryAfter;
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
    if (!headerValue(head, "transfer-encoding:").isEmpty()) {
        fail(u"HTTP answer with Transfer-Encoding: unsupported"_s);
        return false;
    }
    const QByteArrayView length = headerValue(head, "content-length:");
    m_contentLength = length.isEmpty() ? 0 : length.toLongLong(&ok);
    if (length.isEmpty() ? m_status >= 200 && m_status != 204 && m_status != 304 : !ok) {
        fail(u"HTTP answer without a usable Content-Length"_s);
        return false;
    }
    if (m_contentLength < 0 || m_contentLength > MaxBodyBytes) {
        fail(u"HTTP answer body too large"_s);
        return false;
    }
    m_closeAfter = headerValue(head, "connection:").compare("close", Qt::CaseInsensitive) == 0 ||
                   statusLine.startsWith("HTTP/1.0");
    m_retryAfter = headerValue(head, "retry-after:").toByteArray();
    m_bodyStart = headEnd + 4;
    m_haveHead = true;
    return true;
}

void HttpConnection::onDisconnected()
{
    const QString error = m_socket && m_socket->error() != QAbstractSocket::UnknownSocketError
                              ? m_socket->errorString()
                              : u"connection closed before the answer"_s;
    resetSocket();
    if (m_done)
        fail(error);
}

void HttpConnection::fail(const QString &error)
{
    resetSocket();
    Response response;
    response.error = error;
    finish(std::move(response));
}

void HttpConnection::finish(Response response)
{
    m_timeoutTimer.stop();
    m_in.clear();
    m_scanned = 0;
    m_haveHead = false;
    m_request.clear();
    // Idle before the callback: it may post the next request right away.
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

} // namespace bfg::probe
