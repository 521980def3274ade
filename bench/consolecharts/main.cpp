// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 BFG developers
//
// bfg-bench-consolecharts: milliseconds per ChartsPanel update with N nodes
// at a full history window, the way the console gets them: one snapshot
// appended and the event loop run (the panel's refresh, every series
// replaced, and the repaint it causes: counted, three charts expected),
// then a forced full repaint on top (QWidget::grab(), antialiased).
// Run it offscreen: bench/console-charts does.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <vector>

#include <QApplication>
#include <QChart>
#include <QChartView>
#include <QCommandLineParser>
#include <QElapsedTimer>
#include <QPalette>
#include <QRandomGenerator>
#include <QXYSeries>

#include "bfg/v1/cluster.pb.h"
#include "console/chartspanel.h"
#include "console/core/clusterhistory.h"

using namespace Qt::Literals::StringLiterals;

namespace {

// A cluster that wanders: connections a random walk per node, p99 noisy
// around a per-node level, now and then a node down for a while.
class FakeCluster
{
public:
    explicit FakeCluster(int nodes)
        : m_random(42)
    {
        for (int i = 0; i < nodes; ++i) {
            Node node;
            node.id = "push-" + std::to_string(1000 + i).substr(1);
            node.connections = 1000 + m_random.bounded(3000);
            node.p99Level = 10 + m_random.bounded(60.0);
            m_nodes.push_back(node);
        }
    }

    bfg::v1::ClusterSnapshot next()
    {
        bfg::v1::ClusterSnapshot snapshot;
        snapshot.set_at_ms(m_atMs);
        snapshot.set_report_interval_ms(1000);
        m_atMs += 1000;
        double delivered = 0;
        quint64 connections = 0;
        for (Node &node : m_nodes) {
            node.connections = std::max(0, node.connections + m_random.bounded(-40, 41));
            if (node.downFor > 0)
                --node.downFor;
            else if (m_random.bounded(2000) == 0)
                node.downFor = 5 + m_random.bounded(30);
            bfg::v1::NodeStatus *status = snapshot.add_nodes();
            status->set_id(node.id);
            status->set_state("active");
            status->set_connections(quint32(node.connections));
            status->set_latency_p99_ms(node.p99Level * (0.8 + 0.4 * m_random.generateDouble()));
            status->set_down(node.downFor > 0);
            status->set_delivered_per_sec(node.connections * 2.0);
            delivered += node.connections * 2.0;
            connections += quint64(node.connections);
        }
        snapshot.set_connections(connections);
        snapshot.set_delivered_per_sec(delivered);
        return snapshot;
    }

private:
    struct Node
    {
        std::string id;
        int connections = 0;
        double p99Level = 0;
        int downFor = 0;
    };
    QRandomGenerator m_random;
    std::vector<Node> m_nodes;
    qint64 m_atMs = 1'780'000'000'000;
};

double percentile(std::vector<double> values, double percent)
{
    std::sort(values.begin(), values.end());
    const size_t index = size_t(std::ceil(percent / 100.0 * double(values.size()))) - 1;
    return values[std::min(index, values.size() - 1)];
}

double ms(const QElapsedTimer &timer)
{
    return double(timer.nsecsElapsed()) / 1e6;
}

// Counts paint events of the chart views' viewports.
class PaintCounter : public QObject
{
public:
    int count = 0;

protected:
    bool eventFilter(QObject *watched, QEvent *event) override
    {
        if (event->type() == QEvent::Paint)
            ++count;
        return QObject::eventFilter(watched, event);
    }
};

// Points the panel's series hold now.
qsizetype drawnPoints(const QWidget &panel)
{
    qsizetype points = 0;
    for (const QChartView *view : panel.findChildren<QChartView *>()) {
        for (const QAbstractSeries *series : view->chart()->series())
            points += static_cast<const QXYSeries *>(series)->count();
    }
    return points;
}

} // namespace

