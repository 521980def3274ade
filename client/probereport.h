// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 BFG developers
//
// The figures of one finished probe run and the verdict drawn from them,
// printed for people (stdout) and written as JSON for scripts and the
// benchmark records. Probe fills it in once, at the end of the run.
#pragma once

#include <map>

#include <QJsonObject>
#include <QString>
#include <QStringList>
#include <QtGlobal>

#include "common/latencyhistogram.h"

class QTextStream;

namespace bfg::probe {

// One process's memory and CPU, sampled with the figures lines.
struct ProcessSamples
{
    QString name; // "probe" or "pid <n>"
    qint64 firstRssKb = 0;
    qint64 maxRssKb = 0;
    qint64 lastRssKb = 0;
    double cpuSeconds = 0;            // over the run
    QList<QPair<double, qint64>> rss; // (seconds into the run, kB)
};

struct ProbeReport
{
    QString scenario = QStringLiteral("steady");
    int shards = 1; // results merged into this one
    int users = 0;
    int usersLive = 0;      // went live at least once
    int usersLiveAtEnd = 0; // live when the run ended
    int failedClients = 0;  // stopped by a terminal error
    double ratePerUser = 0;
    double durationS = 0;   // asked for
    double publishingS = 0; // publishing phase as it happened
    bool publishing = false;
    QString publishUrl;
    QString userPrefix;

    quint64 sent = 0;
    quint64 published = 0; // acked by the node
    quint64 unacked = 0;   // never acked before the run ended: neither lost nor verified
    quint64 rejected = 0;  // refused for good by the publish API
    quint64 requests = 0;
    quint64 retries = 0;

    quint64 received = 0;
    quint64 lost = 0;
    quint64 lostUndelivered = 0; // of `lost`: acked, but not received when the run ended
    quint64 duplicated = 0;
    quint64 reordered = 0;
    quint64 misdelivered = 0;
    quint64 wrongEpoch = 0;
    int resumes = 0;
    int recovered = 0;
    int notRecovered = 0;
    quint64 reconnects = 0;

    // --shared-stream (its figures are in the totals above too)
    QString sharedStream;
    quint64 sharedReceived = 0; // by all users together
    quint64 sharedAcked = 0;    // the highest seq this probe's own publishes got (0: it did not publish)
    quint64 sharedMinSeq = 0;   // the last seq the user furthest behind had received

    LatencyHistogram latency; // publish -> receive, every message

    // burst: latency of the messages sent in bursts and between them
    double burstFactor = 0;
    quint64 burstSent = 0;
    LatencyHistogram burstLatency;
    LatencyHistogram quietLatency;
    // storm (and soak's drops): how long until every user dropped was live again
    QList<double> recoveryS;
    int usersNotBack = 0;                   // dropped by the last one and not live again at the end
    std::map<int, quint64> decisionAnswers; // HTTP status -> count (0: no answer)
    // churn
    quint64 leaves = 0;
    quint64 rejoins = 0;
    int away = 0;                   // left and not live again at the end
    LatencyHistogram rejoinLatency; // start -> live again, µs
    // soak
    int drains = 0;
    int drainFailures = 0;
    QList<ProcessSamples> processes;

    // chat (room messages are in the totals above: sent, published = acked, rejected = refused,
    // received, lost, duplicated, reordered ...)
    struct Chat
    {
        int rooms = 0;
        int members = 0;
        double typingRate = 0;
        bool affinityRoom = false;
        quint64 expected = 0;       // deliveries every member should have had
        quint64 ackedDuplicate = 0; // acks saying the node had the message already (retries)
        quint64 disagreements = 0;  // a seq of a room seen with two message ids
        quint64 unchecked = 0;      // deliveries too late for the ledger to compare
        int subscriptionsRefused = 0;
        int resumes = 0; // of rooms (the personal streams' are in `resumes`)
        int recovered = 0;
        int notRecovered = 0;
        quint64 ephemeralSent = 0;
        quint64 ephemeralAcked = 0;
        quint64 ephemeralRefused = 0;
        quint64 ephemeralReceived = 0;
        quint64 ephemeralOwn = 0;
        quint64 ephemeralDropped = 0;
        LatencyHistogram ackLatency;       // publish -> the sender's ack
        LatencyHistogram ephemeralLatency; // publish -> receive, ephemeral messages
        // When publishing began (every member live and subscribed): users per push node,
        // and rooms by how many nodes their members were on.
        std::map<QString, int> usersPerNode;
        std::map<int, int> roomsByNodes;
    };
    bool chat = false;
    Chat chatFigures;

    bool interrupted = false;
    QString fatal; // why the run could not do its job at all, e.g. no publish URL

    double msgsPerSec() const;
    // Why the run failed; empty when it passed.
    QStringList failures() const;
    bool passed() const { return failures().isEmpty(); }
    QString verdictLine() const;

    void print(QTextStream &out) const;
    QJsonObject toJson() const;
    // What toJson() wrote (figures derived from histograms are not read back).
    static bool fromJson(const QJsonObject &json, ProbeReport *out, QString *error);
    // Adds the results of another shard of the same run.
    void merge(const ProbeReport &other);
};

} // namespace bfg::probe
