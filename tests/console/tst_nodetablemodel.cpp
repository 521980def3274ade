// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 BFG developers
//
// The console's nodes table from cluster snapshots: rows, columns and
// roles; nodes added and removed in place (so the view keeps its selection
// and sort); state changes and their colours; drain progress; the totals
// row, which stays last however the view sorts; and what the allowed-load
// confirmation says will change.
#include <QAbstractItemModelTester>
#include <QColor>
#include <QSignalSpy>
#include <QTest>

#include "console/core/nodesortmodel.h"
#include "console/core/nodetablemodel.h"

using namespace Qt::Literals::StringLiterals;
using bfg::NodeSortModel;
using bfg::NodeTableModel;
namespace v1 = bfg::v1;

namespace {

struct Node
{
    const char *id;
    quint32 connections = 0;
    quint32 capacity = 1000;
    const char *state = "active";
    const char *adminState = "active";
    bool down = false;
    double p99 = 5;
};

v1::ClusterSnapshot snapshot(const QList<Node> &nodes, quint32 allowedLoad = 80)
{
    v1::ClusterSnapshot snapshot;
    snapshot.set_allowed_load(allowedLoad);
    quint64 connections = 0;
    quint64 capacity = 0;
    for (const Node &node : nodes) {
        v1::NodeStatus *status = snapshot.add_nodes();
        status->set_id(node.id);
        status->set_region("eu");
        status->set_state(node.state);
        status->set_admin_state(node.adminState);
        status->set_connections(node.connections);
        status->set_capacity(node.capacity);
        status->set_reported_capacity(node.capacity);
        status->set_load_percent(100.0 * node.connections / node.capacity);
        status->set_delivered_per_sec(node.connections * 2.0);
        status->set_latency_p50_ms(node.p99 / 2);
        status->set_latency_p99_ms(node.p99);
        status->set_down(node.down);
        status->set_last_report_age_ms(node.down ? 9000 : 400);
        connections += node.connections;
        capacity += node.capacity;
    }
    snapshot.set_connections(connections);
    snapshot.set_capacity(capacity);
    snapshot.set_delivered_per_sec(connections * 2.0);
    return snapshot;
}

QVariant cell(const QAbstractItemModel &model, int row, int column, int role = Qt::DisplayRole)
{
    return model.index(row, column).data(role);
}

QStringList nodeColumn(const QAbstractItemModel &model)
{
    QStringList ids;
    for (int row = 0; row < model.rowCount(); ++row)
        ids.append(cell(model, row, NodeTableModel::NodeColumn).toString());
    return ids;
}

} // namespace

