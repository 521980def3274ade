// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 BFG developers
//
// GET /metrics of one role: the collectors its components registered, each
// writing its current figures into a MetricsWriter when Prometheus scrapes,
// then the process metrics. Nothing is computed between scrapes: the hot
// paths only bump their own counters (MetricCounter, MetricHistogram).
#pragma once

#include <functional>
#include <vector>

#include <QByteArray>

namespace bfg {

class HttpService;
class MetricsWriter;

class MetricsRegistry
{
public:
    using Collector = std::function<void(MetricsWriter &writer)>;

    MetricsRegistry() = default;
    Q_DISABLE_COPY_MOVE(MetricsRegistry)

    void addCollector(Collector collector);
    // Every collector's families, then the process metrics, in the text format.
    QByteArray scrape() const;
    // Serves scrape() as GET /metrics on `http`. With a key (general/metrics_key)
    // only to "Authorization: Bearer <key>"; otherwise to anyone who reaches
    // the listener. The registry must outlive `http`'s handling of requests.
    void serve(HttpService *http, const QByteArray &key) const;

private:
    std::vector<Collector> m_collectors;
};

} // namespace bfg
