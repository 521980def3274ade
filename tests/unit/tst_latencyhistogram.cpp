// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 BFG developers
//
// The latency histogram the probe and the push nodes report from: its
// percentiles must be what an operator would compute from the raw samples,
// within the promised ~2%.
#include <cmath>

#include <QJsonDocument>
#include <QRandomGenerator>
#include <QTest>

#include "common/latencyhistogram.h"

using bfg::LatencyHistogram;

namespace {
QList<qint64> uniform(qint64 from, qint64 to)
{
    QList<qint64> samples;
    samples.reserve(to - from + 1);
    for (qint64 v = from; v <= to; ++v)
        samples.append(v);
    return samples;
}

QList<qint64> repeated(qint64 value, int times)
{
    return QList<qint64>(times, value);
}

LatencyHistogram histogramOf(const QList<qint64> &samples)
{
    LatencyHistogram histogram;
    for (qint64 sample : samples)
        histogram.record(sample);
    return histogram;
}

QString describe(qint64 actual, qint64 expected)
{
    return QStringLiteral("got %1, expected %2").arg(actual).arg(expected);
}
} // namespace

class TestLatencyHistogram : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void percentileMatchesTheSamples_data();
    void percentileMatchesTheSamples();
    void maxMinAndMeanAreExact();
    void percentileNeverExceedsTheLargestSample();
    void mergeEqualsRecordingEverything();
    void mergeWithEmptyChangesNothing();
    void jsonRoundTripKeepsEverySample();
    void malformedJsonIsRefused_data();
    void malformedJsonIsRefused();
    void emptyHistogramReportsZero();
    void negativeSampleCountsAsZero();
    void resetEmptiesTheHistogram();
    void hugeSamplesAreCountedAndMaxIsExact();
};

void TestLatencyHistogram::percentileMatchesTheSamples_data()
{
    QTest::addColumn<QList<qint64>>("samples");
    QTest::addColumn<double>("percent");
    QTest::addColumn<qint64>("expected");
    QTest::addColumn<double>("tolerance"); // relative; 0: exact

    const QList<qint64> uniform100k = uniform(1, 100000);
    QTest::addRow("uniform 1..100000 us, p50") << uniform100k << 50.0 << qint64(50000) << 0.02;
    QTest::addRow("uniform 1..100000 us, p90") << uniform100k << 90.0 << qint64(90000) << 0.02;
    QTest::addRow("uniform 1..100000 us, p99") << uniform100k << 99.0 << qint64(99000) << 0.02;
    QTest::addRow("uniform 1..100000 us, p99.9") << uniform100k << 99.9 << qint64(99900) << 0.02;
    QTest::addRow("uniform 1..100000 us, p100") << uniform100k << 100.0 << qint64(100000) << 0.02;
    QTest::addRow("uniform 1..100000 us, p1") << uniform100k << 1.0 << qint64(1000) << 0.02;

    // Small values have a bucket each: exact.
    const QList<qint64> small = uniform(1, 100);
    QTest::addRow("uniform 1..100 us, p50 exact") << small << 50.0 << qint64(50) << 0.0;
    QTest::addRow("uniform 1..100 us, p99 exact") << small << 99.0 << qint64(99) << 0.0;

    QTest::addRow("constant 5 ms, p50 exact") << repeated(5000, 1000) << 50.0 << qint64(5000) << 0.0;
    QTest::addRow("constant 5 ms, p99 exact") << repeated(5000, 1000) << 99.0 << qint64(5000) << 0.0;
    QTest::addRow("single sample, p50") << QList<qint64>{1234567} << 50.0 << qint64(1234567) << 0.0;

    // 90% fast at 1 ms, 10% slow at 250 ms: the tail must show.
    const QList<qint64> bimodal = repeated(1000, 9000) + repeated(250000, 1000);
    QTest::addRow("bimodal, p50 is the fast mode") << bimodal << 50.0 << qint64(1000) << 0.02;
    QTest::addRow("bimodal, p89 is the fast mode") << bimodal << 89.0 << qint64(1000) << 0.02;
    QTest::addRow("bimodal, p95 is the slow mode") << bimodal << 95.0 << qint64(250000) << 0.02;
    QTest::addRow("bimodal, p99 is the slow mode") << bimodal << 99.0 << qint64(250000) << 0.02;

    // Seconds-long stalls still within 2%.
    QList<qint64> seconds;
    for (qint64 i = 1; i <= 1000; ++i)
        seconds.append(i * 10000); // 10 ms .. 10 s
    QTest::addRow("10 ms .. 10 s, p50") << seconds << 50.0 << qint64(5000000) << 0.02;
    QTest::addRow("10 ms .. 10 s, p99") << seconds << 99.0 << qint64(9900000) << 0.02;
}

