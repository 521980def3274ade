// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 BFG developers
//
// The decision server's load policy (DESIGN.md, "Load policy"): which push
// nodes may take a new client, and which one of them gets it.
#include <QHash>
#include <QRandomGenerator>
#include <QSet>
#include <QTest>

#include "daemon/decision/loadpolicy.h"

using namespace Qt::Literals::StringLiterals;
using bfg::LoadPolicy;
using bfg::NodeLoad;

namespace {
constexpr qint64 NowMs = 1'800'000'000'000;
constexpr qint64 StaleAfterMs = 3000; // three report intervals of 1 s

NodeLoad node(const QString &id, int capacity, int connections, int reserved = 0, qint64 reportAgeMs = 100)
{
    NodeLoad load;
    load.node.id = id;
    load.node.uri = u"ws://127.0.0.1/v1/ws#"_s + id;
    load.node.capacity = capacity;
    load.node.connections = connections;
    load.node.lastReportMs = NowMs - reportAgeMs;
    load.reserved = reserved;
    return load;
}

NodeLoad withAdminState(NodeLoad load, const QString &state)
{
    load.node.adminState = state;
    return load;
}

NodeLoad withState(NodeLoad load, const QString &state)
{
    load.node.state = state;
    return load;
}

NodeLoad inRegion(NodeLoad load, const QString &region)
{
    load.node.region = region;
    return load;
}

// How often each index is chosen for a region, without and with affinity keys.
QHash<int, int> tallyRegion(const LoadPolicy &policy, const QList<NodeLoad> &nodes, const QString &region,
                            int runs, quint32 seed = 1)
{
    QRandomGenerator random(seed);
    QHash<int, int> counts;
    for (int i = 0; i < runs; ++i) {
        ++counts[policy.choose(nodes, QString(), region, NowMs, random)];
        ++counts[policy.choose(nodes, u"room:%1"_s.arg(i), region, NowMs, random)];
    }
    return counts;
}

QString describe(const QHash<int, int> &counts)
{
    QStringList parts;
    for (auto it = counts.cbegin(); it != counts.cend(); ++it)
        parts.append(u"%1: %2"_s.arg(it.key()).arg(it.value()));
    parts.sort();
    return parts.join(u", "_s);
}

// How often each index is chosen over `runs` calls with a seeded generator.
QHash<int, int> tally(const LoadPolicy &policy, const QList<NodeLoad> &nodes, int runs, quint32 seed = 1,
                      const QString &affinity = {})
{
    QRandomGenerator random(seed);
    QHash<int, int> counts;
    for (int i = 0; i < runs; ++i)
        ++counts[policy.choose(nodes, affinity, QString(), NowMs, random)];
    return counts;
}

int chooseWithAffinity(const LoadPolicy &policy, const QList<NodeLoad> &nodes, const QString &key,
                       quint32 seed = 1)
{
    QRandomGenerator random(seed);
    return policy.choose(nodes, key, QString(), NowMs, random);
}
} // namespace

class TestLoadPolicy : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void eligibility_data();
    void eligibility();
    void silentNodesCountAsDown_data();
    void silentNodesCountAsDown();
    void changingAllowedLoadChangesEligibility();
    void noEligibleNodeMeansNoChoice_data();
    void noEligibleNodeMeansNoChoice();
    void singleEligibleNodeIsAlwaysChosen();
    void powerOfTwoNeverPicksTheMoreLoadedOfTwo_data();
    void powerOfTwoNeverPicksTheMoreLoadedOfTwo();
    void mostLoadedOfSeveralIsNeverChosen();
    void onlyEligibleNodesAreChosenFromAMix();
    void equallyLoadedNodesShareNewClients();
    void sameAffinityKeyAlwaysMapsToSameNode();
    void affinityFollowsNodeIdNotListOrder();
    void differentAffinityKeysSpreadOverNodes();
    void affinityMovesOnlyKeysOfAnIneligibleNode();
    void affinityStaysOnItsNodeWhileItHasRoom();
    void regionIsPreferredWhileItHasAnEligibleNode_data();
    void regionIsPreferredWhileItHasAnEligibleNode();
    void regionFallsBackToOtherNodesWhenItsOwnCannotTakeClients_data();
    void regionFallsBackToOtherNodesWhenItsOwnCannotTakeClients();
    void unknownRegionChoosesAsIfNoneWasAsked_data();
    void unknownRegionChoosesAsIfNoneWasAsked();
    void affinityKeyMovesBackToItsRegionWhenItHasRoomAgain();
};

