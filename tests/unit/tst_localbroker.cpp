// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 BFG developers
//
// The local broker's contract (daemon/broker/broker.h): sequence numbers
// without gaps, live delivery in order, resume from a position inside the
// history window (and an honest recovered=false outside it), idempotent
// publish, and history that survives a restart on the same database.
#include <atomic>
#include <mutex>
#include <thread>

#include <QFile>
#include <QLoggingCategory>
#include <QSqlDatabase>
#include <QSqlError>
#include <QSqlQuery>
#include <QTemporaryDir>
#include <QTest>
#include <QThread>

#include "bfg/v1/frames.pb.h"
#include "common/protocol.h"
#include "common/websocket.h"
#include "daemon/broker/localbroker.h"
#include "tests/support/brokertesting.h"

using namespace Qt::Literals::StringLiterals;
using bfg::LocalBroker;
using bfg::LocalBrokerOptions;
using bfg::MessagePtr;
using bfg::PublishItem;
using bfg::PublishResult;
using bfg::StreamPoint;
using bfg::Subscription;
using bfg::test::Collector;
using bfg::test::items;
using bfg::test::publish;
using bfg::test::publishAsync;
using bfg::test::PublishOutcome;
using bfg::test::range;
using bfg::test::seqsOf;

namespace {
constexpr int WaitMs = 10000;

void removeDatabase(const QString &path)
{
    for (const QString &suffix : {QString(), u"-wal"_s, u"-shm"_s, u"-journal"_s})
        QFile::remove(path + suffix);
}
} // namespace

class TestLocalBroker : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void initTestCase();
    void init();
    void cleanup();

    void publishNumbersMessagesFromOneInOneEpoch();
    void streamsAreNumberedIndependently();
    void publishAnswersOnTheContextThreadAfterDelivery();
    void liveSubscriberGetsEveryMessageInOrder();
    void deliveredFrameIsTheEncodedMessage();
    void unsubscribeStopsDeliveryAndIsCounted();
    void resumeReplaysWhatCameAfterThePosition_data();
    void resumeReplaysWhatCameAfterThePosition();
    void resumeOutsideTheHistoryWindowIsNotRecovered_data();
    void resumeOutsideTheHistoryWindowIsNotRecovered();
    void resumeWithAnotherEpoch_data();
    void resumeWithAnotherEpoch();
    void resumeWhilePublishingLosesNothing();
    void samePublishIdGetsTheOriginalSeq();
    void messagesOlderThanTheAgeWindowAreNotReplayed();
    void restartKeepsEpochHistoryAndSequence();
    void restartKeepsTheCountWindow();
    void diskKeepsTheAgeWindowOnly();
    void crashBetweenPositionWritesLosesNoSeq();
    void positionsCatchUpWithALogAheadOfThem();
    void historyOfAnEarlierVersionIsMigrated();
    void lostDatabaseStartsANewEpoch();
    void publishAfterStopFails();

private:
    LocalBrokerOptions options(int historySize = 100, int historyAgeSeconds = 300) const;
    // Rows in the history file's messages table (-1: unreadable).
    int storedMessages(const QString &path = {}) const;
    // Publishes seq 1 to 5 to user:alice one at a time and copies the broker's
    // files into `copy` while it runs (every publish committed): what a crash
    // leaves. Stream positions after the first message wait a second, so the
    // copy's stored position is 1 and its log holds 5.
    bool crashAfterFive(const QTemporaryDir &copy, QString *epoch);

    std::unique_ptr<QTemporaryDir> m_dir;
};

void TestLocalBroker::initTestCase()
{
    // The broker logs every start; the test output is easier to read without.
    QLoggingCategory::setFilterRules(u"bfg.*.info=false"_s);
}

void TestLocalBroker::init()
{
    m_dir = std::make_unique<QTemporaryDir>();
    QVERIFY(m_dir->isValid());
}

void TestLocalBroker::cleanup()
{
    m_dir.reset();
}

LocalBrokerOptions TestLocalBroker::options(int historySize, int historyAgeSeconds) const
{
    LocalBrokerOptions options;
    options.databasePath = m_dir->filePath(u"history.sqlite"_s);
    options.historySize = historySize;
    options.historyAgeSeconds = historyAgeSeconds;
    return options;
}

int TestLocalBroker::storedMessages(const QString &path) const
{
    int count = -1;
    {
        QSqlDatabase db = QSqlDatabase::addDatabase(u"QSQLITE"_s, u"peek"_s);
        db.setDatabaseName(path.isEmpty() ? options().databasePath : path);
        QSqlQuery query(db);
        if (db.open() && query.exec(u"SELECT count(*) FROM messages"_s) && query.next())
            count = query.value(0).toInt();
    }
    QSqlDatabase::removeDatabase(u"peek"_s);
    return count;
}

