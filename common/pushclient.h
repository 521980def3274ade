// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 BFG developers
//
// The client side of the BFG protocol, as every client should follow it:
// resolve a node through the decision servers, connect, send Hello with
// the last position in each stream, answer pings, and on a lost
// connection, a retry-range close code or a Reconnect frame go back to the
// decision servers after exponential backoff with full jitter. Terminal
// codes stop the client. Used by bfg-probe (one per simulated user) and
// the console. Clients that share a ConnectGate wait for a slot before
// asking the decision server and hold it until they are live or back off.
// bfg-probe --gui also pauses reading (to provoke SLOW_CONSUMER) and moves
// a live client to other decision servers.
//
// Chat: publish() sends to a room or another user's stream over the same
// connection and keeps the message until the node acks it: a message not
// acked when the connection drops is sent again, with the same client
// message id, once the client is live again (the node stores it once).
// subscribe() / unsubscribe() add and remove shared streams; their
// positions are kept with the others, so that a reconnect resumes them in
// the Hello. bfg-probe's chat scenario drives one per room member.
#pragma once

#include <list>
#include <string>
#include <unordered_map>
#include <unordered_set>

#include <QElapsedTimer>
#include <QHash>
#include <QHostAddress>
#include <QObject>
#include <QPointer>
#include <QTimer>
#include <QUrl>

#include "bfg/v1/frames.pb.h"
#include "common/backoff.h"
#include "common/connectgate.h"

class QNetworkAccessManager;
class QSocketNotifier;
class QWebSocket;

namespace bfg {

class DecisionClient;
struct AssignResult;

class PushClient : public QObject
{
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(PushClient)

public:
    enum class State { Idle, Resolving, Connecting, Live, BackingOff, Stopped };
    Q_ENUM(State)

    struct Options
    {
        QString userId;
        QString affinity;
        QString clientName = QStringLiteral("bfg-client");
        int backoffBaseMs = Backoff::DefaultBaseMs;
        int backoffCapMs = Backoff::DefaultCapMs;
        int connectTimeoutMs = 10000;   // TCP + WebSocket handshake + Welcome
        ConnectGate *gate = nullptr;    // shared by many clients; none: no limit
        QHostAddress sourceAddress;     // connect from this local address; null: the system's choice
        int maxPendingPublishes = 1000; // publishes waiting for their ack; more are refused (OVERLOADED)
    };

    // `decision` is shared by many clients and must outlive this one.
    PushClient(DecisionClient *decision, Options options, QObject *parent = nullptr);
    ~PushClient() override;

    void start();
    // Closes the connection for good (close code 1000); no reconnect.
    void stop();
    // Aborts the TCP connection as a network failure would; the client then
    // reconnects and resumes like after any other loss.
    void dropConnection();
    // Goes back to resolving through `decision` (which must outlive this client) and resumes
    // from the positions held, as after a Reconnect frame. Closes a live connection first.
    void switchDecision(DecisionClient *decision);

    // Stops reading the live connection's socket, so that the node's send queue fills as it
    // would for a slow client; nothing is read (not even a close) until resumeReading().
    // Takes effect at the next frame boundary (QWebSocket closes a connection whose frame
    // stays incomplete for 5 s). Ends with the connection.
    void pauseReading();
    void resumeReading();
    bool isReadingPaused() const { return m_readingPaused; }

    State state() const { return m_state; }
    QString userId() const { return m_options.userId; }
    QString nodeId() const { return m_nodeId; }
    // The push node of the current (or last) assignment, and its publish API: what the decision
    // server said (AssignResponse.uri and publish_uri; the latter may be empty).
    QUrl nodeUrl() const { return m_nodeUrl; }
    QUrl publishUrl() const { return m_publishUrl; }
    // While BackingOff: when the next attempt starts (ms since the epoch); 0 otherwise.
    qint64 nextAttemptMs() const { return m_state == State::BackingOff ? m_nextAttemptMs : 0; }
    // Last position per stream: epoch and the seq of the last message seen.
    QHash<QString, v1::StreamPosition> positions() const;
    int reconnects() const { return m_reconnects; }

