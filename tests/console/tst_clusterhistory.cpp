// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 BFG developers
//
// The console's chart history: a window of the last N cluster snapshots,
// per node connections and p99 latency and the cluster's msg/s, bounded
// in memory whatever the nodes do; and the y axis rule the charts use.
#include <cmath>
#include <vector>

#include <QSignalSpy>
#include <QTest>

#include "bfg/v1/cluster.pb.h"
#include "console/core/clusterhistory.h"

using bfg::ClusterHistory;
using namespace Qt::Literals::StringLiterals;

namespace {
constexpr qint64 T0 = 1'780'000'000'000; // some day in 2026, ms since the epoch

struct Node
{
    const char *id;
    quint32 connections = 0;
    double p99Ms = 0;
    bool down = false;
};

bfg::v1::ClusterSnapshot snapshot(qint64 atMs, double deliveredPerSec, const std::vector<Node> &nodes = {})
{
    bfg::v1::ClusterSnapshot snapshot;
    snapshot.set_at_ms(atMs);
    snapshot.set_delivered_per_sec(deliveredPerSec);
    snapshot.set_report_interval_ms(1000);
    snapshot.set_decision_id("decision-1");
    quint64 connections = 0;
    for (const Node &node : nodes) {
        bfg::v1::NodeStatus *status = snapshot.add_nodes();
        status->set_id(node.id);
        status->set_state("active");
        status->set_connections(node.connections);
        status->set_latency_p50_ms(node.p99Ms / 4);
        status->set_latency_p99_ms(node.p99Ms);
        status->set_down(node.down);
        connections += node.connections;
    }
    snapshot.set_connections(connections);
    return snapshot;
}

// The i-th snapshot of a steady stream: one a second from T0.
qint64 at(int i)
{
    return T0 + qint64(i) * 1000;
}

QList<double> xs(const QList<QPointF> &points)
{
    QList<double> result;
    for (const QPointF &point : points)
        result.append(point.x());
    return result;
}

QList<double> ys(const QList<QPointF> &points)
{
    QList<double> result;
    for (const QPointF &point : points)
        result.append(point.y());
    return result;
}
} // namespace

class TestClusterHistory : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void emptyHistoryHasNothing();
    void windowKeepsTheLastCapacitySnapshots_data();
    void windowKeepsTheLastCapacitySnapshots();
    void nodeThatJoinsLaterStartsAtItsFirstSnapshot();
    void forgottenNodeKeepsItsPointsUntilTheyAgeOutThenIsDropped();
    void nodeChurnKeepsMemoryBounded();
    void downNodeHasConnectionsButNoP99Point_data();
    void downNodeHasConnectionsButNoP99Point();
    void clusterMsgPerSecIsOnePointPerSnapshot();
    void bucketsKeepTheLargestValueAtTheNewestTime();
    void nodeIdsAreInIdOrder();
    void nodeListedTwiceInOneSnapshotKeepsOnePoint();
    void timeNeverRunsBackwards();
    void clearEmptiesTheWindowAndForgetsTheClockOffset();
    void appendedAndClearedAreSignalled();
    void axisTopIsRoundWithHeadroom_data();
    void axisTopIsRoundWithHeadroom();
    void axisTopDoesNotJitterWithNoisyData();
    void axisTickIntervalGivesFourToSixSteps_data();
    void axisTickIntervalGivesFourToSixSteps();
};

