// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 BFG developers
//
// The console's connection to a cluster: the admin WebSocket stream of one
// decision server (a ClusterSnapshot a second) and the admin API calls
// (allowed load, capacity, drain, undrain, forget, audit log). It holds the
// decision URLs in fallback order: when the stream is lost, or goes quiet,
// it moves to the next server, and after a whole round without success it
// backs off with jitter before starting again. Calls go to the server the
// stream is on, then to the others in order when that one does not answer.
#pragma once

#include <functional>
#include <memory>

#include <QJsonObject>
#include <QList>
#include <QObject>
#include <QTimer>
#include <QUrl>

#include "bfg/v1/cluster.pb.h"
#include "common/backoff.h"

class QNetworkAccessManager;
class QWebSocket;

namespace bfg {

// The answer to one admin call: ok, or the reason as the server (or the
// network) gave it.
struct AdminResult
{
    bool ok = false;
    int httpStatus = 0; // 0: no HTTP answer from any decision server
    QString code;       // the API's error code, e.g. "forbidden", "conflict"
    QString message;    // for the operator
    QJsonObject body;   // the JSON answer when ok
};

struct AuditRecord
{
    qint64 id = 0;
    qint64 atMs = 0;
    QString actor;
    QString action;
    QString target;
    QString oldValue;
    QString newValue;
};

class AdminClient : public QObject
{
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(AdminClient)

public:
    enum class State {
        Disconnected, // not asked to connect, or the key was refused
        Connecting,   // opening the stream on currentUrl()
        Connected,    // snapshots arriving
        Waiting,      // every server failed this round; next try at nextAttemptMs()
    };
    Q_ENUM(State)

    using Callback = std::function<void(const AdminResult &)>;
    using AuditCallback = std::function<void(const AdminResult &, const QList<AuditRecord> &)>;

    // A stream that sends nothing for this long is treated as lost.
    static constexpr int SilenceLimitMs = 5000;

    explicit AdminClient(QObject *parent = nullptr);
    ~AdminClient() override;

    // Starts (or restarts) the stream on the first URL.
    void connectTo(const QList<QUrl> &decisionUrls, const QByteArray &adminKey);
    void disconnectFromCluster();

    State state() const { return m_state; }
    QList<QUrl> decisionUrls() const { return m_urls; }
    QUrl currentUrl() const;
    // When state() is Waiting: ms since the Unix epoch of the next attempt.
    qint64 nextAttemptMs() const { return m_nextAttemptMs; }
    int failedRounds() const { return m_failedRounds; }
    QString lastError() const { return m_lastError; }
    // When the last snapshot arrived (ms since the Unix epoch); 0: none yet.
    qint64 lastUpdateMs() const { return m_lastUpdateMs; }

    void setAllowedLoad(int percent, Callback done);
    void setCapacity(const QString &nodeId, int capacity, Callback done);
    void drain(const QString &nodeId, Callback done);
    void undrain(const QString &nodeId, Callback done);
    void forget(const QString &nodeId, Callback done);
    // Audit entries at or after `sinceMs`, oldest first (at most 1,000).
    void fetchAudit(qint64 sinceMs, AuditCallback done);

    // Decision URL as the operator may type it ("host:port", "http://host:port/")
    // → the base URL calls are made on; invalid when it cannot be one.
    static QUrl normalizedUrl(const QString &text);

Q_SIGNALS:
    void snapshotReceived(const bfg::v1::ClusterSnapshot &snapshot);
    void stateChanged(bfg::AdminClient::State state);
    // The key was refused (401 / a terminal close): not retried until connectTo().
    void keyRejected(const QString &reason);

private:
    struct Call;
    void openStream();
    void streamLost(const QString &why);
    void setState(State state);
    void send(const QByteArray &method, const QString &path, const QJsonObject &body, Callback done);
    void sendTo(std::shared_ptr<Call> call);

    QNetworkAccessManager *m_network;
    QWebSocket *m_socket = nullptr;
    QList<QUrl> m_urls;
    QByteArray m_key;
    int m_index = 0;
    int m_triedThisRound = 0;
    int m_failedRounds = 0;
    State m_state = State::Disconnected;
    QString m_lastError;
    qint64 m_lastUpdateMs = 0;
    qint64 m_nextAttemptMs = 0;
    Backoff m_backoff{500, 15000};
    QTimer m_retryTimer;
    QTimer m_silenceTimer;
};

} // namespace bfg
