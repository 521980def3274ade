// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 BFG developers
#include "daemon/http/httpservice.h"

#include <QJsonDocument>
#include <QJsonObject>
#include <QSslServer>
#include <QTcpServer>
#include <QTcpSocket>

#include "common/logging.h"
#include "common/protocol.h"

using namespace Qt::Literals::StringLiterals;

namespace bfg {

namespace {
const QByteArray JsonType = QByteArrayLiteral("application/json");
const QByteArray ProtobufType = QByteArrayLiteral("application/x-protobuf");
// Set on a connection's socket while a request on it waits for its answer.
constexpr char AnsweringProperty[] = "bfgAnswering";

QStringList splitPath(const QString &path)
{
    return path.split(u'/', Qt::SkipEmptyParts);
}

// A request's path segments, each percent-decoded after splitting, so that
// an encoded "/" (or space) stays inside its segment: /v1/nodes/a%2Fb → "a/b".
QStringList decodedSegments(const QUrl &url)
{
    QStringList segments = splitPath(url.path(QUrl::FullyEncoded));
    for (QString &segment : segments)
        segment = QUrl::fromPercentEncoding(segment.toLatin1());
    return segments;
}
} // namespace

HttpError tokenRefusal(TokenError error)
{
    const QString code = error == TokenError::Expired     ? u"token_expired"_s
                         : error == TokenError::Malformed ? u"bad_token"_s
                                                          : u"token_tampered"_s;
    return {401, code, TokenSigner::errorText(error)};
}

HttpReply::HttpReply(QHttpServerResponder &&responder, QTcpSocket *socket, bool wantsProtobuf)
    : m_responder(std::move(responder))
    , m_socket(socket)
    , m_wantsProtobuf(wantsProtobuf)
{
    if (socket)
        socket->setProperty(AnsweringProperty, true);
}

HttpReply::~HttpReply()
{
    if (!m_sent && m_socket)
        m_socket->setProperty(AnsweringProperty, QVariant());
}

void HttpReply::send(int status, const QByteArray &contentType, const QByteArray &body,
                     const QList<std::pair<QByteArray, QByteArray>> &extraHeaders)
{
    if (m_sent)
        return;
    m_sent = true;
    if (!m_socket)
        return; // the client hung up while we worked
    m_responder.writeStatusLine(QHttpServerResponder::StatusCode(status));
    m_responder.writeHeader(QByteArrayLiteral("Content-Type"), contentType);
    m_responder.writeHeader(QByteArrayLiteral("Content-Length"), QByteArray::number(body.size()));
    for (const auto &[name, value] : extraHeaders)
        m_responder.writeHeader(name, value);
    m_responder.writeBody(body);
    if (m_socket)
        m_socket->setProperty(AnsweringProperty, QVariant());
}

void HttpReply::sendJson(const QJsonObject &body, int status)
{
    send(status, JsonType, QJsonDocument(body).toJson(QJsonDocument::Compact));
}

void HttpReply::sendProtobuf(const google::protobuf::MessageLite &body, int status)
{
    send(status, ProtobufType, protocol::encode(body));
}

void HttpReply::sendError(const HttpError &error)
{
    const QJsonObject body{{u"error"_s, QJsonObject{{u"code"_s, error.code}, {u"message"_s, error.message}}}};
    QList<std::pair<QByteArray, QByteArray>> headers;
    if (error.retryAfterSeconds > 0)
        headers.append({QByteArrayLiteral("Retry-After"), QByteArray::number(error.retryAfterSeconds)});
    send(error.status, JsonType, QJsonDocument(body).toJson(QJsonDocument::Compact), headers);
}

HttpService::HttpService(QString name, QObject *parent)
    : QAbstractHttpServer(parent)
    , m_name(std::move(name))
{}

void HttpService::addRoute(QHttpServerRequest::Method method, const QString &pattern, Handler handler)
{
    m_routes.append({method, splitPath(pattern), std::move(handler)});
}

void HttpService::setTls(const QSslConfiguration &configuration)
{
    m_tls = true;
    m_tlsConfiguration = configuration;
    // Listening already (a reload): new connections get the new certificate.
    for (QSslServer *server : findChildren<QSslServer *>(Qt::FindDirectChildrenOnly))
        server->setSslConfiguration(configuration);
}

quint16 HttpService::listen(const QHostAddress &address, quint16 port, QString *error, int backlog)
{
    QTcpServer *server = nullptr;
    if (m_tls) {
        // Hands a connection over once its TLS handshake is done; one that
        // stalls in it is dropped after the timeout.
        auto *sslServer = new QSslServer(this);
        sslServer->setSslConfiguration(m_tlsConfiguration);
        sslServer->setHandshakeTimeout(10000);
        connect(sslServer, &QSslServer::errorOccurred, this,
                [this](QSslSocket *, QAbstractSocket::SocketError socketError) {
                    qCDebug(lcHttp) << m_name << "TLS handshake failed:" << socketError;
                });
        server = sslServer;
    } else {
        server = new QTcpServer(this);
    }
    server->setListenBacklogSize(backlog);
    if (!server->listen(address, port)) {
        *error = server->errorString();
        delete server;
        return 0;
    }
    bind(server);
    return server->serverPort();
}

void HttpService::stopListening()
{
    for (QTcpServer *server : servers()) {
        // Connections the kernel completed but nobody accepted yet are taken
        // (and answered) rather than reset with the listening socket.
        server->waitForNewConnection(0);
        server->close();
    }
}

int HttpService::closeIdleConnections()
{
    int open = 0;
    for (QTcpSocket *socket : findChildren<QTcpSocket *>()) {
        // A request half received keeps a read transaction open (QHttpServerStream
        // parses from one); an answer written may still wait in the socket.
        const bool busy = socket->isTransactionStarted() || socket->bytesToWrite() > 0 ||
                          socket->property(AnsweringProperty).toBool();
        if (!busy && socket->state() == QAbstractSocket::ConnectedState)
            socket->disconnectFromHost();
        if (socket->state() != QAbstractSocket::UnconnectedState)
            ++open;
    }
    return open;
}

bool HttpService::isProtobuf(const QHttpServerRequest &request)
{
    return request.value(QByteArrayLiteral("content-type")).startsWith(ProtobufType);
}

bool HttpService::acceptsProtobuf(const QHttpServerRequest &request)
{
    return request.value(QByteArrayLiteral("accept")).contains(ProtobufType);
}

bool HttpService::handleRequest(const QHttpServerRequest &request, QTcpSocket *socket)
{
    // Qt 6.4 hands a WebSocket upgrade over only when this returns true and
    // nothing was answered.
    if (request.value(QByteArrayLiteral("upgrade")).compare("websocket", Qt::CaseInsensitive) == 0 &&
        m_webSocketPaths.contains(request.url().path()))
        return true;

    const QStringList path = decodedSegments(request.url());
    bool pathKnown = false;
    for (const Route &route : std::as_const(m_routes)) {
        if (route.segments.size() != path.size())
            continue;
        QStringList args;
        bool match = true;
        for (qsizetype i = 0; i < path.size() && match; ++i) {
            if (route.segments[i] == u"{}"_s)
                args.append(path[i]);
            else
                match = route.segments[i] == path[i];
        }
        if (!match)
            continue;
        pathKnown = true;
        if (route.method != request.method())
            continue;
        auto reply =
            std::make_shared<HttpReply>(makeResponder(request, socket), socket, acceptsProtobuf(request));
        if (request.body().size() > m_maxBodyBytes) {
            ++m_bodyTooLarge;
            reply->sendError(
                {413, u"body_too_large"_s, u"request body is larger than %1 bytes"_s.arg(m_maxBodyBytes)});
            return true;
        }
        route.handler(request, args, reply);
        return true;
    }
    if (pathKnown) {
        HttpReply reply(makeResponder(request, socket), socket, false);
        reply.sendError(
            {405, u"method_not_allowed"_s, u"method not allowed on %1"_s.arg(request.url().path())});
        return true;
    }
    return false; // -> missingHandler
}

void HttpService::missingHandler(const QHttpServerRequest &request, QTcpSocket *socket)
{
    qCDebug(lcHttp) << m_name << "no route for" << request.url().path();
    HttpReply reply(makeResponder(request, socket), socket, false);
    reply.sendError({404, u"not_found"_s, u"no such resource: %1"_s.arg(request.url().path())});
}

} // namespace bfg
