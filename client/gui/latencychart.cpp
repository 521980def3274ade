// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 BFG developers
#include "client/gui/latencychart.h"

#include <algorithm>
#include <cmath>

#include <QChart>
#include <QLineSeries>
#include <QList>
#include <QPointF>
#include <QValueAxis>

#include "client/gui/watchsession.h"
#include "common/protocol.h"

using namespace Qt::Literals::StringLiterals;

namespace bfg::probe {

namespace {
constexpr double MinimumTopMs = 5;
} // namespace

LatencyChart::LatencyChart(WatchSession *session, QWidget *parent)
    // Given the chart at construction: QChartView(parent) makes a chart of its
    // own, which setChart() would then release without deleting it (a leak).
    : QChartView(new QChart, parent)
    , m_session(session)
    , m_median(new QLineSeries)
    , m_max(new QLineSeries)
    , m_x(new QValueAxis)
    , m_y(new QValueAxis)
{
    QChart *chart = this->chart();
    chart->setTitle(u"Latency per second, last 2 minutes"_s);
    chart->setAnimationOptions(QChart::NoAnimation);
    chart->setMargins(QMargins(4, 4, 4, 4));
    m_median->setName(u"median"_s);
    m_max->setName(u"max"_s);
    chart->addSeries(m_median);
    chart->addSeries(m_max);
    m_x->setRange(-WatchSession::LatencySeconds, 0);
    m_x->setLabelFormat(u"%d s"_s);
    m_x->setTickCount(7);
    m_y->setRange(0, MinimumTopMs);
    m_y->setLabelFormat(u"%.0f ms"_s);
    chart->addAxis(m_x, Qt::AlignBottom);
    chart->addAxis(m_y, Qt::AlignLeft);
    for (QLineSeries *series : {m_median, m_max}) {
        series->attachAxis(m_x);
        series->attachAxis(m_y);
    }
    setRenderHint(QPainter::Antialiasing);
    setMinimumHeight(180);
    connect(m_session, &WatchSession::latencySampled, this, &LatencyChart::refresh);
}

LatencyChart::~LatencyChart() = default;

void LatencyChart::refresh()
{
    const qint64 nowMs = protocol::nowMs();
    QList<QPointF> median;
    QList<QPointF> max;
    double top = MinimumTopMs;
    for (const WatchSession::LatencySample &sample : m_session->latencySamples()) {
        if (sample.count == 0)
            continue; // a second without messages has no latency, not a zero one
        const double x = double(sample.atMs - nowMs) / 1000.0;
        median.append({x, sample.p50Ms});
        max.append({x, sample.maxMs});
        top = std::max(top, sample.maxMs);
    }
    m_median->replace(median);
    m_max->replace(max);
    // A round top with some room, so that the scale does not twitch with every second.
    const double step = std::pow(10.0, std::floor(std::log10(top)));
    m_y->setRange(0, std::ceil(top * 1.1 / step) * step);
}

} // namespace bfg::probe
