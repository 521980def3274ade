// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 BFG developers
//
// One keep-alive HTTP/1.1 connection to one server, one request at a time,
// on the caller's thread: what the probe's Publisher posts its batches
// over. QNetworkAccessManager did the same job at about half a million
// instructions per request (string-based connects and metatype lookups per
// reply, every signal hopping to its own thread and back), which made
// publishing most of the probe's CPU; this costs a few write()s and read()s.
// Bodies must come with a Content-Length (chunked answers are refused as
// errors); http and https (QSslSocket, default verification).
#pragma once

#include <functional>

#include <QByteArray>
#include <QObject>
#include <QString>
#include <QTimer>
#include <QUrl>

class QTcpSocket;

namespace bfg::probe {

class HttpConnection : public QObject
{
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(HttpConnection)

public:
    struct Response
    {
        int status = 0;        // 0: no HTTP answer (connect failure, reset, timeout)
        QByteArray body;       // when status != 0
        QByteArray retryAfter; // the Retry-After header as sent
        QString error;         // when status == 0
    };
    using Callback = std::function<void(const Response &)>;

    // `url`: scheme, host and port of the server; each request names its own path.
    HttpConnection(const QUrl &url, int timeoutMs, QObject *parent = nullptr);
    ~HttpConnection() override;

    bool isBusy() const { return bool(m_done); }
    // POSTs `body` to `path`; `done` runs once, later, from this object's
    // signals (never inside post()), unless this object is destroyed first.
    // `headers`: extra header lines, each ending in CRLF (Host and
    // Content-Length are added).
    void post(const QByteArray &path, const QByteArray &headers, const QByteArray &body, Callback done);

private:
    void onConnected();
    void onReadyRead();
    void onDisconnected();
    void fail(const QString &error);
    void finish(Response response);
    // Parses the status line and headers once they are complete; false on a malformed answer.
    bool parseHead(qsizetype headEnd);
    void resetSocket();

    QUrl m_url;
    bool m_tls;
    int m_timeoutMs;
    QTcpSocket *m_socket = nullptr; // a QSslSocket for https
    bool m_connected = false;
    QTimer m_timeoutTimer;

    QByteArray m_request; // written once connected
    Callback m_done;      // set while a request is in flight
    QByteArray m_in;
    qsizetype m_scanned = 0; // searched for the end of the head up to here
    bool m_haveHead = false;
    int m_status = 0;
    qsizetype m_bodyStart = 0;
    qsizetype m_contentLength = -1;
    bool m_closeAfter = false;
    QByteArray m_retryAfter;
};

} // namespace bfg::probe