void TestLoadPolicy::eligibility_data()
{
    QTest::addColumn<NodeLoad>("load");
    QTest::addColumn<int>("allowedPercent");
    QTest::addColumn<bool>("eligible");

    QTest::addRow("active fresh node under the limit") << node(u"n"_s, 100, 10) << 80 << true;
    QTest::addRow("empty node") << node(u"n"_s, 100, 0) << 80 << true;
    QTest::addRow("operator set draining")
        << withAdminState(node(u"n"_s, 100, 10), u"draining"_s) << 80 << false;
    QTest::addRow("operator set drained")
        << withAdminState(node(u"n"_s, 100, 10), u"drained"_s) << 80 << false;
    QTest::addRow("node reported draining") << withState(node(u"n"_s, 100, 10), u"draining"_s) << 80 << false;
    QTest::addRow("node reported drained") << withState(node(u"n"_s, 100, 10), u"drained"_s) << 80 << false;
    QTest::addRow("report just fresh enough") << node(u"n"_s, 100, 10, 0, StaleAfterMs - 1) << 80 << true;
    QTest::addRow("report exactly stale") << node(u"n"_s, 100, 10, 0, StaleAfterMs) << 80 << false;
    QTest::addRow("report long stale") << node(u"n"_s, 100, 10, 0, 60000) << 80 << false;
    QTest::addRow("never reported") << node(u"n"_s, 100, 10, 0, NowMs) << 80 << false;
    QTest::addRow("one below the limit") << node(u"n"_s, 100, 79) << 80 << true;
    QTest::addRow("at the limit") << node(u"n"_s, 100, 80) << 80 << false;
    QTest::addRow("above the limit") << node(u"n"_s, 100, 95) << 80 << false;
    QTest::addRow("over capacity") << node(u"n"_s, 100, 150) << 80 << false;
    QTest::addRow("reserved keeps it under") << node(u"n"_s, 100, 75, 4) << 80 << true;
    QTest::addRow("reserved reaches the limit") << node(u"n"_s, 100, 75, 5) << 80 << false;
    QTest::addRow("reserved alone reaches the limit") << node(u"n"_s, 100, 0, 80) << 80 << false;
    QTest::addRow("100%% allowed, one below capacity") << node(u"n"_s, 100, 99) << 100 << true;
    QTest::addRow("100%% allowed, at capacity") << node(u"n"_s, 100, 100) << 100 << false;
    QTest::addRow("50%% allowed, one below half") << node(u"n"_s, 100, 49) << 50 << true;
    QTest::addRow("50%% allowed, at half") << node(u"n"_s, 100, 50) << 50 << false;
    QTest::addRow("50%% allowed, reserved reaches half") << node(u"n"_s, 100, 40, 10) << 50 << false;
    QTest::addRow("fractional limit 8.5, 8 connections") << node(u"n"_s, 10, 8) << 85 << true;
    QTest::addRow("fractional limit 8.5, 9 connections") << node(u"n"_s, 10, 9) << 85 << false;
    QTest::addRow("0%% allowed") << node(u"n"_s, 100, 0) << 0 << false;
    QTest::addRow("capacity 0") << node(u"n"_s, 0, 0) << 80 << false;
    QTest::addRow("large node under the limit") << node(u"n"_s, 100'000'000, 79'999'999) << 80 << true;
    QTest::addRow("large node at the limit") << node(u"n"_s, 100'000'000, 80'000'000) << 80 << false;
}

