// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 BFG developers
//
// The HTTP front of the decision and push roles: a route table over
// QAbstractHttpServer with answers that may be sent later (a publish is
// answered once the broker has stored it) and errors that always come back
// as JSON {"error": {"code", "message"}} with the right status, unknown
// paths and wrong methods included. One route per (method, path pattern);
// "{}" in a pattern captures one path segment.
#pragma once

#include <functional>
#include <memory>

#include <QAbstractHttpServer>
#include <QHttpServerRequest>
#include <QHttpServerResponder>
#include <QPointer>
#include <QSslConfiguration>
#include <QStringList>

#include "common/token.h"

class QJsonObject;
class QTcpSocket;

namespace google::protobuf {
class MessageLite;
}

namespace bfg {

// An error at the HTTP boundary: turned into a status and a JSON body in
// HttpReply::sendError and nowhere else.
struct HttpError
{
    int status = 400;
    QString code;    // machine-readable, e.g. "bad_request", "no_capacity"
    QString message; // for people
    int retryAfterSeconds = 0;
};

// The answer to one request; may outlive the handler call. If the client
// went away meanwhile, sending is a no-op.
class HttpReply
{
public:
    HttpReply(QHttpServerResponder &&responder, QTcpSocket *socket, bool wantsProtobuf);
    ~HttpReply();
    Q_DISABLE_COPY_MOVE(HttpReply)

    bool wantsProtobuf() const { return m_wantsProtobuf; }
    void sendJson(const QJsonObject &body, int status = 200);
    void sendProtobuf(const google::protobuf::MessageLite &body, int status = 200);
    void sendError(const HttpError &error);
    void send(int status, const QByteArray &contentType, const QByteArray &body,
              const QList<std::pair<QByteArray, QByteArray>> &extraHeaders = {});
    bool isSent() const { return m_sent; }

private:
    QHttpServerResponder m_responder;
    QPointer<QTcpSocket> m_socket;
    bool m_wantsProtobuf;
    bool m_sent = false;
};

using HttpReplyPtr = std::shared_ptr<HttpReply>;

// A refused bearer token as the HTTP APIs answer it: 401 token_expired,
// bad_token (malformed) or token_tampered (bad signature, unknown key).
HttpError tokenRefusal(TokenError error);

class HttpService : public QAbstractHttpServer
{
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(HttpService)

public:
    // `args` holds the segments captured by "{}" in the pattern.
    using Handler = std::function<void(const QHttpServerRequest &request, const QStringList &args,
                                       const HttpReplyPtr &reply)>;

    explicit HttpService(QString name, QObject *parent = nullptr);

    void addRoute(QHttpServerRequest::Method method, const QString &pattern, Handler handler);
    // A path where WebSocket upgrades are accepted; the sockets come out of
    // QAbstractHttpServer::nextPendingWebSocketConnection().
    void addWebSocketPath(const QString &path) { m_webSocketPaths.append(path); }

    // Serve HTTPS with this configuration (certificate and key): from the
    // next listen() on, and on the listeners there are for new connections.
    void setTls(const QSslConfiguration &configuration);

    // Body size above which a request is refused with 413.
    void setMaxBodyBytes(qint64 bytes) { m_maxBodyBytes = bytes; }
    // Requests refused so far for their body size (bfg_limit_exceeded_total);
    // read on the service's own thread.
    quint64 bodyTooLargeCount() const { return m_bodyTooLarge; }

    // Listens with a kernel accept queue of `backlog` (QAbstractHttpServer's
    // own listen() keeps Qt's 50, which a reconnect storm overflows: every
    // dropped SYN costs its client a 1 s retransmit). Returns the port, 0 on
    // failure with `error` set.
    quint16 listen(const QHostAddress &address, quint16 port, QString *error, int backlog = 4096);

    // A graceful stop, in two steps: stopListening() takes the connections
    // already made and accepts no more; closeIdleConnections(), called until
    // it returns 0 or the caller's patience ends, closes each connection once
    // nothing is in progress on it (no request half received, no answer
    // pending, the last answer sent) and returns how many are still open.
    void stopListening();
    int closeIdleConnections();

    static bool isProtobuf(const QHttpServerRequest &request);      // by Content-Type
    static bool acceptsProtobuf(const QHttpServerRequest &request); // by Accept

protected:
    bool handleRequest(const QHttpServerRequest &request, QTcpSocket *socket) override;
    void missingHandler(const QHttpServerRequest &request, QTcpSocket *socket) override;

private:
    struct Route
    {
        QHttpServerRequest::Method method;
        QStringList segments;
        Handler handler;
    };

    QString m_name;
    QList<Route> m_routes;
    QStringList m_webSocketPaths;
    qint64 m_maxBodyBytes = 4 * 1024 * 1024;
    bool m_tls = false;
    QSslConfiguration m_tlsConfiguration;
    quint64 m_bodyTooLarge = 0;
};

} // namespace bfg