void TestLocalBroker::publishNumbersMessagesFromOneInOneEpoch()
{
    LocalBroker broker(options());
    QString error;
    QVERIFY2(broker.start(&error), qPrintable(error));

    std::vector<PublishResult> results;
    QVERIFY(publish(broker, items(u"user:alice"_s, 1, 5), this, &results));
    QCOMPARE(results.size(), size_t(5));
    const QString epoch = results.front().epoch;
    QVERIFY(!epoch.isEmpty());
    for (size_t i = 0; i < results.size(); ++i) {
        QCOMPARE(results[i].stream, u"user:alice"_s);
        QCOMPARE(results[i].seq, quint64(i + 1));
        QCOMPARE(results[i].epoch, epoch);
        QVERIFY(!results[i].duplicate);
    }

    QVERIFY(publish(broker, items(u"user:alice"_s, 6, 6), this, &results));
    QCOMPARE(results.size(), size_t(1));
    QCOMPARE(results.front().seq, quint64(6));
    QCOMPARE(results.front().epoch, epoch);
}

void TestLocalBroker::streamsAreNumberedIndependently()
{
    LocalBroker broker(options());
    QString error;
    QVERIFY2(broker.start(&error), qPrintable(error));

    std::vector<PublishItem> mixed{{u"user:a"_s, "1", {}}, {u"user:b"_s, "1", {}}, {u"user:a"_s, "2", {}},
                                   {u"room:x"_s, "1", {}}, {u"user:a"_s, "3", {}}, {u"user:b"_s, "2", {}}};
    std::vector<PublishResult> results;
    QVERIFY(publish(broker, mixed, this, &results));
    QCOMPARE(results.size(), mixed.size());
    // Results come in the order of the items, each numbered in its stream.
    const QList<quint64> expected{1, 1, 2, 1, 3, 2};
    for (size_t i = 0; i < results.size(); ++i) {
        QCOMPARE(results[i].stream, mixed[i].stream);
        QCOMPARE(results[i].seq, expected[qsizetype(i)]);
    }
    QCOMPARE(results[0].epoch, results[2].epoch);
    QVERIFY(results[0].epoch != results[1].epoch); // epochs are per stream
}

void TestLocalBroker::publishAnswersOnTheContextThreadAfterDelivery()
{
    LocalBroker broker(options());
    QString error;
    QVERIFY2(broker.start(&error), qPrintable(error));
    Collector collector;
    broker.subscribeNow(u"user:alice"_s, std::nullopt, &collector);

    // A context living in another thread gets its answer there.
    QThread thread;
    QObject context;
    context.moveToThread(&thread);
    thread.start();
    const auto outcome = publishAsync(broker, items(u"user:alice"_s, 1, 3), &context);
    QTRY_VERIFY_WITH_TIMEOUT(outcome->calls.load() > 0, WaitMs);
    QCOMPARE(outcome->thread, &thread);
    QVERIFY(outcome->error.isEmpty());
    thread.quit();
    QVERIFY(thread.wait(WaitMs));

    // And by the time a publisher hears "stored", subscribers have it.
    QCOMPARE(collector.count(), 3);
    const auto local = publishAsync(broker, items(u"user:alice"_s, 4, 4), this);
    QTRY_VERIFY_WITH_TIMEOUT(local->calls.load() > 0, WaitMs);
    QCOMPARE(local->thread, QThread::currentThread());
    QCOMPARE(collector.count(), 4);
    broker.unsubscribe(u"user:alice"_s, &collector);
}

void TestLocalBroker::liveSubscriberGetsEveryMessageInOrder()
{
    LocalBroker broker(options(1000));
    QString error;
    QVERIFY2(broker.start(&error), qPrintable(error));

    Collector collector;
    const Subscription subscription = broker.subscribeNow(u"user:alice"_s, std::nullopt, &collector);
    QVERIFY(!subscription.epoch.isEmpty());
    QCOMPARE(subscription.seq, quint64(0));
    QVERIFY(subscription.recovered);
    QVERIFY(subscription.replay.empty());

    // Many publishes in flight at once: the writer batches them.
    constexpr int Count = 200;
    std::vector<std::shared_ptr<PublishOutcome>> outcomes;
    for (int i = 1; i <= Count; ++i)
        outcomes.push_back(publishAsync(broker, items(u"user:alice"_s, i, i), this));
    QTRY_COMPARE_WITH_TIMEOUT(collector.count(), Count, WaitMs);
    QTRY_VERIFY_WITH_TIMEOUT(outcomes.back()->calls.load() > 0, WaitMs);

    const std::vector<MessagePtr> messages = collector.messages();
    QCOMPARE(seqsOf(messages), range(1, Count));
    for (int i = 0; i < Count; ++i) {
        QCOMPARE(messages[size_t(i)]->epoch, subscription.epoch);
        QCOMPARE(messages[size_t(i)]->stream, u"user:alice"_s);
        QCOMPARE(messages[size_t(i)]->payload, u"payload %1"_s.arg(i + 1).toUtf8());
        QCOMPARE(outcomes[size_t(i)]->results.front().seq, quint64(i + 1));
    }
    broker.unsubscribe(u"user:alice"_s, &collector);
}

