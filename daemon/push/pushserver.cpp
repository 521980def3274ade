// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 BFG developers
#include "daemon/push/pushserver.h"

#include <iterator>

#include <QtGlobal>
#ifdef Q_OS_WIN
#include <winsock2.h>
#include <ws2tcpip.h>
#else
#include <netinet/in.h>
#include <sys/socket.h>
#endif

#include <QElapsedTimer>
#include <QHostInfo>
#include <QThread>
#include <QTimer>

#include "common/eventloop/epolleventdispatcher.h"
#include "common/logging.h"
#include "common/protocol.h"
#include "daemon/metrics/metricswriter.h"
#include "daemon/push/publishapi.h"
#include "daemon/push/reporter.h"

using namespace Qt::Literals::StringLiterals;

namespace bfg {

namespace {
constexpr int CloseWaitMs = 3000;
constexpr int AcceptRetryMs = 250;

// The peer's address bytes (IPv4 or IPv6), the key of its connection budget.
QByteArray peerAddress(qintptr descriptor)
{
    sockaddr_storage address = {};
    socklen_t size = sizeof address;
    if (::getpeername(int(descriptor), reinterpret_cast<sockaddr *>(&address), &size) != 0)
        return {};
    if (address.ss_family == AF_INET) {
        const auto *in = reinterpret_cast<const sockaddr_in *>(&address);
        return QByteArray(reinterpret_cast<const char *>(&in->sin_addr), sizeof in->sin_addr);
    }
    const auto *in6 = reinterpret_cast<const sockaddr_in6 *>(&address);
    return QByteArray(reinterpret_cast<const char *>(&in6->sin6_addr), sizeof in6->sin6_addr);
}
} // namespace

PushServer::PushServer(PushOptions options, Broker *broker, QObject *parent)
    : QObject(parent)
    , m_options(std::move(options))
    , m_broker(broker)
    , m_connectionsPerIp(m_options.connectionsPerIpPerSecond, 2.0 * m_options.connectionsPerIpPerSecond)
    , m_users(m_options.maxConnectionsPerUser, m_options.refuseNewPerUser
                                                   ? UserConnections::Policy::RefuseNew
                                                   : UserConnections::Policy::CloseOldest)
{}

PushServer::~PushServer()
{
    stop();
    // Deleted only now (their threads are gone): a broker stopped after stop()
    // may still post its last answers to them, which their deletion discards.
    for (Worker *worker : m_workers)
        delete worker;
}

quint16 PushServer::port() const
{
    return m_acceptor.serverPort();
}

quint16 PushServer::httpPort() const
{
    return m_publishApi ? m_publishApi->port() : 0;
}

bool PushServer::start(QString *error)
{
    if (m_options.secret.isEmpty()) {
        *error = u"push: no token secret configured"_s;
        return false;
    }
    m_acceptor.setListenBacklogSize(m_options.listenBacklog);
    // QTcpServer pauses accepting on any error but a temporary one (out of
    // file descriptors: EMFILE) and never resumes by itself.
    connect(&m_acceptor, &QTcpServer::acceptError, this, [this](QAbstractSocket::SocketError) {
        qCWarning(lcPush).noquote() << "cannot accept connections:" << m_acceptor.errorString()
                                    << "- retrying in" << AcceptRetryMs << "ms";
        QTimer::singleShot(AcceptRetryMs, this, [this] {
            if (m_acceptor.isListening())
                m_acceptor.resumeAccepting();
        });
    });
    m_acceptor.onIncoming = [this](qintptr descriptor) {
        const bool refuse = m_connectionsPerIp.take(peerAddress(descriptor), protocol::nowMs()) > 0;
        m_refusedPerIp += refuse ? 1 : 0;
        Worker *worker = m_workers[m_nextWorker++ % m_workers.size()];
        QMetaObject::invokeMethod(
            worker, [worker, descriptor, refuse] { worker->takeSocket(descriptor, refuse); },
            Qt::QueuedConnection);
    };
    if (!m_acceptor.listen(m_options.address, m_options.port)) {
        *error = u"push: cannot listen on %1:%2: %3"_s.arg(m_options.address.toString())
                     .arg(m_options.port)
                     .arg(m_acceptor.errorString());
        return false;
    }
    if (m_options.publicUri.isEmpty())
        m_options.publicUri =
            u"%1://%2:%3/v1/ws"_s.arg(m_options.tls ? u"wss"_s : u"ws"_s, m_options.address.toString())
                .arg(port());

    if (m_options.nodeId.isEmpty())
        m_options.nodeId = QHostInfo::localHostName() + u'-' + QString::number(port());

    // Nothing is accepted before start() returns to the event loop, so the
    // workers can be built now, with the node's final id and URI.
    const int workers = m_options.workers > 0 ? m_options.workers : std::max(1, QThread::idealThreadCount());
    m_options.workers = workers;
    for (int i = 0; i < workers; ++i) {
        auto *thread = new QThread;
        thread->setObjectName(u"push-worker-%1"_s.arg(i));
        if (m_options.eventLoop == u"epoll"_s)
            thread->setEventDispatcher(new EpollEventDispatcher); // the thread takes it over
        auto *worker = new Worker(i, m_options, m_broker, &m_stats, &m_users);
        worker->moveToThread(thread);
        thread->start();
        QMetaObject::invokeMethod(worker, &Worker::initialize, Qt::BlockingQueuedConnection);
        m_threads.push_back(thread);
        m_workers.push_back(worker);
    }

    m_publishApi = new PublishApi(m_options, m_broker, this);
    if (!m_publishApi->start(error))
        return false;
    m_metrics.addCollector([this](MetricsWriter &writer) { writeMetrics(writer); });
    m_metrics.serve(m_publishApi->http(), m_options.metricsKey);
    if (m_options.publicHttpUri.isEmpty())
        m_options.publicHttpUri =
            u"%1://%2:%3"_s.arg(m_options.tls ? u"https"_s : u"http"_s, m_options.httpAddress.toString())
                .arg(m_publishApi->port());

    m_reporter = new Reporter(m_options, this, this);
    m_reporter->start();
    qCInfo(lcPush).noquote() << logEvent("listening", {{"node", m_options.nodeId},
                                                       {"uri", m_options.publicUri},
                                                       {"publish_uri", m_options.publicHttpUri},
                                                       {"workers", QString::number(workers)},
                                                       {"event_loop", m_options.eventLoop}});
    return true;
}

void PushServer::stop()
{
    if (m_workers.empty() || m_stopped)
        return;
    m_stopped = true;
    m_acceptor.close();
    if (m_reporter)
        m_reporter->stop();
    for (Worker *worker : m_workers) {
        QMetaObject::invokeMethod(
            worker, [worker] { worker->closeAll(v1::NODE_SHUTDOWN, u"node shutting down"_s); },
            Qt::BlockingQueuedConnection);
    }
    // Give the clients a moment to answer the close handshake, so that they
    // see the code and resume instead of treating it as a network failure.
    QElapsedTimer waited;
    waited.start();
    while (m_stats.connections.load() > 0 && waited.elapsed() < CloseWaitMs)
        QThread::msleep(10);
    for (size_t i = 0; i < m_workers.size(); ++i) {
        Worker *worker = m_workers[i];
        QMetaObject::invokeMethod(worker, &Worker::shutdown, Qt::BlockingQueuedConnection);
        m_threads[i]->quit();
        m_threads[i]->wait();
        delete m_threads[i];
    }
    m_threads.clear();
}

void PushServer::startDrain()
{
    if (m_draining)
        return;
    m_draining = true;
    const int perWorker = std::max(1, m_options.drainRate / int(std::max<size_t>(1, m_workers.size())));
    qCInfo(lcPush).noquote() << logEvent("drain_started",
                                         {{"connections", QString::number(m_stats.connections.load())},
                                          {"rate_per_s", QString::number(m_options.drainRate)}});
    for (Worker *worker : m_workers)
        QMetaObject::invokeMethod(worker, [worker, perWorker] { worker->setDraining(true, perWorker); });
    // The decision servers stop sending clients here as soon as they know.
    if (m_reporter)
        m_reporter->reportNow();
}

void PushServer::undrain()
{
    if (!m_draining || m_shuttingDown)
        return;
    m_draining = false;
    qCInfo(lcPush).noquote() << logEvent("drain_cancelled");
    for (Worker *worker : m_workers)
        QMetaObject::invokeMethod(worker, [worker] { worker->setDraining(false, 0); });
    if (m_reporter)
        m_reporter->reportNow();
}

v1::NodeState PushServer::state() const
{
    if (!m_draining)
        return v1::NODE_ACTIVE;
    return m_stats.connections.load(std::memory_order_relaxed) > 0 ? v1::NODE_DRAINING : v1::NODE_DRAINED;
}

void PushServer::shutdown(std::function<void()> done)
{
    if (m_shuttingDown)
        return;
    m_shuttingDown = true;
    if (m_options.drainTimeoutMs <= 0 || m_workers.empty()) {
        stop();
        done();
        return;
    }
    startDrain();
    auto *poll = new QTimer(this);
    auto waited = std::make_shared<QElapsedTimer>();
    waited->start();
    connect(poll, &QTimer::timeout, this, [this, poll, waited, done = std::move(done)] {
        const int left = m_stats.connections.load();
        if (left > 0 && waited->elapsed() < m_options.drainTimeoutMs)
            return;
        poll->deleteLater();
        if (left > 0)
            qCWarning(lcPush).noquote() << logEvent("drain_timeout", {{"closing", QString::number(left)}});
        else
            qCInfo(lcPush).noquote() << logEvent("drained", {{"ms", QString::number(waited->elapsed())}});
        stop();
        done();
    });
    poll->start(100);
}

void PushServer::reconfigure(const PushOptions &fresh)
{
    // The keys DaemonSettings::LiveKeys names for the push section.
    m_options.handshakeTimeoutMs = fresh.handshakeTimeoutMs;
    m_options.maxPendingConnections = fresh.maxPendingConnections;
    m_options.connectionsPerIpPerSecond = fresh.connectionsPerIpPerSecond;
    m_options.inboundFramesPerSecond = fresh.inboundFramesPerSecond;
    m_options.inboundBytesPerSecond = fresh.inboundBytesPerSecond;
    m_options.maxConnectionsPerUser = fresh.maxConnectionsPerUser;
    m_options.refuseNewPerUser = fresh.refuseNewPerUser;
    m_options.publishRequestsPerSecond = fresh.publishRequestsPerSecond;
    m_options.maxSendQueueBytes = fresh.maxSendQueueBytes;
    m_options.drainRate = fresh.drainRate;
    m_options.drainTimeoutMs = fresh.drainTimeoutMs;
    m_options.publishKeys = fresh.publishKeys;
    m_options.secret = fresh.secret;
    m_options.previousSecrets = fresh.previousSecrets;
    if (m_options.tls && fresh.tls) // a renewed certificate, for new connections
        m_options.tls = fresh.tls;

    m_connectionsPerIp.configure(m_options.connectionsPerIpPerSecond,
                                 2.0 * m_options.connectionsPerIpPerSecond);
    m_users.setLimit(m_options.maxConnectionsPerUser, m_options.refuseNewPerUser
                                                          ? UserConnections::Policy::RefuseNew
                                                          : UserConnections::Policy::CloseOldest);
    for (Worker *worker : m_workers) {
        QMetaObject::invokeMethod(
            worker, [worker, options = m_options] { worker->reconfigure(options); }, Qt::QueuedConnection);
    }
    if (m_publishApi)
        m_publishApi->reconfigure(m_options);
    if (m_reporter)
        m_reporter->reconfigure(m_options);
}

BrokerHealth PushServer::brokerHealth() const
{
    return m_broker->health();
}

LatencyHistogram PushServer::takeLatency()
{
    LatencyHistogram all;
    for (Worker *worker : m_workers)
        all.merge(worker->takeLatency());
    return all;
}

void PushServer::writeMetrics(MetricsWriter &writer) const
{
    using Type = MetricsWriter::Type;
    writer.gauge("bfg_push_connections",
                 "Open WebSocket connections on this node, from accept to close (handshakes included).",
                 double(std::max(0, m_stats.connections.load(std::memory_order_relaxed))));
    writer.gauge("bfg_push_capacity_connections", "The connections this node is rated for (push/capacity).",
                 double(m_options.capacity));

    writer.family("bfg_push_handshakes_total", Type::Counter,
                  "Connections by how their handshake (upgrade, hello, subscriptions) ended.");
    static const char *const results[] = {
        "ok", "refused", "limited", "timeout", "draining", "broker_unavailable", "disconnected", "shutdown"};
    static_assert(std::size(results) == size_t(HandshakeResult::Count));
    for (int i = 0; i < int(HandshakeResult::Count); ++i) {
        quint64 total = 0;
        for (const Worker *worker : m_workers)
            total += worker->metrics().handshakes[i].value();
        writer.sample(total, {{"result", results[i]}});
    }

    writer.counter(
        "bfg_push_messages_delivered_total",
        "Live messages queued to clients' sockets (one per message and session; replays not counted).",
        m_stats.delivered.load(std::memory_order_relaxed));
    writer.counter("bfg_push_messages_replayed_total", "Messages replayed from history to resuming clients.",
                   m_stats.replayed.load(std::memory_order_relaxed));
    writer.counter("bfg_push_client_publishes_total",
                   "Messages clients published over their connections (chat), acked or not.",
                   m_stats.clientPublished.load(std::memory_order_relaxed));
    writer.counter("bfg_push_ephemeral_dropped_total",
                   "Ephemeral messages (typing, presence) not sent to a client that was behind.",
                   m_stats.ephemeralDropped.load(std::memory_order_relaxed));
    if (m_publishApi)
        m_publishApi->writeMetrics(writer);

    MetricHistogram::Snapshot latency;
    quint64 queuedBytes = 0, slowConsumers = 0;
    for (const Worker *worker : m_workers) {
        latency.merge(worker->metrics().latency.snapshot());
        queuedBytes += worker->metrics().sendQueueBytes.value();
        slowConsumers += worker->metrics().slowConsumers.value();
    }
    writer.family("bfg_push_delivery_latency_seconds", Type::Histogram,
                  "From the broker accepting a message (its publish_time) to its frame being queued on a "
                  "client's socket, written in the same event-loop turn unless the socket is backed up. With "
                  "Redis, publish_time is the publishing node's clock.");
    if (latency.counts.empty())
        latency = MetricHistogram(MetricHistogram::latencyBounds()).snapshot(); // no workers (yet)
    writer.histogram(latency);
    writer.gauge("bfg_push_send_queue_bytes",
                 "Bytes queued for clients and not yet taken by the kernel, all connections (as of each "
                 "worker's last one-second sweep).",
                 double(queuedBytes));
    writer.counter("bfg_push_slow_consumer_disconnects_total",
                   "Clients closed with 3003 SLOW_CONSUMER: more than push/max_send_queue_bytes queued.",
                   slowConsumers);
    writer.gauge("bfg_push_draining",
                 "1 while the node drains (told by the operator, or shutting down), else 0.",
                 m_draining ? 1 : 0);

    const BrokerHealth health = m_broker->health();
    const QByteArray type = health.state.startsWith(u"redis"_s) ? "redis" : "local";
    const QByteArray state = health.up                                      ? "up"
                             : health.state.startsWith(u"redis degraded"_s) ? "degraded"
                                                                            : "down";
    writer.family("bfg_broker_up", Type::Gauge,
                  "1 when the broker takes publishes and subscriptions, else 0; type local or redis.");
    writer.sample(health.up ? 1.0 : 0.0, {{"type", type}});
    writer.family("bfg_broker_state", Type::Gauge,
                  "1 for the broker's current state: up, degraded (Redis reachable but publishes refused by "
                  "the circuit breaker) or down (unreachable or connecting).");
    for (const char *name : {"up", "degraded", "down"})
        writer.sample(state == name ? 1.0 : 0.0, {{"state", name}});

    writer.family("bfg_limit_exceeded_total", Type::Counter,
                  "Connections, frames or requests refused or closed because they went past a configured "
                  "limit.");
    static const char *const limits[] = {
        "connections_per_ip",   "pending_handshakes", "handshake_timeout", "inbound_rate", "frame_size",
        "connections_per_user", "send_queue",         "publish_rate",      "body_size",    "payload_size"};
    static_assert(std::size(limits) == size_t(PushLimit::Count));
    for (int i = 0; i < int(PushLimit::Count); ++i) {
        const auto limit = PushLimit(i);
        quint64 total = 0;
        if (limit == PushLimit::ConnectionsPerIp)
            total = m_refusedPerIp;
        else if (limit == PushLimit::PublishRate || limit == PushLimit::BodySize ||
                 limit == PushLimit::PayloadSize)
            total = m_publishApi ? m_publishApi->limitCount(limit) : 0;
        for (const Worker *worker : m_workers)
            total += worker->metrics().limits[i].value();
        writer.sample(total, {{"limit", limits[i]}});
    }
}

} // namespace bfg