int main(int argc, char *argv[])
{
    if (qEnvironmentVariableIsEmpty("QT_QPA_PLATFORM"))
        qputenv("QT_QPA_PLATFORM", "offscreen");
    QApplication app(argc, argv);
    QApplication::setApplicationName(u"bfg-bench-consolecharts"_s);

    QCommandLineParser parser;
    parser.setApplicationDescription(u"Milliseconds per bfg-console chart update at a full window."_s);
    parser.addHelpOption();
    const QCommandLineOption nodesOption(u"nodes"_s, u"Node counts to measure, comma-separated."_s, u"list"_s,
                                         u"10,50,100"_s);
    const QCommandLineOption updatesOption(u"updates"_s, u"Updates measured per node count."_s, u"n"_s,
                                           u"120"_s);
    const QCommandLineOption samplesOption(u"samples"_s, u"History window (snapshots)."_s, u"n"_s,
                                           QString::number(bfg::ClusterHistory::DefaultSamples));
    const QCommandLineOption sizeOption(u"size"_s, u"Panel size, WIDTHxHEIGHT."_s, u"size"_s, u"1400x900"_s);
    const QCommandLineOption darkOption(u"dark"_s, u"Use a dark application palette."_s);
    const QCommandLineOption screenshotOption(
        u"screenshot"_s, u"Save the panel after the last update to FILE-<nodes>.png."_s, u"FILE"_s);
    parser.addOptions({nodesOption, updatesOption, samplesOption, sizeOption, darkOption, screenshotOption});
    parser.process(app);

    const int updates = std::max(1, parser.value(updatesOption).toInt());
    const int samples = std::max(1, parser.value(samplesOption).toInt());
    const QStringList size = parser.value(sizeOption).split(u'x');
    const int width = size.value(0).toInt() > 0 ? size.value(0).toInt() : 1400;
    const int height = size.value(1).toInt() > 0 ? size.value(1).toInt() : 900;
    if (parser.isSet(darkOption)) {
        QPalette dark;
        dark.setColor(QPalette::Window, QColor(0x2b, 0x2b, 0x2b));
        dark.setColor(QPalette::WindowText, Qt::white);
        dark.setColor(QPalette::Base, QColor(0x1e, 0x1e, 0x1e));
        dark.setColor(QPalette::Text, Qt::white);
        QApplication::setPalette(dark);
    }

    std::printf(
        "# bfg-bench-consolecharts: %d-sample window, %d updates per row, %dx%d panel, %s, %s palette\n",
        samples, updates, width, height, qPrintable(QApplication::platformName()),
        parser.isSet(darkOption) ? "dark" : "light");
    std::printf("# update = append + event loop (refresh: every series replaced; and the repaint it\n"
                "# causes, paints = chart views painted per update); grab = a forced full repaint on top;\n"
                "# total = update + grab. first = the first refresh and paint (all series made).\n");
    std::printf("%-6s %8s %9s %10s %7s %8s %9s %9s %9s\n", "nodes", "points", "first_ms", "update_p50",
                "paints", "grab_p50", "total_p50", "total_p99", "total_max");

    for (const QString &nodesText : parser.value(nodesOption).split(u',', Qt::SkipEmptyParts)) {
        const int nodes = nodesText.toInt();
        if (nodes <= 0)
            continue;
        FakeCluster cluster(nodes);
        bfg::ClusterHistory history(samples);
        for (int i = 0; i < samples; ++i)
            history.append(cluster.next());

        bfg::ChartsPanel panel(&history);
        panel.resize(width, height);
        PaintCounter paints;
        for (QChartView *view : panel.findChildren<QChartView *>())
            view->viewport()->installEventFilter(&paints);
        QElapsedTimer first;
        first.start();
        panel.show();
        QApplication::processEvents(); // the first refresh: series made and filled
        panel.grab();
        const double firstMs = ms(first);

        for (int i = 0; i < 5; ++i) { // warm up
            history.append(cluster.next());
            QApplication::processEvents();
        }

        std::vector<double> update;
        std::vector<double> grab;
        std::vector<double> total;
        paints.count = 0;
        for (int i = 0; i < updates; ++i) {
            const bfg::v1::ClusterSnapshot snapshot = cluster.next(); // the stream's work, not ours
            QElapsedTimer timer;
            timer.start();
            history.append(snapshot);
            QApplication::processEvents();
            const double updateMs = ms(timer);
            panel.grab();
            const double totalMs = ms(timer);
            update.push_back(updateMs);
            grab.push_back(totalMs - updateMs);
            total.push_back(totalMs);
        }
        std::printf("%-6d %8lld %9.1f %10.1f %7.1f %8.1f %9.1f %9.1f %9.1f\n", nodes,
                    static_cast<long long>(drawnPoints(panel)), firstMs, percentile(update, 50),
                    double(paints.count) / updates, percentile(grab, 50), percentile(total, 50),
                    percentile(total, 99), *std::max_element(total.begin(), total.end()));
        std::fflush(stdout);

        if (parser.isSet(screenshotOption)) {
            const QString file = parser.value(screenshotOption) + u'-' + QString::number(nodes) + u".png"_s;
            if (!panel.grab().save(file))
                std::fprintf(stderr, "bfg-bench-consolecharts: cannot save %s\n", qPrintable(file));
        }
    }
    return 0;
}
