// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 BFG developers
#include "daemon/push/pushserver.h"

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
        m_options.publicUri = u"ws://%1:%2/v1/ws"_s.arg(m_options.address.toString()).arg(port());

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
    if (m_options.publicHttpUri.isEmpty())
        m_options.publicHttpUri =
            u"http://%1:%2"_s.arg(m_options.httpAddress.toString()).arg(m_publishApi->port());

    m_reporter = new Reporter(m_options, this, this);
    m_reporter->start();
    qCInfo(lcPush) << "push node" << m_options.nodeId << "accepting on" << m_options.publicUri << "with"
                   << workers << m_options.eventLoop << "workers; publish API on" << m_options.publicHttpUri;
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
    qCInfo(lcPush) << "drain started:" << m_stats.connections.load() << "connections to move at"
                   << m_options.drainRate << "a second";
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
    qCInfo(lcPush) << "drain cancelled: accepting clients again";
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
            qCWarning(lcPush) << "drain timeout: closing the" << left << "connections left";
        else
            qCInfo(lcPush) << "drained in" << waited->elapsed() << "ms";
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

} // namespace bfg
