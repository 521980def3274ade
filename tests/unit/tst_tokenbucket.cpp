// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 BFG developers
//
// The decision server's assignment bucket (DESIGN.md, "Load policy": bursts
// beyond a configured assignment rate get 429). A full bucket grants
// `burst` assignments at once, then one per 1/rate seconds; the wait it
// names is the time until the next token is really there. Time is
// injected, so nothing here sleeps.
#include <cmath>

#include <QTest>

#include "common/tokenbucket.h"

using bfg::TokenBucket;

namespace {
constexpr qint64 StartMs = 1'800'000'000'000; // ms since the Unix epoch, as the server passes them

// Takes tokens at `nowMs` until one is refused; returns how many were granted
// (at most `limit`).
int takeAll(TokenBucket &bucket, qint64 nowMs, int limit = 1'000'000)
{
    int granted = 0;
    while (granted < limit && bucket.take(nowMs) == 0)
        ++granted;
    return granted;
}

qint64 msPerToken(double ratePerSecond)
{
    return std::max<qint64>(1, qint64(std::ceil(1000.0 / ratePerSecond)));
}
} // namespace

class TestTokenBucket : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void fullBucketGrantsTheBurstThenRefuses_data();
    void fullBucketGrantsTheBurstThenRefuses();
    void refusalNamesTheWaitUntilTheNextToken_data();
    void refusalNamesTheWaitUntilTheNextToken();
    void refusedRequestsDoNotUseUpTokens();
    void tokensRefillAtTheRate_data();
    void tokensRefillAtTheRate();
    void neverHoldsMoreThanTheBurst_data();
    void neverHoldsMoreThanTheBurst();
    void clockGoingBackwardsGrantsNothingExtra();
    void zeroOrNegativeRateIsUnlimited_data();
    void zeroOrNegativeRateIsUnlimited();
    void reconfiguringCapsSavedTokensAtTheNewBurst();
    void reconfiguringToRateZeroLiftsTheLimit();
    void clockStartingAtZeroStillRefills();
    void takingSeveralTokensAtOnce();
    void keyedBucketsAreIndependentAndForgottenWhenFull();
    void reconfiguringAnUnlimitedBucketStartsItFull();
    void reconfiguringKeyedBucketsChangesEveryKey();
};

void TestTokenBucket::fullBucketGrantsTheBurstThenRefuses_data()
{
    QTest::addColumn<double>("rate");
    QTest::addColumn<double>("burst");
    QTest::addColumn<int>("granted");

    QTest::addRow("rate 1, burst 2 (the 429 integration test)") << 1.0 << 2.0 << 2;
    QTest::addRow("defaults: 2000/s, burst 2000") << 2000.0 << 2000.0 << 2000;
    QTest::addRow("burst smaller than the rate") << 100.0 << 10.0 << 10;
    QTest::addRow("burst larger than the rate") << 5.0 << 50.0 << 50;
    QTest::addRow("fractional rate") << 0.5 << 3.0 << 3;
    QTest::addRow("burst 0 still grants one") << 10.0 << 0.0 << 1;
    QTest::addRow("fractional burst rounds down") << 10.0 << 2.5 << 2;
}

void TestTokenBucket::fullBucketGrantsTheBurstThenRefuses()
{
    QFETCH(double, rate);
    QFETCH(double, burst);
    QFETCH(int, granted);

    TokenBucket bucket(rate, burst);
    QCOMPARE(takeAll(bucket, StartMs), granted);
    // Refused again and again at the same instant.
    for (int i = 0; i < 5; ++i)
        QVERIFY(bucket.take(StartMs) > 0);
}

void TestTokenBucket::refusalNamesTheWaitUntilTheNextToken_data()
{
    QTest::addColumn<double>("rate");
    QTest::addColumn<double>("burst");

    QTest::addRow("1 per second") << 1.0 << 2.0;
    QTest::addRow("2000 per second") << 2000.0 << 2000.0;
    QTest::addRow("10 per second") << 10.0 << 5.0;
    QTest::addRow("3 per second (wait not a whole ms)") << 3.0 << 1.0;
    QTest::addRow("7 per second") << 7.0 << 4.0;
    QTest::addRow("one every 4 seconds") << 0.25 << 1.0;
    QTest::addRow("faster than one per ms") << 5000.0 << 10.0;
}

void TestTokenBucket::refusalNamesTheWaitUntilTheNextToken()
{
    QFETCH(double, rate);
    QFETCH(double, burst);

    const qint64 expectedWait = msPerToken(rate);
    const auto emptied = [&] {
        TokenBucket bucket(rate, burst);
        takeAll(bucket, StartMs);
        return bucket;
    };

    TokenBucket bucket = emptied();
    const qint64 waitMs = bucket.take(StartMs);
    QCOMPARE(waitMs, expectedWait);

    // Coming back after the named wait gets a token ...
    TokenBucket patient = emptied();
    QCOMPARE(patient.take(StartMs + waitMs), 0);
    // ... one ms earlier does not, and the wait then named is what is left.
    if (waitMs > 1) {
        TokenBucket early = emptied();
        const qint64 remaining = early.take(StartMs + waitMs - 1);
        QVERIFY2(remaining >= 1 && remaining <= 2, qPrintable(QString::number(remaining)));
    }
}

