// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 BFG developers
//
// One client's connection on a push worker: its socket, who it is, where
// it stands in each stream it reads, and its heartbeat clock. The Worker
// drives it; the session only knows how to send in order.
#pragma once

#include <QHash>
#include <QString>
#include <QStringList>

#include "daemon/broker/broker.h"

class QWebSocket;

namespace bfg {

class Session
{
public:
    enum class Stage { AwaitingHello, Live, Closing };
    enum class Delivery { Sent, Skipped, Gap };

    explicit Session(QWebSocket *socket, quint64 id);
    Q_DISABLE_COPY_MOVE(Session)

    QWebSocket *socket() const { return m_socket; }
    quint64 id() const { return m_id; }
    Stage stage() const { return m_stage; }
    void setStage(Stage stage) { m_stage = stage; }

    QString userId() const { return m_userId; }
    void setUserId(const QString &userId) { m_userId = userId; }
    // Streams this session is subscribed to, with the last seq it was sent.
    const QHash<QString, quint64> &streams() const { return m_delivered; }
    void setDelivered(const QString &stream, quint64 seq) { m_delivered.insert(stream, seq); }

    // Sends `message` if it is the next of its stream for this client;
    // skips what the client already has; reports a gap otherwise.
    Delivery deliver(const BrokerMessage &message);
    void sendFrame(const QByteArray &frame);

    qint64 lastHeardMs = 0;
    qint64 nextPingMs = 0;
    qint64 stageDeadlineMs = 0; // AwaitingHello: hello by then; Closing: gone by then
    qint64 leaveByMs = 0;       // asked to reconnect elsewhere: closed if still here then

private:
    QWebSocket *m_socket;
    quint64 m_id;
    Stage m_stage = Stage::AwaitingHello;
    QString m_userId;
    QHash<QString, quint64> m_delivered;
};

} // namespace bfg