class TestNodeTableModel : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void initTestCase() { QLocale::setDefault(QLocale::c()); }

    void noRowsBeforeTheFirstSnapshot()
    {
        NodeTableModel model;
        QCOMPARE(model.rowCount(), 0);
        QCOMPARE(model.columnCount(), int(NodeTableModel::ColumnCount));
        QCOMPARE(model.headerData(NodeTableModel::P99Column, Qt::Horizontal).toString(), u"p99"_s);
    }

    void rowsColumnsAndRolesFromASnapshot()
    {
        NodeTableModel model;
        model.setSnapshot(snapshot({{"a", 400, 1000}, {"b", 100, 500, "active", "active", false, 12.5}}, 50));
        QCOMPARE(model.rowCount(), 3); // two nodes and the totals
        QCOMPARE(nodeColumn(model), (QStringList{u"a"_s, u"b"_s, u"Total (2 nodes)"_s}));

        // Node a: 400 of 1000 at 50 % allowed is 80 % of what it may take.
        QCOMPARE(cell(model, 0, NodeTableModel::ConnectionsColumn).toString(), u"400"_s);
        QCOMPARE(cell(model, 0, NodeTableModel::ConnectionsColumn, NodeTableModel::SortRole).toInt(), 400);
        QCOMPARE(cell(model, 0, NodeTableModel::LoadColumn).toString(), u"80 %"_s);
        QCOMPARE(cell(model, 0, NodeTableModel::LoadColumn, NodeTableModel::SortRole).toDouble(), 80.0);
        QCOMPARE(cell(model, 0, NodeTableModel::RegionColumn).toString(), u"eu"_s);
        QCOMPARE(cell(model, 0, NodeTableModel::MessagesColumn).toString(), u"800"_s);
        QCOMPARE(cell(model, 1, NodeTableModel::P99Column).toString(), u"12.5 ms"_s);
        QCOMPARE(cell(model, 1, NodeTableModel::ReportAgeColumn).toString(), u"0.4 s"_s);
        QCOMPARE(cell(model, 1, NodeTableModel::NodeColumn, NodeTableModel::NodeIdRole).toString(), u"b"_s);
        QCOMPARE(cell(model, 0, NodeTableModel::StateColumn, NodeTableModel::StateRole).toString(),
                 u"active"_s);
        QVERIFY(!cell(model, 0, NodeTableModel::NodeColumn, NodeTableModel::IsTotalsRole).toBool());
        QVERIFY(cell(model, 2, NodeTableModel::NodeColumn, NodeTableModel::IsTotalsRole).toBool());
        QVERIFY(cell(model, 2, NodeTableModel::NodeColumn, NodeTableModel::NodeIdRole).toString().isEmpty());
        // Numbers are right-aligned, names are not.
        QCOMPARE(cell(model, 0, NodeTableModel::ConnectionsColumn, Qt::TextAlignmentRole).toInt(),
                 int(Qt::AlignRight | Qt::AlignVCenter));
        QVERIFY(!cell(model, 0, NodeTableModel::NodeColumn, Qt::TextAlignmentRole).isValid());
        // A node at or above what it may take is flagged in its load cell.
        QVERIFY(!cell(model, 0, NodeTableModel::LoadColumn, Qt::BackgroundRole).isValid());
        model.setSnapshot(snapshot({{"a", 600, 1000}, {"b", 100, 500}}, 50));
        QVERIFY(cell(model, 0, NodeTableModel::LoadColumn, Qt::BackgroundRole).isValid());
    }

    void totalsRowSumsTheNodes()
    {
        NodeTableModel model;
        model.setSnapshot(snapshot({{"a", 300, 1000, "active", "active", false, 4},
                                    {"b", 200, 1000, "active", "active", false, 9},
                                    {"c", 0, 1000, "active", "active", true, 250}},
                                   50));
        const int totals = model.nodeCount();
        QCOMPARE(totals, 3);
        QCOMPARE(cell(model, totals, NodeTableModel::ConnectionsColumn).toString(), u"500"_s);
        QCOMPARE(cell(model, totals, NodeTableModel::CapacityColumn).toString(), u"3000"_s);
        QCOMPARE(cell(model, totals, NodeTableModel::LoadColumn).toString(), u"33 %"_s); // 500 / 1500
        QCOMPARE(cell(model, totals, NodeTableModel::MessagesColumn).toString(), u"1000"_s);
        // The worst p99 of the nodes that report (the down node's stale figure does not count).
        QCOMPARE(cell(model, totals, NodeTableModel::P99Column).toString(), u"9.00 ms"_s);
        QCOMPARE(cell(model, totals, NodeTableModel::StateColumn).toString(), u"2 active, 1 down"_s);
    }

    void displayState_data()
    {
        QTest::addColumn<QString>("state");
        QTest::addColumn<QString>("adminState");
        QTest::addColumn<bool>("down");
        QTest::addColumn<QString>("expected");
        QTest::addRow("active") << u"active"_s << u"active"_s << false << u"active"_s;
        QTest::addRow("draining as reported") << u"draining"_s << u"draining"_s << false << u"draining"_s;
        QTest::addRow("drain ordered, not yet reported")
            << u"active"_s << u"draining"_s << false << u"draining"_s;
        QTest::addRow("drained") << u"drained"_s << u"draining"_s << false << u"drained"_s;
        QTest::addRow("down beats active") << u"active"_s << u"active"_s << true << u"down"_s;
        QTest::addRow("down beats drained") << u"drained"_s << u"draining"_s << true << u"down"_s;
    }

    void displayState()
    {
        QFETCH(QString, state);
        QFETCH(QString, adminState);
        QFETCH(bool, down);
        QFETCH(QString, expected);
        v1::NodeStatus node;
        node.set_state(state.toStdString());
        node.set_admin_state(adminState.toStdString());
        node.set_down(down);
        QCOMPARE(NodeTableModel::displayState(node), expected);
    }

    void nodeAddedIsInsertedAboveTheTotals()
    {
        NodeTableModel model;
        model.setSnapshot(snapshot({{"a", 10}}));
        QSignalSpy inserted(&model, &QAbstractItemModel::rowsInserted);
        QSignalSpy reset(&model, &QAbstractItemModel::modelReset);
        model.setSnapshot(snapshot({{"a", 10}, {"b", 20}}));
        QCOMPARE(reset.count(), 0); // in place: the view keeps its selection
        QCOMPARE(inserted.count(), 1);
        QCOMPARE(inserted.first().at(1).toInt(), 1);
        QCOMPARE(inserted.first().at(2).toInt(), 1);
        QCOMPARE(nodeColumn(model), (QStringList{u"a"_s, u"b"_s, u"Total (2 nodes)"_s}));
    }

    void nodeRemovedLeavesTheOthersInPlace()
    {
        NodeTableModel model;
        model.setSnapshot(snapshot({{"a", 1}, {"b", 2}, {"c", 3}}));
        QSignalSpy removed(&model, &QAbstractItemModel::rowsRemoved);
        model.setSnapshot(snapshot({{"a", 1}, {"c", 3}}));
        QCOMPARE(removed.count(), 1);
        QCOMPARE(removed.first().at(1).toInt(), 1);
        QCOMPARE(nodeColumn(model), (QStringList{u"a"_s, u"c"_s, u"Total (2 nodes)"_s}));
        QCOMPARE(model.rowOf(u"c"_s), 1);
        QCOMPARE(model.node(u"b"_s), nullptr);
    }

    void stateChangeUpdatesTextAndColour()
    {
        NodeTableModel model;
        model.setSnapshot(snapshot({{"a", 10}}));
        const QColor activeColour =
            cell(model, 0, NodeTableModel::StateColumn, Qt::DecorationRole).value<QColor>();
        QSignalSpy changed(&model, &QAbstractItemModel::dataChanged);
        model.setSnapshot(snapshot({{"a", 10, 1000, "active", "active", true}}));
        QCOMPARE(changed.count(), 1);
        QCOMPARE(cell(model, 0, NodeTableModel::StateColumn).toString(), u"down"_s);
        QCOMPARE(cell(model, 0, NodeTableModel::P99Column).toString(), u"—"_s);
        // Nothing delivered: no latency to show either (not a perfect 0 ms).
        model.setSnapshot(snapshot({{"a", 0, 1000, "drained", "draining", false, 0}}));
        QCOMPARE(cell(model, 0, NodeTableModel::P50Column).toString(), u"—"_s);
        const QColor downColour =
            cell(model, 0, NodeTableModel::StateColumn, Qt::DecorationRole).value<QColor>();
        QVERIFY(downColour.isValid());
        QVERIFY(downColour != activeColour);
        // The wash behind the text is translucent, so the palette's text stays readable on light and dark.
        QVERIFY(cell(model, 0, NodeTableModel::StateColumn, Qt::BackgroundRole).value<QColor>().alpha() <
                128);
    }

    void drainShowsConnectionsLeft()
    {
        NodeTableModel model;
        model.setSnapshot(snapshot({{"a", 100}}));
        QVERIFY(!cell(model, 0, NodeTableModel::StateColumn, NodeTableModel::DrainProgressRole).isValid());
        model.setSnapshot(snapshot({{"a", 100, 1000, "active", "draining"}}));
        QCOMPARE(cell(model, 0, NodeTableModel::StateColumn).toString(), u"draining · 100 of 100 left"_s);
        model.setSnapshot(snapshot({{"a", 40, 1000, "draining", "draining"}}));
        QCOMPARE(cell(model, 0, NodeTableModel::StateColumn).toString(), u"draining · 40 of 100 left"_s);
        QCOMPARE(cell(model, 0, NodeTableModel::StateColumn, NodeTableModel::DrainProgressRole).toDouble(),
                 0.6);
        model.setSnapshot(snapshot({{"a", 0, 1000, "drained", "draining"}}));
        QCOMPARE(cell(model, 0, NodeTableModel::StateColumn).toString(), u"drained"_s);
        QCOMPARE(model.drainStartConnections(u"a"_s), 0);
        // A second drain counts from what the node has then.
        model.setSnapshot(snapshot({{"a", 30, 1000, "draining", "draining"}}));
        QCOMPARE(cell(model, 0, NodeTableModel::StateColumn).toString(), u"draining · 30 of 30 left"_s);
    }

    void sortingKeepsTheTotalsRowLast_data()
    {
        QTest::addColumn<int>("column");
        QTest::addColumn<Qt::SortOrder>("order");
        QTest::addColumn<QStringList>("expected");
        const QString totals = u"Total (3 nodes)"_s;
        QTest::addRow("connections ascending") << int(NodeTableModel::ConnectionsColumn) << Qt::AscendingOrder
                                               << QStringList{u"b"_s, u"c"_s, u"a"_s, totals};
        QTest::addRow("connections descending")
            << int(NodeTableModel::ConnectionsColumn) << Qt::DescendingOrder
            << QStringList{u"a"_s, u"c"_s, u"b"_s, totals};
        QTest::addRow("name descending") << int(NodeTableModel::NodeColumn) << Qt::DescendingOrder
                                         << QStringList{u"c"_s, u"b"_s, u"a"_s, totals};
        // 900 sorts above 80 as a number, not as text.
        QTest::addRow("p99 ascending") << int(NodeTableModel::P99Column) << Qt::AscendingOrder
                                       << QStringList{u"c"_s, u"a"_s, u"b"_s, totals};
    }

    void sortingKeepsTheTotalsRowLast()
    {
        QFETCH(int, column);
        QFETCH(Qt::SortOrder, order);
        QFETCH(QStringList, expected);
        NodeTableModel model;
        NodeSortModel sorted;
        sorted.setSourceModel(&model);
        model.setSnapshot(snapshot({{"a", 900, 1000, "active", "active", false, 80},
                                    {"b", 5, 1000, "active", "active", false, 900},
                                    {"c", 80, 1000, "active", "active", false, 7}}));
        sorted.sort(column, order);
        QCOMPARE(nodeColumn(sorted), expected);
        // And it stays sorted as snapshots change the figures.
        if (column == NodeTableModel::ConnectionsColumn && order == Qt::AscendingOrder) {
            model.setSnapshot(snapshot({{"a", 1}, {"b", 5}, {"c", 80}}));
            QCOMPARE(nodeColumn(sorted), (QStringList{u"a"_s, u"b"_s, u"c"_s, u"Total (3 nodes)"_s}));
        }
    }

    void allowedLoadConfirmationSaysWhatChanges()
    {
        NodeTableModel model;
        model.setSnapshot(
            snapshot({{"busy", 720}, {"calm", 300}, {"gone", 900, 1000, "active", "active", true}}, 80));
        const QString lower = model.describeAllowedLoadChange(60);
        QVERIFY2(lower.contains(u"from 80 % to 60 %"_s), qPrintable(lower));
        QVERIFY2(lower.contains(u"stop receiving new users: busy (72 %)"_s), qPrintable(lower));
        QVERIFY2(!lower.contains(u"calm"_s), qPrintable(lower));
        QVERIFY2(!lower.contains(u"gone"_s), qPrintable(lower)); // down: it takes nobody either way
        QVERIFY2(lower.contains(u"up to 1800 connections instead of 2400"_s), qPrintable(lower));

        model.setSnapshot(snapshot({{"busy", 720}, {"calm", 300}}, 60));
        const QString raise = model.describeAllowedLoadChange(90);
        QVERIFY2(raise.contains(u"take new users again: busy (72 %)"_s), qPrintable(raise));
        const QString none = model.describeAllowedLoadChange(70);
        // busy (72 %) stays full at 70 %: nobody's admission changes.
        QVERIFY2(none.contains(u"until they reach 70 %"_s) && !none.contains(u"busy"_s), qPrintable(none));
        QVERIFY2(model.describeAllowedLoadChange(50).contains(u"calm"_s) == false, "calm is at 30 %");
        // busy is full at 60 % already: only calm stops taking users at 20 %.
        const QString low = model.describeAllowedLoadChange(20);
        QVERIFY2(low.contains(u"new users: calm (30 %)."_s), qPrintable(low));
    }

    void modelContractHoldsThroughChanges()
    {
        // Qt's own checks of every signal and index against the rules views rely on.
        NodeTableModel model;
        NodeSortModel sorted;
        sorted.setSourceModel(&model);
        sorted.sort(NodeTableModel::ConnectionsColumn, Qt::DescendingOrder);
        QAbstractItemModelTester tester(&model, QAbstractItemModelTester::FailureReportingMode::QtTest);
        QAbstractItemModelTester sortedTester(&sorted,
                                              QAbstractItemModelTester::FailureReportingMode::QtTest);
        model.setSnapshot(snapshot({{"a", 1}, {"b", 2}}));
        model.setSnapshot(snapshot({{"a", 1}, {"b", 2}, {"c", 3}, {"d", 4}}));
        model.setSnapshot(snapshot({{"d", 40}, {"b", 2}}));
        model.setSnapshot(snapshot({{"e", 5}}));
        model.clear();
        model.setSnapshot(snapshot({}));
        QCOMPARE(model.rowCount(), 1); // an empty cluster: the totals row alone
    }

    void clearEmptiesTheTable()
    {
        NodeTableModel model;
        model.setSnapshot(snapshot({{"a", 1}}));
        model.clear();
        QCOMPARE(model.rowCount(), 0);
        model.setSnapshot(snapshot({{"b", 1}}));
        QCOMPARE(nodeColumn(model), (QStringList{u"b"_s, u"Total (1 node)"_s}));
    }
};

QTEST_GUILESS_MAIN(TestNodeTableModel)
#include "tst_nodetablemodel.moc"