void TestLocalBroker::deliveredFrameIsTheEncodedMessage()
{
    LocalBroker broker(options());
    QString error;
    QVERIFY2(broker.start(&error), qPrintable(error));
    Collector collector;
    broker.subscribeNow(u"fx:EURUSD"_s, std::nullopt, &collector);

    const qint64 before = bfg::protocol::nowUs();
    const QByteArray payload("\x00\x01\xfe\xff", 4);
    QVERIFY(publish(broker, {{u"fx:EURUSD"_s, payload, u"tick-1"_s}}, this));
    QCOMPARE(collector.count(), 1);
    const MessagePtr message = collector.messages().front();
    QVERIFY(message->publishTimeUs >= before);
    QVERIFY(message->publishTimeUs <= bfg::protocol::nowUs());

    bfg::v1::ServerFrame frame;
    QVERIFY(bfg::protocol::decode(bfg::websocket::payloadOf(message->wire), &frame));
    QCOMPARE(frame.kind_case(), bfg::v1::ServerFrame::kMessage);
    QCOMPARE(QString::fromStdString(frame.message().stream()), u"fx:EURUSD"_s);
    QCOMPARE(frame.message().seq(), quint64(1));
    QCOMPARE(QString::fromStdString(frame.message().epoch()), message->epoch);
    QCOMPARE(QString::fromStdString(frame.message().id()), u"tick-1"_s);
    QCOMPARE(frame.message().publish_time_us(), message->publishTimeUs);
    QCOMPARE(QByteArray::fromStdString(frame.message().payload()), payload);
    broker.unsubscribe(u"fx:EURUSD"_s, &collector);
}

void TestLocalBroker::unsubscribeStopsDeliveryAndIsCounted()
{
    LocalBroker broker(options());
    QString error;
    QVERIFY2(broker.start(&error), qPrintable(error));
    Collector collector;
    const QString stream = u"room:lobby"_s;

    broker.subscribeNow(stream, std::nullopt, &collector);
    broker.subscribeNow(stream, std::nullopt, &collector); // two sessions on one worker
    QVERIFY(publish(broker, items(stream, 1, 1), this));
    QCOMPARE(collector.count(), 1); // once per subscriber, not per subscription

    broker.unsubscribe(stream, &collector);
    QVERIFY(publish(broker, items(stream, 2, 2), this));
    QCOMPARE(collector.count(), 2); // still subscribed once

    broker.unsubscribe(stream, &collector);
    QVERIFY(publish(broker, items(stream, 3, 3), this));
    QCOMPARE(collector.count(), 2);
    broker.unsubscribe(stream, &collector); // one too many: harmless
    broker.unsubscribe(u"room:never"_s, &collector);
}

void TestLocalBroker::resumeReplaysWhatCameAfterThePosition_data()
{
    QTest::addColumn<quint64>("from");
    QTest::addColumn<bool>("recovered");
    QTest::addColumn<QList<quint64>>("replay");

    QTest::addRow("from the start") << quint64(0) << true << range(1, 10);
    QTest::addRow("after the first") << quint64(1) << true << range(2, 10);
    QTest::addRow("in the middle") << quint64(4) << true << range(5, 10);
    QTest::addRow("one behind") << quint64(9) << true << range(10, 10);
    QTest::addRow("up to date") << quint64(10) << true << QList<quint64>{};
    QTest::addRow("ahead of the stream") << quint64(15) << false << QList<quint64>{};
}

void TestLocalBroker::resumeReplaysWhatCameAfterThePosition()
{
    QFETCH(quint64, from);
    QFETCH(bool, recovered);
    QFETCH(QList<quint64>, replay);

    LocalBroker broker(options());
    QString error;
    QVERIFY2(broker.start(&error), qPrintable(error));
    std::vector<PublishResult> results;
    QVERIFY(publish(broker, items(u"user:alice"_s, 1, 10), this, &results));
    const QString epoch = results.front().epoch;

    Collector collector;
    const Subscription subscription =
        broker.subscribeNow(u"user:alice"_s, StreamPoint{epoch, from}, &collector);
    QCOMPARE(subscription.epoch, epoch);
    QCOMPARE(subscription.seq, quint64(10));
    QCOMPARE(subscription.recovered, recovered);
    QCOMPARE(seqsOf(subscription.replay), replay);
    for (const MessagePtr &message : subscription.replay)
        QCOMPARE(message->payload, u"payload %1"_s.arg(message->seq).toUtf8());

    // Live delivery continues after the replay.
    QVERIFY(publish(broker, items(u"user:alice"_s, 11, 11), this, &results));
    QCOMPARE(results.front().seq, quint64(11));
    QCOMPARE(seqsOf(collector.messages()), QList<quint64>{11});
    broker.unsubscribe(u"user:alice"_s, &collector);
}

