// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 BFG developers
//
// The last few minutes of the cluster as chart samples: per node its
// connections and p99 latency, and the cluster's delivered msg/s, one
// sample per ClusterSnapshot the admin stream sends (one a second). The
// console's ChartsPanel draws it; the tests read it without a screen.
//
// Memory is bounded: the window holds the last `capacity` snapshots and
// each node keeps a capped FIFO of its own points inside that window.
//  * A node that appears later starts at its first snapshot (no zeros
//    before it).
//  * A node missing from later snapshots (forgotten) keeps its points until
//    they leave the window; then the node is dropped from nodeIds().
//  * A node that is `down` has its connections as the snapshot says and no
//    p99 point: its latency line skips the snapshots it was down in.
//  * Times are the snapshots' at_ms. They never run backwards: a snapshot
//    stamped at or before the newest one (another decision server with a
//    slower clock) is placed one stream interval after it, and the ones
//    after it keep that offset.
#pragma once

#include <deque>
#include <map>

#include <QList>
#include <QObject>
#include <QPointF>
#include <QString>
#include <QStringList>

#include "bfg/v1/cluster.pb.h"

namespace bfg {

class ClusterHistory : public QObject
{
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(ClusterHistory)

public:
    static constexpr int DefaultSamples = 600;       // 10 minutes at one a second
    static constexpr qint64 StreamIntervalMs = 1000; // the admin stream's cadence

    explicit ClusterHistory(int capacitySamples = DefaultSamples, QObject *parent = nullptr);

    void append(const v1::ClusterSnapshot &snapshot);
    void clear(); // on reconnecting to another cluster

    int capacity() const { return m_capacity; }
    int sampleCount() const { return int(m_samples.size()); } // snapshots in the window
    bool isEmpty() const { return m_samples.empty(); }
    // at_ms of the oldest and newest snapshot in the window; 0 when empty.
    qint64 windowStartMs() const;
    qint64 windowEndMs() const;
    // How long the window is meant to cover: capacity snapshots one stream
    // interval apart (600 -> ten minutes). Charts use it as their time span.
    qint64 spanMs() const { return m_capacity * StreamIntervalMs; }

    // Nodes with at least one point in the window, in id order (the order
    // the decision server lists them in).
    QStringList nodeIds() const;
    bool hasNode(const QString &nodeId) const;
    // (at_ms, value) oldest first; empty for a node not in the window.
    // With bucketMs > 0 the snapshots are taken together by at_ms / bucketMs
    // (fixed buckets: a point does not change once its bucket is past), one
    // point per bucket: the largest value in it, at the at_ms of its newest
    // snapshot. Charts use it to draw fewer points when there are many lines.
    QList<QPointF> connections(const QString &nodeId, qint64 bucketMs = 0) const;
    QList<QPointF> latencyP99Ms(const QString &nodeId, qint64 bucketMs = 0) const; // none while down
    QList<QPointF> deliveredPerSec(qint64 bucketMs = 0) const; // the cluster's, one per snapshot

    // The top of a y axis for values up to `dataMax`, given the axis' current
    // top (0 for a new axis): a round number (1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6
    // or 8 times a power of ten), never below `minimumTop`. It grows as soon
    // as the data comes within 5% of the top, to 20% or more above the data;
    // it shrinks only when the data falls under 40% of it, to twice the data
    // or more. In between it stays, so that it does not move every second.
    static double axisTop(double dataMax, double currentTop, double minimumTop);
    // A round tick spacing for an axis from 0 to `top` (from axisTop()):
    // four to six intervals.
    static double axisTickInterval(double top);

Q_SIGNALS:
    void appended(); // after each append
    void cleared();

private:
    struct Sample
    {
        qint64 seq;
        qint64 atMs;
        double deliveredPerSec;
    };
    struct NodePoint
    {
        qint64 seq; // of the snapshot it came from: ages out with it
        qint64 atMs;
        double connections;
        double latencyP99Ms; // NaN: the node was down
    };

    const int m_capacity;
    std::deque<Sample> m_samples;                     // the window, oldest first, at most m_capacity
    std::map<QString, std::deque<NodePoint>> m_nodes; // points within the window, oldest first
    qint64 m_nextSeq = 0;
    qint64 m_clockOffsetMs = 0; // added to at_ms so that time never runs backwards
};

} // namespace bfg
