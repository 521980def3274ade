// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 BFG developers
#include "console/core/adminclient.h"

#include <QJsonArray>
#include <QJsonDocument>
#include <QNetworkAccessManager>
#include <QNetworkReply>
#include <QNetworkRequest>
#include <QWebSocket>

#include "common/logging.h"
#include "common/protocol.h"

using namespace Qt::Literals::StringLiterals;

namespace bfg {

namespace {
constexpr int CallTimeoutMs = 5000;

QByteArray bearer(const QByteArray &key)
{
    return "Bearer " + key;
}

QUrl joined(const QUrl &base, const QString &path)
{
    QUrl url = base;
    const qsizetype query = path.indexOf(u'?');
    url.setPath(base.path() + path.left(query), QUrl::TolerantMode); // keeps %2F in a node id
    if (query >= 0)
        url.setQuery(path.mid(query + 1));
    return url;
}
} // namespace

struct AdminClient::Call
{
    QByteArray method;
    QString path;
    QByteArray body;
    Callback done;
    int first = 0; // index of the first server asked
    int tried = 0;
};

AdminClient::AdminClient(QObject *parent)
    : QObject(parent)
    , m_network(new QNetworkAccessManager(this))
{
    m_retryTimer.setSingleShot(true);
    connect(&m_retryTimer, &QTimer::timeout, this, &AdminClient::openStream);
    m_silenceTimer.setSingleShot(true);
    m_silenceTimer.setInterval(SilenceLimitMs);
    connect(&m_silenceTimer, &QTimer::timeout, this,
            [this] { streamLost(u"no cluster snapshot for %1 s"_s.arg(SilenceLimitMs / 1000)); });
}

AdminClient::~AdminClient()
{
    // Quietly: whoever listens to stateChanged may be half destroyed by now.
    const QSignalBlocker quiet(this);
    disconnectFromCluster();
}

QUrl AdminClient::normalizedUrl(const QString &text)
{
    QString trimmed = text.trimmed();
    if (trimmed.isEmpty())
        return {};
    if (!trimmed.contains(u"://"_s))
        trimmed.prepend(u"http://"_s);
    QUrl url(trimmed, QUrl::StrictMode);
    if (!url.isValid() || url.host().isEmpty() || (url.scheme() != u"http"_s && url.scheme() != u"https"_s) ||
        url.hasQuery() || url.hasFragment())
        return {};
    QString path = url.path();
    while (path.endsWith(u'/'))
        path.chop(1);
    url.setPath(path);
    return url;
}

void AdminClient::connectTo(const QList<QUrl> &decisionUrls, const QByteArray &adminKey)
{
    disconnectFromCluster();
    m_urls = decisionUrls;
    m_key = adminKey;
    m_index = 0;
    m_triedThisRound = 0;
    m_failedRounds = 0;
    m_lastError.clear();
    m_lastUpdateMs = 0;
    m_backoff.reset();
    if (!m_urls.isEmpty())
        openStream();
}

void AdminClient::disconnectFromCluster()
{
    m_retryTimer.stop();
    m_silenceTimer.stop();
    if (m_socket) {
        m_socket->disconnect(this);
        m_socket->abort();
        m_socket->deleteLater();
        m_socket = nullptr;
    }
    if (m_state != State::Disconnected)
        setState(State::Disconnected);
}

QUrl AdminClient::currentUrl() const
{
    return m_urls.isEmpty() ? QUrl() : m_urls.at(m_index);
}

void AdminClient::setState(State state)
{
    m_state = state;
    Q_EMIT stateChanged(state);
}

void AdminClient::openStream()
{
    QUrl url = joined(currentUrl(), u"/v1/admin/stream"_s);
    url.setScheme(url.scheme() == u"https"_s ? u"wss"_s : u"ws"_s);
    QNetworkRequest request(url);
    request.setRawHeader("Authorization", bearer(m_key));

    m_socket = new QWebSocket(QString(), QWebSocketProtocol::VersionLatest, this);
    QWebSocket *socket = m_socket;
    connect(socket, &QWebSocket::binaryMessageReceived, this, [this](const QByteArray &frame) {
        v1::ClusterSnapshot snapshot;
        if (!protocol::decode(frame, &snapshot)) {
            streamLost(u"the decision server sent a frame that is not a cluster snapshot"_s);
            return;
        }
        m_silenceTimer.start();
        m_lastUpdateMs = protocol::nowMs();
        if (m_state != State::Connected) {
            m_triedThisRound = 0;
            m_failedRounds = 0;
            m_backoff.reset();
            m_lastError.clear();
            qCInfo(lcConsole) << "connected to" << currentUrl().toString();
            setState(State::Connected);
        }
        Q_EMIT snapshotReceived(snapshot);
    });
    connect(socket, &QWebSocket::disconnected, this, [this, socket] {
        const int code = int(socket->closeCode());
        if (protocol::isTerminalCode(code)) {
            const QString reason =
                u"%1 refused the admin key: %2"_s.arg(currentUrl().toString(), socket->closeReason());
            disconnectFromCluster();
            m_lastError = reason;
            Q_EMIT keyRejected(reason);
            return;
        }
        streamLost(socket->closeReason().isEmpty() ? socket->errorString() : socket->closeReason());
    });
    connect(socket, qOverload<QAbstractSocket::SocketError>(&QWebSocket::error), this,
            [this, socket] { streamLost(socket->errorString()); });
    m_silenceTimer.start();
    setState(State::Connecting);
    socket->open(request);
}

void AdminClient::streamLost(const QString &why)
{
    if (!m_socket)
        return;
    m_socket->disconnect(this);
    m_socket->abort();
    m_socket->deleteLater();
    m_socket = nullptr;
    m_silenceTimer.stop();
    m_lastError = u"%1: %2"_s.arg(currentUrl().toString(), why);
    qCInfo(lcConsole) << "lost" << m_lastError;

    m_index = (m_index + 1) % int(m_urls.size());
    if (++m_triedThisRound < m_urls.size()) {
        openStream(); // the next decision server, at once
        return;
    }
    // A whole round failed: wait, then start again from the first (preferred) server.
    m_index = 0;
    m_triedThisRound = 0;
    ++m_failedRounds;
    const int delayMs = std::max(100, m_backoff.nextDelayMs());
    m_nextAttemptMs = protocol::nowMs() + delayMs;
    m_retryTimer.start(delayMs);
    setState(State::Waiting);
}

void AdminClient::setAllowedLoad(int percent, Callback done)
{
    send("PUT", u"/v1/cluster/allowed-load"_s, {{u"allowed_load"_s, percent}}, std::move(done));
}

void AdminClient::setCapacity(const QString &nodeId, int capacity, Callback done)
{
    send("PUT", u"/v1/nodes/%1/capacity"_s.arg(QString::fromLatin1(QUrl::toPercentEncoding(nodeId))),
         {{u"capacity"_s, capacity}}, std::move(done));
}

void AdminClient::drain(const QString &nodeId, Callback done)
{
    send("POST", u"/v1/nodes/%1/drain"_s.arg(QString::fromLatin1(QUrl::toPercentEncoding(nodeId))), {},
         std::move(done));
}

void AdminClient::undrain(const QString &nodeId, Callback done)
{
    send("POST", u"/v1/nodes/%1/undrain"_s.arg(QString::fromLatin1(QUrl::toPercentEncoding(nodeId))), {},
         std::move(done));
}

void AdminClient::forget(const QString &nodeId, Callback done)
{
    send("DELETE", u"/v1/nodes/%1"_s.arg(QString::fromLatin1(QUrl::toPercentEncoding(nodeId))), {},
         std::move(done));
}

void AdminClient::fetchAudit(qint64 sinceMs, AuditCallback done)
{
    send("GET", u"/v1/audit?since=%1&limit=1000"_s.arg(sinceMs), {},
         [done = std::move(done)](const AdminResult &result) {
             QList<AuditRecord> records;
             const QJsonArray entries = result.body.value(u"entries"_s).toArray();
             records.reserve(entries.size());
             for (const QJsonValue &value : entries) {
                 const QJsonObject entry = value.toObject();
                 records.append({entry.value(u"id"_s).toInteger(), entry.value(u"at_ms"_s).toInteger(),
                                 entry.value(u"actor"_s).toString(), entry.value(u"action"_s).toString(),
                                 entry.value(u"target"_s).toString(), entry.value(u"old"_s).toString(),
                                 entry.value(u"new"_s).toString()});
             }
             done(result, records);
         });
}

void AdminClient::send(const QByteArray &method, const QString &path, const QJsonObject &body, Callback done)
{
    auto call = std::make_shared<Call>();
    call->method = method;
    call->path = path;
    if (!body.isEmpty())
        call->body = QJsonDocument(body).toJson(QJsonDocument::Compact);
    call->done = std::move(done);
    call->first = m_index;
    if (m_urls.isEmpty()) {
        QTimer::singleShot(0, this, [call] {
            call->done({false, 0, u"not_connected"_s, u"not connected to a cluster"_s, {}});
        });
        return;
    }
    sendTo(call);
}

void AdminClient::sendTo(std::shared_ptr<Call> call)
{
    const QList<QUrl> urls = m_urls;
    QNetworkRequest request(joined(urls.at((call->first + call->tried) % urls.size()), call->path));
    request.setRawHeader("Authorization", bearer(m_key));
    request.setHeader(QNetworkRequest::ContentTypeHeader, QByteArrayLiteral("application/json"));
    request.setRawHeader("Accept", "application/json");
    request.setTransferTimeout(CallTimeoutMs);
    QNetworkReply *reply = m_network->sendCustomRequest(request, call->method, call->body);
    connect(reply, &QNetworkReply::finished, this, [this, reply, call, urls] {
        reply->deleteLater();
        AdminResult result;
        result.httpStatus = reply->attribute(QNetworkRequest::HttpStatusCodeAttribute).toInt();
        if (result.httpStatus == 0 && ++call->tried < urls.size() && urls == m_urls) {
            sendTo(call); // no answer: ask the next decision server
            return;
        }
        const QJsonObject json = QJsonDocument::fromJson(reply->readAll()).object();
        result.ok = result.httpStatus >= 200 && result.httpStatus < 300;
        if (result.ok) {
            result.body = json;
        } else if (result.httpStatus == 0) {
            result.code = u"unreachable"_s;
            result.message = u"no decision server answered: "_s + reply->errorString();
        } else {
            const QJsonObject error = json.value(u"error"_s).toObject();
            result.code = error.value(u"code"_s).toString();
            result.message = error.value(u"message"_s).toString();
            if (result.message.isEmpty())
                result.message = u"HTTP %1"_s.arg(result.httpStatus);
        }
        call->done(result);
    });
}

} // namespace bfg