void TestLoadPolicy::eligibility()
{
    QFETCH(NodeLoad, load);
    QFETCH(int, allowedPercent);
    QFETCH(bool, eligible);

    const LoadPolicy policy(allowedPercent, StaleAfterMs);
    QCOMPARE(policy.isEligible(load, NowMs), eligible);

    // choose() agrees with isEligible() about a single node.
    QRandomGenerator random(5);
    QCOMPARE(policy.choose({load}, QString(), QString(), NowMs, random), eligible ? 0 : -1);
    QCOMPARE(policy.choose({load}, u"room:1"_s, QString(), NowMs, random), eligible ? 0 : -1);
}

void TestLoadPolicy::silentNodesCountAsDown_data()
{
    QTest::addColumn<NodeLoad>("load");
    QTest::addColumn<bool>("silent");
    QTest::addRow("fresh report") << node(u"n"_s, 100, 10) << false;
    QTest::addRow("report just fresh enough") << node(u"n"_s, 100, 10, 0, StaleAfterMs - 1) << false;
    QTest::addRow("report exactly stale") << node(u"n"_s, 100, 10, 0, StaleAfterMs) << true;
    QTest::addRow("never reported") << node(u"n"_s, 100, 10, 0, NowMs) << true;
    QTest::addRow("drained but reporting") << withState(node(u"n"_s, 100, 0), u"drained"_s) << false;
}

void TestLoadPolicy::silentNodesCountAsDown()
{
    QFETCH(NodeLoad, load);
    QFETCH(bool, silent);
    const LoadPolicy policy(80, StaleAfterMs);
    QCOMPARE(policy.isSilent(load, NowMs), silent);
    if (silent)
        QVERIFY(!policy.isEligible(load, NowMs)); // the console's "down" is never given clients
}

void TestLoadPolicy::changingAllowedLoadChangesEligibility()
{
    LoadPolicy policy(80, StaleAfterMs);
    const NodeLoad load = node(u"n"_s, 100, 60);
    QVERIFY(policy.isEligible(load, NowMs));
    policy.setAllowedLoadPercent(50);
    QCOMPARE(policy.allowedLoadPercent(), 50);
    QVERIFY(!policy.isEligible(load, NowMs));
    policy.setAllowedLoadPercent(100);
    QVERIFY(policy.isEligible(load, NowMs));
}

void TestLoadPolicy::noEligibleNodeMeansNoChoice_data()
{
    QTest::addColumn<QList<NodeLoad>>("nodes");

    QTest::addRow("no nodes at all") << QList<NodeLoad>{};
    QTest::addRow("every node full, draining or stale")
        << QList<NodeLoad>{node(u"full"_s, 100, 80), withAdminState(node(u"drain"_s, 100, 0), u"draining"_s),
                           withState(node(u"leaving"_s, 100, 0), u"drained"_s),
                           node(u"stale"_s, 100, 0, 0, StaleAfterMs + 1), node(u"reserved"_s, 100, 10, 70)};
}

void TestLoadPolicy::noEligibleNodeMeansNoChoice()
{
    QFETCH(QList<NodeLoad>, nodes);

    const LoadPolicy policy(80, StaleAfterMs);
    QRandomGenerator random(1);
    for (int i = 0; i < 50; ++i) {
        QCOMPARE(policy.choose(nodes, QString(), QString(), NowMs, random), -1);
        QCOMPARE(policy.choose(nodes, u"room:%1"_s.arg(i), QString(), NowMs, random), -1);
    }
}