void TestLocalBroker::resumeOutsideTheHistoryWindowIsNotRecovered_data()
{
    QTest::addColumn<quint64>("from");
    QTest::addColumn<bool>("recovered");
    QTest::addColumn<QList<quint64>>("replay");

    // historySize 10, 25 published: 16..25 are kept.
    QTest::addRow("far behind the window") << quint64(3) << false << QList<quint64>{};
    QTest::addRow("from the start, which is gone") << quint64(0) << false << QList<quint64>{};
    QTest::addRow("one message missing from the window") << quint64(14) << false << QList<quint64>{};
    QTest::addRow("exactly at the window's edge") << quint64(15) << true << range(16, 25);
    QTest::addRow("inside the window") << quint64(20) << true << range(21, 25);
    QTest::addRow("up to date") << quint64(25) << true << QList<quint64>{};
}

void TestLocalBroker::resumeOutsideTheHistoryWindowIsNotRecovered()
{
    QFETCH(quint64, from);
    QFETCH(bool, recovered);
    QFETCH(QList<quint64>, replay);

    LocalBroker broker(options(10));
    QString error;
    QVERIFY2(broker.start(&error), qPrintable(error));
    std::vector<PublishResult> results;
    QVERIFY(publish(broker, items(u"user:alice"_s, 1, 25), this, &results));
    QCOMPARE(results.back().seq, quint64(25));
    const QString epoch = results.front().epoch;

    Collector collector;
    const Subscription subscription =
        broker.subscribeNow(u"user:alice"_s, StreamPoint{epoch, from}, &collector);
    QCOMPARE(subscription.epoch, epoch);
    QCOMPARE(subscription.seq, quint64(25)); // delivery goes on after the gap
    QCOMPARE(subscription.recovered, recovered);
    QCOMPARE(seqsOf(subscription.replay), replay); // all or nothing, never partial
    broker.unsubscribe(u"user:alice"_s, &collector);
}

void TestLocalBroker::resumeWithAnotherEpoch_data()
{
    QTest::addColumn<quint64>("from");
    QTest::addColumn<bool>("recovered");
    QTest::addColumn<QList<quint64>>("replay");

    QTest::addRow("seen something of another epoch") << quint64(3) << false << QList<quint64>{};
    QTest::addRow("seen the whole stream of another epoch") << quint64(6) << false << QList<quint64>{};
    QTest::addRow("seen nothing: takes it from the start") << quint64(0) << true << range(1, 6);
}

void TestLocalBroker::resumeWithAnotherEpoch()
{
    QFETCH(quint64, from);
    QFETCH(bool, recovered);
    QFETCH(QList<quint64>, replay);

    LocalBroker broker(options());
    QString error;
    QVERIFY2(broker.start(&error), qPrintable(error));
    std::vector<PublishResult> results;
    QVERIFY(publish(broker, items(u"user:alice"_s, 1, 6), this, &results));
    const QString epoch = results.front().epoch;
    const QString otherEpoch = u"not-"_s + epoch;

    Collector collector;
    const Subscription subscription =
        broker.subscribeNow(u"user:alice"_s, StreamPoint{otherEpoch, from}, &collector);
    QCOMPARE(subscription.epoch, epoch);
    QCOMPARE(subscription.seq, quint64(6));
    QCOMPARE(subscription.recovered, recovered);
    QCOMPARE(seqsOf(subscription.replay), replay);
    broker.unsubscribe(u"user:alice"_s, &collector);
}

void TestLocalBroker::resumeWhilePublishingLosesNothing()
{
    // What a resuming session delivers is the replay, then the live messages
    // above Subscription::seq: together exactly 1..N, whatever the timing.
    LocalBroker broker(options(100000));
    QString error;
    QVERIFY2(broker.start(&error), qPrintable(error));
    std::vector<PublishResult> results;
    QVERIFY(publish(broker, items(u"user:alice"_s, 1, 1), this, &results));
    const QString epoch = results.front().epoch;

    // A publisher thread keeps up to 50 publishes in flight, before and
    // for 500 publishes after the subscription.
    std::atomic<int> published{1};
    std::atomic<int> answered{1};
    std::atomic<bool> subscribed{false};
    std::atomic<bool> finished{false};
    std::thread publisher([&] {
        int afterSubscribe = 0;
        while (afterSubscribe < 500) {
            if (published.load() - answered.load() >= 50) {
                std::this_thread::yield();
                continue;
            }
            const bool wasSubscribed = subscribed.load();
            const int seq = ++published;
            broker.publish(items(u"user:alice"_s, seq, seq), this,
                           [&answered](const std::vector<PublishResult> &, const QString &) { ++answered; });
            if (wasSubscribed)
                ++afterSubscribe;
        }
        finished = true;
    });
    QTRY_VERIFY_WITH_TIMEOUT(answered.load() >= 300, WaitMs);

    Collector collector;
    const Subscription subscription = broker.subscribeNow(u"user:alice"_s, StreamPoint{epoch, 0}, &collector);
    subscribed = true;
    QTRY_VERIFY_WITH_TIMEOUT(finished.load(), WaitMs);
    publisher.join();
    QTRY_COMPARE_WITH_TIMEOUT(answered.load(), published.load(), WaitMs);
    const int total = published.load();
    QVERIFY(subscription.recovered);
    QVERIFY(subscription.seq < quint64(total)); // subscribed while publishing went on

    QList<quint64> delivered = seqsOf(subscription.replay);
    for (const MessagePtr &message : collector.messages()) {
        if (message->seq > subscription.seq)
            delivered.append(message->seq);
    }
    QCOMPARE(delivered, range(1, quint64(total)));
    broker.unsubscribe(u"user:alice"_s, &collector);
}

