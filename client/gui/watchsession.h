// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 BFG developers
//
// What bfg-probe --gui watches: one user's PushClient, every message it
// receives checked by a UserVerifier per stream (the probe's own checks:
// lost, duplicated, reordered, how each resume went) and listed in a
// MessageTableModel, the latency of each second, and publishing to the
// user (POST /v1/publish on the node's publish API, JSON). Payloads are
// not checked: the user also gets what others publish. No widgets here:
// ProbeWindow shows it, the tests drive it.
#pragma once

#include <deque>
#include <map>
#include <memory>
#include <string>

#include <QList>
#include <QObject>
#include <QTimer>
#include <QUrl>

#include "client/userverifier.h"
#include "common/latencyhistogram.h"

namespace bfg {
class DecisionClient;
class HttpConnection;
class PushClient;
namespace v1 {
class Message;
class Welcome;
} // namespace v1
} // namespace bfg

namespace bfg::probe {

class MessageTableModel;

class WatchSession : public QObject
{
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(WatchSession)

public:
    struct Counters
    {
        quint64 received = 0;
        quint64 lost = 0; // gaps, what a resume could not recover, and acked but overdue (~5 s)
        quint64 duplicated = 0;
        quint64 reordered = 0;
        quint64 unexpected = 0; // on a stream the Welcome did not list, or another epoch unannounced
        int resumes = 0;        // of the user's own stream
        int recovered = 0;
        int notRecovered = 0;
    };
    // One second of latency, for the chart.
    struct LatencySample
    {
        qint64 atMs = 0; // since the epoch, the end of the second
        quint64 count = 0;
        double p50Ms = 0;
        double maxMs = 0;
    };

    explicit WatchSession(QObject *parent = nullptr);
    ~WatchSession() override;

    // Connects `userId` through `decisionUrls`, forgetting any earlier session.
    void start(const QList<QUrl> &decisionUrls, const QString &userId);
    // Closes the connection (1000); the counters and table stay for reading.
    void stop();
    // Keeps the connection's positions and resumes through these decision servers.
    void switchDecision(const QList<QUrl> &decisionUrls);

    // Empty: the publish API the decision server named with the last assignment.
    void setPublishUrl(const QUrl &url) { m_publishUrl = url; }
    void setPublishKey(const QByteArray &key) { m_publishKey = key; }
    // Publishes `text` to the user's own stream; publishes go out one at a time, in order.
    void publish(const QString &text);

    bool isActive() const { return m_client != nullptr; }
    QString userId() const { return m_userId; }
    QList<QUrl> decisionUrls() const { return m_decisionUrls; }
    PushClient *client() const { return m_client; }
    MessageTableModel *messages() const { return m_messages; }
    Counters counters() const;
    // The publish API the next publish goes to (empty: none known yet).
    QUrl effectivePublishUrl() const;
    // The last ~2 minutes, one sample a second, oldest first.
    const std::deque<LatencySample> &latencySamples() const { return m_samples; }
    static constexpr int LatencySeconds = 120;

Q_SIGNALS:
    // A new PushClient (start()): connect to its signals.
    void clientChanged(bfg::PushClient *client);
    void countersChanged();
    void latencySampled();
    void published(quint64 seq);
    void publishFailed(const QString &error);

private:
    void onWelcomed(const v1::Welcome &welcome, bool resumed);
    void onMessage(const v1::Message &message);
    void sendNextPublish();
    void onSecond();

    QString m_userId;
    std::string m_ownStream;
    QList<QUrl> m_decisionUrls;
    DecisionClient *m_decision = nullptr;
    PushClient *m_client = nullptr;
    MessageTableModel *m_messages;
    std::map<std::string, UserVerifier> m_verifiers; // by stream, as on the wire
    quint64 m_unexpected = 0;

    QUrl m_publishUrl;
    QByteArray m_publishKey;
    HttpConnection *m_publisher = nullptr; // keep-alive, to m_publisherServer
    QUrl m_publisherServer;
    std::deque<QString> m_publishQueue;
    bool m_publishing = false;

    LatencyHistogram m_secondLatency;
    std::deque<LatencySample> m_samples;
    QTimer m_secondTimer;
};

} // namespace bfg::probe