void TestLoadPolicy::singleEligibleNodeIsAlwaysChosen()
{
    const LoadPolicy policy(80, StaleAfterMs);
    const QList<NodeLoad> nodes{node(u"full"_s, 100, 90),
                                withAdminState(node(u"drain"_s, 100, 0), u"draining"_s),
                                node(u"ok"_s, 100, 70), node(u"stale"_s, 100, 0, 0, 10000)};
    for (quint32 seed = 1; seed <= 5; ++seed) {
        const QHash<int, int> counts = tally(policy, nodes, 200, seed);
        QCOMPARE(counts.size(), 1);
        QCOMPARE(counts.value(2), 200);
    }
    QCOMPARE(chooseWithAffinity(policy, nodes, u"room:a"_s), 2);
    QCOMPARE(chooseWithAffinity(policy, nodes, u"room:b"_s), 2);
}

void TestLoadPolicy::powerOfTwoNeverPicksTheMoreLoadedOfTwo_data()
{
    QTest::addColumn<QList<NodeLoad>>("nodes");
    QTest::addColumn<int>("lessLoaded");

    QTest::addRow("first less loaded") << QList<NodeLoad>{node(u"a"_s, 100, 10), node(u"b"_s, 100, 20)} << 0;
    QTest::addRow("second less loaded") << QList<NodeLoad>{node(u"a"_s, 100, 60), node(u"b"_s, 100, 59)} << 1;
    QTest::addRow("reserved counts as load")
        << QList<NodeLoad>{node(u"a"_s, 100, 10, 30), node(u"b"_s, 100, 20)} << 1;
    QTest::addRow("load is relative to capacity")
        << QList<NodeLoad>{node(u"big"_s, 1000, 100), node(u"small"_s, 100, 50)} << 0;
    QTest::addRow("two eligible among ineligible")
        << QList<NodeLoad>{withAdminState(node(u"a"_s, 100, 0), u"draining"_s), node(u"b"_s, 100, 30),
                           node(u"c"_s, 100, 0, 0, StaleAfterMs), node(u"d"_s, 100, 5), node(u"e"_s, 100, 80)}
        << 3;
}

void TestLoadPolicy::powerOfTwoNeverPicksTheMoreLoadedOfTwo()
{
    QFETCH(QList<NodeLoad>, nodes);
    QFETCH(int, lessLoaded);

    const LoadPolicy policy(80, StaleAfterMs);
    for (quint32 seed = 1; seed <= 5; ++seed) {
        const QHash<int, int> counts = tally(policy, nodes, 1000, seed);
        QCOMPARE(counts.value(lessLoaded), 1000);
    }
}

void TestLoadPolicy::mostLoadedOfSeveralIsNeverChosen()
{
    // Among three eligible nodes the most loaded always loses its pair; the
    // least loaded wins every pair it is in (2 of 3 pairs).
    const LoadPolicy policy(80, StaleAfterMs);
    const QList<NodeLoad> nodes{node(u"mid"_s, 100, 20), node(u"high"_s, 100, 30), node(u"low"_s, 100, 10)};
    const QHash<int, int> counts = tally(policy, nodes, 3000, 11);
    QCOMPARE(counts.value(1), 0);
    QCOMPARE(counts.value(0) + counts.value(2), 3000);
    QVERIFY2(counts.value(2) > 1700 && counts.value(2) < 2300, qPrintable(QString::number(counts.value(2))));
    QVERIFY2(counts.value(0) > 700 && counts.value(0) < 1300, qPrintable(QString::number(counts.value(0))));
}