void TestLocalBroker::samePublishIdGetsTheOriginalSeq()
{
    LocalBroker broker(options());
    QString error;
    QVERIFY2(broker.start(&error), qPrintable(error));
    Collector collector;
    broker.subscribeNow(u"user:alice"_s, std::nullopt, &collector);

    std::vector<PublishResult> first, retry, other, noId;
    QVERIFY(publish(broker, {{u"user:alice"_s, "order filled", u"msg-1"_s}}, this, &first));
    QCOMPARE(first.front().seq, quint64(1));
    QVERIFY(!first.front().duplicate);

    // A publisher that timed out retries with the same id.
    QVERIFY(publish(broker, {{u"user:alice"_s, "order filled", u"msg-1"_s}}, this, &retry));
    QCOMPARE(retry.front().seq, quint64(1));
    QCOMPARE(retry.front().epoch, first.front().epoch);
    QVERIFY(retry.front().duplicate);

    QVERIFY(publish(broker, {{u"user:alice"_s, "next", u"msg-2"_s}}, this, &other));
    QCOMPARE(other.front().seq, quint64(2));
    QVERIFY(!other.front().duplicate);

    // Within one batch, too; and messages without an id are never duplicates.
    QVERIFY(publish(broker,
                    {{u"user:alice"_s, "a", u"msg-3"_s},
                     {u"user:alice"_s, "a", u"msg-3"_s},
                     {u"user:alice"_s, "same text", {}},
                     {u"user:alice"_s, "same text", {}}},
                    this, &noId));
    QCOMPARE(noId.size(), size_t(4));
    QCOMPARE(noId[0].seq, quint64(3));
    QVERIFY(!noId[0].duplicate);
    QCOMPARE(noId[1].seq, quint64(3));
    QVERIFY(noId[1].duplicate);
    QCOMPARE(noId[2].seq, quint64(4));
    QCOMPARE(noId[3].seq, quint64(5));
    QVERIFY(!noId[3].duplicate);

    // Ids are per stream.
    std::vector<PublishResult> elsewhere;
    QVERIFY(publish(broker, {{u"user:bob"_s, "order filled", u"msg-1"_s}}, this, &elsewhere));
    QCOMPARE(elsewhere.front().seq, quint64(1));
    QVERIFY(!elsewhere.front().duplicate);

    // Once an id has left the history window (100 messages here), it is new again.
    std::vector<PublishItem> filler;
    for (int i = 0; i < 100; ++i)
        filler.push_back({u"user:alice"_s, "filler", u"fill-%1"_s.arg(i)});
    std::vector<PublishResult> filled, late;
    QVERIFY(publish(broker, std::move(filler), this, &filled));
    QCOMPARE(filled.back().seq, quint64(105));
    QVERIFY(publish(broker, {{u"user:alice"_s, "order filled", u"msg-1"_s}}, this, &late));
    QCOMPARE(late.front().seq, quint64(106));
    QVERIFY(!late.front().duplicate);
    // ... while the newest ids still are.
    QVERIFY(publish(broker, {{u"user:alice"_s, "filler", u"fill-99"_s}}, this, &late));
    QCOMPARE(late.front().seq, quint64(105));
    QVERIFY(late.front().duplicate);

    // The subscriber saw every message once.
    QCOMPARE(seqsOf(collector.messages()), range(1, 106));
    broker.unsubscribe(u"user:alice"_s, &collector);
}