void TestLatencyHistogram::percentileMatchesTheSamples()
{
    QFETCH(QList<qint64>, samples);
    QFETCH(double, percent);
    QFETCH(qint64, expected);
    QFETCH(double, tolerance);

    const LatencyHistogram histogram = histogramOf(samples);
    QCOMPARE(histogram.count(), quint64(samples.size()));
    const qint64 actual = histogram.percentileUs(percent);
    if (tolerance == 0.0) {
        QCOMPARE(actual, expected);
    } else {
        const double error = std::abs(double(actual - expected)) / double(expected);
        QVERIFY2(error <= tolerance, qPrintable(describe(actual, expected)));
    }
}

void TestLatencyHistogram::maxMinAndMeanAreExact()
{
    LatencyHistogram histogram;
    for (qint64 v : {1234, 98765, 777, 43210, 100001})
        histogram.record(v);
    QCOMPARE(histogram.count(), quint64(5));
    QCOMPARE(histogram.maxUs(), qint64(100001));
    QCOMPARE(histogram.minUs(), qint64(777));
    QCOMPARE(histogram.meanUs(), (1234 + 98765 + 777 + 43210 + 100001) / 5.0);
}

void TestLatencyHistogram::percentileNeverExceedsTheLargestSample()
{
    QRandomGenerator random(99);
    LatencyHistogram histogram;
    for (int i = 0; i < 5000; ++i)
        histogram.record(qint64(random.bounded(1, 3'000'000)));
    qint64 previous = 0;
    for (double p : {0.1, 1.0, 10.0, 25.0, 50.0, 75.0, 90.0, 99.0, 99.9, 99.99, 100.0}) {
        const qint64 value = histogram.percentileUs(p);
        QVERIFY2(value <= histogram.maxUs(), qPrintable(describe(value, histogram.maxUs())));
        QVERIFY2(value >= histogram.minUs(), qPrintable(describe(value, histogram.minUs())));
        QVERIFY2(value >= previous, "percentiles must not decrease");
        previous = value;
    }
}

void TestLatencyHistogram::mergeEqualsRecordingEverything()
{
    QRandomGenerator random(2026);
    LatencyHistogram fast, slow, all;
    for (int i = 0; i < 20000; ++i) {
        const qint64 v = qint64(random.bounded(50, 5000));
        fast.record(v);
        all.record(v);
    }
    for (int i = 0; i < 3000; ++i) {
        const qint64 v = qint64(random.bounded(100000, 2000000));
        slow.record(v);
        all.record(v);
    }

    LatencyHistogram merged;
    merged.merge(fast);
    merged.merge(slow);
    QCOMPARE(merged.count(), all.count());
    QCOMPARE(merged.maxUs(), all.maxUs());
    QCOMPARE(merged.minUs(), all.minUs());
    QCOMPARE(merged.meanUs(), all.meanUs());
    for (double p : {1.0, 10.0, 50.0, 80.0, 86.0, 87.0, 90.0, 99.0, 99.9, 100.0})
        QCOMPARE(merged.percentileUs(p), all.percentileUs(p));

    // Merging in the other order gives the same answers.
    LatencyHistogram reversed = slow;
    reversed.merge(fast);
    for (double p : {50.0, 90.0, 99.0})
        QCOMPARE(reversed.percentileUs(p), all.percentileUs(p));
}

void TestLatencyHistogram::mergeWithEmptyChangesNothing()
{
    LatencyHistogram histogram = histogramOf(uniform(1000, 2000));
    const qint64 p50 = histogram.percentileUs(50);
    histogram.merge(LatencyHistogram());
    QCOMPARE(histogram.count(), quint64(1001));
    QCOMPARE(histogram.minUs(), qint64(1000));
    QCOMPARE(histogram.maxUs(), qint64(2000));
    QCOMPARE(histogram.percentileUs(50), p50);

    LatencyHistogram empty;
    empty.merge(histogram);
    QCOMPARE(empty.count(), quint64(1001));
    QCOMPARE(empty.minUs(), qint64(1000)); // not 0 from the empty side
    QCOMPARE(empty.percentileUs(50), p50);
}

void TestLatencyHistogram::emptyHistogramReportsZero()
{
    const LatencyHistogram histogram;
    QCOMPARE(histogram.count(), quint64(0));
    QCOMPARE(histogram.maxUs(), qint64(0));
    QCOMPARE(histogram.minUs(), qint64(0));
    QCOMPARE(histogram.meanUs(), 0.0);
    QCOMPARE(histogram.percentileUs(50), qint64(0));
    QCOMPARE(histogram.percentileUs(99), qint64(0));
    QCOMPARE(histogram.percentileUs(100), qint64(0));
}

