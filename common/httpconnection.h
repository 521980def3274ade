// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 BFG developers
//
// One keep-alive HTTP/1.1 connection to one server, one request at a time,
// on the caller's thread: what the probe's clients ask the decision servers
// (DecisionClient) and publish (Publisher) over. QNetworkAccessManager did
// the same job at about half a million instructions per request
// (string-based connects and metatype lookups per reply, every signal
// hopping to the manager's thread and back), which made assigning and
// publishing most of the probe's CPU; this costs a few write()s and read()s.
// Answers must come with a Content-Length (chunked ones are refused as
// errors); http and https (QSslSocket, default verification).
#pragma once

#include <functional>

#include <QByteArray>
#include <QByteArrayView>
#include <QObject>
#include <QString>
#include <QTimer>
#include <QUrl>

class QTcpSocket;

namespace bfg {

class HttpConnection : public QObject
{
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(HttpConnection)

public:
    struct Response
    {
        int status = 0;  // 0: no HTTP answer (connect failure, reset, timeout)
        QByteArray head; // status line and header lines, when status != 0
        QByteArray body; // when status != 0
        QString error;   // when status == 0
        bool timedOut = false;

        // The value of a header (name without the colon, any case), or empty.
        QByteArrayView header(QByteArrayView name) const;
    };
    using Callback = std::function<void(const Response &)>;

    // `server`: scheme, host and port; each request names its own path and query.
    HttpConnection(const QUrl &server, int timeoutMs, QObject *parent = nullptr);
    ~HttpConnection() override;

    bool isBusy() const { return bool(m_done); }
    // Sends `method target` (target: path and query, encoded); `done` runs once,
    // later, from this object's signals (never inside request()), unless this
    // object is destroyed first. `headers`: extra header lines, each ending in
    // CRLF (Host and, with a body, Content-Length are added). An answer that
    // fails to come on a connection kept from an earlier request is asked for
    // once more on a new one: the server may have closed it meanwhile.
    void request(QByteArrayView method, const QByteArray &target, const QByteArray &headers,
                 const QByteArray &body, Callback done);

private:
    void send();
    void openSocket();
    void onConnected();
    void onReadyRead();
    void onDisconnected();
    void fail(const QString &error, bool timedOut = false);
    void finish(Response response);
    // Parses the status line and headers once they are complete; false on a malformed answer.
    bool parseHead(qsizetype headEnd);
    void resetSocket();

    QUrl m_server;
    bool m_tls;
    int m_timeoutMs;
    QTcpSocket *m_socket = nullptr; // a QSslSocket for https
    bool m_connected = false;
    bool m_reused = false; // the request went out on a connection an earlier answer came over
    bool m_retried = false;
    QTimer m_timeoutTimer;

    QByteArray m_request; // all of it, kept until the answer for one retry
    Callback m_done;      // set while a request is in flight
    QByteArray m_in;
    qsizetype m_scanned = 0; // searched for the end of the head up to here
    bool m_haveHead = false;
    int m_status = 0;
    qsizetype m_bodyStart = 0;
    qsizetype m_contentLength = -1;
    bool m_closeAfter = false;
};

} // namespace bfg