void TestLoadPolicy::onlyEligibleNodesAreChosenFromAMix()
{
    const LoadPolicy policy(80, StaleAfterMs);
    const QList<NodeLoad> nodes{
        node(u"a"_s, 100, 10),
        withAdminState(node(u"b"_s, 100, 0), u"draining"_s),
        node(u"c"_s, 100, 12),
        node(u"d"_s, 100, 0, 0, StaleAfterMs + 500),
        node(u"e"_s, 100, 80),
        node(u"f"_s, 100, 11),
        withState(node(u"g"_s, 100, 0), u"draining"_s),
        node(u"h"_s, 100, 70, 10),
    };
    const QSet<int> eligible{0, 2, 5};
    const QHash<int, int> counts = tally(policy, nodes, 3000, 3);
    for (auto it = counts.cbegin(); it != counts.cend(); ++it)
        QVERIFY2(eligible.contains(it.key()), qPrintable(u"chose ineligible node %1"_s.arg(it.key())));
    QCOMPARE(counts.value(0) + counts.value(2) + counts.value(5), 3000);
    QCOMPARE(counts.value(2), 0); // the most loaded of the eligible three
    QVERIFY(counts.value(0) > 0);
    QVERIFY(counts.value(5) > 0);
}

void TestLoadPolicy::equallyLoadedNodesShareNewClients()
{
    const LoadPolicy policy(80, StaleAfterMs);
    QList<NodeLoad> nodes;
    for (int i = 0; i < 4; ++i)
        nodes.append(node(u"n%1"_s.arg(i), 100, 25));
    const QHash<int, int> counts = tally(policy, nodes, 4000, 17);
    for (int i = 0; i < 4; ++i)
        QVERIFY2(counts.value(i) > 700, qPrintable(u"node %1 chosen %2 times"_s.arg(i).arg(counts.value(i))));
}

void TestLoadPolicy::sameAffinityKeyAlwaysMapsToSameNode()
{
    const LoadPolicy policy(80, StaleAfterMs);
    QList<NodeLoad> nodes;
    for (int i = 0; i < 5; ++i)
        nodes.append(node(u"node-%1"_s.arg(i), 100, 10 * i));
    for (const QString &key : {u"room:lobby"_s, u"chat:42"_s, u"desk:fx"_s}) {
        const int first = chooseWithAffinity(policy, nodes, key, 1);
        QVERIFY(first >= 0);
        for (quint32 seed = 2; seed < 200; ++seed)
            QCOMPARE(chooseWithAffinity(policy, nodes, key, seed), first);
    }
}

void TestLoadPolicy::affinityFollowsNodeIdNotListOrder()
{
    // Two decision servers may list the nodes in different orders.
    const LoadPolicy policy(80, StaleAfterMs);
    QList<NodeLoad> nodes;
    for (int i = 0; i < 5; ++i)
        nodes.append(node(u"node-%1"_s.arg(i), 100, 10));
    QList<NodeLoad> reversed(nodes.crbegin(), nodes.crend());
    for (int k = 0; k < 50; ++k) {
        const QString key = u"room:%1"_s.arg(k);
        const int index = chooseWithAffinity(policy, nodes, key);
        const int reversedIndex = chooseWithAffinity(policy, reversed, key);
        QCOMPARE(reversed[reversedIndex].node.id, nodes[index].node.id);
    }
}

void TestLoadPolicy::differentAffinityKeysSpreadOverNodes()
{
    const LoadPolicy policy(80, StaleAfterMs);
    QList<NodeLoad> nodes;
    for (int i = 0; i < 4; ++i)
        nodes.append(node(u"node-%1"_s.arg(i), 100, 10));
    QHash<int, int> counts;
    for (int k = 0; k < 400; ++k)
        ++counts[chooseWithAffinity(policy, nodes, u"room:%1"_s.arg(k))];
    QCOMPARE(counts.size(), 4);
    for (int i = 0; i < 4; ++i)
        QVERIFY2(counts.value(i) >= 50,
                 qPrintable(u"node %1 got %2 of 400 keys"_s.arg(i).arg(counts.value(i))));
}