void TestTokenBucket::refusedRequestsDoNotUseUpTokens()
{
    // A client hammering a limited server does not push everyone's wait out.
    TokenBucket bucket(1, 1);
    QCOMPARE(bucket.take(StartMs), 0);
    for (qint64 t = StartMs; t < StartMs + 1000; t += 250)
        QVERIFY(bucket.take(t) > 0);
    QCOMPARE(bucket.take(StartMs + 1000), 0);
}

void TestTokenBucket::tokensRefillAtTheRate_data()
{
    QTest::addColumn<double>("rate");
    QTest::addColumn<double>("burst");
    QTest::addColumn<qint64>("elapsedMs");
    QTest::addColumn<int>("granted");

    QTest::addRow("10/s, 300 ms later: 3") << 10.0 << 5.0 << qint64(300) << 3;
    QTest::addRow("10/s, 299 ms later: 2") << 10.0 << 5.0 << qint64(299) << 2;
    QTest::addRow("10/s, 1 s later: capped at burst 5") << 10.0 << 5.0 << qint64(1000) << 5;
    QTest::addRow("1/s, 1 s later: 1") << 1.0 << 2.0 << qint64(1000) << 1;
    QTest::addRow("1/s, 999 ms later: 0") << 1.0 << 2.0 << qint64(999) << 0;
    QTest::addRow("2000/s, 250 ms later: 500") << 2000.0 << 2000.0 << qint64(250) << 500;
    QTest::addRow("0.5/s, 4 s later: 2") << 0.5 << 10.0 << qint64(4000) << 2;
}

void TestTokenBucket::tokensRefillAtTheRate()
{
    QFETCH(double, rate);
    QFETCH(double, burst);
    QFETCH(qint64, elapsedMs);
    QFETCH(int, granted);

    TokenBucket bucket(rate, burst);
    takeAll(bucket, StartMs);
    QCOMPARE(takeAll(bucket, StartMs + elapsedMs), granted);
}

void TestTokenBucket::neverHoldsMoreThanTheBurst_data()
{
    QTest::addColumn<double>("rate");
    QTest::addColumn<double>("burst");
    QTest::addColumn<qint64>("idleMs");

    QTest::addRow("idle an hour") << 10.0 << 5.0 << qint64(3'600'000);
    QTest::addRow("idle a year at a high rate") << 2000.0 << 2000.0 << qint64(365LL * 24 * 3'600'000);
    QTest::addRow("idle exactly one burst's worth") << 100.0 << 20.0 << qint64(200);
}

void TestTokenBucket::neverHoldsMoreThanTheBurst()
{
    QFETCH(double, rate);
    QFETCH(double, burst);
    QFETCH(qint64, idleMs);

    TokenBucket bucket(rate, burst);
    QCOMPARE(takeAll(bucket, StartMs), int(burst));
    QCOMPARE(takeAll(bucket, StartMs + idleMs), int(burst));

    // Nearly full when it went idle: still only the burst.
    TokenBucket nearlyFull(rate, burst);
    QCOMPARE(nearlyFull.take(StartMs), 0);
    QCOMPARE(takeAll(nearlyFull, StartMs + idleMs), int(burst));
}

void TestTokenBucket::clockGoingBackwardsGrantsNothingExtra()
{
    TokenBucket bucket(10, 2);
    QCOMPARE(takeAll(bucket, StartMs), 2);
    // A step back (NTP) and forward again to the same instant is no refill.
    QVERIFY(bucket.take(StartMs - 5000) > 0);
    QVERIFY(bucket.take(StartMs) > 0);
    QCOMPARE(takeAll(bucket, StartMs + 100), 1);
}

void TestTokenBucket::zeroOrNegativeRateIsUnlimited_data()
{
    QTest::addColumn<double>("rate");
    QTest::addColumn<double>("burst");

    QTest::addRow("rate 0") << 0.0 << 2000.0;
    QTest::addRow("rate 0, burst 1") << 0.0 << 1.0;
    QTest::addRow("negative rate") << -1.0 << 5.0;
}

