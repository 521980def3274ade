// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 BFG developers
//
// bfg-probe --gui's latency chart: the median and the largest end-to-end
// latency of each second over the last two minutes (WatchSession keeps
// the capped ring of samples), redrawn once a second, newest on the right.
#pragma once

#include <QChartView>

class QLineSeries;
class QValueAxis;

namespace bfg::probe {

class WatchSession;

class LatencyChart : public QChartView
{
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(LatencyChart)

public:
    explicit LatencyChart(WatchSession *session, QWidget *parent = nullptr); // session outlives the chart
    ~LatencyChart() override;

private:
    void refresh();

    WatchSession *m_session;
    QLineSeries *m_median;
    QLineSeries *m_max;
    QValueAxis *m_x;
    QValueAxis *m_y;
};

} // namespace bfg::probe
