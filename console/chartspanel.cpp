// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 BFG developers
#include "console/chartspanel.h"

#include <algorithm>
#include <cmath>

#include <QChart>
#include <QChartView>
#include <QCursor>
#include <QEvent>
#include <QFontMetricsF>
#include <QGraphicsLayout>
#include <QLegend>
#include <QLegendMarker>
#include <QLineSeries>
#include <QLocale>
#include <QSet>
#include <QToolTip>
#include <QValueAxis>
#include <QVBoxLayout>

#include "console/core/clusterhistory.h"

using namespace Qt::Literals::StringLiterals;

namespace bfg {

namespace {
// One-pixel cosmetic pens: the raster engine draws them on its fast path,
// several times faster than wider lines (see bench/console-charts).
constexpr qreal LineWidth = 1;
constexpr qreal HoveredLineWidth = 3;
// Qt Charts spends about a microsecond per point and update (the hover
// outline of each line is stroked anew), so the per-node lines together
// get at most about this many points: beyond it each point covers two,
// three ... snapshots (their largest value). 50 nodes x 600 snapshots x
// two charts draw one point per three snapshots. Measured by bench/console-charts.
constexpr qint64 PointBudget = 20'000;
const QMargins ChartMargins(6, 2, 6, 2);

// A colour per node that stays its own while the node is charted: hues a
// golden angle apart (neighbours differ most), darker on a light chart and
// lighter on a dark one so that every line reads on its background.
QColor nodeColour(int index, bool dark)
{
    const double hue = std::fmod(210.0 + 137.507764 * index, 360.0) / 360.0;
    return QColor::fromHslF(float(hue), dark ? 0.70f : 0.80f, dark ? 0.62f : 0.40f);
}

// printf format for labels `interval` apart: as many decimals as it needs.
QString labelFormat(double interval)
{
    int decimals = 0;
    while (decimals < 3 && std::abs(interval * std::pow(10.0, decimals) -
                                    std::round(interval * std::pow(10.0, decimals))) > 1e-6)
        ++decimals;
    return u"%.%1f"_s.arg(decimals);
}

// `interval`, or a wider round one when a short chart (`height` px) has no
// room for a label at every tick: Qt Charts would cut them all to "…".
double fittingTickInterval(double top, double interval, qreal height, qreal labelHeight)
{
    if (height <= 0 || interval <= 0)
        return interval; // not laid out yet
    const int room = std::max(1, int(height / (1.5 * labelHeight)));
    if (top / interval <= room + 1e-9)
        return interval;
    // The most intervals that fit and divide the top into round steps.
    for (int count = std::min(room, 5); count > 1; --count) {
        const double step = top / count;
        const double mantissa = step / std::pow(10.0, std::floor(std::log10(step)));
        for (const double round : {1.0, 2.0, 2.5, 5.0, 10.0})
            if (std::abs(mantissa - round) < 1e-9)
                return step;
    }
    return top;
}

// The point of `points` nearest to x.
const QPointF *nearestPoint(const QList<QPointF> &points, double x)
{
    const QPointF *nearest = nullptr;
    for (const QPointF &point : points) {
        if (!nearest || std::abs(point.x() - x) < std::abs(nearest->x() - x))
            nearest = &point;
    }
    return nearest;
}
} // namespace

ChartsPanel::ChartsPanel(ClusterHistory *history, QWidget *parent)
    : QWidget(parent)
    , m_history(history)
{
    const qint64 spanMs = m_history->spanMs();
    m_xUnitMs = spanMs >= 120'000 ? 60'000 : 1'000;

    m_connections = makePlot(u"connectionsChart"_s, tr("Connections per node"), 10);
    m_latency = makePlot(u"latencyChart"_s, tr("p99 latency per node (ms)"), 10);
    m_throughput = makePlot(u"throughputChart"_s, tr("Delivered messages per second"), 10);
    m_throughput.view->setMinimumHeight(110);

    m_delivered = new QLineSeries(this);
    m_delivered->setName(tr("cluster"));
    m_throughput.chart->addSeries(m_delivered); // the chart takes it over
    m_delivered->attachAxis(m_throughput.x);
    m_delivered->attachAxis(m_throughput.y);

    auto *layout = new QVBoxLayout(this);
    layout->setContentsMargins(0, 0, 0, 0);
    layout->setSpacing(2);
    layout->addWidget(m_connections.view, 2);
    layout->addWidget(m_latency.view, 2);
    layout->addWidget(m_throughput.view, 1);

    applyTheme();

    connect(m_history, &ClusterHistory::appended, this, &ChartsPanel::scheduleRefresh);
    connect(m_history, &ClusterHistory::cleared, this, [this] {
        for (Plot *plot : {&m_connections, &m_latency, &m_throughput})
            plot->top = 0; // the next cluster scales afresh
        scheduleRefresh();
    });
    scheduleRefresh();
}

ChartsPanel::~ChartsPanel() = default;

ChartsPanel::Plot ChartsPanel::makePlot(const QString &objectName, const QString &title, double minimumTop)
{
    Plot plot;
    plot.minimumTop = minimumTop;
    plot.chart = new QChart;
    plot.chart->setTitle(title);
    plot.chart->setAnimationOptions(QChart::NoAnimation);
    plot.chart->layout()->setContentsMargins(0, 0, 0, 0);
    plot.chart->setMargins(ChartMargins);
    plot.chart->legend()->setAlignment(Qt::AlignRight); // its width is set in applyTheme()
    plot.chart->legend()->setShowToolTips(true);        // the full id when a long one is cut

    // x: time before the newest snapshot, reversed so that now is on the right.
    const double span = double(m_history->spanMs()) / m_xUnitMs;
    plot.x = new QValueAxis;
    plot.x->setRange(0, span);
    plot.x->setReverse(true);
    plot.x->setTickInterval(ClusterHistory::axisTickInterval(span));
    plot.x->setTickAnchor(0);
    plot.x->setTickType(QValueAxis::TicksDynamic);
    plot.x->setMinorTickCount(1);
    plot.x->setLabelFormat(m_xUnitMs == 60'000 ? u"%.0f min ago"_s : u"%.0f s ago"_s);
    plot.chart->addAxis(plot.x, Qt::AlignBottom);

    plot.y = new QValueAxis;
    rescale(plot, 0);
    plot.y->setTickAnchor(0);
    plot.y->setTickType(QValueAxis::TicksDynamic);
    plot.chart->addAxis(plot.y, Qt::AlignLeft);

    plot.view = new QChartView(plot.chart, this); // and takes the chart over
    plot.view->setObjectName(objectName);
    plot.view->setRenderHint(QPainter::Antialiasing);
    plot.view->setMinimumHeight(160);
    return plot;
}

void ChartsPanel::scheduleRefresh()
{
    if (m_refreshPending)
        return;
    m_refreshPending = true;
    QMetaObject::invokeMethod(this, &ChartsPanel::refresh, Qt::QueuedConnection);
}

void ChartsPanel::refresh()
{
    m_refreshPending = false;
    if (!isVisible()) {
        m_stale = true;
        return;
    }
    m_stale = false;
    syncNodes(m_history->nodeIds());

    // x: minutes (or seconds) before the newest snapshot. Points older than
    // the span are off the left edge and do not count for the y scale.
    const qint64 endMs = m_history->windowEndMs();
    const double span = double(m_history->spanMs()) / m_xUnitMs;
    const qint64 nodePoints = qint64(m_nodes.size()) * 2 * m_history->capacity();
    const qint64 perPoint = (nodePoints + PointBudget - 1) / PointBudget; // snapshots per point
    const qint64 bucketMs = perPoint > 1 ? perPoint * ClusterHistory::StreamIntervalMs : 0;
    const auto toChart = [endMs, span, unit = m_xUnitMs](QList<QPointF> points, double *max) {
        for (QPointF &point : points) {
            point.setX(double(endMs - qint64(point.x())) / unit);
            if (max && point.x() <= span)
                *max = std::max(*max, point.y());
        }
        return points;
    };

    double connectionsMax = 0;
    double latencyMax = 0;
    double deliveredMax = 0;
    std::vector<QList<QPointF>> connections;
    std::vector<QList<QPointF>> latency;
    connections.reserve(m_nodes.size());
    latency.reserve(m_nodes.size());
    for (const NodeLines &node : m_nodes) {
        // Hidden nodes do not hold the scale up: hiding a big one zooms in.
        connections.push_back(
            toChart(m_history->connections(node.id, bucketMs), node.hidden ? nullptr : &connectionsMax));
        latency.push_back(
            toChart(m_history->latencyP99Ms(node.id, bucketMs), node.hidden ? nullptr : &latencyMax));
    }
    const QList<QPointF> delivered = toChart(m_history->deliveredPerSec(), &deliveredMax);

    rescale(m_connections, connectionsMax);
    rescale(m_latency, latencyMax);
    rescale(m_throughput, deliveredMax);
    for (size_t i = 0; i < m_nodes.size(); ++i) {
        m_nodes[i].connections->replace(connections[i]);
        m_nodes[i].latency->replace(latency[i]);
    }
    m_delivered->replace(delivered);
}

void ChartsPanel::syncNodes(const QStringList &ids)
{
    if (std::equal(ids.begin(), ids.end(), m_nodes.begin(), m_nodes.end(),
                   [](const QString &id, const NodeLines &node) { return id == node.id; }))
        return;

    // Drop the lines of nodes that left the history; keep the others with their colours.
    const QSet<QString> wanted(ids.begin(), ids.end());
    std::vector<NodeLines> kept;
    QSet<int> colourUsed; // a kept node may hold any colour number, however few nodes are left
    for (NodeLines &node : m_nodes) {
        if (wanted.contains(node.id)) {
            colourUsed.insert(node.colour);
            kept.push_back(node);
            continue;
        }
        m_connections.chart->removeSeries(node.connections);
        m_latency.chart->removeSeries(node.latency);
        delete node.connections;
        delete node.latency;
    }

    // New nodes take the lowest free colour. The legend lists series in the
    // order they were added: when a new node sorts before a kept one, add
    // them all again in id order (rare: nodes come and go seldom).
    std::vector<NodeLines> next;
    next.reserve(size_t(ids.size()));
    size_t k = 0;
    bool inOrder = true;
    for (const QString &id : ids) {
        if (k < kept.size() && kept[k].id == id) {
            next.push_back(kept[k++]);
            continue;
        }
        inOrder = inOrder && k == kept.size();
        NodeLines node;
        node.id = id;
        node.colour = 0;
        while (colourUsed.contains(node.colour))
            ++node.colour;
        colourUsed.insert(node.colour);
        node.connections = new QLineSeries;
        node.latency = new QLineSeries;
        for (QLineSeries *series : {node.connections, node.latency}) {
            series->setName(id);
            connect(
                series, &QLineSeries::hovered, this, [this, id, series](const QPointF &point, bool state) {
                    const auto it = std::find_if(m_nodes.begin(), m_nodes.end(),
                                                 [&id](const NodeLines &node) { return node.id == id; });
                    if (it == m_nodes.end())
                        return;
                    styleNode(*it, state ? HoveredLineWidth : 0);
                    if (!state) {
                        QToolTip::hideText();
                        return;
                    }
                    const QList<QPointF> points = series->points();
                    const QPointF *nearest = nearestPoint(points, point.x());
                    const QString value =
                        nearest ? QLocale().toString(nearest->y(), 'f', nearest->y() < 10 ? 1 : 0)
                                : QString();
                    const QString text = series == it->connections ? tr("%1: %2 connections").arg(id, value)
                                                                   : tr("%1: p99 %2 ms").arg(id, value);
                    QToolTip::showText(QCursor::pos(), text);
                });
        }
        next.push_back(node);
    }
    if (!inOrder) {
        for (const NodeLines &node : kept) {
            m_connections.chart->removeSeries(node.connections);
            m_latency.chart->removeSeries(node.latency);
        }
    }
    m_nodes = std::move(next);
    for (NodeLines &node : m_nodes) {
        if (!node.connections->chart())
            addNodeSeries(node);
    }
}

void ChartsPanel::addNodeSeries(NodeLines &node)
{
    styleNode(node); // the pen before adding: the theme then leaves it alone
    const QString id = node.id;
    for (Plot *plot : {&m_connections, &m_latency}) {
        QLineSeries *series = plot == &m_connections ? node.connections : node.latency;
        plot->chart->addSeries(series);
        series->attachAxis(plot->x);
        series->attachAxis(plot->y);
        series->setVisible(!node.hidden);
        for (QLegendMarker *marker : plot->chart->legend()->markers(series)) {
            connect(marker, &QLegendMarker::clicked, this, [this, id] {
                const auto it = std::find_if(m_nodes.begin(), m_nodes.end(),
                                             [&id](const NodeLines &node) { return node.id == id; });
                if (it != m_nodes.end())
                    setNodeHidden(id, !it->hidden);
            });
        }
    }
    styleNode(node); // and the legend entries, which exist now
}

void ChartsPanel::setNodeHidden(const QString &nodeId, bool hidden)
{
    const auto it = std::find_if(m_nodes.begin(), m_nodes.end(),
                                 [&nodeId](const NodeLines &node) { return node.id == nodeId; });
    if (it == m_nodes.end())
        return;
    it->hidden = hidden;
    it->connections->setVisible(!hidden);
    it->latency->setVisible(!hidden);
    styleNode(*it);
    refresh(); // rescale without it
}

void ChartsPanel::styleNode(const NodeLines &node, qreal width)
{
    QPen pen(nodeColour(node.colour, m_dark));
    pen.setWidthF(width > 0 ? width : LineWidth);
    pen.setCosmetic(true);
    node.connections->setPen(pen);
    node.latency->setPen(pen);
    // A hidden series hides its legend entry too: keep the entry, dimmed,
    // so that a click brings the node back.
    for (QChart *chart : {m_connections.chart, m_latency.chart}) {
        QLegend *legend = chart->legend();
        for (QLegendMarker *marker :
             legend->markers(chart == m_connections.chart ? node.connections : node.latency)) {
            marker->setVisible(true);
            QColor label = legend->labelColor();
            label.setAlphaF(node.hidden ? 0.35f : 1.0f);
            marker->setLabelBrush(label);
        }
    }
}

void ChartsPanel::rescale(Plot &plot, double dataMax)
{
    const double top = ClusterHistory::axisTop(dataMax, plot.top, plot.minimumTop);
    const double interval =
        fittingTickInterval(top, ClusterHistory::axisTickInterval(top), plot.chart->plotArea().height(),
                            QFontMetricsF(plot.y->labelsFont()).height());
    if (top == plot.top && interval == plot.y->tickInterval())
        return;
    // Dynamic ticks are laid out on each change: never let a small interval
    // meet a large range for a moment (thousands of tick items).
    if (top > plot.y->max()) {
        plot.y->setTickInterval(interval);
        plot.y->setRange(0, top);
    } else {
        plot.y->setRange(0, top);
        plot.y->setTickInterval(interval);
    }
    plot.y->setLabelFormat(labelFormat(interval));
    plot.top = top;
    measureLabels(plot);
}

void ChartsPanel::applyTheme()
{
    m_dark = palette().color(QPalette::Window).lightness() < 128;
    for (Plot *plot : {&m_connections, &m_latency, &m_throughput}) {
        plot->chart->setTheme(m_dark ? QChart::ChartThemeDark : QChart::ChartThemeLight);
        plot->chart->setBackgroundRoundness(0);
        // One legend width for all three charts, so that their plot areas
        // end at one edge: room for ids like "push-eu-1-07"; longer ones are
        // cut and shown whole in a tooltip.
        QLegend *legend = plot->chart->legend();
        const qreal width = QFontMetricsF(legend->font()).horizontalAdvance(QString(13, u'n')) + 30;
        legend->setMinimumWidth(width);
        legend->setPreferredWidth(width);
        legend->setMaximumWidth(width);
    }
    for (Plot *plot : {&m_connections, &m_latency, &m_throughput})
        measureLabels(*plot); // the theme may change the labels' font
    // The theme recolours every series; give the nodes theirs back.
    for (const NodeLines &node : m_nodes)
        styleNode(node);
    QPen pen = m_delivered->pen();
    pen.setWidthF(LineWidth);
    pen.setCosmetic(true);
    m_delivered->setPen(pen);
}

void ChartsPanel::measureLabels(Plot &plot)
{
    const QFontMetricsF metrics(plot.y->labelsFont());
    const QByteArray format = plot.y->labelFormat().toLatin1();
    const double interval = plot.y->tickInterval();
    plot.labelsWidth = 0;
    for (int i = 0; interval > 0 && i * interval <= plot.top * (1 + 1e-9); ++i) {
        const QString label = QString::asprintf(format.constData(), i * interval);
        plot.labelsWidth = std::max(plot.labelsWidth, metrics.horizontalAdvance(label));
    }
    alignPlotAreas();
}

void ChartsPanel::alignPlotAreas()
{
    // The charts are equally wide (one column) and so are their legends: the
    // plot areas end at one edge. On the left each starts after its y labels;
    // widen the narrower ones' margins so that all start at one edge too.
    Plot *plots[] = {&m_connections, &m_latency, &m_throughput};
    qreal widest = 0;
    for (const Plot *plot : plots)
        widest = std::max(widest, plot->labelsWidth);
    for (Plot *plot : plots) {
        if (!plot->chart)
            continue; // still being made
        const int extraLeft = qRound(widest - plot->labelsWidth);
        if (extraLeft != plot->extraLeft) {
            plot->extraLeft = extraLeft;
            plot->chart->setMargins(ChartMargins + QMargins(extraLeft, 0, 0, 0));
        }
    }
}

void ChartsPanel::changeEvent(QEvent *event)
{
    QWidget::changeEvent(event);
    if (event->type() == QEvent::PaletteChange || event->type() == QEvent::ApplicationPaletteChange) {
        const bool dark = palette().color(QPalette::Window).lightness() < 128;
        if (dark != m_dark)
            applyTheme();
    }
}

void ChartsPanel::showEvent(QShowEvent *event)
{
    QWidget::showEvent(event);
    if (m_stale)
        scheduleRefresh();
}

} // namespace bfg