    // Publishes `payload` to `stream` (one the token may publish to: a room, "user:<other>").
    // `clientMessageId`: 1..64 of [A-Za-z0-9._:-], unique per sender (the node names the
    // message "<user>/<clientMessageId>" and stores a retry of it once); empty: the client
    // makes one up. Returns the id, which published() or publishRefused() names later.
    // Sent at once when live, else when the client is next live; a message not acked when
    // the connection drops is sent again after the reconnect (same id: no duplicate), and one
    // refused with a retry code (BROKER_UNAVAILABLE) is sent again after a backoff. An
    // ephemeral message (typing indicator: no seq, never stored) is not sent again: lost with
    // the connection, it is refused with the connection's close code. Invalid ids, streams
    // and more than Options::maxPendingPublishes waiting are refused from the event loop.
    QString publish(const QString &stream, const QByteArray &payload, const QString &clientMessageId = {},
                    bool ephemeral = false);
    // Publishes waiting for their ack (sent or not yet).
    int pendingPublishes() const { return int(m_pending.size()); }
    // Starts reading shared streams (rooms the token's read patterns match), from the
    // position held for each if any, else from now on; subscribed() says where each starts.
    // Kept across reconnects: the Hello resumes those with a position, the others are
    // subscribed again after the Welcome.
    void subscribe(const QStringList &streams);
    // Stops reading them: their positions are forgotten and nothing of them is delivered
    // from now on (the node confirms with unsubscribed()).
    void unsubscribe(const QStringList &streams);
    // The streams subscribe() added and unsubscribe() did not remove, sorted.
    QStringList subscriptions() const;

Q_SIGNALS:
    void stateChanged(bfg::PushClient::State state);
    // After every Welcome; `resumed` is true when the Hello carried positions.
    void welcomed(const bfg::v1::Welcome &welcome, bool resumed);
    void messageReceived(const bfg::v1::Message &message);
    // The connection is gone (closeCode as the server or Qt reported it);
    // a reconnect follows unless the code was terminal.
    void disconnected(int closeCode, const QString &reason);
    // A terminal error: the client has stopped.
    void failed(int code, const QString &text);
    // pauseReading() took effect, or reading resumed (also when the connection ended).
    void readingPausedChanged(bool paused);
    // The node stored a publish() (ephemeral: accepted, seq 0 and no epoch). `duplicate`:
    // it had been stored before (a retry after a reconnect); `seq` is the first one's.
    void published(const QString &clientMessageId, const QString &stream, const QString &epoch, quint64 seq,
                   bool duplicate);
    // A publish() refused for good: the node's code (NOT_ENTITLED, BAD_REQUEST ...), OVERLOADED
    // for too many waiting, BAD_REQUEST for an invalid id or stream, the terminal code the
    // client stopped on with it waiting, or 1000 / 1006 for an ephemeral message whose
    // connection was closed / lost before its ack (it is not sent again).
    void publishRefused(const QString &clientMessageId, int code, const QString &text);
    // A subscribe() answered: the stream is read from state.seq on (recovered as in a Welcome).
    void subscribed(const bfg::v1::StreamState &state);
    // A stream of subscribe() refused (NOT_ENTITLED, BAD_REQUEST): no longer subscribed.
    void subscriptionRefused(const QString &stream, int code, const QString &text);
    // The node confirmed an unsubscribe().
    void unsubscribed(const QStringList &streams);

private:
    void setState(State state);
    void resolve();
    void requestAssignment(quint64 generation);
    void releaseGateSlot();
    void onAssigned(const AssignResult &result);
    void connectTo(const QUrl &uri, const QByteArray &token);
    void bindSource(QWebSocket *socket);
    void sendHello(const QByteArray &token);
    void onBinaryMessage(const QByteArray &bytes);
    void onWelcome(const v1::Welcome &welcome);
    void onMessage(const v1::Message &message);
    // Takes a stream's state from a Welcome or Subscribed into the positions.
    void applyStreamState(const v1::StreamState &state);
    void onPublishAck(const v1::PublishAck &ack);
    void onSubscribed(const v1::Subscribed &frame);
    void onUnsubscribed(const v1::Unsubscribed &frame);
    // An Error naming one publish or one stream: that request is refused, the session goes on.
    void onRequestError(const v1::Error &error);
    void sendPublish(const v1::Publish &publish);
    void sendSubscribe(const QStringList &streams);
    void sendFrame(const v1::ClientFrame &frame);
    // After a Welcome: what was waiting goes out (publishes, subscriptions not in the Hello).
    void resendAfterWelcome(const v1::Welcome &welcome);
    // The connection is gone: ephemeral publishes sent on it are refused, the rest waits.
    void onConnectionLost(int closeCode);
    void retryRefusedPublishes();
    void refuseLater(const QString &clientMessageId, int code, const QString &text);
    void forgetPosition(const std::string &stream);
    void onSocketGone(int closeCode, const QString &reason);
    void onDeadline();
    // Forgets the current socket: no more signals from it, closed or aborted, deleted later.
    void discardSocket(bool graceful);
    void scheduleReconnect(int minimumDelayMs);
    // Stops reading if a pause is asked for and QWebSocket holds no part of a frame.
    void applyPause();
    void endPause();
    void resetHeartbeat(int intervalMs);
    void fail(int code, const QString &text);