void TestLocalBroker::messagesOlderThanTheAgeWindowAreNotReplayed()
{
    LocalBroker broker(options(100, 1));
    QString error;
    QVERIFY2(broker.start(&error), qPrintable(error));
    std::vector<PublishResult> results;
    QVERIFY(publish(broker, items(u"user:alice"_s, 1, 3, u"id-"_s), this, &results));
    const QString epoch = results.front().epoch;

    Collector collector;
    Subscription fresh = broker.subscribeNow(u"user:alice"_s, StreamPoint{epoch, 0}, &collector);
    broker.unsubscribe(u"user:alice"_s, &collector);
    QVERIFY(fresh.recovered);
    QCOMPARE(seqsOf(fresh.replay), range(1, 3));

    // Once older than a second, the messages leave the window.
    auto fromStart = [&] {
        broker.pruneNow();
        Subscription s = broker.subscribeNow(u"user:alice"_s, StreamPoint{epoch, 0}, &collector);
        broker.unsubscribe(u"user:alice"_s, &collector);
        return s;
    };
    QTRY_VERIFY_WITH_TIMEOUT(fromStart().replay.empty(), WaitMs);
    const Subscription gone = fromStart();
    QVERIFY(!gone.recovered); // the client learns it missed something
    QCOMPARE(gone.seq, quint64(3));
    QCOMPARE(gone.epoch, epoch);

    const Subscription old = broker.subscribeNow(u"user:alice"_s, StreamPoint{epoch, 1}, &collector);
    broker.unsubscribe(u"user:alice"_s, &collector);
    QVERIFY(!old.recovered);
    QVERIFY(old.replay.empty());

    // A client that had everything loses nothing: the position outlives the messages.
    const Subscription current = broker.subscribeNow(u"user:alice"_s, StreamPoint{epoch, 3}, &collector);
    broker.unsubscribe(u"user:alice"_s, &collector);
    QVERIFY(current.recovered);
    QVERIFY(current.replay.empty());

    // Numbering goes on in the same epoch; the expired id is new again.
    QVERIFY(publish(broker, items(u"user:alice"_s, 1, 1, u"id-"_s), this, &results));
    QCOMPARE(results.front().seq, quint64(4));
    QCOMPARE(results.front().epoch, epoch);
    QVERIFY(!results.front().duplicate);
}

void TestLocalBroker::restartKeepsEpochHistoryAndSequence()
{
    QString epoch;
    {
        LocalBroker broker(options());
        QString error;
        QVERIFY2(broker.start(&error), qPrintable(error));
        std::vector<PublishResult> results;
        QVERIFY(publish(broker, items(u"user:alice"_s, 1, 5, u"id-"_s), this, &results));
        epoch = results.front().epoch;
        broker.stop();
    }

    LocalBroker broker(options());
    QString error;
    QVERIFY2(broker.start(&error), qPrintable(error));
    Collector collector;
    const Subscription subscription = broker.subscribeNow(u"user:alice"_s, StreamPoint{epoch, 2}, &collector);
    QCOMPARE(subscription.epoch, epoch);
    QCOMPARE(subscription.seq, quint64(5));
    QVERIFY(subscription.recovered);
    QCOMPARE(seqsOf(subscription.replay), range(3, 5));
    for (const MessagePtr &message : subscription.replay) {
        QCOMPARE(message->payload, u"payload %1"_s.arg(message->seq).toUtf8());
        QCOMPARE(message->id, u"id-%1"_s.arg(message->seq));
        QCOMPARE(message->epoch, epoch);
    }

    std::vector<PublishResult> results;
    QVERIFY(publish(broker, items(u"user:alice"_s, 6, 6), this, &results));
    QCOMPARE(results.front().seq, quint64(6));
    QCOMPARE(results.front().epoch, epoch);
    QCOMPARE(seqsOf(collector.messages()), QList<quint64>{6});

    // A publisher retrying across the restart still gets the original seq.
    QVERIFY(publish(broker, items(u"user:alice"_s, 2, 2, u"id-"_s), this, &results));
    QCOMPARE(results.front().seq, quint64(2));
    QVERIFY(results.front().duplicate);
    broker.unsubscribe(u"user:alice"_s, &collector);
}

void TestLocalBroker::restartKeepsTheCountWindow()
{
    QString epoch;
    {
        LocalBroker broker(options(10));
        QString error;
        QVERIFY2(broker.start(&error), qPrintable(error));
        std::vector<PublishResult> results;
        QVERIFY(publish(broker, items(u"user:alice"_s, 1, 25), this, &results));
        epoch = results.front().epoch;
    } // destroyed without an explicit stop()

    LocalBroker broker(options(10));
    QString error;
    QVERIFY2(broker.start(&error), qPrintable(error));
    Collector collector;
    const Subscription inside = broker.subscribeNow(u"user:alice"_s, StreamPoint{epoch, 15}, &collector);
    QVERIFY(inside.recovered);
    QCOMPARE(seqsOf(inside.replay), range(16, 25));
    const Subscription outside = broker.subscribeNow(u"user:alice"_s, StreamPoint{epoch, 14}, &collector);
    QVERIFY(!outside.recovered);
    QVERIFY(outside.replay.empty());
    QCOMPARE(outside.seq, quint64(25));
    broker.unsubscribe(u"user:alice"_s, &collector);
    broker.unsubscribe(u"user:alice"_s, &collector);
}

