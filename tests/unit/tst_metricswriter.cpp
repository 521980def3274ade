// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 BFG developers
//
// What GET /metrics writes, without a daemon: the text format of families,
// labels and histograms byte for byte (escaping, value syntax, cumulative
// buckets ending in +Inf), a registry's whole scrape read back by the
// tests' strict parser, and that parser refusing what Prometheus would.
#include <cmath>
#include <limits>

#include <QTest>

#include "daemon/metrics/metriccounter.h"
#include "daemon/metrics/metrichistogram.h"
#include "daemon/metrics/metricsregistry.h"
#include "daemon/metrics/metricswriter.h"
#include "tests/support/prometheustext.h"

using namespace Qt::Literals::StringLiterals;
using bfg::MetricCounter;
using bfg::MetricHistogram;
using bfg::MetricsRegistry;
using bfg::MetricsWriter;
using bfg::test::PrometheusText;

class TestMetricsWriter : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void familyHasHelpTypeAndSamples();
    void labelValuesAndHelpAreEscaped();
    void valuesUseGoFloatSyntax_data();
    void valuesUseGoFloatSyntax();
    void namesFollowPrometheusRules_data();
    void namesFollowPrometheusRules();
    void histogramBucketsAreCumulativeAndEndInInf();
    void histogramSnapshotsOfSeveralThreadsMerge();
    void counterIsReadFromAnotherThread();
    void registryScrapeIsValidAndHasProcessMetrics();
    void parserRefusesBrokenText_data();
    void parserRefusesBrokenText();
};

void TestMetricsWriter::familyHasHelpTypeAndSamples()
{
    MetricsWriter writer;
    writer.counter("bfg_things_total", "Things done.", 42);
    writer.family("bfg_by_kind", MetricsWriter::Type::Gauge, "Things by kind.");
    writer.sample(1.5, {{"kind", "a"}, {"zone", "eu"}});
    writer.sample(quint64(2), {{"kind", "b"}, {"zone", "eu"}});
    QCOMPARE(writer.text(), QByteArray("# HELP bfg_things_total Things done.\n"
                                       "# TYPE bfg_things_total counter\n"
                                       "bfg_things_total 42\n"
                                       "# HELP bfg_by_kind Things by kind.\n"
                                       "# TYPE bfg_by_kind gauge\n"
                                       "bfg_by_kind{kind=\"a\",zone=\"eu\"} 1.5\n"
                                       "bfg_by_kind{kind=\"b\",zone=\"eu\"} 2\n"));
}

void TestMetricsWriter::labelValuesAndHelpAreEscaped()
{
    MetricsWriter writer;
    writer.family("bfg_escaped", MetricsWriter::Type::Gauge, "A \\ backslash\nand a \"quote\".");
    const QByteArray nasty = "C:\\path \"quoted\"\nsecond line";
    writer.sample(1.0, {{"value", nasty}});
    QCOMPARE(writer.text(), QByteArray("# HELP bfg_escaped A \\\\ backslash\\nand a \"quote\".\n"
                                       "# TYPE bfg_escaped gauge\n"
                                       "bfg_escaped{value=\"C:\\\\path \\\"quoted\\\"\\nsecond line\"} 1\n"));
    QString error;
    const auto parsed = PrometheusText::parse(writer.text(), &error);
    QVERIFY2(parsed, qPrintable(error));
    QCOMPARE(parsed->value("bfg_escaped", {{"value", nasty}}), 1.0);
    QCOMPARE(parsed->families().value("bfg_escaped").help, QByteArray("A \\ backslash\nand a \"quote\"."));
}

void TestMetricsWriter::valuesUseGoFloatSyntax_data()
{
    QTest::addColumn<double>("value");
    QTest::addColumn<QByteArray>("text");
    QTest::addRow("zero") << 0.0 << QByteArray("0");
    QTest::addRow("whole") << 12345678901.0 << QByteArray("12345678901");
    QTest::addRow("negative") << -3.0 << QByteArray("-3");
    QTest::addRow("fraction") << 0.1 << QByteArray("0.1");
    QTest::addRow("bucket bound") << 0.0005 << QByteArray("0.0005");
    QTest::addRow("small") << 1.5e-9 << QByteArray("1.5e-09");
    QTest::addRow("large") << 1e300 << QByteArray("1e+300");
    QTest::addRow("below 1e-4") << 0.00001234 << QByteArray("1.234e-05");
    QTest::addRow("not whole, large") << 123456.5 << QByteArray("123456.5");
    QTest::addRow("negative fraction") << -0.25 << QByteArray("-0.25");
    QTest::addRow("+Inf") << std::numeric_limits<double>::infinity() << QByteArray("+Inf");
    QTest::addRow("-Inf") << -std::numeric_limits<double>::infinity() << QByteArray("-Inf");
    QTest::addRow("NaN") << std::numeric_limits<double>::quiet_NaN() << QByteArray("NaN");
}