void TestLoadPolicy::affinityMovesOnlyKeysOfAnIneligibleNode()
{
    const LoadPolicy policy(80, StaleAfterMs);
    QList<NodeLoad> nodes;
    for (int i = 0; i < 4; ++i)
        nodes.append(node(u"node-%1"_s.arg(i), 100, 10));
    QHash<QString, int> before;
    for (int k = 0; k < 200; ++k) {
        const QString key = u"room:%1"_s.arg(k);
        before.insert(key, chooseWithAffinity(policy, nodes, key));
    }
    const int lost = before.value(u"room:0"_s);

    for (const NodeLoad &gone :
         {withAdminState(nodes[lost], u"draining"_s), node(nodes[lost].node.id, 100, 80),
          node(nodes[lost].node.id, 100, 10, 0, StaleAfterMs)}) {
        QList<NodeLoad> changed = nodes;
        changed[lost] = gone;
        int moved = 0;
        for (auto it = before.cbegin(); it != before.cend(); ++it) {
            const int now = chooseWithAffinity(policy, changed, it.key());
            QVERIFY(now >= 0);
            QVERIFY(policy.isEligible(changed[now], NowMs));
            if (it.value() == lost) {
                QVERIFY(now != lost);
                ++moved;
            } else {
                QCOMPARE(now, it.value()); // keys of other nodes stay put
            }
        }
        QVERIFY(moved > 0);
    }

    // When the node is back, its keys return to it.
    for (auto it = before.cbegin(); it != before.cend(); ++it)
        QCOMPARE(chooseWithAffinity(policy, nodes, it.key()), it.value());
}

void TestLoadPolicy::affinityStaysOnItsNodeWhileItHasRoom()
{
    const LoadPolicy policy(80, StaleAfterMs);
    QList<NodeLoad> nodes{node(u"node-0"_s, 100, 0), node(u"node-1"_s, 100, 0), node(u"node-2"_s, 100, 0)};
    const QString key = u"room:traders"_s;
    const int home = chooseWithAffinity(policy, nodes, key);
    QVERIFY(home >= 0);

    // Much busier than the others but still eligible: the key stays.
    nodes[home].node.connections = 79;
    QCOMPARE(chooseWithAffinity(policy, nodes, key), home);
    // Full: the key goes elsewhere.
    nodes[home].reserved = 1;
    const int elsewhere = chooseWithAffinity(policy, nodes, key);
    QVERIFY(elsewhere >= 0);
    QVERIFY(elsewhere != home);
}

void TestLoadPolicy::regionIsPreferredWhileItHasAnEligibleNode_data()
{
    QTest::addColumn<QList<NodeLoad>>("nodes");
    QTest::addColumn<QString>("region");
    QTest::addColumn<QSet<int>>("chosen"); // each of them is chosen, and nothing else

    QTest::addRow("region's node busier than the others")
        << QList<NodeLoad>{inRegion(node(u"eu-1"_s, 100, 70), u"eu"_s),
                           inRegion(node(u"us-1"_s, 100, 0), u"us"_s),
                           inRegion(node(u"us-2"_s, 100, 0), u"us"_s)}
        << u"eu"_s << QSet<int>{0};
    QTest::addRow("two nodes of the region share its clients")
        << QList<NodeLoad>{inRegion(node(u"us-1"_s, 100, 0), u"us"_s),
                           inRegion(node(u"eu-1"_s, 100, 10), u"eu"_s),
                           inRegion(node(u"eu-2"_s, 100, 10), u"eu"_s),
                           inRegion(node(u"ap-1"_s, 100, 0), u"ap"_s)}
        << u"eu"_s << QSet<int>{1, 2};
    QTest::addRow("nodes without a region are not in it")
        << QList<NodeLoad>{node(u"plain-1"_s, 100, 0), inRegion(node(u"eu-1"_s, 100, 50), u"eu"_s),
                           node(u"plain-2"_s, 100, 0)}
        << u"eu"_s << QSet<int>{1};
    QTest::addRow("region's ineligible nodes are skipped, its eligible one is kept")
        << QList<NodeLoad>{withAdminState(inRegion(node(u"eu-1"_s, 100, 0), u"eu"_s), u"draining"_s),
                           inRegion(node(u"eu-2"_s, 100, 60), u"eu"_s),
                           inRegion(node(u"eu-3"_s, 100, 80), u"eu"_s),
                           inRegion(node(u"eu-4"_s, 100, 0, 0, StaleAfterMs), u"eu"_s),
                           inRegion(node(u"us-1"_s, 100, 0), u"us"_s)}
        << u"eu"_s << QSet<int>{1};
    QTest::addRow("the other region asked") << QList<NodeLoad>{inRegion(node(u"eu-1"_s, 100, 0), u"eu"_s),
                                                               inRegion(node(u"us-1"_s, 100, 70), u"us"_s)}
                                            << u"us"_s << QSet<int>{1};
}

