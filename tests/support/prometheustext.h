// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 BFG developers
//
// A strict reader of the Prometheus text exposition format (0.0.4) for the
// tests: every line is a HELP, a TYPE or a sample `name{labels} value`;
// every family has its HELP and TYPE before its samples, which stay
// together; no series twice; label values correctly escaped; histogram
// buckets cumulative, ending in le="+Inf" equal to _count, with a _sum.
// Anything else is an error naming the line.
#pragma once

#include <optional>

#include <QByteArray>
#include <QList>
#include <QMap>
#include <QString>

namespace bfg::test {

class PrometheusText
{
public:
    using Labels = QMap<QByteArray, QByteArray>;
    struct Sample
    {
        QByteArray name; // with _bucket, _sum, _count for histograms
        Labels labels;
        double value = 0;
    };
    struct Family
    {
        QByteArray name;
        QByteArray type;
        QByteArray help; // unescaped
        QList<Sample> samples;
    };

    // nullopt with `error` set when `text` breaks a rule.
    static std::optional<PrometheusText> parse(const QByteArray &text, QString *error);

    const QMap<QByteArray, Family> &families() const { return m_families; }
    bool has(const QByteArray &family) const { return m_families.contains(family); }
    // The value of sample `name` with exactly `labels`; nullopt if there is none.
    std::optional<double> value(const QByteArray &name, const Labels &labels = {}) const;
    // The sum of every sample `name` whose labels include `labels`.
    double sum(const QByteArray &name, const Labels &labels = {}) const;

private:
    QMap<QByteArray, Family> m_families;
};

} // namespace bfg::test