void TestMetricsWriter::valuesUseGoFloatSyntax()
{
    QFETCH(double, value);
    QFETCH(QByteArray, text);
    QCOMPARE(MetricsWriter::formatValue(value), text);
    if (!std::isnan(value))
        QCOMPARE(text == "+Inf"   ? std::numeric_limits<double>::infinity()
                 : text == "-Inf" ? -std::numeric_limits<double>::infinity()
                                  : text.toDouble(),
                 value);
}

void TestMetricsWriter::namesFollowPrometheusRules_data()
{
    QTest::addColumn<QByteArray>("name");
    QTest::addColumn<bool>("metric");
    QTest::addColumn<bool>("label");
    QTest::addRow("plain") << QByteArray("bfg_push_connections") << true << true;
    QTest::addRow("colon") << QByteArray("job:bfg_rate") << true << false;
    QTest::addRow("digit first") << QByteArray("9lives") << false << false;
    QTest::addRow("dash") << QByteArray("bfg-push") << false << false;
    QTest::addRow("empty") << QByteArray() << false << false;
    QTest::addRow("reserved label") << QByteArray("__name__") << true << false;
}

void TestMetricsWriter::namesFollowPrometheusRules()
{
    QFETCH(QByteArray, name);
    QFETCH(bool, metric);
    QFETCH(bool, label);
    QCOMPARE(MetricsWriter::isValidName(name), metric);
    QCOMPARE(MetricsWriter::isValidLabelName(name), label);
}

void TestMetricsWriter::histogramBucketsAreCumulativeAndEndInInf()
{
    MetricHistogram histogram({0.1, 1});
    for (const double value : {0.05, 0.1, 0.5, 5.0}) // 0.1 is "less or equal" 0.1
        histogram.record(value);
    MetricsWriter writer;
    writer.family("bfg_wait_seconds", MetricsWriter::Type::Histogram, "Waits.");
    writer.histogram(histogram.snapshot(), {{"path", "a"}});
    QCOMPARE(writer.text(), QByteArray("# HELP bfg_wait_seconds Waits.\n"
                                       "# TYPE bfg_wait_seconds histogram\n"
                                       "bfg_wait_seconds_bucket{path=\"a\",le=\"0.1\"} 2\n"
                                       "bfg_wait_seconds_bucket{path=\"a\",le=\"1\"} 3\n"
                                       "bfg_wait_seconds_bucket{path=\"a\",le=\"+Inf\"} 4\n"
                                       "bfg_wait_seconds_sum{path=\"a\"} 5.65\n"
                                       "bfg_wait_seconds_count{path=\"a\"} 4\n"));
    QString error;
    QVERIFY2(PrometheusText::parse(writer.text(), &error), qPrintable(error));

    // No samples yet: every bucket there, all 0.
    MetricsWriter empty;
    empty.family("bfg_idle_seconds", MetricsWriter::Type::Histogram, "Nothing yet.");
    empty.histogram(MetricHistogram(MetricHistogram::latencyBounds()).snapshot());
    const auto parsed = PrometheusText::parse(empty.text(), &error);
    QVERIFY2(parsed, qPrintable(error));
    QCOMPARE(parsed->families().value("bfg_idle_seconds").samples.size(),
             qsizetype(MetricHistogram::latencyBounds().size()) + 3);
    QCOMPARE(parsed->value("bfg_idle_seconds_bucket", {{"le", "+Inf"}}), 0.0);
    QCOMPARE(parsed->value("bfg_idle_seconds_bucket", {{"le", "0.0005"}}), 0.0);
}

void TestMetricsWriter::histogramSnapshotsOfSeveralThreadsMerge()
{
    MetricHistogram first({1, 2}), second({1, 2});
    first.record(0.5);
    second.record(1.5);
    second.record(3);
    MetricHistogram::Snapshot merged;
    merged.merge(first.snapshot());
    merged.merge(second.snapshot());
    QCOMPARE(merged.counts, (std::vector<quint64>{1, 1, 1}));
    QCOMPARE(merged.count(), quint64(3));
    QCOMPARE(merged.sum, 5.0);
}