void TestLatencyHistogram::negativeSampleCountsAsZero()
{
    LatencyHistogram histogram;
    histogram.record(-250); // clocks of two hosts disagreeing a little
    QCOMPARE(histogram.count(), quint64(1));
    QCOMPARE(histogram.minUs(), qint64(0));
    QCOMPARE(histogram.maxUs(), qint64(0));
    QCOMPARE(histogram.percentileUs(50), qint64(0));
    QCOMPARE(histogram.meanUs(), 0.0);

    histogram.record(1000);
    QCOMPARE(histogram.count(), quint64(2));
    QCOMPARE(histogram.minUs(), qint64(0));
    QCOMPARE(histogram.maxUs(), qint64(1000));
    QCOMPARE(histogram.meanUs(), 500.0);
}

void TestLatencyHistogram::resetEmptiesTheHistogram()
{
    LatencyHistogram histogram = histogramOf(uniform(1, 10000));
    histogram.reset();
    QCOMPARE(histogram.count(), quint64(0));
    QCOMPARE(histogram.maxUs(), qint64(0));
    QCOMPARE(histogram.percentileUs(50), qint64(0));

    histogram.record(42);
    QCOMPARE(histogram.percentileUs(50), qint64(42));
    QCOMPARE(histogram.minUs(), qint64(42));
}

void TestLatencyHistogram::hugeSamplesAreCountedAndMaxIsExact()
{
    LatencyHistogram histogram;
    const qint64 hour = qint64(3600) * 1000 * 1000;
    const qint64 beyondRange = qint64(1) << 50; // above the histogram's top bucket
    histogram.record(hour);
    histogram.record(beyondRange);
    QCOMPARE(histogram.count(), quint64(2));
    QCOMPARE(histogram.maxUs(), beyondRange);
    QCOMPARE(histogram.minUs(), hour);
    const qint64 p50 = histogram.percentileUs(50);
    QVERIFY2(std::abs(double(p50 - hour)) / double(hour) <= 0.02, qPrintable(describe(p50, hour)));
    QVERIFY(histogram.percentileUs(100) <= beyondRange);
}

void TestLatencyHistogram::jsonRoundTripKeepsEverySample()
{
    // What `bfg-probe merge` relies on: a histogram written by one probe and
    // read back by another answers every percentile alike.
    QRandomGenerator random(7);
    LatencyHistogram original;
    for (int i = 0; i < 5000; ++i)
        original.record(qint64(random.bounded(1, 3000000)));
    LatencyHistogram copy;
    QVERIFY(LatencyHistogram::fromJson(original.toJson(), &copy));
    QCOMPARE(copy.count(), original.count());
    QCOMPARE(copy.minUs(), original.minUs());
    QCOMPARE(copy.maxUs(), original.maxUs());
    QCOMPARE(copy.meanUs(), original.meanUs());
    for (double p : {1.0, 50.0, 90.0, 99.0, 99.9, 100.0})
        QCOMPARE(copy.percentileUs(p), original.percentileUs(p));

    LatencyHistogram empty;
    QVERIFY(LatencyHistogram::fromJson(LatencyHistogram().toJson(), &empty));
    QCOMPARE(empty.count(), quint64(0));
}

void TestLatencyHistogram::malformedJsonIsRefused_data()
{
    QTest::addColumn<QByteArray>("json");
    QTest::newRow("count disagrees with the buckets")
        << QByteArray(R"({"count": 3, "min_us": 1, "max_us": 1, "sum_us": 2, "buckets": [[1, 2]]})");
    QTest::newRow("bucket index out of range")
        << QByteArray(R"({"count": 1, "min_us": 1, "max_us": 1, "sum_us": 1, "buckets": [[99999999, 1]]})");
    QTest::newRow("negative count") << QByteArray(
        R"({"count": -1, "min_us": 1, "max_us": 1, "sum_us": 1, "buckets": [[1, -1]]})");
    QTest::newRow("not pairs") << QByteArray(
        R"({"count": 1, "min_us": 1, "max_us": 1, "sum_us": 1, "buckets": [[1, 1, 1]]})");
    QTest::newRow("max below min") << QByteArray(
        R"({"count": 1, "min_us": 5, "max_us": 1, "sum_us": 1, "buckets": [[1, 1]]})");
}

void TestLatencyHistogram::malformedJsonIsRefused()
{
    QFETCH(QByteArray, json);
    LatencyHistogram histogram;
    histogram.record(42);
    QVERIFY(!LatencyHistogram::fromJson(QJsonDocument::fromJson(json).object(), &histogram));
    QCOMPARE(histogram.count(), quint64(1)); // untouched
}

QTEST_GUILESS_MAIN(TestLatencyHistogram)
#include "tst_latencyhistogram.moc"