void TestLoadPolicy::regionIsPreferredWhileItHasAnEligibleNode()
{
    QFETCH(QList<NodeLoad>, nodes);
    QFETCH(QString, region);
    QFETCH(QSet<int>, chosen);

    const LoadPolicy policy(80, StaleAfterMs);
    const QHash<int, int> counts = tallyRegion(policy, nodes, region, 1000);
    QCOMPARE(QSet<int>(counts.keyBegin(), counts.keyEnd()), chosen);
}

void TestLoadPolicy::regionFallsBackToOtherNodesWhenItsOwnCannotTakeClients_data()
{
    QTest::addColumn<QList<NodeLoad>>("regionNodes");

    const auto eu = [](const NodeLoad &load) { return inRegion(load, u"eu"_s); };
    QTest::addRow("full") << QList<NodeLoad>{eu(node(u"eu-1"_s, 100, 80)), eu(node(u"eu-2"_s, 100, 95))};
    QTest::addRow("full with reservations") << QList<NodeLoad>{eu(node(u"eu-1"_s, 100, 70, 10))};
    QTest::addRow("drained by the operator")
        << QList<NodeLoad>{withAdminState(eu(node(u"eu-1"_s, 100, 0)), u"draining"_s)};
    QTest::addRow("draining on its own")
        << QList<NodeLoad>{withState(eu(node(u"eu-1"_s, 100, 0)), u"draining"_s)};
    QTest::addRow("reported drained")
        << QList<NodeLoad>{withState(eu(node(u"eu-1"_s, 100, 0)), u"drained"_s)};
    QTest::addRow("silent") << QList<NodeLoad>{eu(node(u"eu-1"_s, 100, 0, 0, StaleAfterMs))};
    QTest::addRow("each out for another reason") << QList<NodeLoad>{
        eu(node(u"eu-1"_s, 100, 80)), withAdminState(eu(node(u"eu-2"_s, 100, 0)), u"draining"_s),
        eu(node(u"eu-3"_s, 100, 0, 0, 60000))};
    QTest::addRow("the region has no nodes at all") << QList<NodeLoad>{};
}

void TestLoadPolicy::regionFallsBackToOtherNodesWhenItsOwnCannotTakeClients()
{
    QFETCH(QList<NodeLoad>, regionNodes);

    const LoadPolicy policy(80, StaleAfterMs);
    QList<NodeLoad> nodes = regionNodes;
    const int us = int(nodes.size());
    nodes.append(inRegion(node(u"us-1"_s, 100, 10), u"us"_s));
    nodes.append(node(u"plain-1"_s, 100, 10));
    nodes.append(inRegion(node(u"ap-1"_s, 100, 79), u"ap"_s)); // eligible too, nearly full

    const QHash<int, int> counts = tallyRegion(policy, nodes, u"eu"_s, 1000);
    QVERIFY2(!counts.contains(-1), qPrintable(describe(counts)));
    for (int i = 0; i < us; ++i)
        QVERIFY2(!counts.contains(i), qPrintable(describe(counts)));
    // Without affinity the two less loaded of the others share the clients.
    QVERIFY2(counts.value(us) > 0 && counts.value(us + 1) > 0, qPrintable(describe(counts)));

    // And with nothing eligible anywhere: no choice at all.
    QList<NodeLoad> allFull = regionNodes;
    allFull.append(inRegion(node(u"us-1"_s, 100, 80), u"us"_s));
    QCOMPARE(tallyRegion(policy, allFull, u"eu"_s, 50), (QHash<int, int>{{-1, 100}}));
}