void TestMetricsWriter::counterIsReadFromAnotherThread()
{
    // The worker's pattern: one thread adds, the scrape reads elsewhere.
    MetricCounter counter;
    MetricHistogram histogram(MetricHistogram::latencyBounds());
    std::unique_ptr<QThread> writer(QThread::create([&] {
        for (int i = 0; i < 100000; ++i) {
            counter.add();
            histogram.record(0.001);
        }
    }));
    writer->start();
    quint64 last = 0;
    while (!writer->isFinished()) {
        const quint64 seen = counter.value();
        QVERIFY(seen >= last); // only ever grows
        last = seen;
        QVERIFY(histogram.snapshot().count() <= 100000);
    }
    writer->wait();
    QCOMPARE(counter.value(), quint64(100000));
    QCOMPARE(histogram.snapshot().count(), quint64(100000));
}

void TestMetricsWriter::registryScrapeIsValidAndHasProcessMetrics()
{
    MetricsRegistry registry;
    registry.addCollector([](MetricsWriter &writer) { writer.counter("bfg_a_total", "A.", 7); });
    registry.addCollector([](MetricsWriter &writer) { writer.gauge("bfg_b", "B.", 0.25); });
    QString error;
    const auto parsed = PrometheusText::parse(registry.scrape(), &error);
    QVERIFY2(parsed, qPrintable(error));
    QCOMPARE(parsed->value("bfg_a_total"), 7.0);
    QCOMPARE(parsed->value("bfg_b"), 0.25);
    QCOMPARE(parsed->value("bfg_build_info", {{"version", BFG_VERSION}}), 1.0);
#ifdef Q_OS_LINUX
    QVERIFY(parsed->value("process_resident_memory_bytes").value_or(0) > 1024 * 1024);
    QVERIFY(parsed->value("process_open_fds").value_or(0) >= 3);
    QVERIFY(parsed->value("process_cpu_seconds_total").value_or(-1) >= 0);
    QCOMPARE(parsed->families().value("process_cpu_seconds_total").type, QByteArray("counter"));
    const double start = parsed->value("process_start_time_seconds").value_or(0);
    const double now = double(QDateTime::currentMSecsSinceEpoch()) / 1000;
    QVERIFY2(start > now - 600 && start <= now + 1, qPrintable(QString::number(now - start)));
#endif
}

void TestMetricsWriter::parserRefusesBrokenText_data()
{
    QTest::addColumn<QByteArray>("text");
    const QByteArray head = "# HELP m M.\n# TYPE m gauge\n";
    const QByteArray histogramHead = "# HELP h H.\n# TYPE h histogram\n";
    QTest::addRow("no TYPE") << QByteArray("# HELP m M.\nm 1\n");
    QTest::addRow("no HELP") << QByteArray("# TYPE m gauge\nm 1\n");
    QTest::addRow("no final newline") << QByteArray(head + "m 1");
    QTest::addRow("sample of another family") << QByteArray(head + "n 1\n");
    QTest::addRow("same series twice") << QByteArray(head + "m{a=\"1\"} 1\nm{a=\"1\"} 2\n");
    QTest::addRow("family split") << QByteArray(head + "m 1\n# HELP n N.\n# TYPE n gauge\nn 1\n" + head);
    QTest::addRow("unquoted label") << QByteArray(head + "m{a=1} 1\n");
    QTest::addRow("bad escape") << QByteArray(head + "m{a=\"\\t\"} 1\n");
    QTest::addRow("raw quote in value") << QByteArray(head + "m{a=\"x\"y\"} 1\n");
    QTest::addRow("timestamp") << QByteArray(head + "m 1 1700000000000\n");
    QTest::addRow("not a number") << QByteArray(head + "m one\n");
    QTest::addRow("blank line") << QByteArray(head + "\nm 1\n");
    QTest::addRow("counter below 0") << QByteArray("# HELP c C.\n# TYPE c counter\nc -1\n");
    QTest::addRow("buckets not cumulative")
        << QByteArray(histogramHead + "h_bucket{le=\"1\"} 3\nh_bucket{le=\"2\"} 2\nh_bucket{le=\"+Inf\"} 3\n"
                                      "h_sum 1\nh_count 3\n");
    QTest::addRow("no +Inf") << QByteArray(histogramHead + "h_bucket{le=\"1\"} 3\nh_sum 1\nh_count 3\n");
    QTest::addRow("+Inf not the count")
        << QByteArray(histogramHead + "h_bucket{le=\"1\"} 3\nh_bucket{le=\"+Inf\"} 4\nh_sum 1\nh_count 3\n");
    QTest::addRow("no sum") << QByteArray(histogramHead + "h_bucket{le=\"+Inf\"} 3\nh_count 3\n");
}

void TestMetricsWriter::parserRefusesBrokenText()
{
    QFETCH(QByteArray, text);
    QString error;
    QVERIFY(!PrometheusText::parse(text, &error));
    QVERIFY(!error.isEmpty());
}

QTEST_GUILESS_MAIN(TestMetricsWriter)
#include "tst_metricswriter.moc"
