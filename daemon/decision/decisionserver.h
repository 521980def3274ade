// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 BFG developers
//
// The decision role: tells each client which push node to use
// (GET /v1/assign), takes the push nodes' reports
// (POST /v1/nodes/{id}/report) and serves the admin API (AdminApi). Its
// view of the cluster (ClusterState) is shared through the store with the
// other decision servers on the same database.
#pragma once

#include <functional>
#include <memory>

#include <QHostAddress>
#include <QObject>
#include <QStringList>
#include <QTimer>
#include <QUrl>

#include "common/token.h"
#include "common/tokenbucket.h"
#include "daemon/metrics/metricsregistry.h"

class QHttpServerRequest;

namespace bfg {

class ServerTls;

class AdminApi;
class ClusterState;
class HttpReply;
class HttpService;
class MetricsWriter;

struct AdminKeyConfig
{
    QString name;
    QString scope; // "read" or "operator"
    QString key;
    bool operator==(const AdminKeyConfig &other) const
    {
        return name == other.name && scope == other.scope && key == other.key;
    }
};

struct DecisionOptions
{
    QString decisionId; // names this server in snapshots and logs; default host-port
    QHostAddress address = QHostAddress::LocalHost;
    quint16 port = 8080;
    std::shared_ptr<const ServerTls> tls; // set: HTTPS (and WSS for the admin stream)
    QString store;                        // SQLite file path, or postgresql://user:pass@host:port/db
    int allowedLoadPercent = 80;          // until an operator sets it in the store
    int tokenTtlSeconds = 60;
    QStringList publicStreams; // shared streams every connect token grants (fx:EURUSD, news:all)
    QStringList clientPublish; // streams every connect token may publish to (room:*, user:* for DMs)
    int reportIntervalMs = 1000;
    double assignRatePerSecond = 2000; // token bucket for GET /v1/assign; 0: unlimited
    int assignBurst = 2000;
    double latencySloMs = 50;          // p99 above it marks a node's suggested capacity
    QByteArray secret;                 // shared with the push nodes
    QList<QByteArray> previousSecrets; // older secrets whose tokens still verify (rotation)
    QList<AdminKeyConfig> adminKeys;
    QByteArray metricsKey; // GET /metrics needs "Bearer <key>" when set (general/metrics_key)
};

class DecisionServer : public QObject
{
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(DecisionServer)

public:
    explicit DecisionServer(DecisionOptions options, QObject *parent = nullptr);
    ~DecisionServer() override;

    bool start(QString *error);
    quint16 port() const { return m_port; }
    QUrl url() const;

    // Graceful stop: accepts no new connections, closes the consoles' live
    // streams, and closes each open connection once the request on it is
    // answered, for at most StopGraceMs; then calls `done`.
    static constexpr int StopGraceMs = 3000;
    void shutdown(std::function<void()> done);
    // Takes the settings of `fresh` that can change while running (a
    // reload): admin keys, token secrets, token lifetime, public streams,
    // the assignment rate, the latency SLO and the configured allowed load.
    // False, with nothing changed, when the store refuses the admin keys.
    bool reconfigure(const DecisionOptions &fresh, QString *error);

    // For the service status line.
    int nodeCount() const;
    int eligibleNodeCount() const;
    int allowedLoadPercent() const;

private:
    void assign(const QHttpServerRequest &request, const std::shared_ptr<HttpReply> &reply);
    void report(const QHttpServerRequest &request, const QString &nodeId,
                const std::shared_ptr<HttpReply> &reply);
    void writeMetrics(MetricsWriter &writer);

    // GET /v1/assign answers by status, for bfg_decision_assignments_total.
    enum Outcome { Assigned, BadRequest, RateLimited, NoCapacity, OutcomeCount };

    DecisionOptions m_options;
    TokenSigner m_signer;
    TokenBucket m_assignBucket;
    std::unique_ptr<ClusterState> m_state;
    HttpService *m_http = nullptr;
    AdminApi *m_admin = nullptr;
    QTimer m_reloadTimer;
    quint16 m_port = 0;
    MetricsRegistry m_metrics;
    quint64 m_assignments[OutcomeCount] = {}; // the main thread's, as is /metrics
    bool m_stopping = false;
};

} // namespace bfg
