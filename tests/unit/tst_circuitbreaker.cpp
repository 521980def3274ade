// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 BFG developers
//
// The circuit breaker in front of the Redis broker's publishes
// (daemon/broker/circuitbreaker.h): closed until `threshold` failures in a
// row, open (refusing) for the cool-down, then one probe at a time; the
// probe's success closes it, its failure opens it again for twice as long,
// up to the cap. Time is passed in, so the tests need no clock.
#include <QTest>

#include "daemon/broker/circuitbreaker.h"

using bfg::CircuitBreaker;
using State = bfg::CircuitBreaker::State;

namespace {
constexpr qint64 T0 = 1'000'000; // an arbitrary "now", in ms

// Fails `count` calls at `nowMs`, each let through first.
void failCalls(CircuitBreaker &breaker, int count, qint64 nowMs)
{
    for (int i = 0; i < count; ++i) {
        QVERIFY(breaker.allow(nowMs));
        breaker.recordFailure(nowMs);
    }
}
} // namespace

class TestCircuitBreaker : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void startsClosedAndLetsCallsThrough();
    void opensAfterThresholdFailuresInARow_data();
    void opensAfterThresholdFailuresInARow();
    void successResetsTheFailureCount();
    void openRefusesUntilTheCoolDownEnds();
    void halfOpenLetsExactlyOneProbeThrough();
    void probeSuccessCloses();
    void probeFailureReopensWithDoubledCoolDown_data();
    void probeFailureReopensWithDoubledCoolDown();
    void lateFailuresWhileOpenDoNotExtendIt();
    void tripOpensAtOnce();
    void tripWhileOpenKeepsTheProbeTime();
    void tripDuringAProbeWaitsForItsOutcome();
    void nonsenseSettingsAreClamped();
};

void TestCircuitBreaker::startsClosedAndLetsCallsThrough()
{
    CircuitBreaker breaker;
    QCOMPARE(breaker.state(T0), State::Closed);
    for (int i = 0; i < 100; ++i)
        QVERIFY(breaker.allow(T0 + i));
    QCOMPARE(breaker.state(T0 + 100), State::Closed);
}

void TestCircuitBreaker::opensAfterThresholdFailuresInARow_data()
{
    QTest::addColumn<int>("threshold");
    QTest::addRow("one") << 1;
    QTest::addRow("three (the default)") << 3;
    QTest::addRow("ten") << 10;
}

void TestCircuitBreaker::opensAfterThresholdFailuresInARow()
{
    QFETCH(int, threshold);
    CircuitBreaker breaker(threshold, 500, 8000);

    failCalls(breaker, threshold - 1, T0);
    QCOMPARE(breaker.state(T0), State::Closed);
    QVERIFY(breaker.allow(T0)); // one short of the threshold: still closed

    breaker.recordFailure(T0);
    QCOMPARE(breaker.state(T0), State::Open);
    QVERIFY(!breaker.allow(T0));
    QCOMPARE(breaker.openUntilMs(), T0 + 500);
}

void TestCircuitBreaker::successResetsTheFailureCount()
{
    CircuitBreaker breaker(3, 500, 8000);
    failCalls(breaker, 2, T0);
    QVERIFY(breaker.allow(T0));
    breaker.recordSuccess();

    // The count starts over: two more failures do not open it ...
    failCalls(breaker, 2, T0 + 1);
    QCOMPARE(breaker.state(T0 + 1), State::Closed);
    QVERIFY(breaker.allow(T0 + 1));
    // ... the third in a row does.
    breaker.recordFailure(T0 + 1);
    QCOMPARE(breaker.state(T0 + 1), State::Open);
}

