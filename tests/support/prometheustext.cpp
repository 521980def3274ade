// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 BFG developers
#include "tests/support/prometheustext.h"

#include <cmath>
#include <limits>

#include <QSet>

using namespace Qt::Literals::StringLiterals;

namespace bfg::test {

namespace {
bool isName(QByteArrayView name, bool colon)
{
    if (name.isEmpty())
        return false;
    for (qsizetype i = 0; i < name.size(); ++i) {
        const char c = name[i];
        const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || (colon && c == ':') ||
                        (i > 0 && c >= '0' && c <= '9');
        if (!ok)
            return false;
    }
    return true;
}

std::optional<double> parseValue(const QByteArray &text)
{
    if (text == "+Inf")
        return std::numeric_limits<double>::infinity();
    if (text == "-Inf")
        return -std::numeric_limits<double>::infinity();
    if (text == "NaN")
        return std::numeric_limits<double>::quiet_NaN();
    bool ok = false;
    const double value = text.toDouble(&ok);
    if (!ok || text.isEmpty() || text.contains(' '))
        return std::nullopt;
    return value;
}

// `{a="x",b="y"}` starting at `pos` (at the '{'); moves `pos` past the '}'.
std::optional<PrometheusText::Labels> parseLabels(const QByteArray &line, qsizetype *pos, QString *error)
{
    PrometheusText::Labels labels;
    qsizetype i = *pos + 1;
    if (i < line.size() && line[i] == '}') {
        *error = u"empty label set {}"_s;
        return std::nullopt;
    }
    for (;;) {
        const qsizetype equals = line.indexOf('=', i);
        if (equals < 0) {
            *error = u"label without ="_s;
            return std::nullopt;
        }
        const QByteArray name = line.mid(i, equals - i);
        if (!isName(name, false)) {
            *error = u"bad label name \"%1\""_s.arg(QString::fromUtf8(name));
            return std::nullopt;
        }
        if (labels.contains(name)) {
            *error = u"label %1 twice"_s.arg(QString::fromUtf8(name));
            return std::nullopt;
        }
        i = equals + 1;
        if (i >= line.size() || line[i] != '"') {
            *error = u"label value not quoted"_s;
            return std::nullopt;
        }
        ++i;
        QByteArray value;
        bool closed = false;
        while (i < line.size()) {
            const char c = line[i++];
            if (c == '"') {
                closed = true;
                break;
            }
            if (c == '\\') {
                if (i >= line.size()) {
                    *error = u"escape at the end of the line"_s;
                    return std::nullopt;
                }
                const char escaped = line[i++];
                if (escaped == '\\' || escaped == '"')
                    value += escaped;
                else if (escaped == 'n')
                    value += '\n';
                else {
                    *error = u"unknown escape \\%1 in a label value"_s.arg(QChar::fromLatin1(escaped));
                    return std::nullopt;
                }
            } else {
                value += c;
            }
        }
        if (!closed) {
            *error = u"unterminated label value"_s;
            return std::nullopt;
        }
        labels.insert(name, value);
        if (i < line.size() && line[i] == ',') {
            ++i;
            continue;
        }
        if (i < line.size() && line[i] == '}') {
            *pos = i + 1;
            return labels;
        }
        *error = u"expected , or } after a label"_s;
        return std::nullopt;
    }
}

QByteArray unescapeHelp(const QByteArray &help, bool *ok)
{
    QByteArray out;
    *ok = true;
    for (qsizetype i = 0; i < help.size(); ++i) {
        if (help[i] != '\\') {
            out += help[i];
            continue;
        }
        if (++i >= help.size()) {
            *ok = false;
            return out;
        }
        if (help[i] == '\\')
            out += '\\';
        else if (help[i] == 'n')
            out += '\n';
        else
            *ok = false;
    }
    return out;
}

QByteArray seriesKey(const QByteArray &name, const PrometheusText::Labels &labels)
{
    QByteArray key = name;
    for (auto it = labels.cbegin(); it != labels.cend(); ++it)
        key += '\0' + it.key() + '=' + it.value();
    return key;
}

// Buckets cumulative and ending in +Inf == _count, _sum present, per label set.
bool checkHistogram(const PrometheusText::Family &family, QString *error)
{
    struct Series
    {
        QList<std::pair<double, double>> buckets; // le, count, in order of appearance
        std::optional<double> sum, count;
    };
    QMap<QByteArray, Series> series;
    for (const PrometheusText::Sample &sample : family.samples) {
        PrometheusText::Labels labels = sample.labels;
        if (sample.name == family.name + "_bucket") {
            if (!labels.contains("le")) {
                *error = u"%1: a bucket without le"_s.arg(QString::fromUtf8(family.name));
                return false;
            }
            const std::optional<double> le = parseValue(labels.take("le"));
            if (!le) {
                *error = u"%1: le is not a number"_s.arg(QString::fromUtf8(family.name));
                return false;
            }
            series[seriesKey({}, labels)].buckets.append({*le, sample.value});
        } else if (sample.name == family.name + "_sum") {
            series[seriesKey({}, labels)].sum = sample.value;
        } else if (sample.name == family.name + "_count") {
            series[seriesKey({}, labels)].count = sample.value;
        } else {
            *error = u"%1: histogram sample %2"_s.arg(QString::fromUtf8(family.name),
                                                      QString::fromUtf8(sample.name));
            return false;
        }
    }
    if (series.isEmpty()) {
        *error = u"%1: a histogram without samples"_s.arg(QString::fromUtf8(family.name));
        return false;
    }
    for (const Series &one : std::as_const(series)) {
        if (one.buckets.isEmpty() || !one.sum || !one.count) {
            *error = u"%1: buckets, _sum and _count must all be there"_s.arg(QString::fromUtf8(family.name));
            return false;
        }
        for (qsizetype i = 1; i < one.buckets.size(); ++i) {
            if (one.buckets[i].first <= one.buckets[i - 1].first ||
                one.buckets[i].second < one.buckets[i - 1].second) {
                *error = u"%1: buckets not ascending in le or not cumulative"_s.arg(
                    QString::fromUtf8(family.name));
                return false;
            }
        }
        if (!std::isinf(one.buckets.last().first) || one.buckets.last().second != *one.count) {
            *error = u"%1: the last bucket must be le=\"+Inf\" and equal _count"_s.arg(
                QString::fromUtf8(family.name));
            return false;
        }
    }
    return true;
}
} // namespace

std::optional<PrometheusText> PrometheusText::parse(const QByteArray &text, QString *error)
{
    if (!text.endsWith('\n')) {
        *error = u"the text must end with a newline"_s;
        return std::nullopt;
    }
    PrometheusText result;
    QSet<QByteArray> series;
    QByteArray current; // the family whose samples may follow
    const QList<QByteArray> lines = text.chopped(1).split('\n');
    for (qsizetype n = 0; n < lines.size(); ++n) {
        const QByteArray &line = lines[n];
        auto fail = [&](const QString &what) {
            *error = u"line %1: %2: %3"_s.arg(n + 1).arg(what, QString::fromUtf8(line));
            return std::nullopt;
        };
        if (line.startsWith("# HELP ") || line.startsWith("# TYPE ")) {
            const QByteArray rest = line.mid(7);
            const qsizetype space = rest.indexOf(' ');
            const QByteArray name = space < 0 ? rest : rest.left(space);
            const QByteArray value = space < 0 ? QByteArray() : rest.mid(space + 1);
            if (!isName(name, true))
                return fail(u"bad metric name"_s);
            Family &family = result.m_families[name];
            family.name = name;
            if (!family.samples.isEmpty() ||
                (current != name && (!family.help.isEmpty() || !family.type.isEmpty())))
                return fail(u"family described again or after its samples"_s);
            current = name;
            if (line.startsWith("# HELP ")) {
                bool ok = false;
                if (!family.help.isEmpty() || value.isEmpty())
                    return fail(u"HELP twice or empty"_s);
                family.help = unescapeHelp(value, &ok);
                if (!ok)
                    return fail(u"bad escape in HELP"_s);
            } else {
                static const QSet<QByteArray> types{"counter", "gauge", "histogram", "summary", "untyped"};
                if (!family.type.isEmpty() || !types.contains(value))
                    return fail(u"TYPE twice or unknown"_s);
                family.type = value;
            }
            continue;
        }
        if (line.isEmpty() || line.startsWith('#'))
            return fail(u"only HELP, TYPE and samples are expected"_s);

        qsizetype pos = 0;
        while (pos < line.size() && line[pos] != '{' && line[pos] != ' ')
            ++pos;
        Sample sample;
        sample.name = line.left(pos);
        if (!isName(sample.name, true))
            return fail(u"bad metric name"_s);
        if (pos < line.size() && line[pos] == '{') {
            QString labelError;
            const std::optional<Labels> labels = parseLabels(line, &pos, &labelError);
            if (!labels)
                return fail(labelError);
            sample.labels = *labels;
        }
        if (pos >= line.size() || line[pos] != ' ')
            return fail(u"expected one space before the value"_s);
        const std::optional<double> value = parseValue(line.mid(pos + 1));
        if (!value)
            return fail(u"bad value (or a timestamp)"_s);
        sample.value = *value;

        if (current.isEmpty() || !result.m_families.contains(current))
            return fail(u"a sample before any HELP and TYPE"_s);
        Family &family = result.m_families[current];
        const bool histogram = family.type == "histogram";
        const bool belongs = histogram
                                 ? (sample.name == current + "_bucket" || sample.name == current + "_sum" ||
                                    sample.name == current + "_count")
                                 : sample.name == current;
        if (!belongs)
            return fail(u"sample outside its family (or a family without HELP and TYPE)"_s);
        if (family.help.isEmpty() || family.type.isEmpty())
            return fail(u"family without both HELP and TYPE"_s);
        const QByteArray key = seriesKey(sample.name, sample.labels);
        if (series.contains(key))
            return fail(u"series twice"_s);
        series.insert(key);
        if ((family.type == "counter" || sample.name.endsWith("_count") || sample.name.endsWith("_bucket")) &&
            !(sample.value >= 0))
            return fail(u"a counter below 0"_s);
        family.samples.append(sample);
    }
    for (const Family &family : std::as_const(result.m_families)) {
        if (family.help.isEmpty() || family.type.isEmpty()) {
            *error = u"%1: HELP or TYPE missing"_s.arg(QString::fromUtf8(family.name));
            return std::nullopt;
        }
        if (family.samples.isEmpty()) {
            *error = u"%1: a family without samples"_s.arg(QString::fromUtf8(family.name));
            return std::nullopt;
        }
        if (family.type == "histogram" && !checkHistogram(family, error))
            return std::nullopt;
    }
    return result;
}

std::optional<double> PrometheusText::value(const QByteArray &name, const Labels &labels) const
{
    for (const Family &family : m_families) {
        for (const Sample &sample : family.samples) {
            if (sample.name == name && sample.labels == labels)
                return sample.value;
        }
    }
    return std::nullopt;
}

double PrometheusText::sum(const QByteArray &name, const Labels &labels) const
{
    double total = 0;
    for (const Family &family : m_families) {
        for (const Sample &sample : family.samples) {
            if (sample.name != name)
                continue;
            bool match = true;
            for (auto it = labels.cbegin(); it != labels.cend() && match; ++it)
                match = sample.labels.value(it.key()) == it.value() && sample.labels.contains(it.key());
            if (match)
                total += sample.value;
        }
    }
    return total;
}

} // namespace bfg::test
