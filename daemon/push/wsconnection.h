// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 BFG developers
//
// One accepted TCP connection speaking the server side of WebSocket, on a
// non-blocking socket watched by one QSocketNotifier in the worker's
// thread. It answers the upgrade, reads client frames through
// websocket::FrameReader (pings and the close handshake answered here),
// and keeps a queue of whole frames to send. The queue holds shared
// QByteArrays: a message framed once is queued on many connections without
// a copy, and several frames leave in one writev(). Sends only queue; the
// worker flushes every connection that has something queued once per loop
// turn (onFlushNeeded tells it which), so frames queued by one event go out
// together. The worker owns it and deletes it after onDisconnected, never
// inside one of its callbacks.
//
// With a TLS context the same connection speaks TLS (OpenSSL on the socket
// itself): the TLS handshake runs inside the first reads, frames leave in
// records of up to 16 KiB gathered from the queue, and a refusal waits for
// the handshake so that the client can read it.
#pragma once

#include <memory>
#include <vector>

#include <QByteArray>
#include <QByteArrayView>
#include <QtGlobal>

#include "common/websocket.h"

struct ssl_ctx_st;
struct ssl_st;

namespace bfg {

class WsConnection
{
public:
    // Handshake -> Open -> Closing (close frame sent or received, or an
    // HTTP refusal on its way) -> Closed (socket gone).
    enum class State { Handshake, Open, Closing, Closed };

    class Listener
    {
    public:
        virtual ~Listener() = default;
        // The upgrade was answered; path() says what the client asked for.
        virtual void onUpgraded(WsConnection *connection) = 0;
        virtual void onMessage(WsConnection *connection, QByteArrayView bytes, bool text) = 0;
        // A ping or pong of `bytes` arrived (counted against the client's
        // inbound limits like a message); a ping is answered after this
        // unless it closed the connection.
        virtual void onControlFrame(WsConnection *connection, qsizetype bytes) = 0;
        // Something was queued on a connection that had nothing queued.
        virtual void onFlushNeeded(WsConnection *connection) = 0;
        // The socket is closed; nothing more comes from this connection.
        virtual void onDisconnected(WsConnection *connection) = 0;
        // The peer's frames broke the protocol or the size limit; the
        // connection closes with `closeCode` (e.g. websocket::CloseTooBig).
        virtual void onProtocolError(WsConnection *connection, int closeCode)
        {
            Q_UNUSED(connection)
            Q_UNUSED(closeCode)
        }
    };

    // `tls`: serve TLS with this context; nullptr: plain TCP.
    WsConnection(qintptr socket, Listener *listener, qint64 maxMessageBytes, ssl_ctx_st *tls = nullptr);
    ~WsConnection();
    Q_DISABLE_COPY_MOVE(WsConnection)

    State state() const { return m_state; }
    QByteArray path() const { return m_path; }

    // Queues one whole frame (websocket::frame()); ignored unless Open.
    void send(const QByteArray &wireFrame);
    // Bytes queued and not yet taken by the kernel.
    qint64 queuedBytes() const { return m_queuedBytes; }
    // Drops the queued frames no byte of which was written yet (a slow
    // consumer about to be closed: it resumes from what it has).
    void discardQueued();
    // Writes what the kernel takes; the rest waits for the socket to be
    // writable. Closes the socket when a finished close handshake or a
    // refusal has gone out.
    void flush();

    // Open: sends a close frame and waits for the peer's (the worker cuts
    // off a peer that does not answer). Handshake: answers the upgrade with
    // an HTTP `httpStatus` error instead and closes.
    void close(int code, QByteArrayView reason, int httpStatus = 503);
    // Closes the socket now, without a word.
    void abort();

private:
    class Notifier;

    void onReadable();
    void onWritable();
    void received(char *data, qsizetype size);
    void readTls();
    // Writes queued frames through TLS; false when the connection is gone.
    bool flushTls();
    void waitWritable();
    void readHandshake(char *data, qsizetype size);
    void readFrames(char *data, qsizetype size);
    void onFrameEvent(websocket::FrameReader::Event event, int code, QByteArrayView payload);
    void queue(QByteArray bytes);
    void compactQueue();
    void closeAfterFlush();
    void teardown();

    qintptr m_socket;
    Listener *m_listener;
    State m_state = State::Handshake;
    websocket::FrameReader m_reader;
    QByteArray m_head; // the upgrade request while it arrives
    QByteArray m_path;
    std::unique_ptr<Notifier> m_readNotifier;
    std::unique_ptr<Notifier> m_writeNotifier; // made the first time a write is short

    std::vector<QByteArray> m_queue;
    size_t m_queueHead = 0;     // first frame not fully written
    qsizetype m_headOffset = 0; // bytes of it already written
    qint64 m_queuedBytes = 0;
    bool m_flushRequested = false;
    bool m_waitingWritable = false;
    bool m_closeSent = false;
    bool m_closeWhenFlushed = false;

    // TLS (m_ssl set): the record being written, fixed until all of it is
    // taken (OpenSSL wants a write it refused repeated as it was).
    ssl_st *m_ssl = nullptr;
    QByteArray m_tlsOut;
    qsizetype m_tlsOutOffset = 0;
    bool m_tlsReadWantsWrite = false;
    bool m_tlsWriteWantsRead = false;
    bool m_tlsBroken = false; // no close_notify after a TLS error
    // A refusal made before the TLS handshake: answered once the request came.
    int m_refusalStatus = 0;
    QByteArray m_refusalReason;
};

} // namespace bfg
