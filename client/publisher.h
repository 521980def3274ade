// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 BFG developers
//
// The probe's backend: publishes to each registered user's stream at a
// steady rate through POST /v1/publish (Protobuf). A 10 ms tick adds what
// each user is due (fractional rates accumulate) and packs everything due
// into batched requests. Every item carries a unique id, so a failed
// request is retried with the same items and the node's dedup gives back
// the original sequence numbers instead of duplicates. While all request
// slots are busy, or after a failure while the publisher backs off, due
// batches wait in a queue and are coalesced into requests of up to
// maxBatchItems. Acks go to the probe as (user, seq) for its verifiers.
// Requests go over maxInFlight keep-alive HttpConnections, one request each.
#pragma once

#include <deque>
#include <memory>
#include <string>
#include <vector>

#include <QElapsedTimer>
#include <QObject>
#include <QTimer>
#include <QUrl>

#include "common/httpconnection.h"
#include "common/backoff.h"

namespace bfg::probe {

class Publisher : public QObject
{
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(Publisher)

public:
    struct Options
    {
        QUrl baseUrl;      // the node's HTTP API; requests go to {baseUrl}/v1/publish
        QByteArray apiKey; // "Authorization: Bearer <key>" when not empty
        double ratePerUser = 2.0;
        int maxInFlight = 6; // connections, each with one request at a time: no hidden queue
        int maxBatchItems = 500;
        int timeoutMs = 5000;
        int tickMs = 10;
    };

    explicit Publisher(Options options, QObject *parent = nullptr);
    ~Publisher() override;

    // Starts publishing to `userId`; `user` is how acks name it.
    void addUser(int user, const QString &userId);
    // Starts publishing to a shared stream at `rate` msg/s; acks name it `key`.
    // Payloads are tagged with the stream's name; message ids start with
    // `idPrefix` (unique per probe: several may publish to one stream).
    void addStream(int key, const QString &stream, double rate, const QString &idPrefix);
    void start();
    // Every source publishes at `factor` times its rate from now on (burst).
    void setRateFactor(double factor) { m_rateFactor = factor; }
    // No new messages from now on; queued and in-flight requests still complete.
    void stopScheduling();
    // Gives up on everything not acked yet (end of the run).
    void abandon();

    // Nothing queued, in flight or waiting to be retried.
    bool isIdle() const;
    int inFlight() const { return m_inFlight; }
    quint64 sent() const { return m_sent; }         // messages created
    quint64 acked() const { return m_acked; }       // messages the node confirmed
    quint64 rejected() const { return m_rejected; } // refused for good (4xx other than 429)
    quint64 unacked() const { return m_sent - m_acked - m_rejected; }
    quint64 requests() const { return m_requests; }
    quint64 retries() const { return m_retries; }

Q_SIGNALS:
    // The node's seq for each item of one request: users[i] got seqs[i].
    void itemsAcked(const std::vector<int> &users, const std::vector<quint64> &seqs);

private:
    struct Source;
    struct Batch;

    void tick();
    void flushBuilding();
    void pump();
    // Takes the next request's worth of queued batches, merged into one.
    std::shared_ptr<Batch> takeBatch();
    void send(const std::shared_ptr<Batch> &batch);
    void onFinished(HttpConnection *connection, const HttpConnection::Response &response,
                    const std::shared_ptr<Batch> &batch);
    void retryLater(const std::shared_ptr<Batch> &batch, int minimumDelayMs);

    Options m_options;
    QByteArray m_publishPath;
    QByteArray m_headers; // of every request
    std::vector<HttpConnection *> m_idle;
    QTimer m_tickTimer;
    QElapsedTimer m_clock;
    qint64 m_lastTickNs = 0;
    double m_rateFactor = 1.0;

    std::vector<Source> m_sources;
    std::shared_ptr<Batch> m_building; // what this tick makes due
    std::string m_id;                  // scratch for the item being written
    std::string m_payload;
    std::vector<quint64> m_seqs; // of the answer being read
    std::deque<std::shared_ptr<Batch>> m_queue;
    int m_inFlight = 0;
    // After a failed request nothing is sent until this fires: an unreachable node gets
    // a few requests per backoff period, not one per queued batch.
    QTimer m_retryTimer;
    Backoff m_backoff;
    bool m_abandoned = false;
    int m_errorsLogged = 0;

    quint64 m_sent = 0;
    quint64 m_acked = 0;
    quint64 m_rejected = 0;
    quint64 m_requests = 0;
    quint64 m_retries = 0;
};

} // namespace bfg::probe
