// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 BFG developers
//
// The console's live charts over a ClusterHistory: connections per node,
// p99 latency per node (a line per node, one colour per node in both, with
// a legend) and the cluster's delivered msg/s, stacked, over the history's
// span ("10 min ago" .. "0 min ago", newest snapshot on the right).
//
// Each append schedules one refresh (appends in a burst share it) that
// hands every series its whole list with QXYSeries::replace(). With many
// nodes each point covers a few snapshots (their largest value), so that an
// update stays cheap (bench/console-charts). While the panel is hidden it
// does not touch its series and catches up when shown.
// The y axes follow ClusterHistory::axisTop(); the three plot areas share
// their left and right edges, so that a moment lines up down the panel.
// The chart theme is light or dark after the palette's window colour and
// follows palette changes.
// Hovering a line names its node; clicking a legend entry hides or shows
// that node in both charts.
#pragma once

#include <vector>

#include <QString>
#include <QWidget>

class QChart;
class QChartView;
class QLineSeries;
class QValueAxis;

namespace bfg {

class ClusterHistory;

class ChartsPanel : public QWidget
{
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(ChartsPanel)

public:
    explicit ChartsPanel(ClusterHistory *history, QWidget *parent = nullptr); // history outlives the panel
    ~ChartsPanel() override;

protected:
    void changeEvent(QEvent *event) override;
    void showEvent(QShowEvent *event) override;

private:
    struct Plot
    {
        QChart *chart = nullptr;
        QChartView *view = nullptr;
        QValueAxis *x = nullptr;
        QValueAxis *y = nullptr;
        double minimumTop = 10;
        double top = 0;        // 0: not scaled yet
        qreal labelsWidth = 0; // of the widest y label
        int extraLeft = 0;     // left margin added so that the three plot areas line up
    };
    struct NodeLines
    {
        QString id;
        QLineSeries *connections = nullptr;
        QLineSeries *latency = nullptr;
        int colour = 0; // index into nodeColour(), kept while the node is shown
        bool hidden = false;
    };

    Plot makePlot(const QString &objectName, const QString &title, double minimumTop);
    void scheduleRefresh();
    void refresh();
    void syncNodes(const QStringList &ids);
    void addNodeSeries(NodeLines &node);
    void setNodeHidden(const QString &nodeId, bool hidden);
    void styleNode(const NodeLines &node, qreal width = 0); // 0: the normal width
    void rescale(Plot &plot, double dataMax);
    void applyTheme();
    void measureLabels(Plot &plot);
    void alignPlotAreas();

    ClusterHistory *const m_history;
    Plot m_connections;
    Plot m_latency;
    Plot m_throughput;
    QLineSeries *m_delivered = nullptr;
    std::vector<NodeLines> m_nodes; // in the history's node order
    double m_xUnitMs = 60'000;      // x is time before the newest snapshot, in these
    bool m_refreshPending = false;
    bool m_stale = false; // something changed while hidden
    bool m_dark = false;
};

} // namespace bfg
