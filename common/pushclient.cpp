// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 BFG developers
#include "common/pushclient.h"

#include <algorithm>
#include <utility>

#include <QPointer>
#include <QRandomGenerator>
#include <QSocketNotifier>
#include <QTcpSocket>
#include <QWebSocket>

#include "common/decisionclient.h"
#include "common/logging.h"
#include "common/protocol.h"

using namespace Qt::Literals::StringLiterals;

namespace bfg {

namespace {
// Silence allowed on a live connection: two heartbeat intervals plus slack for a busy node.
constexpr int HeartbeatSlackMs = 5000;
// When a node does not say how often it pings.
constexpr int DefaultHeartbeatMs = 25000;
constexpr int AbnormalClose = QWebSocketProtocol::CloseCodeAbnormalDisconnection;
// A publish refused with a retry code (BROKER_UNAVAILABLE) is sent again after this backoff.
constexpr int PublishRetryBaseMs = 250;
constexpr int PublishRetryCapMs = 5000;
constexpr int MaxClientMessageIdLength = 64;

// 1..64 of [A-Za-z0-9._:-]: what the node accepts as a client message id.
bool isValidClientMessageId(const QString &id)
{
    if (id.isEmpty() || id.size() > MaxClientMessageIdLength)
        return false;
    return std::all_of(id.cbegin(), id.cend(), [](QChar c) {
        return (c >= u'a' && c <= u'z') || (c >= u'A' && c <= u'Z') || (c >= u'0' && c <= u'9') ||
               c == u'.' || c == u'_' || c == u':' || c == u'-';
    });
}

// Where the Message starts when `bytes` is a ServerFrame holding only a Message
// (field 2, length-delimited: tag 0x12, then the length as a varint); 0 otherwise.
qsizetype messageOffset(const QByteArray &bytes)
{
    if (bytes.size() < 2 || bytes[0] != char(2 << 3 | 2))
        return 0;
    quint64 length = 0;
    for (qsizetype i = 1; i < bytes.size() && i <= 5; ++i) {
        length |= quint64(quint8(bytes[i]) & 0x7f) << (7 * (i - 1));
        if (!(quint8(bytes[i]) & 0x80))
            return length == quint64(bytes.size() - i - 1) ? i + 1 : 0;
    }
    return 0;
}

// The notifier through which the TCP socket under `socket` learns that data arrived. Qt has no
// API to stop a socket's reading; its socket engine (a child of the QTcpSocket) keeps the
// notifier as a child and takes its enabled state for its own, so disabling it is how the
// engine itself stops reading when its buffer is full.
QSocketNotifier *readNotifierOf(QWebSocket *socket)
{
    auto *tcp = socket->findChild<QTcpSocket *>(QString(), Qt::FindDirectChildrenOnly);
    if (!tcp)
        return nullptr;
    const auto notifiers = tcp->findChildren<QSocketNotifier *>();
    for (QSocketNotifier *notifier : notifiers) {
        if (notifier->type() == QSocketNotifier::Read && notifier->socket() == tcp->socketDescriptor())
            return notifier;
    }
    return nullptr;
}
} // namespace

PushClient::PushClient(DecisionClient *decision, Options options, QObject *parent)
    : QObject(parent)
    , m_decision(decision)
    , m_options(std::move(options))
    , m_backoff(m_options.backoffBaseMs, m_options.backoffCapMs)
    , m_gate(m_options.gate)
{
    m_retryTimer.setSingleShot(true);
    m_deadlineTimer.setSingleShot(true);
    connect(&m_retryTimer, &QTimer::timeout, this, [this] {
        if (m_state != State::BackingOff)
            return;
        if (m_everLive)
            ++m_reconnects;
        resolve();
    });
    connect(&m_deadlineTimer, &QTimer::timeout, this, &PushClient::onDeadline);
    m_publishRetryTimer.setSingleShot(true);
    connect(&m_publishRetryTimer, &QTimer::timeout, this, &PushClient::retryRefusedPublishes);
    m_idPrefix = QString::number(QRandomGenerator::global()->generate64() & 0xffffffffffffULL, 36) + u'-';
}

PushClient::~PushClient()
{
    if (m_socket)
        m_socket->disconnect(this);
    releaseGateSlot();
}

void PushClient::start()
{
    if (m_state != State::Idle && m_state != State::Stopped)
        return;
    m_backoff.reset();
    resolve();
}

void PushClient::stop()
{
    ++m_generation;
    m_retryTimer.stop();
    m_deadlineTimer.stop();
    discardSocket(true);
    setState(State::Stopped);
}

void PushClient::dropConnection()
{
    if (!m_socket)
        return;
    qCDebug(lcClient) << m_options.userId << "dropping the connection on request";
    discardSocket(false);
    Q_EMIT disconnected(AbnormalClose, u"connection dropped"_s);
    scheduleReconnect(0);
}

void PushClient::switchDecision(DecisionClient *decision)
{
    m_decision = decision;
    if (m_state == State::Idle || m_state == State::Stopped)
        return;
    qCDebug(lcClient) << m_options.userId << "switching to decision servers" << decision->decisionUrls();
    m_retryTimer.stop();
    const bool hadSocket = m_socket != nullptr;
    discardSocket(true);
    if (hadSocket)
        Q_EMIT disconnected(QWebSocketProtocol::CloseCodeNormal, u"switching decision servers"_s);
    if (m_everLive)
        ++m_reconnects;
    m_backoff.reset();
    resolve();
}

void PushClient::pauseReading()
{
    if (m_state != State::Live || m_readingPaused || m_pauseRequested)
        return;
    m_pauseRequested = true;
    applyPause();
}

void PushClient::resumeReading()
{
    m_pauseRequested = false;
    if (!m_readingPaused)
        return;
    if (m_readNotifier)
        m_readNotifier->setEnabled(true);
    m_readingPaused = false;
    m_readNotifier = nullptr;
    // The silence while paused was ours: the heartbeat deadline counts from now.
    if (m_state == State::Live)
        resetHeartbeat(m_heartbeatMs);
    qCDebug(lcClient) << m_options.userId << "reading resumed";
    Q_EMIT readingPausedChanged(false);
}

void PushClient::applyPause()
{
    if (!m_pauseRequested || !m_socket)
        return;
    // Bytes still buffered are frames QWebSocket has yet to parse, perhaps the start of one it
    // would wait 5 s for: stop once they are parsed (checked again at the next frame).
    auto *tcp = m_socket->findChild<QTcpSocket *>(QString(), Qt::FindDirectChildrenOnly);
    if (tcp && tcp->bytesAvailable() > 0)
        return;
    m_pauseRequested = false;
    QSocketNotifier *notifier = readNotifierOf(m_socket);
    if (!notifier) {
        qCWarning(lcClient) << m_options.userId << "cannot pause reading: no read notifier on the socket";
        return;
    }
    notifier->setEnabled(false);
    m_readNotifier = notifier;
    m_readingPaused = true;
    m_deadlineTimer.stop(); // silence is expected now
    qCDebug(lcClient) << m_options.userId << "reading paused";
    Q_EMIT readingPausedChanged(true);
}

void PushClient::endPause()
{
    m_pauseRequested = false;
    m_readNotifier = nullptr;
    if (std::exchange(m_readingPaused, false))
        Q_EMIT readingPausedChanged(false);
}

QHash<QString, v1::StreamPosition> PushClient::positions() const
{
    QHash<QString, v1::StreamPosition> positions;
    for (const auto &[stream, position] : m_positions)
        positions.insert(QString::fromStdString(stream), position);
    return positions;
}

void PushClient::setState(State state)
{
    if (m_state == state)
        return;
    m_state = state;
    if (state != State::Resolving && state != State::Connecting)
        releaseGateSlot();
    Q_EMIT stateChanged(state);
}

void PushClient::resolve()
{
    discardSocket(false);
    const quint64 generation = ++m_generation;
    setState(State::Resolving);
    if (m_gate && !m_holdsGateSlot) {
        if (!m_gate->tryAcquire()) {
            m_gate->wait(this, [this, generation] {
                if (m_holdsGateSlot || m_generation != generation || m_state != State::Resolving) {
                    m_gate->release(); // stopped (or started over) while waiting
                    return;
                }
                m_holdsGateSlot = true;
                requestAssignment(generation);
            });
            return;
        }
        m_holdsGateSlot = true;
    }
    requestAssignment(generation);
}

void PushClient::requestAssignment(quint64 generation)
{
    QPointer<PushClient> self(this);
    m_decision->assign(m_options.userId, m_options.affinity, [self, generation](const AssignResult &result) {
        if (self && self->m_generation == generation && self->m_state == State::Resolving)
            self->onAssigned(result);
    });
}

void PushClient::releaseGateSlot()
{
    if (!m_holdsGateSlot)
        return;
    m_holdsGateSlot = false;
    if (m_gate)
        m_gate->release();
}

void PushClient::onAssigned(const AssignResult &result)
{
    if (!result.ok) {
        if (result.terminal) {
            fail(result.httpStatus, result.error);
            return;
        }
        qCDebug(lcClient) << m_options.userId << "no node assigned:" << result.error;
        scheduleReconnect(result.retryAfterMs);
        return;
    }
    const QUrl uri(QString::fromStdString(result.response.uri()));
    if (!uri.isValid() || (uri.scheme() != u"ws"_s && uri.scheme() != u"wss"_s)) {
        qCWarning(lcClient) << "decision server assigned an unusable URI" << uri.toString();
        scheduleReconnect(0);
        return;
    }
    m_nodeId = QString::fromStdString(result.response.node());
    m_nodeUrl = uri;
    m_publishUrl = QUrl(QString::fromStdString(result.response.publish_uri()));
    connectTo(uri, QByteArray::fromStdString(result.response.token()));
}

void PushClient::connectTo(const QUrl &uri, const QByteArray &token)
{
    discardSocket(false);
    setState(State::Connecting);
    const quint64 generation = m_generation;
    auto *socket = new QWebSocket(QString(), QWebSocketProtocol::VersionLatest, this);
    m_socket = socket;

    m_socketOpen = false;
    connect(socket, &QWebSocket::connected, this, [this, token] {
        m_socketOpen = true;
        sendHello(token);
    });
    connect(socket, &QWebSocket::binaryMessageReceived, this, &PushClient::onBinaryMessage);
    connect(socket, &QWebSocket::textMessageReceived, this, [this] {
        qCWarning(lcClient) << m_options.userId << "ignoring a text frame from node" << m_nodeId;
    });
    connect(socket, &QWebSocket::disconnected, this, [this, socket] {
        // Before the handshake completed there is no close code, only what went wrong.
        if (m_socketOpen)
            onSocketGone(socket->closeCode(), socket->closeReason());
        else
            onSocketGone(AbnormalClose, socket->errorString());
    });
    // A refused or failed connect may end without `disconnected`; look again once the
    // socket has settled, and treat an unconnected socket as gone.
    connect(socket, qOverload<QAbstractSocket::SocketError>(&QWebSocket::error), this,
            [this, generation, guard = QPointer<QWebSocket>(socket)] {
                QTimer::singleShot(0, this, [this, generation, guard] {
                    if (guard && guard == m_socket && generation == m_generation &&
                        guard->state() == QAbstractSocket::UnconnectedState)
                        onSocketGone(AbnormalClose, guard->errorString());
                });
            });

    if (!m_options.sourceAddress.isNull()) {
        m_bindError = u"QWebSocket connected without saying ConnectingState first"_s;
        m_bindUnsupported = true;
        connect(socket, &QWebSocket::stateChanged, this, [this, socket](QAbstractSocket::SocketState state) {
            if (state == QAbstractSocket::ConnectingState)
                bindSource(socket);
        });
    }

    m_deadlineTimer.start(std::max(1, m_options.connectTimeoutMs));
    qCDebug(lcClient) << m_options.userId << "connecting to" << uri.toString();
    socket->open(uri);
    if (!m_options.sourceAddress.isNull() && !m_bindError.isEmpty() && m_socket == socket) {
        // Unbound it would connect from the system's address: not what the user asked for.
        const QString text =
            u"cannot connect from %1: %2"_s.arg(m_options.sourceAddress.toString(), m_bindError);
        if (m_bindUnsupported) {
            fail(AbnormalClose, text); // no retry will change it
            return;
        }
        qCWarning(lcClient).noquote() << m_options.userId << text; // e.g. no local port left: try again later
        discardSocket(false);
        Q_EMIT disconnected(AbnormalClose, text);
        scheduleReconnect(0);
    }
}

// QWebSocket (Qt 6.4) has no way to choose the local address. It creates its TCP socket as
// its child and says ConnectingState (from inside open()) before it connects that socket:
// bound there, the socket connects from the address bound. Should a Qt version do it
// otherwise, m_bindUnsupported says so and the client stops rather than connect from
// elsewhere; a failed bind (no local port left) is retried like a failed connect.
void PushClient::bindSource(QWebSocket *socket)
{
    auto *tcp = socket->findChild<QTcpSocket *>(QString(), Qt::FindDirectChildrenOnly);
    if (!tcp || tcp->state() != QAbstractSocket::UnconnectedState) {
        m_bindError = u"QWebSocket's TCP socket cannot be bound before it connects"_s;
        m_bindUnsupported = true;
        return;
    }
    m_bindUnsupported = false;
    if (!tcp->bind(m_options.sourceAddress)) {
        m_bindError = tcp->errorString();
        return;
    }
    m_bindError.clear();
}

void PushClient::sendHello(const QByteArray &token)
{
    v1::ClientFrame frame;
    v1::Hello *hello = frame.mutable_hello();
    hello->set_token(token.toStdString());
    hello->set_client(m_options.clientName.toStdString());
    for (const auto &[stream, position] : m_positions)
        *hello->add_positions() = position;
    m_helloResumed = hello->positions_size() > 0;
    m_socket->sendBinaryMessage(protocol::encode(frame));
}

void PushClient::onBinaryMessage(const QByteArray &bytes)
{
    m_lastFrame.restart();
    if (m_pauseRequested)
        applyPause();
    // Nearly every frame is a Message: parsed into the one kept from the last, whose strings
    // keep their capacity, it costs no allocation. Anything else takes the general path.
    if (const qsizetype offset = messageOffset(bytes);
        offset > 0 && protocol::decode(QByteArrayView(bytes).sliced(offset), &m_message)) {
        if (m_state == State::Live)
            onMessage(m_message);
        else
            qCWarning(lcClient) << m_options.userId << "ignoring a Message before Welcome";
        return;
    }
    v1::ServerFrame frame;
    if (!protocol::decode(bytes, &frame)) {
        qCWarning(lcClient) << m_options.userId << "undecodable frame from node" << m_nodeId;
        discardSocket(false);
        Q_EMIT disconnected(QWebSocketProtocol::CloseCodeProtocolError, u"undecodable frame"_s);
        scheduleReconnect(0);
        return;
    }

    switch (frame.kind_case()) {
    case v1::ServerFrame::kWelcome:
        if (m_state != State::Connecting) {
            qCWarning(lcClient) << m_options.userId << "ignoring a second Welcome";
            return;
        }
        onWelcome(frame.welcome());
        return;
    case v1::ServerFrame::kMessage:
        if (m_state == State::Live)
            onMessage(frame.message());
        else
            qCWarning(lcClient) << m_options.userId << "ignoring a Message before Welcome";
        return;
    case v1::ServerFrame::kPing: {
        v1::ClientFrame pong;
        pong.mutable_pong()->set_nonce(frame.ping().nonce());
        m_socket->sendBinaryMessage(protocol::encode(pong));
        return;
    }
    case v1::ServerFrame::kPong:
        return;
    case v1::ServerFrame::kReconnect: {
        const v1::Reconnect &reconnect = frame.reconnect();
        const QString reason = QString::fromStdString(reconnect.reason());
        qCDebug(lcClient) << m_options.userId << "node" << m_nodeId
                          << "asks to reconnect:" << reconnect.code() << reason << "after"
                          << reconnect.retry_after_ms() << "ms";
        discardSocket(true);
        Q_EMIT disconnected(reconnect.code(), reason);
        scheduleReconnect(
            int(std::min<quint32>(reconnect.retry_after_ms(), quint32(m_options.backoffCapMs))));
        return;
    }
    case v1::ServerFrame::kPublishAck:
        if (m_state == State::Live)
            onPublishAck(frame.publish_ack());
        return;
    case v1::ServerFrame::kSubscribed:
        if (m_state == State::Live)
            onSubscribed(frame.subscribed());
        return;
    case v1::ServerFrame::kUnsubscribed:
        if (m_state == State::Live)
            onUnsubscribed(frame.unsubscribed());
        return;
    case v1::ServerFrame::kError: {
        if (!frame.error().client_message_id().empty() || !frame.error().stream().empty()) {
            onRequestError(frame.error());
            return;
        }
        const int code = frame.error().code();
        const QString text = QString::fromStdString(frame.error().text());
        if (protocol::isTerminalCode(code)) {
            fail(code, text);
            return;
        }
        qCDebug(lcClient) << m_options.userId << "error from node" << m_nodeId << code << text;
        discardSocket(true);
        Q_EMIT disconnected(code, text);
        scheduleReconnect(0);
        return;
    }
    case v1::ServerFrame::KIND_NOT_SET:
        return; // a frame kind newer than this client: ignore it, as proto3 intends
    }
}

void PushClient::onWelcome(const v1::Welcome &welcome)
{
    m_nodeId = QString::fromStdString(welcome.node_id());
    m_heartbeatMs = int(welcome.heartbeat_interval_ms());
    for (const v1::StreamState &stream : welcome.streams())
        applyStreamState(stream);
    m_everLive = true;
    m_backoff.reset();
    resetHeartbeat(m_heartbeatMs);
    setState(State::Live);
    qCDebug(lcClient) << m_options.userId << "live on node" << m_nodeId << "resumed:" << m_helloResumed;
    // What waited goes out before anyone hears of the Welcome: what they do on it comes after.
    resendAfterWelcome(welcome);
    Q_EMIT welcomed(welcome, m_helloResumed);
}

void PushClient::applyStreamState(const v1::StreamState &state)
{
    auto it = m_positions.find(state.stream());
    if (it == m_positions.end() || !state.recovered()) {
        v1::StreamPosition position;
        position.set_stream(state.stream());
        position.set_epoch(state.epoch());
        position.set_seq(state.seq());
        m_positions.insert_or_assign(state.stream(), position);
    } else {
        // Recovered: same epoch, or a stream the client had seen nothing of,
        // which may come back in a new one (e.g. after a restart of the node).
        it->second.set_epoch(state.epoch());
    }
}

void PushClient::resendAfterWelcome(const v1::Welcome &welcome)
{
    // Subscriptions the Hello did not resume (answered by no Subscribed before the drop,
    // or made since) are asked for again.
    QStringList streams;
    for (const std::string &stream : m_subscriptions) {
        const bool listed =
            std::any_of(welcome.streams().cbegin(), welcome.streams().cend(),
                        [&stream](const v1::StreamState &state) { return state.stream() == stream; });
        if (!listed)
            streams.append(QString::fromStdString(stream));
    }
    if (!streams.isEmpty()) {
        streams.sort();
        sendSubscribe(streams);
    }
    // Publishes not acked, in the order they were made, with their ids: the node stores
    // each once however often it is sent.
    const qint64 nowMs = protocol::nowMs();
    for (PendingPublish &pending : m_pending) {
        if (pending.retryAtMs > nowMs)
            continue; // refused with a retry code: m_publishRetryTimer sends it
        pending.retryAtMs = 0;
        pending.sentOn = m_generation;
        sendPublish(pending.publish);
    }
}

QString PushClient::publish(const QString &stream, const QByteArray &payload, const QString &clientMessageId,
                            bool ephemeral)
{
    const QString id =
        clientMessageId.isEmpty() ? m_idPrefix + QString::number(++m_idCounter) : clientMessageId;
    if (!isValidClientMessageId(id)) {
        refuseLater(id, v1::BAD_REQUEST, u"a client message id is 1..64 of [A-Za-z0-9._:-]"_s);
        return id;
    }
    if (!protocol::isValidStreamName(stream)) {
        refuseLater(id, v1::BAD_REQUEST, u"not a stream name: %1"_s.arg(stream.left(128)));
        return id;
    }
    std::string idUtf8 = id.toStdString();
    if (m_pendingById.count(idUtf8))
        return id; // waiting already: the one ack answers both
    if (int(m_pending.size()) >= m_options.maxPendingPublishes) {
        refuseLater(id, v1::OVERLOADED,
                    u"%1 publishes are waiting for their ack already"_s.arg(m_options.maxPendingPublishes));
        return id;
    }
    PendingPublish pending;
    pending.publish.set_stream(stream.toStdString());
    pending.publish.set_payload(payload.constData(), size_t(payload.size()));
    pending.publish.set_client_message_id(idUtf8);
    pending.publish.set_ephemeral(ephemeral);
    const auto it = m_pending.insert(m_pending.end(), std::move(pending));
    m_pendingById.emplace(std::move(idUtf8), it);
    if (m_state == State::Live && m_socket) {
        it->sentOn = m_generation;
        sendPublish(it->publish);
    }
    return id;
}

void PushClient::subscribe(const QStringList &streams)
{
    QStringList added;
    for (const QString &stream : streams) {
        if (!protocol::isValidStreamName(stream)) {
            QMetaObject::invokeMethod(
                this,
                [this, stream] {
                    Q_EMIT subscriptionRefused(stream, v1::BAD_REQUEST,
                                               u"not a stream name: %1"_s.arg(stream.left(128)));
                },
                Qt::QueuedConnection);
            continue;
        }
        if (m_subscriptions.insert(stream.toStdString()).second)
            added.append(stream);
    }
    if (!added.isEmpty() && m_state == State::Live && m_socket)
        sendSubscribe(added);
}

void PushClient::unsubscribe(const QStringList &streams)
{
    v1::ClientFrame frame;
    for (const QString &stream : streams) {
        const std::string name = stream.toStdString();
        m_subscriptions.erase(name);
        // Forgotten at once: the next Hello does not resume it, and whatever of it is still on
        // the way (until the node's Unsubscribed) is not delivered.
        forgetPosition(name);
        if (m_state == State::Live && m_socket) {
            m_unsubscribing.insert(name);
            frame.mutable_unsubscribe()->add_streams(name);
        }
    }
    if (frame.has_unsubscribe())
        sendFrame(frame);
}

QStringList PushClient::subscriptions() const
{
    QStringList streams;
    for (const std::string &stream : m_subscriptions)
        streams.append(QString::fromStdString(stream));
    streams.sort();
    return streams;
}

void PushClient::forgetPosition(const std::string &stream)
{
    const auto it = m_positions.find(stream);
    if (it == m_positions.end())
        return;
    if (m_lastPosition == &it->second)
        m_lastPosition = nullptr;
    m_positions.erase(it);
}

void PushClient::sendFrame(const v1::ClientFrame &frame)
{
    m_socket->sendBinaryMessage(protocol::encode(frame));
}

void PushClient::sendPublish(const v1::Publish &publish)
{
    v1::ClientFrame frame;
    *frame.mutable_publish() = publish;
    sendFrame(frame);
}

void PushClient::sendSubscribe(const QStringList &streams)
{
    v1::ClientFrame frame;
    v1::Subscribe *subscribe = frame.mutable_subscribe();
    for (const QString &stream : streams) {
        const std::string name = stream.toStdString();
        const auto it = m_positions.find(name);
        if (it != m_positions.end()) {
            *subscribe->add_positions() = it->second; // resumes from there
        } else {
            subscribe->add_positions()->set_stream(name); // from now on
        }
    }
    sendFrame(frame);
}

void PushClient::onPublishAck(const v1::PublishAck &ack)
{
    const auto it = m_pendingById.find(ack.client_message_id());
    if (it == m_pendingById.end()) {
        qCDebug(lcClient) << m_options.userId << "ack of no waiting publish"
                          << QString::fromStdString(ack.client_message_id());
        return;
    }
    m_pending.erase(it->second);
    m_pendingById.erase(it);
    Q_EMIT published(QString::fromStdString(ack.client_message_id()), QString::fromStdString(ack.stream()),
                     QString::fromStdString(ack.epoch()), ack.seq(), ack.duplicate());
}

void PushClient::onSubscribed(const v1::Subscribed &frame)
{
    for (const v1::StreamState &state : frame.streams()) {
        // The new subscription has begun: what comes now is its own.
        m_unsubscribing.erase(state.stream());
        if (!m_subscriptions.count(state.stream()))
            continue; // unsubscribed meanwhile; its Unsubscribed follows
        applyStreamState(state);
        Q_EMIT subscribed(state);
    }
}

void PushClient::onUnsubscribed(const v1::Unsubscribed &frame)
{
    QStringList streams;
    for (const std::string &stream : frame.streams()) {
        m_unsubscribing.erase(stream);
        streams.append(QString::fromStdString(stream));
    }
    Q_EMIT unsubscribed(streams);
}

void PushClient::onRequestError(const v1::Error &error)
{
    const int code = error.code();
    const QString text = QString::fromStdString(error.text());
    if (!error.client_message_id().empty()) {
        const auto it = m_pendingById.find(error.client_message_id());
        if (it == m_pendingById.end())
            return;
        PendingPublish &pending = *it->second;
        if (protocol::isRetryCode(code) && !pending.publish.ephemeral()) {
            // BROKER_UNAVAILABLE and the like: the same publish, later.
            const int capMs = std::min(PublishRetryCapMs, PublishRetryBaseMs << std::min(pending.retries, 5));
            ++pending.retries;
            pending.sentOn = 0;
            pending.retryAtMs =
                protocol::nowMs() + capMs / 2 + QRandomGenerator::global()->bounded(capMs / 2 + 1);
            qCDebug(lcClient) << m_options.userId << "publish"
                              << QString::fromStdString(error.client_message_id())
                              << "refused for now:" << code << text;
            if (!m_publishRetryTimer.isActive() ||
                m_publishRetryTimer.remainingTime() > int(pending.retryAtMs - protocol::nowMs()))
                m_publishRetryTimer.start(int(std::max<qint64>(0, pending.retryAtMs - protocol::nowMs())));
            return;
        }
        const QString id = QString::fromStdString(error.client_message_id());
        m_pending.erase(it->second);
        m_pendingById.erase(it);
        Q_EMIT publishRefused(id, code, text);
        return;
    }
    const QString stream = QString::fromStdString(error.stream());
    if (protocol::isRetryCode(code) && m_subscriptions.count(error.stream())) {
        // The node could not subscribe it now (its broker is away): ask again later.
        QTimer::singleShot(PublishRetryBaseMs + QRandomGenerator::global()->bounded(PublishRetryCapMs), this,
                           [this, stream, generation = m_generation] {
                               if (m_generation == generation && m_state == State::Live && m_socket &&
                                   m_subscriptions.count(stream.toStdString()))
                                   sendSubscribe({stream});
                           });
        return;
    }
    m_subscriptions.erase(error.stream());
    forgetPosition(error.stream());
    Q_EMIT subscriptionRefused(stream, code, text);
}

void PushClient::retryRefusedPublishes()
{
    qint64 nextMs = 0;
    const qint64 nowMs = protocol::nowMs();
    for (PendingPublish &pending : m_pending) {
        if (pending.retryAtMs == 0)
            continue;
        if (pending.retryAtMs > nowMs || m_state != State::Live || !m_socket) {
            // Not due, or not connected: a Welcome sends those due by then.
            if (pending.retryAtMs > nowMs)
                nextMs = nextMs == 0 ? pending.retryAtMs : std::min(nextMs, pending.retryAtMs);
            continue;
        }
        pending.retryAtMs = 0;
        pending.sentOn = m_generation;
        sendPublish(pending.publish);
    }
    if (nextMs > 0)
        m_publishRetryTimer.start(int(nextMs - nowMs));
}

void PushClient::onConnectionLost(int closeCode)
{
    m_unsubscribing.clear(); // the next session reads none of them
    // An ephemeral message is worth nothing late, and the node keeps no id of it to tell a
    // second copy: one sent on this connection and not acked is given up.
    for (auto it = m_pending.begin(); it != m_pending.end();) {
        if (!it->publish.ephemeral() || it->sentOn == 0) {
            ++it;
            continue;
        }
        const QString id = QString::fromStdString(it->publish.client_message_id());
        m_pendingById.erase(it->publish.client_message_id());
        it = m_pending.erase(it);
        refuseLater(id, closeCode, u"ephemeral message not acked before the connection ended"_s);
    }
}

void PushClient::refuseLater(const QString &clientMessageId, int code, const QString &text)
{
    QMetaObject::invokeMethod(
        this, [this, clientMessageId, code, text] { Q_EMIT publishRefused(clientMessageId, code, text); },
        Qt::QueuedConnection);
}

void PushClient::onMessage(const v1::Message &message)
{
    if (!m_unsubscribing.empty() && m_unsubscribing.count(message.stream()))
        return; // of a stream being unsubscribed: nothing of it is delivered any more
    if (message.seq() > 0 && !message.ephemeral()) { // ephemeral messages carry no position
        if (!m_lastPosition || m_lastPosition->stream() != message.stream()) {
            v1::StreamPosition &entry = m_positions[message.stream()];
            if (entry.stream().empty())
                entry.set_stream(message.stream());
            m_lastPosition = &entry;
        }
        v1::StreamPosition &position = *m_lastPosition;
        if (position.epoch() != message.epoch()) {
            position.set_epoch(message.epoch());
            position.set_seq(message.seq());
        } else if (message.seq() > position.seq()) {
            // Never move back: a stray old message must not make the next resume replay.
            position.set_seq(message.seq());
        }
    }
    Q_EMIT messageReceived(message);
}

void PushClient::onSocketGone(int closeCode, const QString &reason)
{
    if (!m_socket || m_state == State::Stopped)
        return;
    discardSocket(false);
    if (protocol::isTerminalCode(closeCode)) {
        fail(closeCode, reason);
        return;
    }
    qCDebug(lcClient) << m_options.userId << "connection to" << m_nodeId << "gone:" << closeCode << reason;
    Q_EMIT disconnected(closeCode, reason);
    scheduleReconnect(0);
}

void PushClient::onDeadline()
{
    if (!m_socket)
        return;
    if (m_state == State::Live) {
        const qint64 limitMs =
            2 * qint64(m_heartbeatMs > 0 ? m_heartbeatMs : DefaultHeartbeatMs) + HeartbeatSlackMs;
        const qint64 silentMs = m_lastFrame.elapsed();
        if (silentMs < limitMs) {
            // Frames arrived meanwhile: sleep until the silence could first exceed the limit.
            m_deadlineTimer.start(int(limitMs - silentMs));
            return;
        }
        qCInfo(lcClient) << m_options.userId << "nothing heard from node" << m_nodeId << "for" << silentMs
                         << "ms";
        discardSocket(false);
        Q_EMIT disconnected(AbnormalClose, u"heartbeat timeout"_s);
        scheduleReconnect(0);
        return;
    }
    qCInfo(lcClient) << m_options.userId << "connect timeout after" << m_options.connectTimeoutMs << "ms";
    discardSocket(false);
    Q_EMIT disconnected(AbnormalClose, u"connect timeout"_s);
    scheduleReconnect(0);
}

void PushClient::discardSocket(bool graceful)
{
    QWebSocket *socket = std::exchange(m_socket, nullptr);
    if (!socket)
        return;
    m_deadlineTimer.stop();
    endPause();
    onConnectionLost(graceful ? int(QWebSocketProtocol::CloseCodeNormal) : AbnormalClose);
    socket->disconnect(this);
    if (graceful && socket->state() == QAbstractSocket::ConnectedState) {
        // Let the closing handshake finish, but do not wait for a peer that never answers.
        connect(socket, &QWebSocket::disconnected, socket, &QObject::deleteLater);
        QTimer::singleShot(m_options.connectTimeoutMs, socket, &QObject::deleteLater);
        socket->close(QWebSocketProtocol::CloseCodeNormal, u"client stopped"_s);
        return;
    }
    socket->abort();
    socket->deleteLater();
}

void PushClient::scheduleReconnect(int minimumDelayMs)
{
    if (m_state == State::Stopped || m_retryTimer.isActive())
        return;
    discardSocket(false);
    ++m_generation; // whatever was in flight belongs to the connection given up
    const int delayMs = std::max(minimumDelayMs, m_backoff.nextDelayMs());
    qCDebug(lcClient) << m_options.userId << "reconnecting in" << delayMs << "ms";
    m_nextAttemptMs = protocol::nowMs() + delayMs;
    setState(State::BackingOff);
    m_retryTimer.start(delayMs);
}

void PushClient::resetHeartbeat(int intervalMs)
{
    const int limitMs = 2 * (intervalMs > 0 ? intervalMs : DefaultHeartbeatMs) + HeartbeatSlackMs;
    m_lastFrame.restart();
    m_deadlineTimer.start(limitMs);
}

void PushClient::fail(int code, const QString &text)
{
    qCWarning(lcClient) << m_options.userId << "stopped by terminal error" << code << text;
    ++m_generation;
    m_retryTimer.stop();
    discardSocket(true);
    // Nothing waiting will go out any more.
    m_publishRetryTimer.stop();
    for (const PendingPublish &pending : std::as_const(m_pending))
        refuseLater(QString::fromStdString(pending.publish.client_message_id()), code,
                    u"the client stopped: "_s + text);
    m_pending.clear();
    m_pendingById.clear();
    setState(State::Stopped);
    Q_EMIT failed(code, text);
}

} // namespace bfg
