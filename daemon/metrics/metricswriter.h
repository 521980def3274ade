// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 BFG developers
//
// Writes the Prometheus text exposition format, version 0.0.4: each family
// once, with its HELP and TYPE lines and then its samples; label values and
// help texts escaped; histograms as cumulative _bucket{le=...} lines ending
// in +Inf, then _sum and _count. The collectors of a MetricsRegistry write
// into one on every scrape.
#pragma once

#include <utility>

#include <QByteArray>
#include <QByteArrayView>
#include <QList>

#include "daemon/metrics/metrichistogram.h"

namespace bfg {

// name, value; at most a few per sample.
using MetricLabels = QList<std::pair<QByteArray, QByteArray>>;

class MetricsWriter
{
public:
    enum class Type { Counter, Gauge, Histogram };

    static inline const QByteArray ContentType =
        QByteArrayLiteral("text/plain; version=0.0.4; charset=utf-8");

    // Starts a family: the samples written next belong to it. Names follow
    // Prometheus' rules ([a-zA-Z_:][a-zA-Z0-9_:]*) and units are in them.
    void family(QByteArrayView name, Type type, QByteArrayView help);
    // A sample of the current counter or gauge family.
    void sample(double value, const MetricLabels &labels = {});
    void sample(quint64 value, const MetricLabels &labels = {});
    // One labelled histogram of the current histogram family.
    void histogram(const MetricHistogram::Snapshot &snapshot, const MetricLabels &labels = {});

    // A family of one sample without labels.
    void counter(QByteArrayView name, QByteArrayView help, quint64 value);
    void gauge(QByteArrayView name, QByteArrayView help, double value);

    QByteArray text() const { return m_text; }

    static bool isValidName(QByteArrayView name);
    static bool isValidLabelName(QByteArrayView name);
    static QByteArray escapeLabelValue(QByteArrayView value); // \ " and newline
    static QByteArray escapeHelp(QByteArrayView help);        // \ and newline
    // Go's float syntax as Prometheus reads it: shortest round trip, +Inf, -Inf, NaN.
    static QByteArray formatValue(double value);

private:
    void writeSample(QByteArrayView suffix, const MetricLabels &labels, const QByteArray &value,
                     const QByteArray &extraLabel = {});

    QByteArray m_text;
    QByteArray m_name; // the current family
    Type m_type = Type::Gauge;
    QList<QByteArray> m_families; // every name started, to catch a family written twice
};

} // namespace bfg
