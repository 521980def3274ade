// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 BFG developers
//
// Reconnect backoff with full jitter: the n-th delay is uniform in
// [0, min(cap, base * 2^n)], and clients that failed together spread out.
#include <algorithm>

#include <QRandomGenerator>
#include <QSet>
#include <QTest>

#include "common/backoff.h"

using bfg::Backoff;

namespace {
qint64 expectedCeiling(qint64 base, qint64 cap, int attempt)
{
    qint64 ceiling = base;
    for (int i = 0; i < attempt && ceiling < cap; ++i)
        ceiling *= 2;
    return std::min(ceiling, cap);
}
} // namespace

class TestBackoff : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void everyDelayStaysUnderItsCeiling_data();
    void everyDelayStaysUnderItsCeiling();
    void ceilingDoublesThenStopsAtCap();
    void ceilingStaysAtCapAfterManyAttempts();
    void resetStartsAgainFromBase();
    void delaysAreJitteredOverTheWholeRange();
    void sameSeedGivesSameDelays();
    void defaultsMatchTheClientRules();
};

void TestBackoff::everyDelayStaysUnderItsCeiling_data()
{
    QTest::addColumn<int>("baseMs");
    QTest::addColumn<int>("capMs");
    QTest::addColumn<int>("effectiveCapMs");

    QTest::addRow("client defaults 250 ms .. 30 s") << 250 << 30000 << 30000;
    QTest::addRow("cap not a power-of-two multiple") << 100 << 1000 << 1000;
    QTest::addRow("cap equals base") << 500 << 500 << 500;
    QTest::addRow("cap below base is raised to base") << 1000 << 10 << 1000;
    QTest::addRow("one millisecond base") << 1 << 64 << 64;
    QTest::addRow("large cap") << 250 << 24 * 3600 * 1000 << 24 * 3600 * 1000;
}

void TestBackoff::everyDelayStaysUnderItsCeiling()
{
    QFETCH(int, baseMs);
    QFETCH(int, capMs);
    QFETCH(int, effectiveCapMs);

    QRandomGenerator random(12345);
    Backoff backoff(baseMs, capMs, &random);
    for (int attempt = 0; attempt < 60; ++attempt) {
        const qint64 ceiling = expectedCeiling(baseMs, effectiveCapMs, attempt);
        QCOMPARE(backoff.attempts(), attempt);
        QCOMPARE(qint64(backoff.currentCeilingMs()), ceiling);
        for (int draw = 0; draw < 20; ++draw) {
            Backoff probe = backoff; // draw at this attempt without advancing `backoff`
            const int delay = probe.nextDelayMs();
            QVERIFY2(delay >= 0 && delay <= ceiling,
                     qPrintable(QStringLiteral("attempt %1: delay %2 outside [0, %3]")
                                    .arg(attempt)
                                    .arg(delay)
                                    .arg(ceiling)));
        }
        const int delay = backoff.nextDelayMs();
        QVERIFY(delay >= 0 && delay <= ceiling);
    }
}

void TestBackoff::ceilingDoublesThenStopsAtCap()
{
    QRandomGenerator random(1);
    Backoff backoff(250, 30000, &random);
    const QList<int> expected{250, 500, 1000, 2000, 4000, 8000, 16000, 30000, 30000, 30000};
    QList<int> ceilings;
    for (int i = 0; i < expected.size(); ++i) {
        ceilings.append(backoff.currentCeilingMs());
        backoff.nextDelayMs();
    }
    QCOMPARE(ceilings, expected);
}

void TestBackoff::ceilingStaysAtCapAfterManyAttempts()
{
    // 2^n would overflow long before this many attempts.
    QRandomGenerator random(2);
    Backoff backoff(250, 30000, &random);
    for (int i = 0; i < 10000; ++i) {
        const int delay = backoff.nextDelayMs();
        QVERIFY(delay >= 0 && delay <= 30000);
    }
    QCOMPARE(backoff.attempts(), 10000);
    QCOMPARE(backoff.currentCeilingMs(), 30000);
}

void TestBackoff::resetStartsAgainFromBase()
{
    QRandomGenerator random(3);
    Backoff backoff(250, 30000, &random);
    for (int i = 0; i < 6; ++i)
        backoff.nextDelayMs();
    QCOMPARE(backoff.currentCeilingMs(), 16000);

    backoff.reset();
    QCOMPARE(backoff.attempts(), 0);
    QCOMPARE(backoff.currentCeilingMs(), 250);
    for (int i = 0; i < 100; ++i) {
        Backoff probe = backoff;
        QVERIFY(probe.nextDelayMs() <= 250);
    }
    backoff.nextDelayMs();
    QCOMPARE(backoff.currentCeilingMs(), 500);
}

void TestBackoff::delaysAreJitteredOverTheWholeRange()
{
    // base == cap: every draw is from the same [0, 1000] range.
    QRandomGenerator random(42);
    Backoff backoff(1000, 1000, &random);
    int low = 0;
    int high = 0;
    int minDelay = 1000;
    int maxDelay = 0;
    qint64 sum = 0;
    QSet<int> distinct;
    constexpr int Draws = 1000;
    for (int i = 0; i < Draws; ++i) {
        const int delay = backoff.nextDelayMs();
        QVERIFY(delay >= 0 && delay <= 1000);
        (delay < 500 ? low : high)++;
        minDelay = std::min(minDelay, delay);
        maxDelay = std::max(maxDelay, delay);
        sum += delay;
        distinct.insert(delay);
    }
    QVERIFY2(low > 300 && high > 300, qPrintable(QStringLiteral("low %1 high %2").arg(low).arg(high)));
    QVERIFY(minDelay < 100);
    QVERIFY(maxDelay > 900);
    QVERIFY(distinct.size() > 400);
    const double mean = double(sum) / Draws;
    QVERIFY2(mean > 400 && mean < 600, qPrintable(QString::number(mean)));
}

void TestBackoff::sameSeedGivesSameDelays()
{
    QRandomGenerator first(7);
    QRandomGenerator second(7);
    QRandomGenerator other(8);
    Backoff a(250, 30000, &first);
    Backoff b(250, 30000, &second);
    Backoff c(250, 30000, &other);
    QList<int> delaysA, delaysB, delaysC;
    for (int i = 0; i < 20; ++i) {
        delaysA.append(a.nextDelayMs());
        delaysB.append(b.nextDelayMs());
        delaysC.append(c.nextDelayMs());
    }
    QCOMPARE(delaysA, delaysB);
    QVERIFY(delaysA != delaysC);
}

void TestBackoff::defaultsMatchTheClientRules()
{
    Backoff backoff;
    QCOMPARE(Backoff::DefaultBaseMs, 250);
    QCOMPARE(Backoff::DefaultCapMs, 30000);
    QCOMPARE(backoff.currentCeilingMs(), 250);
    QVERIFY(backoff.nextDelayMs() <= 250);
}

QTEST_GUILESS_MAIN(TestBackoff)
#include "tst_backoff.moc"
