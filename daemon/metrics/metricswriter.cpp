// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 BFG developers
#include "daemon/metrics/metricswriter.h"

#include <cmath>

#include <QLocale>

namespace bfg {

namespace {
bool isNameChar(char c, bool first, bool colon)
{
    const bool letter = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || (colon && c == ':');
    return letter || (!first && c >= '0' && c <= '9');
}

bool isValid(QByteArrayView name, bool colon)
{
    if (name.isEmpty())
        return false;
    for (qsizetype i = 0; i < name.size(); ++i) {
        if (!isNameChar(name[i], i == 0, colon))
            return false;
    }
    return true;
}

const char *typeName(MetricsWriter::Type type)
{
    switch (type) {
    case MetricsWriter::Type::Counter:
        return "counter";
    case MetricsWriter::Type::Gauge:
        return "gauge";
    case MetricsWriter::Type::Histogram:
        return "histogram";
    }
    return "untyped";
}
} // namespace

bool MetricsWriter::isValidName(QByteArrayView name)
{
    return isValid(name, true);
}

bool MetricsWriter::isValidLabelName(QByteArrayView name)
{
    return isValid(name, false) && !name.startsWith("__");
}

QByteArray MetricsWriter::escapeLabelValue(QByteArrayView value)
{
    QByteArray out;
    out.reserve(value.size());
    for (const char c : value) {
        if (c == '\\')
            out += "\\\\";
        else if (c == '"')
            out += "\\\"";
        else if (c == '\n')
            out += "\\n";
        else
            out += c;
    }
    return out;
}

QByteArray MetricsWriter::escapeHelp(QByteArrayView help)
{
    QByteArray out;
    out.reserve(help.size());
    for (const char c : help) {
        if (c == '\\')
            out += "\\\\";
        else if (c == '\n')
            out += "\\n";
        else
            out += c;
    }
    return out;
}

QByteArray MetricsWriter::formatValue(double value)
{
    if (std::isnan(value))
        return QByteArrayLiteral("NaN");
    if (std::isinf(value))
        return value > 0 ? QByteArrayLiteral("+Inf") : QByteArrayLiteral("-Inf");
    // Whole numbers (counts, bytes) without an exponent while they are exact.
    if (value == std::floor(value) && std::fabs(value) < 9007199254740992.0)
        return QByteArray::number(qint64(value));
    // The shortest digits that read back as `value`, laid out as Go's
    // strconv.FormatFloat(value, 'g', -1, 64) does (what Prometheus' own
    // clients write): an exponent only below 1e-4 or from 1e21 on.
    const QByteArray scientific = QByteArray::number(std::fabs(value), 'e', QLocale::FloatingPointShortest);
    const qsizetype e = scientific.indexOf('e');
    const int exponent = scientific.mid(e + 1).toInt();
    const QByteArray digits = scientific.left(e).replace('.', QByteArray());
    const QByteArray sign = value < 0 ? QByteArrayLiteral("-") : QByteArray();
    if (exponent < -4 || exponent >= 21) {
        QByteArray mantissa = digits.left(1);
        if (digits.size() > 1)
            mantissa += '.' + digits.mid(1);
        const QByteArray power = QByteArray::number(std::abs(exponent)).rightJustified(2, '0');
        return sign + mantissa + 'e' + (exponent < 0 ? '-' : '+') + power;
    }
    if (exponent < 0)
        return sign + "0." + QByteArray(-exponent - 1, '0') + digits;
    if (digits.size() <= exponent + 1)
        return sign + digits + QByteArray(exponent + 1 - digits.size(), '0');
    return sign + digits.left(exponent + 1) + '.' + digits.mid(exponent + 1);
}

void MetricsWriter::family(QByteArrayView name, Type type, QByteArrayView help)
{
    Q_ASSERT(isValidName(name));
    Q_ASSERT(!m_families.contains(name.toByteArray())); // a family's samples stay together
    m_name = name.toByteArray();
    m_type = type;
    m_families.append(m_name);
    m_text += "# HELP " + m_name + ' ' + escapeHelp(help) + '\n';
    m_text += "# TYPE " + m_name + ' ' + typeName(type) + '\n';
}

void MetricsWriter::writeSample(QByteArrayView suffix, const MetricLabels &labels, const QByteArray &value,
                                const QByteArray &extraLabel)
{
    m_text += m_name;
    m_text += suffix;
    if (!labels.isEmpty() || !extraLabel.isEmpty()) {
        m_text += '{';
        bool first = true;
        for (const auto &[name, labelValue] : labels) {
            Q_ASSERT(isValidLabelName(name));
            if (!first)
                m_text += ',';
            first = false;
            m_text += name + "=\"" + escapeLabelValue(labelValue) + '"';
        }
        if (!extraLabel.isEmpty()) {
            if (!first)
                m_text += ',';
            m_text += extraLabel;
        }
        m_text += '}';
    }
    m_text += ' ' + value + '\n';
}

void MetricsWriter::sample(double value, const MetricLabels &labels)
{
    Q_ASSERT(!m_name.isEmpty() && m_type != Type::Histogram);
    writeSample({}, labels, formatValue(value));
}

void MetricsWriter::sample(quint64 value, const MetricLabels &labels)
{
    Q_ASSERT(!m_name.isEmpty() && m_type != Type::Histogram);
    writeSample({}, labels, QByteArray::number(value));
}

void MetricsWriter::histogram(const MetricHistogram::Snapshot &snapshot, const MetricLabels &labels)
{
    Q_ASSERT(!m_name.isEmpty() && m_type == Type::Histogram);
    quint64 cumulative = 0;
    for (size_t i = 0; i < snapshot.bounds.size(); ++i) {
        cumulative += i < snapshot.counts.size() ? snapshot.counts[i] : 0;
        writeSample("_bucket", labels, QByteArray::number(cumulative),
                    "le=\"" + formatValue(snapshot.bounds[i]) + '"');
    }
    // The +Inf bucket and _count are the same number by construction.
    const quint64 count = snapshot.count();
    writeSample("_bucket", labels, QByteArray::number(count), QByteArrayLiteral("le=\"+Inf\""));
    writeSample("_sum", labels, formatValue(snapshot.sum));
    writeSample("_count", labels, QByteArray::number(count));
}

void MetricsWriter::counter(QByteArrayView name, QByteArrayView help, quint64 value)
{
    family(name, Type::Counter, help);
    sample(value);
}

void MetricsWriter::gauge(QByteArrayView name, QByteArrayView help, double value)
{
    family(name, Type::Gauge, help);
    sample(value);
}

} // namespace bfg