    DecisionClient *m_decision;
    Options m_options;
    Backoff m_backoff;
    QPointer<ConnectGate> m_gate;
    State m_state = State::Idle;
    QWebSocket *m_socket = nullptr;
    QTimer m_retryTimer;
    QTimer m_deadlineTimer; // connect timeout, then heartbeat silence
    QString m_nodeId;
    QUrl m_nodeUrl;
    QUrl m_publishUrl;
    qint64 m_nextAttemptMs = 0;
    QPointer<QSocketNotifier> m_readNotifier; // of the paused socket
    bool m_pauseRequested = false;
    bool m_readingPaused = false;
    // By stream name as on the wire. Node-based, so that the entry of the last Message's
    // stream stays where it is: a steady stream costs one string compare per message.
    std::unordered_map<std::string, v1::StreamPosition> m_positions;
    v1::StreamPosition *m_lastPosition = nullptr;
    v1::Message m_message;     // the last Message received, reused to parse the next
    QElapsedTimer m_lastFrame; // since the last frame from the node, for the heartbeat deadline
    quint64 m_generation = 0;  // bumped per connection attempt: stale callbacks compare and return
    int m_heartbeatMs = 0;
    int m_reconnects = 0;
    bool m_everLive = false;
    bool m_helloResumed = false;    // the Hello of this session carried positions
    bool m_socketOpen = false;      // the current socket completed the WebSocket handshake
    bool m_holdsGateSlot = false;   // from resolving until live, backing off or stopped
    QString m_bindError;            // why the socket of this attempt is not bound to sourceAddress
    bool m_bindUnsupported = false; // this QWebSocket gave no chance to bind its socket

    // Chat. Publishes in the order they were made, until acked or refused; `sentOn` is the
    // connection generation they were last sent on (0: not sent), so that a reconnect sends
    // again exactly those its connection did not ack.
    struct PendingPublish
    {
        v1::Publish publish;
        quint64 sentOn = 0;
        qint64 retryAtMs = 0; // refused with a retry code: not before then
        int retries = 0;
    };
    std::list<PendingPublish> m_pending;
    std::unordered_map<std::string, std::list<PendingPublish>::iterator> m_pendingById;
    QTimer m_publishRetryTimer;
    std::unordered_set<std::string> m_subscriptions; // what subscribe() asked for
    std::unordered_set<std::string> m_unsubscribing; // sent Unsubscribe, Unsubscribed not seen yet
    quint64 m_idCounter = 0;
    QString m_idPrefix; // of the ids made up by publish()
};

} // namespace bfg
