// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 BFG developers
//
// What a push worker counts for GET /metrics: written by the worker's own
// thread only (MetricCounter, MetricHistogram: no lock, nothing shared
// between workers), summed over the workers by PushServer when Prometheus
// scrapes. README.md, "Metrics", says what each one means.
#pragma once

#include "daemon/metrics/metriccounter.h"
#include "daemon/metrics/metrichistogram.h"

namespace bfg {

// bfg_limit_exceeded_total{limit=...}: every limit a client or publisher can
// run into (PushServer has the label names in this order).
enum class PushLimit {
    ConnectionsPerIp,   // push/connections_per_ip_per_s: HTTP 429 at the upgrade
    PendingHandshakes,  // push/max_pending_connections: HTTP 503 at the upgrade
    HandshakeTimeout,   // push/handshake_timeout_ms: no upgrade or hello in time
    InboundRate,        // push/inbound_frames_per_s, inbound_bytes_per_s: 3009 RATE_LIMITED
    FrameSize,          // push/max_frame_bytes: FRAME_TOO_LARGE, or 1009 above twice that
    ConnectionsPerUser, // push/max_connections_per_user: 3509 REPLACED or 3508 TOO_MANY_CONNECTIONS
    SendQueue,          // push/max_send_queue_bytes: 3003 SLOW_CONSUMER
    PublishRate,        // push/publish_requests_per_s: HTTP 429
    BodySize,           // publish request body too large: HTTP 413
    PayloadSize,        // a published message above max_frame_bytes - 512: HTTP 413
    Count
};

// bfg_push_handshakes_total{result=...}: how each connection's handshake
// (upgrade, hello, subscriptions) ended.
enum class HandshakeResult {
    Ok,                // welcome sent: the session is live
    Refused,           // bad token, not entitled, bad path, protocol violation
    Limited,           // turned away by a limit (address rate, pending handshakes, per user, ...)
    Timeout,           // no upgrade or hello within push/handshake_timeout_ms
    Draining,          // the node is draining: told to reconnect elsewhere
    BrokerUnavailable, // the broker did not answer the subscriptions
    Disconnected,      // the client went away first
    Shutdown,          // the node stopped
    Count
};

struct WorkerMetrics
{
    void count(HandshakeResult result) { handshakes[int(result)].add(); }
    void count(PushLimit limit) { limits[int(limit)].add(); }

    MetricCounter handshakes[int(HandshakeResult::Count)];
    MetricCounter limits[int(PushLimit::Count)];
    MetricCounter slowConsumers;
    MetricCounter sendQueueBytes; // a gauge: summed over the worker's connections by each sweep
    // Broker accept (a message's publish_time) -> its frame queued on the socket.
    MetricHistogram latency{MetricHistogram::latencyBounds()};
};

} // namespace bfg
