// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 BFG developers
#include "daemon/push/worker.h"

#include <algorithm>

#include <QHash>
#include <QRandomGenerator>
#include <QTimer>

#include "common/logging.h"
#include "common/protocol.h"
#include "daemon/push/hellocheck.h"
#include "daemon/push/session.h"
#include "daemon/tls/servertls.h"

using namespace Qt::Literals::StringLiterals;

namespace bfg {

namespace {
constexpr int SweepIntervalMs = 1000;
constexpr int CloseGraceMs = 5000; // a peer that does not answer our close is cut off
constexpr int HeartbeatSlackMs = 5000;
constexpr int DrainTickMs = 100;
constexpr int DrainLeaveGraceMs = 5000; // time a client gets to leave after a Reconnect frame
constexpr int DrainRetryJitterMs = 1000;

// How a handshake that ends with close code `code` is counted.
HandshakeResult handshakeResultOf(int code)
{
    switch (code) {
    case v1::HANDSHAKE_TIMEOUT:
        return HandshakeResult::Timeout;
    case v1::DRAINING:
        return HandshakeResult::Draining;
    case v1::BROKER_UNAVAILABLE:
        return HandshakeResult::BrokerUnavailable;
    case v1::NODE_SHUTDOWN:
        return HandshakeResult::Shutdown;
    case v1::RATE_LIMITED:
    case v1::FRAME_TOO_LARGE:
    case v1::TOO_MANY_CONNECTIONS:
        return HandshakeResult::Limited;
    default:
        return HandshakeResult::Refused;
    }
}

QByteArray reconnectFrame(quint32 retryAfterMs)
{
    v1::ServerFrame frame;
    v1::Reconnect *reconnect = frame.mutable_reconnect();
    reconnect->set_code(v1::DRAINING);
    reconnect->set_reason("node draining");
    reconnect->set_retry_after_ms(retryAfterMs);
    return protocol::encode(frame);
}
} // namespace

Worker::Worker(int index, const PushOptions &options, Broker *broker, PushStats *stats,
               UserConnections *users)
    : m_index(index)
    , m_options(options)
    , m_broker(broker)
    , m_stats(stats)
    , m_users(users)
    , m_signer(options.secret, options.previousSecrets)
{}

Worker::~Worker()
{
    for (auto &[connection, session] : m_sessions) {
        for (const auto &[stream, state] : session->streams()) {
            const auto readers = m_readers.find(stream);
            if (state.active && readers != m_readers.end())
                m_broker->unsubscribe(stream, readers->second.get());
        }
    }
    // The connections close without calling back into a half-destroyed worker.
}

void Worker::initialize()
{
    m_sweepTimer = new QTimer(this);
    m_sweepTimer->setInterval(SweepIntervalMs);
    connect(m_sweepTimer, &QTimer::timeout, this, &Worker::sweep);
    m_sweepTimer->start();
    m_drainTimer = new QTimer(this);
    m_drainTimer->setInterval(DrainTickMs);
    connect(m_drainTimer, &QTimer::timeout, this, &Worker::drainStep);
}

void Worker::setDraining(bool draining, int sessionsPerSecond)
{
    m_draining = draining;
    m_drainPerTick = std::max(1, sessionsPerSecond * DrainTickMs / 1000);
    if (draining)
        m_drainTimer->start();
    else
        m_drainTimer->stop();
}

void Worker::drainStep()
{
    const qint64 nowMs = protocol::nowMs();
    int told = 0;
    for (auto &[connection, session] : m_sessions) {
        if (told >= m_drainPerTick)
            return;
        if (session->stage() != Session::Stage::Live || session->leaveByMs != 0)
            continue;
        // Spread the returns so the decision servers and the other nodes
        // are not hit by everyone at once.
        session->sendFrame(reconnectFrame(QRandomGenerator::global()->bounded(quint32(DrainRetryJitterMs))));
        session->leaveByMs = nowMs + DrainLeaveGraceMs;
        ++told;
    }
}

void Worker::reconfigure(const PushOptions &options)
{
    m_options = options;
    m_signer = TokenSigner(options.secret, options.previousSecrets);
    for (auto &[connection, session] : m_sessions) {
        session->inboundFrames.configure(options.inboundFramesPerSecond,
                                         2.0 * options.inboundFramesPerSecond);
        session->inboundBytes.configure(options.inboundBytesPerSecond, 2.0 * options.inboundBytesPerSecond);
    }
}

void Worker::takeSocket(qintptr socketDescriptor, bool refuse)
{
    // Messages are read up to twice the node's limit: between the two, onFrame
    // answers with a FRAME_TOO_LARGE error frame; above, the connection is
    // closed with 1009 before the payload is read.
    auto connection =
        std::make_unique<WsConnection>(socketDescriptor, this, qint64(m_options.maxFrameBytes) * 2,
                                       m_options.tls ? m_options.tls->context() : nullptr);
    WsConnection *raw = connection.get();
    auto owned = std::make_unique<Session>(std::move(connection), m_nextSessionId++);
    Session *session = owned.get();
    const qint64 nowMs = protocol::nowMs();
    session->lastHeardMs = nowMs;
    session->stageDeadlineMs = nowMs + m_options.handshakeTimeoutMs; // for the upgrade
    session->inboundFrames =
        TokenBucket(m_options.inboundFramesPerSecond, 2.0 * m_options.inboundFramesPerSecond);
    session->inboundBytes =
        TokenBucket(m_options.inboundBytesPerSecond, 2.0 * m_options.inboundBytesPerSecond);
    m_sessions.emplace(raw, std::move(owned));
    m_stats->connections.fetch_add(1, std::memory_order_relaxed);
    // Handshakes cost CPU and memory before anyone is known: bounded per node.
    const int limit = std::max(1, m_options.maxPendingConnections / std::max(1, m_options.workers));
    if (refuse) {
        ++m_awaitingHello;
        m_metrics.count(HandshakeResult::Limited); // the limit is counted by the acceptor
        setStage(session, Session::Stage::Closing);
        session->stageDeadlineMs = nowMs + CloseGraceMs;
        raw->close(0, "too many connections from your address, retry later", 429);
    } else if (++m_awaitingHello > limit) {
        qCDebug(lcPush) << "worker" << m_index << "turns a connection away:" << m_awaitingHello - 1
                        << "handshakes pending";
        m_metrics.count(HandshakeResult::Limited);
        m_metrics.count(PushLimit::PendingHandshakes);
        setStage(session, Session::Stage::Closing);
        session->stageDeadlineMs = nowMs + CloseGraceMs;
        raw->close(0, "too many pending handshakes, retry later", 503);
    }
}

void Worker::onUpgraded(WsConnection *connection)
{
    Session *session = m_sessions.at(connection).get();
    session->stageDeadlineMs = protocol::nowMs() + m_options.handshakeTimeoutMs; // now for the hello
    if (connection->path() != QByteArrayView(protocol::WebSocketPath))
        fail(session, v1::BAD_REQUEST,
             u"unknown path %1; connect to %2"_s.arg(QString::fromUtf8(connection->path()),
                                                     QLatin1String(protocol::WebSocketPath)));
}

void Worker::onMessage(WsConnection *connection, QByteArrayView bytes, bool text)
{
    Session *session = m_sessions.at(connection).get();
    if (!admitInbound(session, bytes.size()))
        return;
    if (text)
        fail(session, v1::PROTOCOL_VIOLATION,
             u"text frames are not part of the protocol; send binary ClientFrames"_s);
    else
        onFrame(session, bytes);
}

void Worker::onControlFrame(WsConnection *connection, qsizetype bytes)
{
    admitInbound(m_sessions.at(connection).get(), bytes);
}

bool Worker::admitInbound(Session *session, qsizetype bytes)
{
    // A flood from one client costs it its connection, not the others their latency.
    const qint64 nowMs = protocol::nowMs();
    if (session->inboundFrames.take(nowMs) > 0 || session->inboundBytes.take(nowMs, double(bytes)) > 0) {
        m_metrics.count(PushLimit::InboundRate);
        fail(session, v1::RATE_LIMITED,
             u"more than %1 frames or %2 bytes a second"_s.arg(m_options.inboundFramesPerSecond)
                 .arg(m_options.inboundBytesPerSecond));
        return false;
    }
    return true;
}

void Worker::onFlushNeeded(WsConnection *connection)
{
    m_toFlush.push_back(connection);
    scheduleAfterTurn();
}

void Worker::onDisconnected(WsConnection *connection)
{
    const auto it = m_sessions.find(connection);
    if (it != m_sessions.end())
        removeSession(it->second.get());
}

void Worker::onProtocolError(WsConnection *, int closeCode)
{
    // A message above twice push/max_frame_bytes, refused before it is read.
    if (closeCode == websocket::CloseTooBig)
        m_metrics.count(PushLimit::FrameSize);
}

void Worker::scheduleAfterTurn()
{
    if (m_afterTurnPosted)
        return;
    m_afterTurnPosted = true;
    QMetaObject::invokeMethod(this, &Worker::afterTurn, Qt::QueuedConnection);
}

void Worker::afterTurn()
{
    m_afterTurnPosted = false;
    // Flushing can end connections (a write error), which adds to m_ended but
    // never deletes: every pointer in m_toFlush stays valid until the end.
    std::vector<WsConnection *> toFlush;
    toFlush.swap(m_toFlush);
    for (WsConnection *connection : toFlush)
        connection->flush();
    m_ended.clear();
}

void Worker::setStage(Session *session, Session::Stage stage)
{
    if (session->stage() == Session::Stage::AwaitingHello && stage != Session::Stage::AwaitingHello)
        --m_awaitingHello;
    session->setStage(stage);
}

void Worker::onFrame(Session *session, QByteArrayView bytes)
{
    if (session->stage() == Session::Stage::Closing)
        return;
    session->lastHeardMs = protocol::nowMs();
    if (bytes.size() > m_options.maxFrameBytes) {
        m_metrics.count(PushLimit::FrameSize);
        fail(session, v1::FRAME_TOO_LARGE,
             u"frame of %1 bytes is above the limit of %2"_s.arg(bytes.size()).arg(m_options.maxFrameBytes));
        return;
    }
    v1::ClientFrame frame;
    if (!protocol::decode(bytes, &frame)) {
        fail(session, v1::PROTOCOL_VIOLATION, u"frame is not a bfg.v1.ClientFrame"_s);
        return;
    }
    const bool live =
        session->stage() == Session::Stage::Live || session->stage() == Session::Stage::Subscribing;
    switch (frame.kind_case()) {
    case v1::ClientFrame::kHello:
        if (live)
            fail(session, v1::PROTOCOL_VIOLATION, u"hello sent twice"_s);
        else
            onHello(session, frame.hello());
        return;
    case v1::ClientFrame::kPing:
        if (live) {
            v1::ServerFrame pong;
            pong.mutable_pong()->set_nonce(frame.ping().nonce());
            session->sendFrame(protocol::encode(pong));
            return;
        }
        break;
    case v1::ClientFrame::kPong:
        if (live)
            return; // lastHeardMs is all a pong is for
        break;
    case v1::ClientFrame::kPublish:
    case v1::ClientFrame::kSubscribe:
    case v1::ClientFrame::kUnsubscribe:
        if (session->stage() != Session::Stage::Live) {
            fail(session, v1::PROTOCOL_VIOLATION,
                 u"publish, subscribe and unsubscribe come after the welcome"_s);
        } else if (frame.kind_case() == v1::ClientFrame::kPublish) {
            onPublish(session, frame.publish());
        } else if (frame.kind_case() == v1::ClientFrame::kSubscribe) {
            onSubscribe(session, frame.subscribe());
        } else {
            onUnsubscribe(session, frame.unsubscribe());
        }
        return;
    case v1::ClientFrame::KIND_NOT_SET:
        fail(session, v1::PROTOCOL_VIOLATION, u"empty or unknown frame"_s);
        return;
    }
    fail(session, v1::PROTOCOL_VIOLATION, u"the first frame must be a hello"_s);
}

void Worker::onHello(Session *session, const v1::Hello &hello)
{
    TokenClaims claims;
    const HelloCheck token = checkHelloToken(m_signer, hello, protocol::nowMs() / 1000, &claims);
    if (!token.ok()) {
        fail(session, token.error, token.errorText);
        return;
    }
    if (m_draining) {
        session->sendFrame(reconnectFrame(QRandomGenerator::global()->bounded(quint32(DrainRetryJitterMs))));
        closeSession(session, v1::DRAINING, u"node draining"_s);
        return;
    }
    // The session reads the streams its token names, and those of its
    // hello that a pattern of the token grants ("fx:*"); nothing else.
    QHash<QString, StreamPoint> positions;
    QStringList streams;
    const HelloCheck entitled =
        checkHelloPositions(hello, claims, &positions, &streams, &session->refusedAtHello);
    if (!entitled.ok()) {
        fail(session, entitled.error, entitled.errorText);
        return;
    }

    if (m_users->isLimited()) {
        std::optional<UserConnections::Entry> evicted;
        if (!m_users->add(claims.subject, {this, session->id()}, &evicted)) {
            m_metrics.count(PushLimit::ConnectionsPerUser);
            fail(session, v1::TOO_MANY_CONNECTIONS,
                 u"user %1 already has %2 connections"_s.arg(claims.subject)
                     .arg(m_options.maxConnectionsPerUser));
            return;
        }
        session->countedForUser = true;
        if (evicted) {
            m_metrics.count(PushLimit::ConnectionsPerUser);
            Worker *worker = evicted->worker;
            const quint64 sessionId = evicted->sessionId;
            QMetaObject::invokeMethod(
                worker, [worker, sessionId] { worker->closeReplaced(sessionId); }, Qt::QueuedConnection);
        }
    }
    session->setUserId(claims.subject);
    session->readGrants = claims.streams;
    session->publishGrants = claims.publish;
    setStage(session, Session::Stage::Subscribing);
    session->stageDeadlineMs = protocol::nowMs() + m_options.handshakeTimeoutMs;
    for (const QString &stream : std::as_const(streams)) {
        if (!session->stream(stream)) // not named twice
            addReader(session, stream);
    }
    // Every stream is registered before the first answer can arrive, so
    // that a broker answering at once does not find the session half-built.
    for (const auto &entry : session->streams()) {
        const auto position = positions.constFind(entry.first);
        askBroker(session, entry.first,
                  position != positions.cend() ? std::optional<StreamPoint>(*position) : std::nullopt);
    }
}

void Worker::addReader(Session *session, const QString &stream)
{
    Session::StreamState &state = session->addStream(stream);
    state.subscription = session->nextSubscription();
    std::unique_ptr<Readers> &readers = m_readers[stream];
    if (!readers)
        readers = std::make_unique<Readers>(this);
    readers->readers.push_back({session, &state});
}

void Worker::askBroker(Session *session, const QString &stream, const std::optional<StreamPoint> &from)
{
    WsConnection *connection = session->connection();
    const quint64 sessionId = session->id();
    const quint64 subscription = session->stream(stream)->subscription;
    m_broker->subscribe(stream, from, m_readers.at(stream).get(), this,
                        [this, connection, sessionId, stream, subscription](const Subscription &answer,
                                                                            const QString &error) {
                            onSubscribed(connection, sessionId, stream, subscription, answer, error);
                        });
}

void Worker::dropReader(Session *session, const QString &stream)
{
    const auto it = m_readers.find(stream);
    if (it == m_readers.end())
        return;
    std::vector<Reader> &list = it->second->readers;
    list.erase(std::remove_if(list.begin(), list.end(),
                              [session](const Reader &reader) { return reader.session == session; }),
               list.end());
    m_broker->unsubscribe(stream, it->second.get());
    if (list.empty()) {
        m_retired.push_back(std::move(it->second));
        m_readers.erase(it);
    }
}

void Worker::leaveStream(Session *session, const QString &stream, Session::StreamState *state)
{
    dropReader(session, stream);
    *state = Session::StreamState(); // nothing held or replayed stays
    state->active = false;
}

void Worker::refuseRequest(Session *session, v1::ErrorCode code, const QString &text,
                           const QString &clientMessageId, const QString &stream)
{
    v1::ServerFrame frame;
    v1::Error *error = frame.mutable_error();
    error->set_code(code);
    error->set_text(text.toStdString());
    error->set_client_message_id(clientMessageId.toStdString());
    error->set_stream(stream.toStdString());
    session->sendFrame(protocol::encode(frame));
}

namespace {
bool isValidClientMessageId(const QString &id)
{
    if (id.isEmpty() || id.size() > 64)
        return false;
    return std::all_of(id.cbegin(), id.cend(), [](QChar c) {
        return (c >= u'a' && c <= u'z') || (c >= u'A' && c <= u'Z') || (c >= u'0' && c <= u'9') ||
               c == u'.' || c == u'_' || c == u':' || c == u'-';
    });
}
} // namespace

void Worker::onPublish(Session *session, const v1::Publish &publish)
{
    const QString clientMessageId = QString::fromStdString(publish.client_message_id());
    const QString stream = QString::fromStdString(publish.stream());
    const qsizetype maxPayload = m_options.maxFrameBytes - 512;
    if (!isValidClientMessageId(clientMessageId)) {
        refuseRequest(session, v1::BAD_REQUEST, u"client_message_id: expected 1..64 of [A-Za-z0-9._:-]"_s,
                      clientMessageId.left(64), stream.left(128));
        return;
    }
    if (!protocol::isValidStreamName(stream)) {
        refuseRequest(session, v1::BAD_REQUEST, u"not a stream name"_s, clientMessageId, stream.left(128));
        return;
    }
    if (qsizetype(publish.payload().size()) > maxPayload) {
        refuseRequest(
            session, v1::BAD_REQUEST,
            u"payload of %1 bytes is above the limit of %2"_s.arg(publish.payload().size()).arg(maxPayload),
            clientMessageId, stream);
        return;
    }
    if (!TokenSigner::grants(session->publishGrants, stream, true)) {
        refuseRequest(session, v1::NOT_ENTITLED, u"the token does not let you publish to %1"_s.arg(stream),
                      clientMessageId, stream);
        return;
    }
    // The id names the sender, which readers can trust, and makes a retry
    // with the same client message id (after a reconnect) store nothing new.
    PublishItem item{stream, QByteArray(publish.payload().data(), qsizetype(publish.payload().size())),
                     session->userId() + u'/' + clientMessageId, publish.ephemeral()};
    std::vector<PublishItem> items;
    items.push_back(std::move(item));
    WsConnection *connection = session->connection();
    const quint64 sessionId = session->id();
    m_stats->clientPublished.fetch_add(1, std::memory_order_relaxed);
    m_broker->publish(std::move(items), this,
                      [this, connection, sessionId, clientMessageId,
                       stream](const std::vector<PublishResult> &results, const QString &error) {
                          Session *session = findSession(connection, sessionId);
                          if (!session || session->stage() != Session::Stage::Live)
                              return; // gone: the client publishes again with the same id
                          if (!error.isEmpty() || results.size() != 1) {
                              refuseRequest(session, v1::BROKER_UNAVAILABLE, u"not stored: "_s + error,
                                            clientMessageId, stream);
                              return;
                          }
                          const PublishResult &result = results.front();
                          v1::ServerFrame frame;
                          v1::PublishAck *ack = frame.mutable_publish_ack();
                          ack->set_client_message_id(clientMessageId.toStdString());
                          ack->set_stream(result.stream.toStdString());
                          ack->set_epoch(result.epoch.toStdString());
                          ack->set_seq(result.seq);
                          ack->set_duplicate(result.duplicate);
                          session->sendFrame(protocol::encode(frame));
                      });
}

void Worker::onSubscribe(Session *session, const v1::Subscribe &subscribe)
{
    for (const v1::StreamPosition &position : subscribe.positions()) {
        const QString stream = QString::fromStdString(position.stream());
        if (!protocol::isValidStreamName(stream)) {
            refuseRequest(session, v1::BAD_REQUEST, u"not a stream name"_s, {}, stream.left(128));
            continue;
        }
        if (!TokenSigner::grants(session->readGrants, stream)) {
            refuseRequest(session, v1::NOT_ENTITLED, u"the token does not grant stream %1"_s.arg(stream), {},
                          stream);
            continue;
        }
        if (Session::StreamState *state = session->stream(stream); state && state->active) {
            if (state->ready) // already read: where it stands (else the answer is on its way)
                startStream(session, stream, *state);
            continue;
        }
        if (session->activeStreams() >= MaxStreamsPerSession) {
            refuseRequest(session, v1::BAD_REQUEST,
                          u"a session reads at most %1 streams"_s.arg(MaxStreamsPerSession), {}, stream);
            continue;
        }
        addReader(session, stream);
        // A position with only the stream: from now on.
        std::optional<StreamPoint> from;
        if (!position.epoch().empty() || position.seq() > 0)
            from = StreamPoint{QString::fromStdString(position.epoch()), position.seq()};
        askBroker(session, stream, from);
    }
}

void Worker::onUnsubscribe(Session *session, const v1::Unsubscribe &unsubscribe)
{
    v1::ServerFrame frame;
    v1::Unsubscribed *unsubscribed = frame.mutable_unsubscribed();
    for (const std::string &name : unsubscribe.streams()) {
        const QString stream = QString::fromStdString(name);
        Session::StreamState *state = session->stream(stream);
        if (state && state->active)
            leaveStream(session, stream, state);
        unsubscribed->add_streams(name);
    }
    session->sendFrame(protocol::encode(frame));
}

void Worker::startStream(Session *session, const QString &stream, Session::StreamState &state)
{
    v1::ServerFrame frame;
    v1::StreamState *out = frame.mutable_subscribed()->add_streams();
    out->set_stream(stream.toStdString());
    out->set_epoch(state.epoch.toStdString());
    out->set_seq(state.delivered);
    out->set_recovered(state.recovered);
    session->sendFrame(protocol::encode(frame));
    for (const MessagePtr &message : state.replay)
        session->connection()->send(message->wire);
    m_stats->replayed.fetch_add(state.replay.size(), std::memory_order_relaxed);
    const std::vector<MessagePtr> held = std::exchange(state.held, {});
    state.replay = {};
    quint64 sent = 0;
    std::vector<Session *> toClose;
    const qint64 nowUs = protocol::nowUs();
    {
        std::lock_guard latencyLock(m_latencyMutex);
        for (const MessagePtr &message : held)
            deliverTo(session, state, message, nowUs, &sent, &toClose);
    }
    m_stats->delivered.fetch_add(sent, std::memory_order_relaxed);
    closeLagging(std::move(toClose)); // last: closing may end the session
}

Session *Worker::findSession(WsConnection *connection, quint64 sessionId) const
{
    const auto it = m_sessions.find(connection);
    return it != m_sessions.end() && it->second->id() == sessionId ? it->second.get() : nullptr;
}

void Worker::onSubscribed(WsConnection *connection, quint64 sessionId, const QString &stream,
                          quint64 subscription, const Subscription &answer, const QString &error)
{
    Session *session = findSession(connection, sessionId);
    Session::StreamState *state = session ? session->stream(stream) : nullptr;
    const bool live = session && session->stage() == Session::Stage::Live;
    // Gone, failed on another stream, or unsubscribed (and perhaps subscribed again) meanwhile.
    if (!state || !state->active || state->subscription != subscription ||
        (!live && session->stage() != Session::Stage::Subscribing))
        return;
    if (!error.isEmpty()) {
        const QString text = u"cannot subscribe %1: %2"_s.arg(stream, error);
        if (!live) {
            fail(session, v1::BROKER_UNAVAILABLE, text);
            return;
        }
        leaveStream(session, stream, state);
        refuseRequest(session, v1::BROKER_UNAVAILABLE, text, {}, stream);
        return;
    }
    state->ready = true;
    state->epoch = answer.epoch;
    state->delivered = answer.seq;
    state->recovered = answer.recovered;
    state->replay = answer.replay;
    if (live)
        startStream(session, stream, *state);
    else if (session->allReady())
        goLive(session);
}

void Worker::goLive(Session *session)
{
    v1::ServerFrame welcomeFrame;
    v1::Welcome *welcome = welcomeFrame.mutable_welcome();
    welcome->set_session_id(
        u"%1-%2-%3"_s.arg(m_options.nodeId).arg(m_index).arg(session->id()).toStdString());
    welcome->set_node_id(m_options.nodeId.toStdString());
    welcome->set_heartbeat_interval_ms(quint32(m_options.heartbeatMs));
    for (const auto &[stream, state] : session->streams()) {
        v1::StreamState *out = welcome->add_streams();
        out->set_stream(stream.toStdString());
        out->set_epoch(state.epoch.toStdString());
        out->set_seq(state.delivered);
        out->set_recovered(state.recovered);
    }
    session->sendFrame(protocol::encode(welcomeFrame));
    setStage(session, Session::Stage::Live);
    // Shared streams the hello named that the token does not grant (any
    // more): refused each on its own; the session reads the others.
    for (const QString &stream : std::exchange(session->refusedAtHello, {}))
        refuseRequest(session, v1::NOT_ENTITLED, u"the token does not grant stream %1"_s.arg(stream), {},
                      stream);
    m_metrics.count(HandshakeResult::Ok);

    // The first ping comes at a random point of the first interval, so that
    // clients that connected together do not ping together forever.
    session->nextPingMs =
        protocol::nowMs() + qint64(QRandomGenerator::global()->bounded(quint32(m_options.heartbeatMs)) + 1);

    // The replay, then what arrived live while the broker answered (the
    // session skips what the replay already covered).
    quint64 replayed = 0;
    std::vector<MessagePtr> held;
    for (auto &[stream, state] : session->streams()) {
        for (const MessagePtr &message : state.replay)
            session->connection()->send(message->wire);
        replayed += state.replay.size();
        held.insert(held.end(), state.held.begin(), state.held.end());
        state.replay = {};
        state.held = {};
    }
    m_stats->replayed.fetch_add(replayed, std::memory_order_relaxed);
    qCDebug(lcPush) << "session" << session->id() << "user" << session->userId() << "live, replayed"
                    << replayed << "held" << held.size();
    quint64 sent = 0;
    std::vector<Session *> toClose;
    const qint64 nowUs = protocol::nowUs();
    {
        std::lock_guard latencyLock(m_latencyMutex);
        for (const MessagePtr &message : held) {
            if (Session::StreamState *state = session->stream(message->stream))
                deliverTo(session, *state, message, nowUs, &sent, &toClose);
        }
    }
    m_stats->delivered.fetch_add(sent, std::memory_order_relaxed);
    closeLagging(std::move(toClose)); // last: closing may end the session
}

void Worker::Readers::deliver(const MessagePtr &message)
{
    m_worker->enqueue(this, message);
}

void Worker::enqueue(Readers *readers, const MessagePtr &message)
{
    bool wake;
    {
        std::lock_guard lock(m_inboxMutex);
        wake = m_inbox.empty();
        m_inbox.emplace_back(readers, message);
    }
    if (wake)
        QMetaObject::invokeMethod(this, &Worker::drainInbox, Qt::QueuedConnection);
}

void Worker::drainInbox()
{
    // Readers retired before this point were unsubscribed first: every message
    // naming them is in the inbox taken here, and none comes later.
    std::vector<std::unique_ptr<Readers>> retired;
    retired.swap(m_retired);
    std::vector<std::pair<Readers *, MessagePtr>> inbox;
    {
        std::lock_guard lock(m_inboxMutex);
        inbox.swap(m_inbox);
    }
    const qint64 nowUs = protocol::nowUs();
    quint64 sent = 0;
    std::vector<Session *> toClose;
    {
        std::lock_guard latencyLock(m_latencyMutex);
        for (const auto &[readers, message] : inbox) {
            for (const Reader &reader : readers->readers)
                deliverTo(reader.session, *reader.state, message, nowUs, &sent, &toClose);
        }
    }
    m_stats->delivered.fetch_add(sent, std::memory_order_relaxed);
    // Closed outside the loops over readers, which closing would change.
    closeLagging(std::move(toClose));
}

void Worker::deliverTo(Session *session, Session::StreamState &state, const MessagePtr &message, qint64 nowUs,
                       quint64 *sent, std::vector<Session *> *toClose)
{
    // A client with this much still queued is behind: what is ephemeral
    // (typing, presence) is the first thing it goes without.
    if (message->ephemeral &&
        session->connection()->queuedBytes() > std::min<qint64>(64 * 1024, m_options.maxSendQueueBytes / 4)) {
        m_stats->ephemeralDropped.fetch_add(1, std::memory_order_relaxed);
        return;
    }
    switch (session->deliver(state, message)) {
    case Session::Delivery::Sent: {
        ++*sent;
        const qint64 latencyUs = nowUs - message->publishTimeUs;
        m_latency.record(latencyUs);
        m_metrics.latency.record(double(latencyUs) / 1e6);
        if (session->connection()->queuedBytes() > m_options.maxSendQueueBytes)
            toClose->push_back(session);
        break;
    }
    case Session::Delivery::Skipped:
    case Session::Delivery::Held:
        break;
    case Session::Delivery::Gap:
        qCWarning(lcPush).noquote() << logEvent("resume_gap", {{"session", QString::number(session->id())},
                                                               {"user", session->userId()},
                                                               {"stream", message->stream},
                                                               {"seq", QString::number(message->seq)},
                                                               {"epoch", message->epoch}});
        toClose->push_back(session);
        break;
    }
}

void Worker::closeLagging(std::vector<Session *> sessions)
{
    // Once each: closing can end a session at once, and a session that
    // missed one message misses the next ones too.
    std::sort(sessions.begin(), sessions.end());
    sessions.erase(std::unique(sessions.begin(), sessions.end()), sessions.end());
    for (Session *session : sessions) {
        if (session->stage() == Session::Stage::Closing)
            continue;
        const bool slow = session->connection()->queuedBytes() > m_options.maxSendQueueBytes;
        // What it has not started to receive is dropped, so that the close
        // reaches it now; it resumes from its last seq.
        if (slow) {
            session->connection()->discardQueued();
            m_metrics.slowConsumers.add();
            m_metrics.count(PushLimit::SendQueue);
        }
        closeSession(session, slow ? v1::SLOW_CONSUMER : v1::RESUME_GAP,
                     slow ? u"send queue over its limit"_s : u"resume to fill a gap"_s);
    }
}

LatencyHistogram Worker::takeLatency()
{
    std::lock_guard lock(m_latencyMutex);
    LatencyHistogram taken = m_latency;
    m_latency.reset();
    return taken;
}

void Worker::sweep()
{
    if (!m_retired.empty())
        drainInbox(); // frees them on a node that delivers nothing
    const qint64 nowMs = protocol::nowMs();
    std::vector<std::pair<Session *, v1::ErrorCode>> expired;
    std::vector<Session *> unresponsive;
    qint64 queuedBytes = 0;
    for (auto &[connection, owned] : m_sessions) {
        Session *session = owned.get();
        queuedBytes += connection->queuedBytes();
        switch (session->stage()) {
        case Session::Stage::AwaitingHello:
            if (nowMs >= session->stageDeadlineMs) {
                expired.emplace_back(session, v1::HANDSHAKE_TIMEOUT);
                m_metrics.count(PushLimit::HandshakeTimeout);
            }
            break;
        case Session::Stage::Subscribing:
            if (nowMs >= session->stageDeadlineMs)
                expired.emplace_back(session, v1::BROKER_UNAVAILABLE);
            break;
        case Session::Stage::Live:
            if (session->leaveByMs != 0 && nowMs >= session->leaveByMs) {
                expired.emplace_back(session, v1::DRAINING);
            } else if (nowMs - session->lastHeardMs > 2 * qint64(m_options.heartbeatMs) + HeartbeatSlackMs) {
                expired.emplace_back(session, v1::HEARTBEAT_TIMEOUT);
            } else if (nowMs >= session->nextPingMs) {
                v1::ServerFrame ping;
                ping.mutable_ping()->set_nonce(quint64(nowMs));
                session->sendFrame(protocol::encode(ping));
                session->nextPingMs = nowMs + m_options.heartbeatMs;
            }
            break;
        case Session::Stage::Closing:
            if (nowMs >= session->stageDeadlineMs)
                unresponsive.push_back(session);
            break;
        }
    }
    m_metrics.sendQueueBytes.set(quint64(std::max<qint64>(0, queuedBytes)));
    for (const auto &[session, code] : expired)
        closeSession(session, code,
                     code == v1::HANDSHAKE_TIMEOUT    ? u"no hello in time"_s
                     : code == v1::DRAINING           ? u"node draining"_s
                     : code == v1::BROKER_UNAVAILABLE ? u"the broker did not answer in time"_s
                                                      : u"heartbeat timeout"_s);
    for (Session *session : unresponsive)
        session->connection()->abort();
}

void Worker::fail(Session *session, v1::ErrorCode code, const QString &text)
{
    if (session->stage() == Session::Stage::Closing)
        return;
    qCDebug(lcPush) << "session" << session->id() << "error" << int(code) << text;
    session->sendFrame(protocol::errorFrame(code, text));
    closeSession(session, code, text);
}

void Worker::closeSession(Session *session, int code, const QString &reason)
{
    if (session->stage() == Session::Stage::Closing)
        return;
    if (session->stage() != Session::Stage::Live)
        m_metrics.count(handshakeResultOf(code));
    setStage(session, Session::Stage::Closing);
    session->stageDeadlineMs = protocol::nowMs() + CloseGraceMs;
    session->connection()->close(code, reason.toUtf8()); // cut to 123 bytes by closeFrame()
}

void Worker::removeSession(Session *session)
{
    const auto it = m_sessions.find(session->connection());
    if (it == m_sessions.end())
        return;
    for (const auto &[stream, state] : session->streams()) {
        if (state.active)
            dropReader(session, stream);
    }
    if (session->stage() == Session::Stage::AwaitingHello)
        --m_awaitingHello;
    if (session->stage() == Session::Stage::AwaitingHello || session->stage() == Session::Stage::Subscribing)
        m_metrics.count(HandshakeResult::Disconnected);
    if (session->countedForUser)
        m_users->remove(session->userId(), {this, session->id()});
    // Called from inside the connection's own callbacks: deleted after this turn.
    m_ended.push_back(std::move(it->second));
    m_sessions.erase(it);
    m_stats->connections.fetch_sub(1, std::memory_order_relaxed);
    scheduleAfterTurn();
}

void Worker::closeReplaced(quint64 sessionId)
{
    // Rare (a user past its limit): a scan rather than an index by id.
    for (auto &[connection, session] : m_sessions) {
        if (session->id() == sessionId) {
            // No longer counted: the newer session took its place.
            session->countedForUser = false;
            fail(session.get(), v1::REPLACED, u"a newer connection of this user took its place"_s);
            return;
        }
    }
}

void Worker::shutdown()
{
    m_sweepTimer->stop();
    m_drainTimer->stop();
    std::vector<Session *> all;
    for (auto &[connection, session] : m_sessions)
        all.push_back(session.get());
    for (Session *session : all)
        session->connection()->abort(); // removeSession() releases its streams
    m_toFlush.clear();
    m_ended.clear();
}

void Worker::closeAll(v1::ErrorCode code, const QString &reason)
{
    std::vector<Session *> all;
    for (auto &[connection, session] : m_sessions)
        all.push_back(session.get());
    for (Session *session : all)
        closeSession(session, code, reason);
}

} // namespace bfg