void TestLocalBroker::diskKeepsTheAgeWindowOnly()
{
    QString epoch;
    {
        LocalBroker broker(options(100, 1));
        QString error;
        QVERIFY2(broker.start(&error), qPrintable(error));
        std::vector<PublishResult> results;
        QVERIFY(publish(broker, items(u"user:alice"_s, 1, 5), this, &results));
        epoch = results.front().epoch;
        QCOMPARE(storedMessages(), 5);
        // The writer prunes once a second: a second later they are gone from disk.
        QTRY_COMPARE_WITH_TIMEOUT(storedMessages(), 0, WaitMs);
        QVERIFY(publish(broker, items(u"user:alice"_s, 6, 8), this, &results));
        QCOMPARE(storedMessages(), 3);
        broker.stop();
    }

    // A restart with a long window finds only what was left, and the sequence.
    LocalBroker broker(options(100, 300));
    QString error;
    QVERIFY2(broker.start(&error), qPrintable(error));
    Collector collector;
    const Subscription fromFive = broker.subscribeNow(u"user:alice"_s, StreamPoint{epoch, 5}, &collector);
    QVERIFY(fromFive.recovered);
    QCOMPARE(seqsOf(fromFive.replay), range(6, 8));
    const Subscription fromTwo = broker.subscribeNow(u"user:alice"_s, StreamPoint{epoch, 2}, &collector);
    QVERIFY(!fromTwo.recovered);
    QCOMPARE(fromTwo.seq, quint64(8));
    broker.unsubscribe(u"user:alice"_s, &collector);
    broker.unsubscribe(u"user:alice"_s, &collector);
}

bool TestLocalBroker::crashAfterFive(const QTemporaryDir &copy, QString *epoch)
{
    LocalBroker broker(options());
    QString error;
    if (!broker.start(&error))
        return false;
    std::vector<PublishResult> results;
    for (int seq = 1; seq <= 5; ++seq) {
        if (!publish(broker, items(u"user:alice"_s, seq, seq), this, &results))
            return false;
    }
    *epoch = results.front().epoch;
    for (const QString &suffix : {u""_s, u"-wal"_s, u"-shm"_s}) {
        const QString from = options().databasePath + suffix;
        if (QFile::exists(from) && !QFile::copy(from, copy.filePath(u"history.sqlite"_s + suffix)))
            return false;
    }
    return true;
}

void TestLocalBroker::crashBetweenPositionWritesLosesNoSeq()
{
    // Stream positions after a stream's first message are written once a
    // second; a crash in between must not lose a seq. The files are copied
    // while the broker runs (every publish committed): what a crash leaves.
    QTemporaryDir copy;
    QString epoch;
    QVERIFY(crashAfterFive(copy, &epoch));

    LocalBrokerOptions crashed = options();
    crashed.databasePath = copy.filePath(u"history.sqlite"_s);
    LocalBroker broker(crashed);
    QString error;
    QVERIFY2(broker.start(&error), qPrintable(error));
    Collector collector;
    const Subscription resumed = broker.subscribeNow(u"user:alice"_s, StreamPoint{epoch, 2}, &collector);
    QCOMPARE(resumed.epoch, epoch);
    QCOMPARE(resumed.seq, quint64(5));
    QVERIFY(resumed.recovered);
    QCOMPARE(seqsOf(resumed.replay), range(3, 5));
    std::vector<PublishResult> results;
    QVERIFY(publish(broker, items(u"user:alice"_s, 6, 6), this, &results));
    QCOMPARE(results.front().seq, quint64(6));
    broker.unsubscribe(u"user:alice"_s, &collector);
}

void TestLocalBroker::positionsCatchUpWithALogAheadOfThem()
{
    // A crash left the log ahead of the stored position (seq 1 stored, 5 in
    // the log). The next run publishes nothing while its short window prunes
    // the whole log; the run after that must still continue at 6.
    QTemporaryDir copy;
    QString epoch;
    QVERIFY(crashAfterFive(copy, &epoch));
    LocalBrokerOptions crashed = options(100, 1);
    crashed.databasePath = copy.filePath(u"history.sqlite"_s);
    {
        LocalBroker idle(crashed);
        QString error;
        QVERIFY2(idle.start(&error), qPrintable(error));
        QTRY_COMPARE_WITH_TIMEOUT(storedMessages(crashed.databasePath), 0, WaitMs);
    }
    LocalBroker broker(crashed);
    QString error;
    QVERIFY2(broker.start(&error), qPrintable(error));
    std::vector<PublishResult> results;
    QVERIFY(publish(broker, items(u"user:alice"_s, 6, 6), this, &results));
    QCOMPARE(results.front().seq, quint64(6));
}