void TestTokenBucket::zeroOrNegativeRateIsUnlimited()
{
    QFETCH(double, rate);
    QFETCH(double, burst);

    TokenBucket bucket(rate, burst);
    QCOMPARE(takeAll(bucket, StartMs, 100'000), 100'000);
    QCOMPARE(takeAll(bucket, StartMs + 1, 100'000), 100'000);
}

void TestTokenBucket::reconfiguringCapsSavedTokensAtTheNewBurst()
{
    TokenBucket bucket(10, 100);
    bucket.configure(10, 3);
    QCOMPARE(takeAll(bucket, StartMs), 3);
    // And the new burst is the cap from now on.
    QCOMPARE(takeAll(bucket, StartMs + 60'000), 3);
}

void TestTokenBucket::reconfiguringToRateZeroLiftsTheLimit()
{
    TokenBucket bucket(1, 1);
    QCOMPARE(takeAll(bucket, StartMs), 1);
    bucket.configure(0, 1);
    QCOMPARE(takeAll(bucket, StartMs, 1000), 1000);
    bucket.configure(1, 1);
    QCOMPARE(takeAll(bucket, StartMs + 1000, 1000), 1);
}

void TestTokenBucket::clockStartingAtZeroStillRefills()
{
    // Time is injected: a monotonic clock (QElapsedTimer, a test's own) may
    // start at 0; the first second must refill like any other.
    TokenBucket bucket(1, 1);
    QCOMPARE(bucket.take(0), 0);
    QVERIFY(bucket.take(0) > 0);
    QCOMPARE(bucket.take(1000), 0);
}

void TestTokenBucket::takingSeveralTokensAtOnce()
{
    // Bytes a second: one frame takes as many tokens as it has bytes.
    bfg::TokenBucket bytes(1000, 2000);
    QCOMPARE(bytes.take(0, 1500), 0);
    QCOMPARE(bytes.take(0, 400), 0);
    QCOMPARE(bytes.take(0, 200), 100); // 100 short: 100 ms at 1000/s
    QCOMPARE(bytes.take(100, 200), 0);
    // More than a burst at once waits for a full bucket, then goes through.
    bfg::TokenBucket small(1000, 100);
    QCOMPARE(small.take(0, 5000), 0);
    QVERIFY(small.take(0, 5000) > 0);
}

void TestTokenBucket::keyedBucketsAreIndependentAndForgottenWhenFull()
{
    bfg::KeyedTokenBuckets buckets(2, 2); // 2 a second per key, full again after 1 s
    QCOMPARE(buckets.take("10.0.0.1", 0), 0);
    QCOMPARE(buckets.take("10.0.0.1", 0), 0);
    QCOMPARE(buckets.take("10.0.0.1", 0), 500);
    QCOMPARE(buckets.take("10.0.0.2", 0), 0); // another key has its own
    QCOMPARE(buckets.size(), 2);
    // Idle past the refill time: forgotten, and as full as if remembered.
    QCOMPARE(buckets.take("10.0.0.3", 5000), 0);
    QCOMPARE(buckets.size(), 1);
    QCOMPARE(buckets.take("10.0.0.1", 5000), 0);
    QCOMPARE(buckets.take("10.0.0.1", 5000), 0);
    QCOMPARE(buckets.take("10.0.0.1", 5000), 500);
    bfg::KeyedTokenBuckets unlimited(0, 1);
    for (int i = 0; i < 100; ++i)
        QCOMPARE(unlimited.take("k", 0), 0);
    QCOMPARE(unlimited.size(), 0);
}

void TestTokenBucket::reconfiguringAnUnlimitedBucketStartsItFull()
{
    // A reload setting a limit where there was none: the client gets a
    // whole burst, not the single token an unlimited bucket kept.
    TokenBucket bucket(0, 1);
    QCOMPARE(takeAll(bucket, StartMs, 1000), 1000);
    bucket.configure(10, 20);
    QCOMPARE(takeAll(bucket, StartMs), 20);
    QCOMPARE(takeAll(bucket, StartMs + 100), 1);
}

void TestTokenBucket::reconfiguringKeyedBucketsChangesEveryKey()
{
    bfg::KeyedTokenBuckets buckets(100, 100);
    QCOMPARE(buckets.take("seen", StartMs), 0);
    buckets.configure(1, 2);
    // A key seen before keeps at most the new burst; a new key gets the new one.
    QCOMPARE(buckets.take("seen", StartMs), 0);
    QCOMPARE(buckets.take("seen", StartMs), 0);
    QVERIFY(buckets.take("seen", StartMs) > 0);
    QCOMPARE(buckets.take("new", StartMs), 0);
    QCOMPARE(buckets.take("new", StartMs), 0);
    QCOMPARE(buckets.take("new", StartMs), 1000);
    // Lifted: every key unlimited.
    buckets.configure(0, 1);
    for (int i = 0; i < 100; ++i)
        QCOMPARE(buckets.take("seen", StartMs), 0);
}

QTEST_GUILESS_MAIN(TestTokenBucket)
#include "tst_tokenbucket.moc"