void TestCircuitBreaker::openRefusesUntilTheCoolDownEnds()
{
    CircuitBreaker breaker(3, 500, 8000);
    failCalls(breaker, 3, T0);
    QCOMPARE(breaker.openUntilMs(), T0 + 500);

    for (qint64 t : {T0, T0 + 1, T0 + 250, T0 + 499}) {
        QCOMPARE(breaker.state(t), State::Open);
        QVERIFY2(!breaker.allow(t), qPrintable(QString::number(t - T0)));
    }
    QCOMPARE(breaker.state(T0 + 500), State::HalfOpen);
    QCOMPARE(breaker.state(T0 + 60'000), State::HalfOpen); // stays half-open until a probe
}

void TestCircuitBreaker::halfOpenLetsExactlyOneProbeThrough()
{
    CircuitBreaker breaker(3, 500, 8000);
    failCalls(breaker, 3, T0);

    QVERIFY(breaker.allow(T0 + 500)); // the probe
    // Everyone else waits for its outcome, however long it takes.
    for (qint64 t : {T0 + 500, T0 + 501, T0 + 5'000, T0 + 600'000})
        QVERIFY2(!breaker.allow(t), qPrintable(QString::number(t - T0)));
}

void TestCircuitBreaker::probeSuccessCloses()
{
    CircuitBreaker breaker(3, 500, 8000);
    failCalls(breaker, 3, T0);
    QVERIFY(breaker.allow(T0 + 500));
    breaker.recordSuccess();

    QCOMPARE(breaker.state(T0 + 500), State::Closed);
    for (int i = 0; i < 10; ++i)
        QVERIFY(breaker.allow(T0 + 500));

    // Closed for real: it takes the threshold again to open it, and the
    // cool-down is back to its base.
    const qint64 later = T0 + 10'000;
    failCalls(breaker, 2, later);
    QCOMPARE(breaker.state(later), State::Closed);
    failCalls(breaker, 1, later);
    QCOMPARE(breaker.state(later), State::Open);
    QCOMPARE(breaker.openUntilMs(), later + 500);
}

void TestCircuitBreaker::probeFailureReopensWithDoubledCoolDown_data()
{
    QTest::addColumn<int>("coolDownMs");
    QTest::addColumn<int>("maxCoolDownMs");
    QTest::addColumn<QList<int>>("coolDowns"); // the first opening, then after each failed probe

    QTest::addRow("powers of two up to the cap")
        << 500 << 8000 << QList<int>{500, 1000, 2000, 4000, 8000, 8000, 8000};
    QTest::addRow("cap between two doublings") << 300 << 1000 << QList<int>{300, 600, 1000, 1000};
    QTest::addRow("cap equals the base") << 700 << 700 << QList<int>{700, 700, 700};
}

void TestCircuitBreaker::probeFailureReopensWithDoubledCoolDown()
{
    QFETCH(int, coolDownMs);
    QFETCH(int, maxCoolDownMs);
    QFETCH(QList<int>, coolDowns);

    CircuitBreaker breaker(3, coolDownMs, maxCoolDownMs);
    qint64 now = T0;
    failCalls(breaker, 3, now);
    for (qsizetype i = 0; i < coolDowns.size(); ++i) {
        const int expected = coolDowns[i];
        QCOMPARE(breaker.openUntilMs(), now + expected);
        QCOMPARE(breaker.state(now + expected - 1), State::Open);
        QVERIFY(!breaker.allow(now + expected - 1));
        // The probe goes at the end of the cool-down, and fails a bit later.
        now += expected;
        QCOMPARE(breaker.state(now), State::HalfOpen);
        QVERIFY(breaker.allow(now));
        QVERIFY(!breaker.allow(now));
        now += 7;
        breaker.recordFailure(now);
        QCOMPARE(breaker.state(now), State::Open);
    }

    // A successful probe closes it and forgets the doubling.
    now = breaker.openUntilMs();
    QVERIFY(breaker.allow(now));
    breaker.recordSuccess();
    failCalls(breaker, 3, now);
    QCOMPARE(breaker.openUntilMs(), now + coolDownMs);
}

void TestCircuitBreaker::lateFailuresWhileOpenDoNotExtendIt()
{
    // Calls let through before it opened may fail afterwards (timeouts):
    // they neither push the probe back nor double the next cool-down.
    CircuitBreaker breaker(3, 500, 8000);
    failCalls(breaker, 3, T0);
    breaker.recordFailure(T0 + 100);
    breaker.recordFailure(T0 + 400);
    QCOMPARE(breaker.openUntilMs(), T0 + 500);
    QVERIFY(breaker.allow(T0 + 500));
    breaker.recordFailure(T0 + 510);
    QCOMPARE(breaker.openUntilMs(), T0 + 510 + 1000);
}

void TestCircuitBreaker::tripOpensAtOnce()
{
    CircuitBreaker breaker(3, 500, 8000);
    QVERIFY(breaker.allow(T0));
    breaker.trip(T0);
    QCOMPARE(breaker.state(T0), State::Open);
    QVERIFY(!breaker.allow(T0));
    QCOMPARE(breaker.openUntilMs(), T0 + 500);

    // Then it behaves like any open breaker: one probe, whose success closes it.
    QVERIFY(!breaker.allow(T0 + 499));
    QVERIFY(breaker.allow(T0 + 500));
    QVERIFY(!breaker.allow(T0 + 500));
    breaker.recordSuccess();
    QCOMPARE(breaker.state(T0 + 500), State::Closed);
    QVERIFY(breaker.allow(T0 + 500));
}

void TestCircuitBreaker::tripWhileOpenKeepsTheProbeTime()
{
    CircuitBreaker breaker(3, 500, 8000);
    breaker.trip(T0);
    breaker.trip(T0 + 300); // another lost connection while open
    QCOMPARE(breaker.openUntilMs(), T0 + 500);
    QCOMPARE(breaker.state(T0 + 500), State::HalfOpen);
}

void TestCircuitBreaker::tripDuringAProbeWaitsForItsOutcome()
{
    CircuitBreaker breaker(3, 500, 8000);
    breaker.trip(T0);
    QVERIFY(breaker.allow(T0 + 500)); // the probe
    breaker.trip(T0 + 510);
    QVERIFY(!breaker.allow(T0 + 520)); // still one probe at a time
    breaker.recordFailure(T0 + 530);   // it failed: open twice as long
    QCOMPARE(breaker.state(T0 + 530), State::Open);
    QCOMPARE(breaker.openUntilMs(), T0 + 530 + 1000);
}

void TestCircuitBreaker::nonsenseSettingsAreClamped()
{
    // A threshold below one still needs one failure; a cap below the base
    // is the base.
    CircuitBreaker breaker(0, 400, 100);
    QVERIFY(breaker.allow(T0));
    QCOMPARE(breaker.state(T0), State::Closed);
    failCalls(breaker, 1, T0);
    QCOMPARE(breaker.state(T0), State::Open);
    QCOMPARE(breaker.openUntilMs(), T0 + 400);
    QVERIFY(breaker.allow(T0 + 400));
    breaker.recordFailure(T0 + 400);
    QCOMPARE(breaker.openUntilMs(), T0 + 800);
}

QTEST_APPLESS_MAIN(TestCircuitBreaker)
#include "tst_circuitbreaker.moc"