void TestLoadPolicy::unknownRegionChoosesAsIfNoneWasAsked_data()
{
    QTest::addColumn<QString>("region");

    QTest::addRow("region nobody is in") << u"mars"_s;
    QTest::addRow("region of an ineligible node only") << u"ap"_s;
    QTest::addRow("no region") << QString();
}

void TestLoadPolicy::unknownRegionChoosesAsIfNoneWasAsked()
{
    QFETCH(QString, region);

    const LoadPolicy policy(80, StaleAfterMs);
    const QList<NodeLoad> nodes{inRegion(node(u"eu-1"_s, 100, 10), u"eu"_s),
                                inRegion(node(u"us-1"_s, 100, 20), u"us"_s), node(u"plain-1"_s, 100, 30),
                                withAdminState(inRegion(node(u"ap-1"_s, 100, 0), u"ap"_s), u"draining"_s),
                                inRegion(node(u"eu-2"_s, 100, 15), u"eu"_s)};

    // The same draws give the same answers as a request without a region.
    QRandomGenerator withRegion(7);
    QRandomGenerator without(7);
    QHash<int, int> counts;
    for (int i = 0; i < 2000; ++i) {
        const int chosen = policy.choose(nodes, QString(), region, NowMs, withRegion);
        QCOMPARE(chosen, policy.choose(nodes, QString(), QString(), NowMs, without));
        ++counts[chosen];
        const QString key = u"room:%1"_s.arg(i);
        QCOMPARE(policy.choose(nodes, key, region, NowMs, withRegion),
                 policy.choose(nodes, key, QString(), NowMs, without));
    }
    // Every eligible node but the most loaded gets clients; the drained one none.
    QVERIFY2(counts.value(0) > 0 && counts.value(1) > 0 && counts.value(4) > 0, qPrintable(describe(counts)));
    QVERIFY2(!counts.contains(2) && !counts.contains(3) && !counts.contains(-1),
             qPrintable(describe(counts)));
}

void TestLoadPolicy::affinityKeyMovesBackToItsRegionWhenItHasRoomAgain()
{
    const LoadPolicy policy(80, StaleAfterMs);
    QList<NodeLoad> nodes{
        inRegion(node(u"us-1"_s, 100, 0), u"us"_s), inRegion(node(u"eu-1"_s, 100, 0), u"eu"_s),
        inRegion(node(u"us-2"_s, 100, 0), u"us"_s), inRegion(node(u"eu-2"_s, 100, 0), u"eu"_s)};
    QRandomGenerator random(1);
    for (int k = 0; k < 100; ++k) {
        const QString key = u"room:%1"_s.arg(k);
        const int home = policy.choose(nodes, key, u"eu"_s, NowMs, random);
        QVERIFY2(home == 1 || home == 3, qPrintable(key));

        // Both eu nodes full: the key goes to us, the same us node every time.
        QList<NodeLoad> euFull = nodes;
        euFull[1].node.connections = 80;
        euFull[3].node.connections = 80;
        const int away = policy.choose(euFull, key, u"eu"_s, NowMs, random);
        QVERIFY2(away == 0 || away == 2, qPrintable(key));
        QCOMPARE(policy.choose(euFull, key, u"eu"_s, NowMs, random), away);

        // Room again in eu: back home.
        QCOMPARE(policy.choose(nodes, key, u"eu"_s, NowMs, random), home);
    }
}

QTEST_GUILESS_MAIN(TestLoadPolicy)
#include "tst_loadpolicy.moc"
