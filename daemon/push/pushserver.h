// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 BFG developers
//
// The push role: an acceptor on the main thread hands each new TCP
// connection to one of N worker threads (round robin) where the WebSocket
// handshake and the session live; the publish API and the reporter run
// on the main thread.
#pragma once

#include <memory>
#include <vector>

#include <QObject>
#include <QTcpServer>
#include <QUrl>

#include "bfg/v1/cluster.pb.h"
#include "common/tokenbucket.h"
#include "daemon/metrics/metricsregistry.h"
#include "daemon/push/pushoptions.h"
#include "daemon/push/worker.h"

class QThread;

namespace bfg {

class Broker;
class MetricsWriter;
class PublishApi;
class Reporter;

// Accepts on the WebSocket port and passes the raw descriptor on, so that
// the socket object is created in the worker's thread.
class Acceptor : public QTcpServer
{
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(Acceptor)

public:
    using QTcpServer::QTcpServer;
    std::function<void(qintptr)> onIncoming;

protected:
    void incomingConnection(qintptr socketDescriptor) override { onIncoming(socketDescriptor); }
};

class PushServer : public QObject
{
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(PushServer)

public:
    PushServer(PushOptions options, Broker *broker, QObject *parent = nullptr);
    ~PushServer() override;

    bool start(QString *error);
    // Stops accepting, closes every session with NODE_SHUTDOWN (a retry
    // code), so that clients resume elsewhere or after the restart, and stops
    // the worker threads. The workers stay (deleted with the server) until
    // the broker has been stopped: its answers to them may still be on the
    // way, and a broker must not post to a deleted object.
    void stop();

    // Drain (the operator's, through the decision servers): clients are
    // asked to reconnect elsewhere at push/drain_rate a second and new ones
    // are turned away; the node reports DRAINING, then DRAINED when empty.
    void startDrain();
    void undrain();
    v1::NodeState state() const;
    // Graceful shutdown: drain for at most push/drain_timeout_ms, then stop()
    // and call `done`. An undrain from the decision servers cannot cancel it.
    void shutdown(std::function<void()> done);
    // Takes the settings of `fresh` that can change while clients are
    // connected (a reload): the abuse limits, the send queue bound, the
    // handshake bounds, the drain pace and timeout, publish keys and token
    // secrets. Listeners, node id, workers, heartbeat and the broker stay as
    // started. Each worker applies them on its own thread.
    void reconfigure(const PushOptions &fresh);

    QString nodeId() const { return m_options.nodeId; }
    QString publicUri() const { return m_options.publicUri; }
    QString publicHttpUri() const { return m_options.publicHttpUri; }
    quint16 port() const;
    quint16 httpPort() const;
    const PushStats &stats() const { return m_stats; }
    BrokerHealth brokerHealth() const;
    // Publish -> socket-write latency since the last call, all workers.
    LatencyHistogram takeLatency();

private:
    // GET /metrics on the publish listener: the figures of every worker,
    // the publish API and the broker, read when Prometheus scrapes.
    void writeMetrics(MetricsWriter &writer) const;

    PushOptions m_options;
    Broker *m_broker;
    PushStats m_stats;
    Acceptor m_acceptor;
    std::vector<QThread *> m_threads;
    std::vector<Worker *> m_workers;
    size_t m_nextWorker = 0;
    KeyedTokenBuckets m_connectionsPerIp; // push/connections_per_ip_per_s
    UserConnections m_users;              // push/max_connections_per_user
    bool m_draining = false;
    bool m_stopped = false;
    bool m_shuttingDown = false;
    PublishApi *m_publishApi = nullptr;
    Reporter *m_reporter = nullptr;
    MetricsRegistry m_metrics;
    quint64 m_refusedPerIp = 0; // connections turned away by m_connectionsPerIp (this thread's)
};

} // namespace bfg