void TestClusterHistory::emptyHistoryHasNothing()
{
    ClusterHistory history;
    QCOMPARE(history.capacity(), ClusterHistory::DefaultSamples);
    QCOMPARE(history.spanMs(), 600'000);
    QVERIFY(history.isEmpty());
    QCOMPARE(history.sampleCount(), 0);
    QCOMPARE(history.windowStartMs(), 0);
    QCOMPARE(history.windowEndMs(), 0);
    QVERIFY(history.nodeIds().isEmpty());
    QVERIFY(history.deliveredPerSec().isEmpty());
    QVERIFY(history.connections(u"node-1"_s).isEmpty());
    QVERIFY(history.latencyP99Ms(u"node-1"_s).isEmpty());
}

void TestClusterHistory::windowKeepsTheLastCapacitySnapshots_data()
{
    QTest::addColumn<int>("capacity");
    QTest::addColumn<int>("appends");
    QTest::addColumn<int>("kept");

    QTest::addRow("700 into 600: the oldest 100 gone") << 600 << 700 << 600;
    QTest::addRow("exactly full") << 600 << 600 << 600;
    QTest::addRow("filling up") << 600 << 37 << 37;
    QTest::addRow("several times round") << 50 << 1234 << 50;
    QTest::addRow("capacity one") << 1 << 5 << 1;
}

void TestClusterHistory::windowKeepsTheLastCapacitySnapshots()
{
    QFETCH(int, capacity);
    QFETCH(int, appends);
    QFETCH(int, kept);

    ClusterHistory history(capacity);
    for (int i = 0; i < appends; ++i)
        history.append(snapshot(at(i), 10.0 * i, {{"node-1", quint32(i), 2.0 + i}, {"node-2", 7, 3}}));

    const int first = appends - kept;
    QCOMPARE(history.sampleCount(), kept);
    QCOMPARE(history.windowStartMs(), at(first));
    QCOMPARE(history.windowEndMs(), at(appends - 1));

    const QList<QPointF> delivered = history.deliveredPerSec();
    QCOMPARE(delivered.size(), kept);
    QCOMPARE(delivered.first(), QPointF(double(at(first)), 10.0 * first));
    QCOMPARE(delivered.last(), QPointF(double(at(appends - 1)), 10.0 * (appends - 1)));

    const QList<QPointF> connections = history.connections(u"node-1"_s);
    QCOMPARE(connections.size(), kept);
    QCOMPARE(connections.first(), QPointF(double(at(first)), double(first)));
    QCOMPARE(connections.last(), QPointF(double(at(appends - 1)), double(appends - 1)));
    const QList<QPointF> latency = history.latencyP99Ms(u"node-1"_s);
    QCOMPARE(latency.size(), kept);
    QCOMPARE(latency.first().y(), 2.0 + first);
    QCOMPARE(history.connections(u"node-2"_s).size(), kept);
}

void TestClusterHistory::nodeThatJoinsLaterStartsAtItsFirstSnapshot()
{
    ClusterHistory history(600);
    for (int i = 0; i < 20; ++i) {
        std::vector<Node> nodes{{"node-1", 100, 5}};
        if (i >= 12)
            nodes.push_back({"node-2", quint32(i), 8});
        history.append(snapshot(at(i), 1, nodes));
        QCOMPARE(history.hasNode(u"node-2"_s), i >= 12);
    }

    const QList<QPointF> connections = history.connections(u"node-2"_s);
    QCOMPARE(connections.size(), 8);
    QCOMPARE(connections.first(), QPointF(double(at(12)), 12.0));
    QCOMPARE(xs(connections), xs(history.connections(u"node-1"_s)).mid(12));
    QCOMPARE(history.latencyP99Ms(u"node-2"_s).size(), 8);
    QCOMPARE(history.latencyP99Ms(u"node-2"_s).first().x(), double(at(12)));
    QCOMPARE(history.connections(u"node-1"_s).size(), 20);
}

void TestClusterHistory::forgottenNodeKeepsItsPointsUntilTheyAgeOutThenIsDropped()
{
    ClusterHistory history(10);
    // node-2 is in the first three snapshots, then forgotten.
    for (int i = 0; i < 3; ++i)
        history.append(snapshot(at(i), 1, {{"node-1", 1, 1}, {"node-2", 50, 9}}));
    for (int i = 3; i < 10; ++i)
        history.append(snapshot(at(i), 1, {{"node-1", 1, 1}}));

    QCOMPARE(history.nodeIds(), (QStringList{u"node-1"_s, u"node-2"_s}));
    QCOMPARE(xs(history.connections(u"node-2"_s)),
             (QList<double>{double(at(0)), double(at(1)), double(at(2))}));

    history.append(snapshot(at(10), 1, {{"node-1", 1, 1}})); // snapshot 0 leaves the window
    QCOMPARE(xs(history.connections(u"node-2"_s)), (QList<double>{double(at(1)), double(at(2))}));
    QCOMPARE(history.latencyP99Ms(u"node-2"_s).size(), 2);

    history.append(snapshot(at(11), 1, {{"node-1", 1, 1}}));
    QCOMPARE(history.connections(u"node-2"_s).size(), 1);
    QVERIFY(history.hasNode(u"node-2"_s));

    history.append(snapshot(at(12), 1, {{"node-1", 1, 1}})); // its last point goes
    QVERIFY(!history.hasNode(u"node-2"_s));
    QCOMPARE(history.nodeIds(), QStringList{u"node-1"_s});
    QVERIFY(history.connections(u"node-2"_s).isEmpty());
    QVERIFY(history.latencyP99Ms(u"node-2"_s).isEmpty());

    // Back again: a new line from its return, nothing of the old one.
    history.append(snapshot(at(13), 1, {{"node-1", 1, 1}, {"node-2", 60, 9}}));
    QCOMPARE(history.connections(u"node-2"_s), (QList<QPointF>{QPointF(double(at(13)), 60)}));
}

void TestClusterHistory::nodeChurnKeepsMemoryBounded()
{
    // Every snapshot names five nodes nobody saw before: only the window's stay.
    const int capacity = 30;
    ClusterHistory history(capacity);
    for (int i = 0; i < 500; ++i) {
        std::vector<QByteArray> names;
        for (int n = 0; n < 5; ++n)
            names.push_back("node-" + QByteArray::number(i * 5 + n));
        std::vector<Node> nodes;
        for (const QByteArray &name : names)
            nodes.push_back({name.constData(), 10, 1});
        history.append(snapshot(at(i), 1, nodes));
        QVERIFY(history.nodeIds().size() <= capacity * 5);
    }
    QCOMPARE(history.nodeIds().size(), capacity * 5);
    QVERIFY(!history.hasNode(u"node-0"_s));
    QVERIFY(history.hasNode(u"node-2499"_s));
    QVERIFY(history.hasNode(u"node-2350"_s));  // snapshot 470, the oldest in the window
    QVERIFY(!history.hasNode(u"node-2349"_s)); // snapshot 469, just gone
}

void TestClusterHistory::downNodeHasConnectionsButNoP99Point_data()
{
    QTest::addColumn<QString>("pattern"); // one letter a snapshot: u up, d down
    QTest::addColumn<QList<int>>("p99Snapshots");

    QTest::addRow("up throughout") << u"uuuuu"_s << QList<int>{0, 1, 2, 3, 4};
    QTest::addRow("down for a while") << u"uudduu"_s << QList<int>{0, 1, 4, 5};
    QTest::addRow("down at the end") << u"uuudd"_s << QList<int>{0, 1, 2};
    QTest::addRow("down from the start") << u"dduu"_s << QList<int>{2, 3};
    QTest::addRow("down throughout") << u"ddd"_s << QList<int>{};
}

void TestClusterHistory::downNodeHasConnectionsButNoP99Point()
{
    QFETCH(QString, pattern);
    QFETCH(QList<int>, p99Snapshots);

    ClusterHistory history;
    QList<QPointF> expectedConnections;
    for (int i = 0; i < pattern.size(); ++i) {
        const bool down = pattern.at(i) == u'd';
        // A down node still carries its last reported connections.
        history.append(snapshot(at(i), 1, {{"node-1", quint32(100 + i), 20.0 + i, down}}));
        expectedConnections.append(QPointF(double(at(i)), 100.0 + i));
    }

    QVERIFY(history.hasNode(u"node-1"_s));
    QCOMPARE(history.connections(u"node-1"_s), expectedConnections);
    QList<QPointF> expectedLatency;
    for (int i : p99Snapshots)
        expectedLatency.append(QPointF(double(at(i)), 20.0 + i));
    const QList<QPointF> latency = history.latencyP99Ms(u"node-1"_s);
    QCOMPARE(latency, expectedLatency);
    for (const QPointF &point : latency)
        QVERIFY(std::isfinite(point.y()));
}

void TestClusterHistory::clusterMsgPerSecIsOnePointPerSnapshot()
{
    ClusterHistory history(4);
    const QList<double> rates{0, 1500.5, 8000, 7990, 0, 12};
    for (int i = 0; i < rates.size(); ++i)
        history.append(snapshot(at(i), rates.at(i))); // no nodes at all: still a cluster point
    QCOMPARE(ys(history.deliveredPerSec()), rates.mid(2));
    QCOMPARE(xs(history.deliveredPerSec()),
             (QList<double>{double(at(2)), double(at(3)), double(at(4)), double(at(5))}));
    QVERIFY(history.nodeIds().isEmpty());
}

void TestClusterHistory::bucketsKeepTheLargestValueAtTheNewestTime()
{
    ClusterHistory history;
    const QList<quint32> connections{5, 9, 2, 2, 7, 1, 0, 0, 3, 8, 4};
    const QString down = u"..dd.d....."_s; // p99 of snapshot i is 10 + i unless down
    for (int i = 0; i < connections.size(); ++i) {
        history.append(
            snapshot(at(i), 100.0 + i, {{"node-1", connections.at(i), 10.0 + i, down.at(i) == u'd'}}));
    }
    QCOMPARE(at(0) % 2000, 0); // buckets of two snapshots: {0, 1}, {2, 3} ... {10}

    const auto point = [](int i, double y) { return QPointF(double(at(i)), y); };
    QCOMPARE(history.connections(u"node-1"_s, 2000),
             (QList<QPointF>{point(1, 9), point(3, 2), point(5, 7), point(7, 0), point(9, 8), point(10, 4)}));
    // Snapshots 2 and 3 were both down: no point; 5 was down: 4 alone counts.
    QCOMPARE(history.latencyP99Ms(u"node-1"_s, 2000),
             (QList<QPointF>{point(1, 11), point(4, 14), point(7, 17), point(9, 19), point(10, 20)}));
    QCOMPARE(history.deliveredPerSec(2000), (QList<QPointF>{point(1, 101), point(3, 103), point(5, 105),
                                                            point(7, 107), point(9, 109), point(10, 110)}));
    // No bucketing: every snapshot.
    QCOMPARE(history.connections(u"node-1"_s, 0), history.connections(u"node-1"_s));
    QCOMPARE(history.connections(u"node-1"_s).size(), connections.size());
    QCOMPARE(history.latencyP99Ms(u"node-1"_s).size(), connections.size() - 3);
    // A bucket as long as the window: one point, the largest.
    QCOMPARE(history.connections(u"node-1"_s, 3'600'000), (QList<QPointF>{point(10, 9)}));
}

void TestClusterHistory::nodeIdsAreInIdOrder()
{
    ClusterHistory history;
    history.append(snapshot(at(0), 1, {{"push-b", 1, 1}, {"push-a", 1, 1}}));
    history.append(snapshot(at(1), 1, {{"push-c", 1, 1}, {"push-0", 1, 1}}));
    QCOMPARE(history.nodeIds(), (QStringList{u"push-0"_s, u"push-a"_s, u"push-b"_s, u"push-c"_s}));
}

void TestClusterHistory::nodeListedTwiceInOneSnapshotKeepsOnePoint()
{
    ClusterHistory history;
    history.append(snapshot(at(0), 1, {{"node-1", 5, 1}, {"node-1", 6, 2}}));
    QCOMPARE(history.connections(u"node-1"_s), (QList<QPointF>{QPointF(double(at(0)), 6)}));
    QCOMPARE(history.latencyP99Ms(u"node-1"_s), (QList<QPointF>{QPointF(double(at(0)), 2)}));
}

void TestClusterHistory::timeNeverRunsBackwards()
{
    ClusterHistory history;
    history.append(snapshot(T0, 1, {{"node-1", 1, 1}}));
    history.append(snapshot(T0 + 1000, 1, {{"node-1", 1, 1}}));
    // Another decision server, its clock 1.5 s behind: placed a second on,
    // and the snapshots after it keep the same offset.
    history.append(snapshot(T0 + 500, 1, {{"node-1", 1, 1}}));
    history.append(snapshot(T0 + 1500, 1, {{"node-1", 1, 1}}));
    // The same stamp twice.
    history.append(snapshot(T0 + 1500, 1, {{"node-1", 1, 1}}));
    const QList<double> expected{double(T0), double(T0 + 1000), double(T0 + 2000), double(T0 + 3000),
                                 double(T0 + 4000)};
    QCOMPARE(xs(history.deliveredPerSec()), expected);
    QCOMPARE(xs(history.connections(u"node-1"_s)), expected);
    QCOMPARE(history.windowEndMs(), T0 + 4000);
}

void TestClusterHistory::clearEmptiesTheWindowAndForgetsTheClockOffset()
{
    ClusterHistory history(10);
    for (int i = 0; i < 5; ++i)
        history.append(snapshot(at(i), 3, {{"node-1", 1, 1}, {"node-2", 1, 1}}));
    history.append(snapshot(at(0), 3, {{"node-1", 1, 1}})); // backwards: offset taken

    history.clear();
    QVERIFY(history.isEmpty());
    QCOMPARE(history.sampleCount(), 0);
    QVERIFY(history.nodeIds().isEmpty());
    QVERIFY(history.deliveredPerSec().isEmpty());
    QVERIFY(history.connections(u"node-1"_s).isEmpty());
    QCOMPARE(history.windowStartMs(), 0);
    QCOMPARE(history.windowEndMs(), 0);

    // Another cluster whose clock is earlier: taken as it is.
    history.append(snapshot(T0 - 60'000, 7, {{"node-9", 4, 2}}));
    QCOMPARE(history.windowEndMs(), T0 - 60'000);
    QCOMPARE(history.nodeIds(), QStringList{u"node-9"_s});
    QCOMPARE(history.sampleCount(), 1);
}

void TestClusterHistory::appendedAndClearedAreSignalled()
{
    ClusterHistory history(3);
    QSignalSpy appended(&history, &ClusterHistory::appended);
    QSignalSpy cleared(&history, &ClusterHistory::cleared);

    int samplesSeen = -1;
    connect(&history, &ClusterHistory::appended, this, [&] { samplesSeen = history.sampleCount(); });
    for (int i = 0; i < 5; ++i) {
        history.append(snapshot(at(i), 1));
        QCOMPARE(appended.count(), i + 1);
        QCOMPARE(samplesSeen, std::min(i + 1, 3)); // emitted after the sample is in
    }
    QCOMPARE(cleared.count(), 0);

    history.clear();
    QCOMPARE(cleared.count(), 1);
    QCOMPARE(appended.count(), 5);
}

void TestClusterHistory::axisTopIsRoundWithHeadroom_data()
{
    QTest::addColumn<double>("dataMax");
    QTest::addColumn<double>("currentTop");
    QTest::addColumn<double>("minimumTop");
    QTest::addColumn<double>("expected");

    // From nothing (currentTop 0): the next round number 20% above.
    QTest::addRow("first: 83 -> 100") << 83.0 << 0.0 << 10.0 << 100.0;
    QTest::addRow("first: 84 -> 120") << 84.0 << 0.0 << 10.0 << 120.0;
    QTest::addRow("first: 1234 -> 1500") << 1234.0 << 0.0 << 10.0 << 1500.0;
    QTest::addRow("first: 2700 -> 4000") << 2700.0 << 0.0 << 10.0 << 4000.0;
    QTest::addRow("first: 4400 -> 6000") << 4400.0 << 0.0 << 10.0 << 6000.0;
    QTest::addRow("first: 6000 -> 8000") << 6000.0 << 0.0 << 10.0 << 8000.0;
    QTest::addRow("first: 0.7 ms -> 1") << 0.7 << 0.0 << 1.0 << 1.0;
    QTest::addRow("first: 0.07 ms -> floor 1") << 0.07 << 0.0 << 1.0 << 1.0;
    QTest::addRow("nothing yet -> floor") << 0.0 << 0.0 << 10.0 << 10.0;
    QTest::addRow("floor rounded up") << 0.0 << 0.0 << 7.0 << 8.0;
    QTest::addRow("NaN data -> floor") << std::nan("") << 0.0 << 10.0 << 10.0;
    QTest::addRow("negative data -> floor") << -5.0 << 0.0 << 10.0 << 10.0;
    // Holding: between 40% and 95% of the top nothing moves.
    QTest::addRow("hold at 94%%") << 1880.0 << 2000.0 << 10.0 << 2000.0;
    QTest::addRow("hold at 41%%") << 820.0 << 2000.0 << 10.0 << 2000.0;
    // Growing as the data reaches the top: 20% above it.
    QTest::addRow("grow at 96%%") << 1920.0 << 2000.0 << 10.0 << 2500.0;
    QTest::addRow("grow past the top") << 9000.0 << 2000.0 << 10.0 << 12000.0;
    // Shrinking once under 40%: to twice the data.
    QTest::addRow("under 40%%, twice the data rounds to the top") << 790.0 << 2000.0 << 10.0 << 2000.0;
    QTest::addRow("shrink at 30%%") << 600.0 << 2000.0 << 10.0 << 1200.0;
    QTest::addRow("shrink to the floor") << 0.0 << 5000.0 << 10.0 << 10.0;
    QTest::addRow("current under the floor") << 0.0 << 2.0 << 10.0 << 10.0;
}

void TestClusterHistory::axisTopIsRoundWithHeadroom()
{
    QFETCH(double, dataMax);
    QFETCH(double, currentTop);
    QFETCH(double, minimumTop);
    QFETCH(double, expected);

    const double top = ClusterHistory::axisTop(dataMax, currentTop, minimumTop);
    QCOMPARE(top, expected);
    // Stable: asking again with the answer changes nothing.
    QCOMPARE(ClusterHistory::axisTop(dataMax, top, minimumTop), top);
    if (std::isfinite(dataMax) && dataMax > 0)
        QVERIFY(top >= dataMax);
}

void TestClusterHistory::axisTopDoesNotJitterWithNoisyData()
{
    // A window maximum that wanders +-20% around 1000 for ten minutes moves
    // the top at most once after the first.
    double top = 0;
    int changes = -1;
    for (int i = 0; i < 600; ++i) {
        const double dataMax = 1000 * (1 + 0.2 * std::sin(i * 0.37) * std::cos(i * 0.05));
        const double next = ClusterHistory::axisTop(dataMax, top, 10);
        QVERIFY(next >= dataMax);
        if (next != top)
            ++changes;
        top = next;
    }
    QVERIFY2(changes <= 1, qPrintable(u"the top moved %1 times"_s.arg(changes)));
}

void TestClusterHistory::axisTickIntervalGivesFourToSixSteps_data()
{
    QTest::addColumn<double>("top");
    QTest::addColumn<double>("interval");

    QTest::addRow("1") << 1.0 << 0.2;
    QTest::addRow("1.5") << 1.5 << 0.25;
    QTest::addRow("10") << 10.0 << 2.0;
    QTest::addRow("1200") << 1200.0 << 200.0;
    QTest::addRow("2500") << 2500.0 << 500.0;
    QTest::addRow("20") << 20.0 << 5.0;
    QTest::addRow("300") << 300.0 << 50.0;
    QTest::addRow("4000") << 4000.0 << 1000.0;
    QTest::addRow("50000") << 50000.0 << 10000.0;
    QTest::addRow("600") << 600.0 << 100.0;
    QTest::addRow("8") << 8.0 << 2.0;
    QTest::addRow("not round: 7") << 7.0 << 1.4;
}

void TestClusterHistory::axisTickIntervalGivesFourToSixSteps()
{
    QFETCH(double, top);
    QFETCH(double, interval);

    const double actual = ClusterHistory::axisTickInterval(top);
    QVERIFY2(std::abs(actual - interval) < 1e-9 * interval, qPrintable(QString::number(actual)));
    const double steps = top / actual;
    QVERIFY(steps >= 3.999 && steps <= 6.001);
}

QTEST_GUILESS_MAIN(TestClusterHistory)
#include "tst_clusterhistory.moc"