void TestLocalBroker::historyOfAnEarlierVersionIsMigrated()
{
    // A history file as the first release wrote it (schema version 1).
    const qint64 nowUs = bfg::protocol::nowUs();
    {
        QSqlDatabase db = QSqlDatabase::addDatabase(u"QSQLITE"_s, u"v1"_s);
        db.setDatabaseName(options().databasePath);
        QVERIFY(db.open());
        QSqlQuery query(db);
        for (
            const QString &statement :
            {u"CREATE TABLE schema_version (version INTEGER NOT NULL)"_s,
             u"INSERT INTO schema_version VALUES (1)"_s,
             u"CREATE TABLE streams (stream TEXT PRIMARY KEY, epoch TEXT NOT NULL,"
             "last_seq INTEGER NOT NULL, updated_us INTEGER NOT NULL)"_s,
             u"CREATE TABLE messages (stream TEXT NOT NULL, seq INTEGER NOT NULL, message_id TEXT,"
             "publish_time_us INTEGER NOT NULL, payload BLOB NOT NULL, PRIMARY KEY (stream, seq)) WITHOUT ROWID"_s,
             u"CREATE INDEX messages_by_time ON messages (publish_time_us)"_s,
             u"INSERT INTO streams VALUES ('user:alice', 'e1', 3, %1)"_s.arg(nowUs)})
            QVERIFY2(query.exec(statement), qPrintable(query.lastError().text()));
        for (int seq = 1; seq <= 3; ++seq)
            QVERIFY(query.exec(
                u"INSERT INTO messages VALUES ('user:alice', %1, 'id-%1', %2, 'payload %1')"_s.arg(seq).arg(
                    nowUs)));
    }
    QSqlDatabase::removeDatabase(u"v1"_s);

    LocalBroker broker(options());
    QString error;
    QVERIFY2(broker.start(&error), qPrintable(error));
    Collector collector;
    const Subscription resumed = broker.subscribeNow(u"user:alice"_s, StreamPoint{u"e1"_s, 1}, &collector);
    QCOMPARE(resumed.epoch, u"e1"_s);
    QVERIFY(resumed.recovered);
    QCOMPARE(seqsOf(resumed.replay), range(2, 3));
    QCOMPARE(resumed.replay.back()->payload, QByteArray("payload 3"));
    std::vector<PublishResult> results;
    QVERIFY(publish(broker, items(u"user:alice"_s, 1, 1, u"id-"_s), this, &results));
    QVERIFY(results.front().duplicate); // the ids came along too
    QCOMPARE(results.front().seq, quint64(1));
    QVERIFY(publish(broker, items(u"user:alice"_s, 4, 4), this, &results));
    QCOMPARE(results.front().seq, quint64(4));
    broker.unsubscribe(u"user:alice"_s, &collector);
    broker.stop();
    QCOMPARE(storedMessages(), 4);
}

void TestLocalBroker::lostDatabaseStartsANewEpoch()
{
    QString epoch;
    {
        LocalBroker broker(options());
        QString error;
        QVERIFY2(broker.start(&error), qPrintable(error));
        std::vector<PublishResult> results;
        QVERIFY(publish(broker, items(u"user:alice"_s, 1, 5), this, &results));
        epoch = results.front().epoch;
        broker.stop();
    }
    removeDatabase(options().databasePath);
    QVERIFY(!QFile::exists(options().databasePath));

    LocalBroker broker(options());
    QString error;
    QVERIFY2(broker.start(&error), qPrintable(error));
    Collector collector;
    const Subscription resumed = broker.subscribeNow(u"user:alice"_s, StreamPoint{epoch, 5}, &collector);
    QVERIFY(resumed.epoch != epoch);
    QVERIFY(!resumed.epoch.isEmpty());
    QCOMPARE(resumed.seq, quint64(0));
    QVERIFY(!resumed.recovered);
    QVERIFY(resumed.replay.empty());

    std::vector<PublishResult> results;
    QVERIFY(publish(broker, items(u"user:alice"_s, 1, 1), this, &results));
    QCOMPARE(results.front().seq, quint64(1));
    QCOMPARE(results.front().epoch, resumed.epoch);
    broker.unsubscribe(u"user:alice"_s, &collector);
}

void TestLocalBroker::publishAfterStopFails()
{
    LocalBroker broker(options());
    QString error;
    QVERIFY2(broker.start(&error), qPrintable(error));
    broker.stop();

    const auto outcome = publishAsync(broker, items(u"user:alice"_s, 1, 1), this);
    QTRY_VERIFY_WITH_TIMEOUT(outcome->calls.load() > 0, WaitMs);
    QVERIFY(!outcome->error.isEmpty());
    QVERIFY(outcome->results.empty());
}

QTEST_GUILESS_MAIN(TestLocalBroker)
#include "tst_localbroker.moc"
