// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 BFG developers
//
// Everything a push node is told at start, with its defaults. Filled from
// bfgd.conf by DaemonSettings, or directly by tests.
#pragma once

#include <memory>

#include <QByteArray>
#include <QHostAddress>
#include <QList>
#include <QStringList>
#include <QUrl>

namespace bfg {

class ServerTls;

struct PushOptions
{
    QString nodeId;
    QHostAddress address = QHostAddress::LocalHost; // WebSocket listener
    quint16 port = 8081;
    QHostAddress httpAddress = QHostAddress::LocalHost; // publish API
    quint16 httpPort = 8082;
    // Set: both listeners speak TLS (wss://, https://). Else plain.
    std::shared_ptr<const ServerTls> tls;
    QString publicUri;     // what clients are told to connect to; empty: ws(s)://address:port/v1/ws
    QString publicHttpUri; // what publishers are told; empty: http(s)://httpAddress:httpPort
    QString region;
    int capacity = 10000;
    int workers = 2; // threads holding connections; 0: one per core
    // The worker threads' event loop: "epoll" (EpollEventDispatcher, O(ready
    // sockets) per wake) or "qt" (Qt's default, which polls every socket).
    QString eventLoop = QStringLiteral("epoll");
    int heartbeatMs = 25000;
    int handshakeTimeoutMs = 10000; // WebSocket upgrade, then again for the Hello
    int maxFrameBytes = 64 * 1024;
    int maxPendingConnections = 1024; // handshakes (upgrade and hello) in progress; more get 503
    int listenBacklog = 4096;         // the kernel's accept queue (capped by net.core.somaxconn)
    // Abuse limits (0: none). Above the first, a connection is answered HTTP
    // 429; above the per-connection ones it is closed with RATE_LIMITED (3009,
    // retry range); above the last, a publish request gets 429 + Retry-After.
    int connectionsPerIpPerSecond = 1000; // new connections a second from one address (burst: twice)
    int inboundFramesPerSecond = 100;     // frames a connection may send a second (burst: twice)
    int inboundBytesPerSecond = 1 << 20;  // bytes a connection may send a second (burst: twice)
    // Sessions one user may hold on the node; above, the oldest is closed
    // (REPLACED) or, with refuseNewPerUser, the new one refused
    // (TOO_MANY_CONNECTIONS). 0: no limit.
    int maxConnectionsPerUser = 10;
    bool refuseNewPerUser = false;
    int publishRequestsPerSecond = 1000; // publish requests a second per key, token subject or
                                         // (open API) address (burst: the same)
    qint64 maxSendQueueBytes = 4 * 1024 * 1024;
    int maxPublishBatch = 1000;
    int reportIntervalMs = 1000;
    int drainRate = 500;        // clients a second asked to reconnect elsewhere while draining
    int drainTimeoutMs = 30000; // on SIGTERM, drain at most this long before closing the rest
    QList<QUrl> decisionUrls;
    QByteArray secret;                 // shared with the decision servers
    QList<QByteArray> previousSecrets; // older secrets whose tokens still verify (rotation)
    QStringList publishKeys;           // bearer keys for POST /v1/publish; empty: open
    QByteArray metricsKey;             // GET /metrics needs "Bearer <key>" when set; empty: open
};

} // namespace bfg
