// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 BFG developers
//
// RedisBroker against a real redis-server (tests/support/redisserver.h),
// held to the broker contract (daemon/broker/broker.h) as a push node's
// sessions see it: sequence numbers without gaps, replay and live delivery
// that together give a client every message once, two nodes on one Redis
// sharing streams and positions, idempotent publishes, the history bound, a
// new epoch when Redis loses a stream, and what happens while Redis is away
// (fast failures, then the node subscribes again and fills the gap from
// the history).
#include <algorithm>
#include <atomic>
#include <mutex>
#include <optional>
#include <thread>

#include <QElapsedTimer>
#include <QLoggingCategory>
#include <QScopeGuard>
#include <QTest>
#include <QThread>

#include "bfg/v1/frames.pb.h"
#include "common/protocol.h"
#include "common/websocket.h"
#include "daemon/broker/redisbroker.h"
#include "daemon/broker/redisconnection.h"
#include "tests/support/brokertesting.h"
#include "tests/support/redisserver.h"

using namespace Qt::Literals::StringLiterals;
using bfg::Broker;
using bfg::MessagePtr;
using bfg::PublishItem;
using bfg::PublishResult;
using bfg::RedisBroker;
using bfg::RedisBrokerOptions;
using bfg::RedisConnection;
using bfg::RedisReply;
using bfg::StreamPoint;
using bfg::Subscription;
using bfg::test::Collector;
using bfg::test::items;
using bfg::test::publish;
using bfg::test::publishAsync;
using bfg::test::PublishOutcome;
using bfg::test::range;
using bfg::test::RedisServer;
using bfg::test::seqsOf;

namespace {
constexpr int WaitMs = 10000;
// "At once" for a broker whose command timeout is far longer: only waiting
// out that timeout (or hanging) takes this long.
constexpr int FastMs = 5000;

struct SubscribeOutcome
{
    std::atomic<int> calls{0}; // incremented last
    Subscription subscription;
    QString error;
};

std::shared_ptr<SubscribeOutcome> subscribeAsync(Broker &broker, const QString &stream,
                                                 const std::optional<StreamPoint> &from,
                                                 bfg::Subscriber *subscriber, QObject *context)
{
    auto outcome = std::make_shared<SubscribeOutcome>();
    broker.subscribe(stream, from, subscriber, context,
                     [outcome](const Subscription &subscription, const QString &error) {
                         outcome->subscription = subscription;
                         outcome->error = error;
                         ++outcome->calls;
                     });
    return outcome;
}

// Subscribes and waits for the answer; false on an error (or none).
bool subscribe(Broker &broker, const QString &stream, const std::optional<StreamPoint> &from,
               bfg::Subscriber *subscriber, QObject *context, Subscription *subscription)
{
    const auto outcome = subscribeAsync(broker, stream, from, subscriber, context);
    if (!QTest::qWaitFor([&] { return outcome->calls.load() > 0; }, WaitMs)) {
        qWarning() << "no answer to the subscription of" << stream;
        return false;
    }
    if (!outcome->error.isEmpty()) {
        qWarning().noquote() << "subscribing" << stream << "failed:" << outcome->error;
        return false;
    }
    *subscription = outcome->subscription;
    return true;
}

// What a push session sends its client (daemon/push/session.cpp): the
// replay, then the live messages above what it has sent, skipping those it
// has. A live message of another epoch, or one that skips ahead, is a gap:
// the session would make its client resume.
struct SessionView
{
    QList<quint64> seqs;
    QString gap;
};

SessionView sessionView(const Subscription &subscription, const std::vector<MessagePtr> &live)
{
    SessionView view;
    view.seqs = seqsOf(subscription.replay);
    quint64 delivered = subscription.seq;
    for (const MessagePtr &message : live) {
        if (message->epoch != subscription.epoch) {
            view.gap = u"epoch %1 at seq %2 (subscribed in %3)"_s.arg(message->epoch)
                           .arg(message->seq)
                           .arg(subscription.epoch);
            break;
        }
        if (message->seq <= delivered)
            continue;
        if (message->seq != delivered + 1) {
            view.gap = u"seq %1 after %2"_s.arg(message->seq).arg(delivered);
            break;
        }
        delivered = message->seq;
        view.seqs.append(message->seq);
    }
    return view;
}

// Sends one command on `connection` and waits for the reply.
RedisReply command(RedisConnection &connection, const QList<QByteArray> &args)
{
    if (!QTest::qWaitFor([&] { return connection.isConnected(); }, WaitMs))
        return RedisReply::error("test: not connected to redis");
    auto answer = std::make_shared<std::optional<RedisReply>>();
    connection.command(args, [answer](const RedisReply &reply) { *answer = reply; });
    if (!QTest::qWaitFor([&] { return answer->has_value(); }, WaitMs))
        return RedisReply::error("test: no answer from redis");
    return **answer;
}

QByteArray describe(const RedisReply &reply)
{
    if (reply.isError())
        return "error " + reply.string;
    return reply.string + QByteArray::number(reply.integer);
}
} // namespace

class TestRedisBroker : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void initTestCase();
    void init();
    void cleanup();

    void publishThenResumeFromTheStartReplaysEverything();
    void liveSubscriberGetsEveryMessageOnceInOrder();
    void subscribeWhilePublishingLosesNothing();
    void publishesAreNumberedInTheOrderTheyWereMade();
    void binaryPayloadsAndOddIdsSurvive();
    void twoNodesShareStreamsAndPositions();
    void samePublishIdIsStoredOnce();
    void batchSpanningStreamsIsNumberedPerStream();
    void resumeOutsideTheHistoryWindowIsNotRecovered_data();
    void resumeOutsideTheHistoryWindowIsNotRecovered();
    void historyOlderThanTheAgeWindowIsNotReplayed();
    void lostRedisDataStartsANewEpoch();
    void redisRestartFailsFastThenContinuesWithoutAGap();
    void nodeCatchesUpFromHistoryAfterARestart();
    void nodeCatchesUpFromHistoryAfterLosingPubSub();
    void unsubscribeIsCounted();
    void resubscribeRightAfterUnsubscribe();
    void unsubscribeBeforeTheAnswerAnswersOnce();
    void unreachableRedisStartsAndFailsFast();
    void emptyPublishIsAnswered();
    void breakerClosesWhenRedisAnswersAgain();
    void publishAnswersOnTheContextThread();
    void stopAnswersEverythingInFlight();

private:
    RedisBrokerOptions options(int historySize = 100) const;
    std::unique_ptr<RedisBroker> startBroker(const RedisBrokerOptions &options) const;
    // One command on a connection of its own.
    RedisReply redis(const QList<QByteArray> &args) const;

    RedisServer m_server;
};

void TestRedisBroker::initTestCase()
{
    // The broker logs every (re)connect; the test output is easier to read without.
    QLoggingCategory::setFilterRules(u"bfg.*.info=false"_s);
    QString error;
    QVERIFY2(m_server.start(&error), qPrintable(error));
}

void TestRedisBroker::init()
{
    if (!m_server.isRunning()) {
        QString error;
        QVERIFY2(m_server.start(&error), qPrintable(error));
    }
    const RedisReply flushed = redis({"FLUSHALL"});
    QVERIFY2(flushed == RedisReply::status("OK"), describe(flushed).constData());
}

void TestRedisBroker::cleanup()
{
    if (QTest::currentTestFailed()) {
        qWarning().noquote() << "redis-server log:" << QString::fromUtf8(m_server.log());
        // Whatever the test left behind (a pause, a memory limit) goes with a restart.
        m_server.stop();
    }
}

RedisBrokerOptions TestRedisBroker::options(int historySize) const
{
    RedisBrokerOptions options;
    options.host = u"127.0.0.1"_s;
    options.port = m_server.port();
    options.historySize = historySize;
    return options;
}

std::unique_ptr<RedisBroker> TestRedisBroker::startBroker(const RedisBrokerOptions &options) const
{
    auto broker = std::make_unique<RedisBroker>(options);
    QString error;
    if (!broker->start(&error)) {
        qWarning().noquote() << "the broker did not start:" << error;
        return nullptr;
    }
    return broker;
}

RedisReply TestRedisBroker::redis(const QList<QByteArray> &args) const
{
    RedisConnection connection(u"127.0.0.1"_s, m_server.port());
    connection.open();
    return command(connection, args);
}

void TestRedisBroker::publishThenResumeFromTheStartReplaysEverything()
{
    Collector collector, fresh;
    auto broker = startBroker(options());
    QVERIFY(broker);
    QCOMPARE(broker->health().state, u"redis up"_s);
    QVERIFY(broker->health().up);

    const QString stream = u"user:alice"_s;
    const qint64 before = bfg::protocol::nowUs();
    std::vector<PublishResult> all;
    for (int from = 1; from <= 20; from += 5) {
        std::vector<PublishResult> results;
        QVERIFY(publish(*broker, items(stream, from, from + 4, u"id-"_s), this, &results));
        QCOMPARE(results.size(), size_t(5));
        all.insert(all.end(), results.begin(), results.end());
    }
    const qint64 after = bfg::protocol::nowUs();
    const QString epoch = all.front().epoch;
    QVERIFY(!epoch.isEmpty());
    for (size_t i = 0; i < all.size(); ++i) {
        QCOMPARE(all[i].stream, stream);
        QCOMPARE(all[i].seq, quint64(i + 1));
        QCOMPARE(all[i].epoch, epoch);
        QVERIFY(!all[i].duplicate);
    }

    Subscription subscription;
    QVERIFY(subscribe(*broker, stream, StreamPoint{epoch, 0}, &collector, this, &subscription));
    QCOMPARE(subscription.epoch, epoch);
    QCOMPARE(subscription.seq, quint64(20));
    QVERIFY(subscription.recovered);
    QCOMPARE(seqsOf(subscription.replay), range(1, 20));
    qint64 previousTimeUs = before;
    for (const MessagePtr &message : subscription.replay) {
        QCOMPARE(message->stream, stream);
        QCOMPARE(message->epoch, epoch);
        QCOMPARE(message->id, u"id-%1"_s.arg(message->seq));
        QCOMPARE(message->payload, u"payload %1"_s.arg(message->seq).toUtf8());
        QVERIFY(message->publishTimeUs >= previousTimeUs);
        QVERIFY(message->publishTimeUs <= after);
        previousTimeUs = message->publishTimeUs;
    }

    // The replayed frame is the encoded message, as a session sends it.
    bfg::v1::ServerFrame frame;
    const MessagePtr third = subscription.replay[2];
    QVERIFY(bfg::protocol::decode(bfg::websocket::payloadOf(third->wire), &frame));
    QCOMPARE(frame.kind_case(), bfg::v1::ServerFrame::kMessage);
    QCOMPARE(QString::fromStdString(frame.message().stream()), stream);
    QCOMPARE(frame.message().seq(), quint64(3));
    QCOMPARE(QString::fromStdString(frame.message().epoch()), epoch);
    QCOMPARE(QString::fromStdString(frame.message().id()), u"id-3"_s);
    QCOMPARE(frame.message().publish_time_us(), third->publishTimeUs);
    QCOMPARE(QByteArray::fromStdString(frame.message().payload()), "payload 3"_ba);

    // Without a position nothing is replayed; delivery starts after the head.
    Subscription head;
    QVERIFY(subscribe(*broker, stream, std::nullopt, &fresh, this, &head));
    QCOMPARE(head.epoch, epoch);
    QCOMPARE(head.seq, quint64(20));
    QVERIFY(head.recovered);
    QVERIFY(head.replay.empty());

    // Both go on live, with the next number.
    std::vector<PublishResult> results;
    QVERIFY(publish(*broker, items(stream, 21, 21), this, &results));
    QCOMPARE(results.front().seq, quint64(21));
    QTRY_VERIFY_WITH_TIMEOUT(collector.has(stream, 21) && fresh.has(stream, 21), WaitMs);
    QCOMPARE(sessionView(subscription, collector.messages()).seqs, range(1, 21));
    QCOMPARE(sessionView(head, fresh.messages()).seqs, QList<quint64>{21});
    broker->unsubscribe(stream, &collector);
    broker->unsubscribe(stream, &fresh);
}

void TestRedisBroker::liveSubscriberGetsEveryMessageOnceInOrder()
{
    Collector collector;
    auto broker = startBroker(options(1000));
    QVERIFY(broker);
    const QString stream = u"user:alice"_s;

    Subscription subscription;
    QVERIFY(subscribe(*broker, stream, std::nullopt, &collector, this, &subscription));
    QVERIFY(!subscription.epoch.isEmpty());
    QCOMPARE(subscription.seq, quint64(0));
    QVERIFY(subscription.recovered);
    QVERIFY(subscription.replay.empty());
    QCOMPARE(broker->subscribedStreams(), 1);

    // Many publishes in flight at once.
    constexpr int Count = 300;
    std::vector<std::shared_ptr<PublishOutcome>> outcomes;
    for (int i = 1; i <= Count; ++i)
        outcomes.push_back(publishAsync(*broker, items(stream, i, i), this));
    QTRY_VERIFY_WITH_TIMEOUT(outcomes.back()->calls.load() > 0, WaitMs);
    QTRY_VERIFY_WITH_TIMEOUT(collector.has(stream, Count), WaitMs);
    // One more, so that a late duplicate of any of the above would be in by now.
    QVERIFY(publish(*broker, items(stream, Count + 1, Count + 1), this));
    QTRY_VERIFY_WITH_TIMEOUT(collector.has(stream, Count + 1), WaitMs);

    const std::vector<MessagePtr> messages = collector.messages();
    QCOMPARE(seqsOf(messages), range(1, Count + 1)); // each once, in order
    for (const MessagePtr &message : messages) {
        QCOMPARE(message->epoch, subscription.epoch);
        QCOMPARE(message->stream, stream);
        QCOMPARE(message->payload, u"payload %1"_s.arg(message->seq).toUtf8());
    }
    for (const auto &outcome : outcomes) {
        QCOMPARE(outcome->calls.load(), 1);
        QVERIFY2(outcome->error.isEmpty(), qPrintable(outcome->error));
    }
    broker->unsubscribe(stream, &collector);
}

void TestRedisBroker::subscribeWhilePublishingLosesNothing()
{
    // A session delivers the replay, then the live messages above
    // Subscription::seq: together exactly 1..N, whatever the timing.
    Collector collector;
    auto broker = startBroker(options(100000));
    QVERIFY(broker);
    const QString stream = u"user:alice"_s;
    std::vector<PublishResult> results;
    QVERIFY(publish(*broker, items(stream, 1, 1), this, &results));
    const QString epoch = results.front().epoch;

    // A publisher thread keeps up to 50 publishes in flight, before the
    // subscription, while it is answered, and for 200 publishes after.
    struct Progress
    {
        std::atomic<int> published{1};
        std::atomic<int> answered{1};
        std::atomic<int> failed{0};
        std::atomic<bool> stop{false}; // the test gave up
        std::atomic<bool> finished{false};
        std::atomic<bool> subscribed{false}; // set after `outcome`
        std::shared_ptr<SubscribeOutcome> outcome;
    };
    auto progress = std::make_shared<Progress>();
    std::thread publisher([&broker, progress, stream, this] {
        int afterAnswer = 0;
        while (afterAnswer < 200 && !progress->stop) {
            if (progress->published.load() - progress->answered.load() >= 50) {
                std::this_thread::yield();
                continue;
            }
            const bool wasAnswered = progress->subscribed.load() && progress->outcome->calls.load() > 0;
            const int seq = ++progress->published;
            broker->publish(items(stream, seq, seq), this,
                            [progress](const std::vector<PublishResult> &, const QString &error) {
                                if (!error.isEmpty())
                                    ++progress->failed;
                                ++progress->answered;
                            });
            if (wasAnswered)
                ++afterAnswer;
        }
        progress->finished = true;
    });
    const auto joinPublisher = qScopeGuard([&] {
        progress->stop = true;
        publisher.join();
    });
    QTRY_VERIFY_WITH_TIMEOUT(progress->answered.load() >= 100, WaitMs);
    progress->outcome = subscribeAsync(*broker, stream, StreamPoint{epoch, 0}, &collector, this);
    progress->subscribed = true;
    const std::shared_ptr<SubscribeOutcome> outcome = progress->outcome;
    QTRY_VERIFY_WITH_TIMEOUT(progress->finished.load(), WaitMs);
    QTRY_COMPARE_WITH_TIMEOUT(progress->answered.load(), progress->published.load(), WaitMs);
    QCOMPARE(progress->failed.load(), 0);
    const int total = progress->published.load();
    QTRY_VERIFY_WITH_TIMEOUT(collector.has(stream, quint64(total)), WaitMs);

    QCOMPARE(outcome->calls.load(), 1);
    QVERIFY2(outcome->error.isEmpty(), qPrintable(outcome->error));
    const Subscription &subscription = outcome->subscription;
    QVERIFY(subscription.recovered);
    QCOMPARE(subscription.epoch, epoch);
    QVERIFY(subscription.seq >= 100);
    QVERIFY(subscription.seq < quint64(total)); // 200 came after the answer
    const SessionView view = sessionView(subscription, collector.messages());
    QVERIFY2(view.gap.isEmpty(), qPrintable(view.gap));
    QCOMPARE(view.seqs, range(1, quint64(total)));
    broker->unsubscribe(stream, &collector);
}

void TestRedisBroker::publishesAreNumberedInTheOrderTheyWereMade()
{
    // Publishes made one after the other (without waiting for the answers)
    // get their numbers in that order, also right after a Redis restart,
    // which makes Redis forget the broker's scripts.
    auto broker = startBroker(options(1000));
    QVERIFY(broker);
    const QString stream = u"user:alice"_s;
    QVERIFY(publish(*broker, items(stream, 1, 1), this));
    quint64 next = 2;
    for (int round = 0; round < 3; ++round) {
        QString error;
        QVERIFY2(m_server.restart(&error), qPrintable(error));
        QTRY_VERIFY_WITH_TIMEOUT(broker->health().up, WaitMs);
        // Spread out a little, as publishers are: some go before the first
        // answer, some after.
        constexpr int Count = 200;
        std::vector<std::shared_ptr<PublishOutcome>> outcomes;
        for (int i = 0; i < Count; ++i) {
            outcomes.push_back(publishAsync(*broker, items(stream, int(next) + i, int(next) + i), this));
            QThread::usleep(20 + (i % 5) * 20);
        }
        QTRY_VERIFY_WITH_TIMEOUT(
            std::all_of(outcomes.begin(), outcomes.end(), [](const auto &o) { return o->calls.load() > 0; }),
            WaitMs);
        QList<quint64> seqs;
        for (const auto &outcome : outcomes) {
            QVERIFY2(outcome->error.isEmpty(), qPrintable(outcome->error));
            seqs.append(outcome->results.front().seq);
        }
        QCOMPARE(seqs, range(next, next + Count - 1));
        next += Count;
    }
}

void TestRedisBroker::binaryPayloadsAndOddIdsSurvive()
{
    // The live feed packs messages into one pub/sub payload per batch: what
    // looks like its separators inside an id or payload must not confuse it.
    Collector collector;
    auto broker = startBroker(options());
    QVERIFY(broker);
    const QString stream = u"room:odd"_s;
    Subscription subscription;
    QVERIFY(subscribe(*broker, stream, std::nullopt, &collector, this, &subscription));

    const std::vector<PublishItem> odd{
        {stream, QByteArray(), {}},
        {stream, QByteArray("\0\n\r\0", 4), u"with space"_s},
        {stream, "7 1 2 3\nxy", u"new\nline"_s},
        {stream, QByteArray(100000, '\n'), u"üñí ✓"_s},
        {stream, "\xff\xfe", u"1 2 3 4"_s},
    };
    std::vector<PublishResult> results;
    QVERIFY(publish(*broker, odd, this, &results));
    QCOMPARE(results.size(), odd.size());
    QTRY_COMPARE_WITH_TIMEOUT(collector.count(), int(odd.size()), WaitMs);

    Collector replayed;
    Subscription resumed;
    QVERIFY(subscribe(*broker, stream, StreamPoint{subscription.epoch, 0}, &replayed, this, &resumed));
    QCOMPARE(resumed.replay.size(), odd.size());
    const std::vector<MessagePtr> live = collector.messages();
    for (size_t i = 0; i < odd.size(); ++i) {
        for (const MessagePtr &message : {live[i], resumed.replay[i]}) {
            QCOMPARE(message->seq, quint64(i + 1));
            QCOMPARE(message->id, odd[i].id);
            QCOMPARE(message->payload, odd[i].payload);
            QCOMPARE(message->epoch, subscription.epoch);
        }
        QCOMPARE(live[i]->wire, resumed.replay[i]->wire);
    }
    broker->unsubscribe(stream, &collector);
    broker->unsubscribe(stream, &replayed);
}

void TestRedisBroker::twoNodesShareStreamsAndPositions()
{
    Collector onA, onB, resumedOnB;
    auto a = startBroker(options());
    auto b = startBroker(options());
    QVERIFY(a && b);
    const QString stream = u"user:alice"_s;

    // A client on node B gets what is published through node A, live.
    Subscription subscriptionB;
    QVERIFY(subscribe(*b, stream, std::nullopt, &onB, this, &subscriptionB));
    // Another client on node A, which will move to B.
    Subscription subscriptionA;
    QVERIFY(subscribe(*a, stream, std::nullopt, &onA, this, &subscriptionA));
    QCOMPARE(subscriptionA.epoch, subscriptionB.epoch);

    std::vector<PublishResult> results;
    QVERIFY(publish(*a, items(stream, 1, 10), this, &results));
    QCOMPARE(results.back().seq, quint64(10));
    const QString epoch = results.front().epoch;
    QCOMPARE(epoch, subscriptionB.epoch);
    QTRY_VERIFY_WITH_TIMEOUT(onB.has(stream, 10), WaitMs);
    QCOMPARE(sessionView(subscriptionB, onB.messages()).seqs, range(1, 10));
    QTRY_VERIFY_WITH_TIMEOUT(onA.has(stream, 10), WaitMs);

    // The client on A saw up to 4, then its node went away; more came meanwhile.
    const MessagePtr last = onA.messages()[3];
    QCOMPARE(last->seq, quint64(4));
    a->unsubscribe(stream, &onA);
    QVERIFY(publish(*a, items(stream, 11, 15), this, &results));
    QCOMPARE(results.back().seq, quint64(15));

    // It resumes on B from where it was on A: exactly what it missed.
    Subscription resumed;
    QVERIFY(subscribe(*b, stream, StreamPoint{last->epoch, last->seq}, &resumedOnB, this, &resumed));
    QCOMPARE(resumed.epoch, epoch);
    QVERIFY(resumed.recovered);
    QCOMPARE(resumed.seq, quint64(15));
    QCOMPARE(seqsOf(resumed.replay), range(5, 15));

    // And goes on live on B; publishing through B works just as well.
    QVERIFY(publish(*a, items(stream, 16, 18), this, &results));
    QVERIFY(publish(*b, items(stream, 19, 20), this, &results));
    QCOMPARE(results.back().seq, quint64(20));
    QCOMPARE(results.back().epoch, epoch);
    QTRY_VERIFY_WITH_TIMEOUT(resumedOnB.has(stream, 20) && onB.has(stream, 20), WaitMs);
    const SessionView view = sessionView(resumed, resumedOnB.messages());
    QVERIFY2(view.gap.isEmpty(), qPrintable(view.gap));
    QCOMPARE(view.seqs, range(5, 20));
    QCOMPARE(seqsOf(onB.messages()), range(1, 20));
    b->unsubscribe(stream, &onB);
    b->unsubscribe(stream, &resumedOnB);
}

void TestRedisBroker::samePublishIdIsStoredOnce()
{
    Collector collector;
    auto broker = startBroker(options());
    QVERIFY(broker);
    const QString stream = u"user:alice"_s;
    Subscription subscription;
    QVERIFY(subscribe(*broker, stream, std::nullopt, &collector, this, &subscription));

    std::vector<PublishResult> first, retry, other, mixed;
    QVERIFY(publish(*broker, {{stream, "order filled", u"msg-1"_s}}, this, &first));
    QCOMPARE(first.front().seq, quint64(1));
    QVERIFY(!first.front().duplicate);

    // A publisher that timed out retries with the same id.
    QVERIFY(publish(*broker, {{stream, "order filled", u"msg-1"_s}}, this, &retry));
    QCOMPARE(retry.size(), size_t(1));
    QCOMPARE(retry.front().seq, quint64(1));
    QCOMPARE(retry.front().epoch, first.front().epoch);
    QCOMPARE(retry.front().stream, stream);
    QVERIFY(retry.front().duplicate);

    QVERIFY(publish(*broker, {{stream, "next", u"msg-2"_s}}, this, &other));
    QCOMPARE(other.front().seq, quint64(2));
    QVERIFY(!other.front().duplicate);

    // Within one batch too; messages without an id are never duplicates.
    QVERIFY(publish(*broker,
                    {{stream, "a", u"msg-3"_s},
                     {stream, "a", u"msg-3"_s},
                     {stream, "same text", {}},
                     {stream, "same text", {}},
                     {stream, "again", u"msg-1"_s}},
                    this, &mixed));
    QCOMPARE(mixed.size(), size_t(5));
    const QList<quint64> seqs{3, 3, 4, 5, 1};
    const QList<bool> duplicates{false, true, false, false, true};
    for (qsizetype i = 0; i < seqs.size(); ++i) {
        QCOMPARE(mixed[size_t(i)].seq, seqs[i]);
        QCOMPARE(mixed[size_t(i)].duplicate, duplicates[i]);
    }

    // Ids are per stream.
    std::vector<PublishResult> elsewhere;
    QVERIFY(publish(*broker, {{u"user:bob"_s, "order filled", u"msg-1"_s}}, this, &elsewhere));
    QCOMPARE(elsewhere.front().seq, quint64(1));
    QVERIFY(!elsewhere.front().duplicate);

    // Stored once: the subscriber saw each once, the history holds each once.
    QTRY_VERIFY_WITH_TIMEOUT(collector.has(stream, 5), WaitMs);
    QCOMPARE(seqsOf(collector.messages()), range(1, 5));
    Collector replayed;
    Subscription resumed;
    QVERIFY(subscribe(*broker, stream, StreamPoint{subscription.epoch, 0}, &replayed, this, &resumed));
    QCOMPARE(seqsOf(resumed.replay), range(1, 5));
    QCOMPARE(resumed.replay[0]->payload, "order filled"_ba);
    QCOMPARE(resumed.replay[0]->id, u"msg-1"_s);
    QCOMPARE(resumed.replay[2]->id, u"msg-3"_s);
    broker->unsubscribe(stream, &collector);
    broker->unsubscribe(stream, &replayed);
}

void TestRedisBroker::batchSpanningStreamsIsNumberedPerStream()
{
    Collector collector;
    auto broker = startBroker(options());
    QVERIFY(broker);
    const QString a = u"user:a"_s, b = u"user:b"_s, x = u"room:x"_s;
    Subscription subscription;
    QVERIFY(subscribe(*broker, a, std::nullopt, &collector, this, &subscription));
    QVERIFY(subscribe(*broker, b, std::nullopt, &collector, this, &subscription));
    QTRY_COMPARE_WITH_TIMEOUT(broker->subscribedStreams(), 2, WaitMs);

    const std::vector<PublishItem> mixed{{a, "a1", {}}, {b, "b1", {}}, {a, "a2", {}},
                                         {x, "x1", {}}, {a, "a3", {}}, {b, "b2", {}}};
    std::vector<PublishResult> results;
    QVERIFY(publish(*broker, mixed, this, &results));
    QCOMPARE(results.size(), mixed.size());
    // Results come in the order of the items, each numbered in its stream.
    const QList<quint64> expected{1, 1, 2, 1, 3, 2};
    for (size_t i = 0; i < results.size(); ++i) {
        QCOMPARE(results[i].stream, mixed[i].stream);
        QCOMPARE(results[i].seq, expected[qsizetype(i)]);
        QVERIFY(!results[i].duplicate);
    }
    QCOMPARE(results[0].epoch, results[2].epoch);
    QCOMPARE(results[0].epoch, results[4].epoch);
    QCOMPARE(results[1].epoch, results[5].epoch);
    QVERIFY(results[0].epoch != results[1].epoch); // epochs are per stream

    // The next batch goes on from there.
    QVERIFY(publish(*broker, {{b, "b3", {}}, {a, "a4", {}}}, this, &results));
    QCOMPARE(results[0].seq, quint64(3));
    QCOMPARE(results[1].seq, quint64(4));

    QTRY_VERIFY_WITH_TIMEOUT(collector.has(a, 4) && collector.has(b, 3), WaitMs);
    QCOMPARE(seqsOf(collector.messages(a)), range(1, 4));
    QCOMPARE(seqsOf(collector.messages(b)), range(1, 3));
    QCOMPARE(collector.messages(a)[2]->payload, "a3"_ba);
    QCOMPARE(collector.messages(b)[1]->payload, "b2"_ba);
    QVERIFY(collector.messages(x).empty()); // not subscribed
    broker->unsubscribe(a, &collector);
    broker->unsubscribe(b, &collector);
}

void TestRedisBroker::resumeOutsideTheHistoryWindowIsNotRecovered_data()
{
    QTest::addColumn<quint64>("from");
    QTest::addColumn<bool>("recovered");
    QTest::addColumn<QList<quint64>>("replay");

    // historySize 10, 100 published: 91..100 are kept.
    QTest::addRow("from the first") << quint64(1) << false << QList<quint64>{};
    QTest::addRow("from the start, which is gone") << quint64(0) << false << QList<quint64>{};
    QTest::addRow("far behind the window") << quint64(50) << false << QList<quint64>{};
    QTest::addRow("one message missing from the window") << quint64(89) << false << QList<quint64>{};
    QTest::addRow("exactly at the window's edge") << quint64(90) << true << range(91, 100);
    QTest::addRow("inside the window") << quint64(95) << true << range(96, 100);
    QTest::addRow("up to date") << quint64(100) << true << QList<quint64>{};
    QTest::addRow("ahead of the stream") << quint64(150) << false << QList<quint64>{};
}

void TestRedisBroker::resumeOutsideTheHistoryWindowIsNotRecovered()
{
    QFETCH(quint64, from);
    QFETCH(bool, recovered);
    QFETCH(QList<quint64>, replay);

    Collector collector;
    auto broker = startBroker(options(10));
    QVERIFY(broker);
    const QString stream = u"user:alice"_s;
    std::vector<PublishResult> results;
    for (int i = 1; i <= 100; i += 10)
        QVERIFY(publish(*broker, items(stream, i, i + 9), this, &results));
    QCOMPARE(results.back().seq, quint64(100));
    const QString epoch = results.front().epoch;

    Subscription subscription;
    QVERIFY(subscribe(*broker, stream, StreamPoint{epoch, from}, &collector, this, &subscription));
    QCOMPARE(subscription.epoch, epoch);
    QCOMPARE(subscription.seq, quint64(100)); // delivery goes on after the gap
    QCOMPARE(subscription.recovered, recovered);
    QCOMPARE(seqsOf(subscription.replay), replay); // all or nothing, never partial
    for (const MessagePtr &message : subscription.replay)
        QCOMPARE(message->payload, u"payload %1"_s.arg(message->seq).toUtf8());

    // Live delivery continues after the replay.
    QVERIFY(publish(*broker, items(stream, 101, 101), this, &results));
    QTRY_VERIFY_WITH_TIMEOUT(collector.has(stream, 101), WaitMs);
    QCOMPARE(seqsOf(collector.messages()), QList<quint64>{101});
    broker->unsubscribe(stream, &collector);
}

void TestRedisBroker::historyOlderThanTheAgeWindowIsNotReplayed()
{
    // A quiet stream: nothing is published after the window passes, so the
    // read itself must apply the age bound.
    Collector collector;
    RedisBrokerOptions aged = options();
    aged.historyAgeSeconds = 1;
    auto broker = startBroker(aged);
    QVERIFY(broker);
    const QString stream = u"user:alice"_s;
    std::vector<PublishResult> results;
    QVERIFY(publish(*broker, items(stream, 1, 3), this, &results));
    const QString epoch = results.front().epoch;

    Subscription fresh;
    QVERIFY(subscribe(*broker, stream, StreamPoint{epoch, 1}, &collector, this, &fresh));
    QVERIFY(fresh.recovered);
    QCOMPARE(seqsOf(fresh.replay), (QList<quint64>{2, 3}));
    broker->unsubscribe(stream, &collector);

    QTest::qWait(1500);
    Subscription stale;
    QVERIFY(subscribe(*broker, stream, StreamPoint{epoch, 1}, &collector, this, &stale));
    QCOMPARE(stale.epoch, epoch); // the stream is still there, only its history aged out
    QCOMPARE(stale.seq, quint64(3));
    QVERIFY(!stale.recovered);
    QVERIFY(stale.replay.empty());
    broker->unsubscribe(stream, &collector);
}

void TestRedisBroker::lostRedisDataStartsANewEpoch()
{
    Collector collector;
    auto broker = startBroker(options());
    QVERIFY(broker);
    const QString stream = u"user:alice"_s;
    Subscription subscription;
    QVERIFY(subscribe(*broker, stream, std::nullopt, &collector, this, &subscription));
    std::vector<PublishResult> results;
    QVERIFY(publish(*broker, items(stream, 1, 5, u"id-"_s), this, &results));
    const QString oldEpoch = results.front().epoch;
    QCOMPARE(oldEpoch, subscription.epoch);
    QTRY_VERIFY_WITH_TIMEOUT(collector.has(stream, 5), WaitMs);

    const RedisReply flushed = redis({"FLUSHALL"});
    QVERIFY2(flushed == RedisReply::status("OK"), describe(flushed).constData());

    // The next publish starts a new epoch from 1 (its id is new there too).
    QVERIFY(publish(*broker, items(stream, 2, 2, u"id-"_s), this, &results));
    const QString newEpoch = results.front().epoch;
    QVERIFY(!newEpoch.isEmpty());
    QVERIFY(newEpoch != oldEpoch);
    QCOMPARE(results.front().seq, quint64(1));
    QVERIFY(!results.front().duplicate);

    // The live subscriber sees the new epoch (its session makes the client resume).
    QTRY_VERIFY_WITH_TIMEOUT(collector.count() >= 6, WaitMs);
    const MessagePtr next = collector.messages()[5];
    QCOMPARE(next->epoch, newEpoch);
    QCOMPARE(next->seq, quint64(1));
    QCOMPARE(next->payload, "payload 2"_ba);
    QVERIFY(!sessionView(subscription, collector.messages()).gap.isEmpty());

    // A client resuming in the old epoch learns it lost something ...
    Collector resumedCollector;
    Subscription resumed;
    QVERIFY(subscribe(*broker, stream, StreamPoint{oldEpoch, 5}, &resumedCollector, this, &resumed));
    QCOMPARE(resumed.epoch, newEpoch);
    QCOMPARE(resumed.seq, quint64(1));
    QVERIFY(!resumed.recovered);
    QVERIFY(resumed.replay.empty());
    // ... one that had seen nothing takes the new epoch from its start.
    Subscription fromNothing;
    QVERIFY(subscribe(*broker, stream, StreamPoint{oldEpoch, 0}, &resumedCollector, this, &fromNothing));
    QCOMPARE(fromNothing.epoch, newEpoch);
    QVERIFY(fromNothing.recovered);
    QCOMPARE(seqsOf(fromNothing.replay), QList<quint64>{1});

    // Numbering goes on in the new epoch, for old and new subscribers alike.
    QVERIFY(publish(*broker, items(stream, 3, 3), this, &results));
    QCOMPARE(results.front().seq, quint64(2));
    QCOMPARE(results.front().epoch, newEpoch);
    QTRY_VERIFY_WITH_TIMEOUT(collector.has(stream, 2) && resumedCollector.has(stream, 2), WaitMs);
    QCOMPARE(sessionView(resumed, resumedCollector.messages()).seqs, QList<quint64>{2});
    broker->unsubscribe(stream, &collector);
    broker->unsubscribe(stream, &resumedCollector);
    broker->unsubscribe(stream, &resumedCollector);
}

void TestRedisBroker::redisRestartFailsFastThenContinuesWithoutAGap()
{
    Collector collector, late;
    RedisBrokerOptions patient = options();
    patient.timeoutMs = 60000; // failing fast must not mean waiting out the command timeout
    auto a = startBroker(patient);
    auto b = startBroker(patient);
    QVERIFY(a && b);
    const QString stream = u"user:alice"_s;
    Subscription subscription;
    QVERIFY(subscribe(*a, stream, std::nullopt, &collector, this, &subscription));
    std::vector<PublishResult> results;
    QVERIFY(publish(*b, items(stream, 1, 5), this, &results));
    const QString epoch = results.front().epoch;
    QTRY_VERIFY_WITH_TIMEOUT(collector.has(stream, 5), WaitMs);

    m_server.stop();
    QTRY_VERIFY_WITH_TIMEOUT(!a->health().up && !b->health().up, WaitMs);
    QVERIFY2(a->health().state.startsWith(u"redis down"_s), qPrintable(a->health().state));
    QVERIFY2(b->health().state.startsWith(u"redis down"_s), qPrintable(b->health().state));
    QTRY_COMPARE_WITH_TIMEOUT(a->subscribedStreams(), 0, WaitMs);

    // While Redis is down a publish fails at once with a reason.
    for (RedisBroker *broker : {a.get(), b.get()}) {
        QElapsedTimer timer;
        timer.start();
        const auto outcome = publishAsync(*broker, items(stream, 6, 6), this);
        QTRY_VERIFY_WITH_TIMEOUT(outcome->calls.load() > 0, WaitMs);
        QVERIFY2(timer.elapsed() < FastMs, qPrintable(QString::number(timer.elapsed())));
        QVERIFY(!outcome->error.isEmpty());
        QVERIFY(outcome->results.empty());
    }
    // So does a new subscription (the caller still owes the unsubscribe).
    for (const QString &name : {stream, u"user:bob"_s}) {
        const auto outcome = subscribeAsync(*a, name, StreamPoint{epoch, 5}, &late, this);
        QTRY_VERIFY_WITH_TIMEOUT(outcome->calls.load() > 0, WaitMs);
        QVERIFY(!outcome->error.isEmpty());
        a->unsubscribe(name, &late);
    }

    QString error;
    QVERIFY2(m_server.restart(&error), qPrintable(error));
    QTRY_VERIFY_WITH_TIMEOUT(a->health().up && b->health().up, WaitMs);
    QCOMPARE(a->health().state, u"redis up"_s);

    // Published through the other node after the restart: the subscriber
    // from before the restart gets it, in the same epoch, right after 5.
    QVERIFY(publish(*b, items(stream, 6, 8), this, &results));
    QCOMPARE(results.front().seq, quint64(6));
    QCOMPARE(results.back().seq, quint64(8));
    QCOMPARE(results.front().epoch, epoch); // the AOF kept the stream
    QTRY_VERIFY_WITH_TIMEOUT(collector.has(stream, 8), WaitMs);
    QCOMPARE(seqsOf(collector.messages()), range(1, 8));
    const SessionView view = sessionView(subscription, collector.messages());
    QVERIFY2(view.gap.isEmpty(), qPrintable(view.gap));
    QTRY_COMPARE_WITH_TIMEOUT(a->subscribedStreams(), 1, WaitMs); // subscribed again
    QCOMPARE(late.count(), 0);
    a->unsubscribe(stream, &collector);
}

void TestRedisBroker::nodeCatchesUpFromHistoryAfterARestart()
{
    // Node A is back first and publishes at once; node B may still be
    // reconnecting, so it can miss the live messages and must read them
    // from the history.
    Collector collector;
    auto a = startBroker(options());
    auto b = startBroker(options());
    QVERIFY(a && b);
    const QString stream = u"user:alice"_s;
    Subscription subscription;
    QVERIFY(subscribe(*b, stream, std::nullopt, &collector, this, &subscription));
    QVERIFY(publish(*a, items(stream, 1, 3), this));
    QTRY_VERIFY_WITH_TIMEOUT(collector.has(stream, 3), WaitMs);

    m_server.stop();
    QTRY_VERIFY_WITH_TIMEOUT(!a->health().up && !b->health().up, WaitMs);
    QString error;
    QVERIFY2(m_server.restart(&error), qPrintable(error));
    QTRY_VERIFY_WITH_TIMEOUT(a->health().up, WaitMs);
    const int subscribedWhenPublished = b->subscribedStreams();
    std::vector<std::shared_ptr<PublishOutcome>> outcomes;
    for (int i = 4; i <= 10; ++i)
        outcomes.push_back(publishAsync(*a, items(stream, i, i), this));
    QTRY_VERIFY_WITH_TIMEOUT(outcomes.back()->calls.load() > 0, WaitMs);
    for (const auto &outcome : outcomes)
        QVERIFY2(outcome->error.isEmpty(), qPrintable(outcome->error));
    QCOMPARE(outcomes.back()->results.front().seq, quint64(10));

    QTRY_VERIFY_WITH_TIMEOUT(collector.has(stream, 10), WaitMs);
    QCOMPARE(seqsOf(collector.messages()), range(1, 10));
    QTRY_COMPARE_WITH_TIMEOUT(b->subscribedStreams(), 1, WaitMs);
    qInfo() << "node B was subscribed to" << subscribedWhenPublished << "streams when A published";
    b->unsubscribe(stream, &collector);
}

void TestRedisBroker::nodeCatchesUpFromHistoryAfterLosingPubSub()
{
    // Node B's pub/sub connection drops and cannot come back for a while
    // (Redis refuses new clients); what A publishes meanwhile reaches B's
    // subscriber from the history, in order, once B is back.
    Collector collector;
    auto a = startBroker(options());
    auto b = startBroker(options());
    QVERIFY(a && b);
    RedisConnection control(u"127.0.0.1"_s, m_server.port());
    control.open();
    QVERIFY(command(control, {"PING"}) == RedisReply::status("PONG"));

    const QString stream = u"user:alice"_s;
    Subscription subscription;
    QVERIFY(subscribe(*b, stream, std::nullopt, &collector, this, &subscription));
    QVERIFY(publish(*a, items(stream, 1, 3), this));
    QTRY_VERIFY_WITH_TIMEOUT(collector.has(stream, 3), WaitMs);

    RedisReply reply = command(control, {"CONFIG", "SET", "maxclients", "1"});
    QVERIFY2(reply == RedisReply::status("OK"), describe(reply).constData());
    reply = command(control, {"CLIENT", "KILL", "TYPE", "pubsub"}); // B's: A subscribed to nothing
    QVERIFY2(reply == RedisReply::fromInteger(1), describe(reply).constData());
    QTRY_VERIFY_WITH_TIMEOUT(!b->health().up, WaitMs);
    QCOMPARE(b->subscribedStreams(), 0);

    std::vector<PublishResult> results;
    QVERIFY(publish(*a, items(stream, 4, 6), this, &results));
    QVERIFY(publish(*a, items(stream, 7, 10), this, &results));
    QCOMPARE(results.back().seq, quint64(10));
    QCOMPARE(collector.count(), 3); // B cannot have heard of them

    reply = command(control, {"CONFIG", "SET", "maxclients", "10000"});
    QVERIFY2(reply == RedisReply::status("OK"), describe(reply).constData());
    QTRY_VERIFY_WITH_TIMEOUT(collector.has(stream, 10), WaitMs);
    QCOMPARE(seqsOf(collector.messages()), range(1, 10));
    QTRY_VERIFY_WITH_TIMEOUT(b->health().up, WaitMs);
    QCOMPARE(b->subscribedStreams(), 1);

    QVERIFY(publish(*a, items(stream, 11, 11), this));
    QTRY_VERIFY_WITH_TIMEOUT(collector.has(stream, 11), WaitMs);
    const SessionView view = sessionView(subscription, collector.messages());
    QVERIFY2(view.gap.isEmpty(), qPrintable(view.gap));
    QCOMPARE(view.seqs, range(1, 11));
    b->unsubscribe(stream, &collector);
}

void TestRedisBroker::unsubscribeIsCounted()
{
    Collector collector, control;
    auto broker = startBroker(options());
    QVERIFY(broker);
    const QString stream = u"room:lobby"_s;
    QCOMPARE(broker->subscribedStreams(), 0);

    Subscription subscription;
    QVERIFY(subscribe(*broker, stream, std::nullopt, &collector, this, &subscription));
    QVERIFY(subscribe(*broker, stream, std::nullopt, &collector, this, &subscription)); // two sessions
    QCOMPARE(broker->subscribedStreams(), 1);
    QVERIFY(publish(*broker, items(stream, 1, 1), this));

    broker->unsubscribe(stream, &collector);
    QVERIFY(publish(*broker, items(stream, 2, 2), this));
    QTRY_VERIFY_WITH_TIMEOUT(collector.has(stream, 2), WaitMs);
    QCOMPARE(seqsOf(collector.messages()), range(1, 2)); // once per subscriber, still subscribed
    QCOMPARE(broker->subscribedStreams(), 1);

    broker->unsubscribe(stream, &collector);
    QTRY_COMPARE_WITH_TIMEOUT(broker->subscribedStreams(), 0, WaitMs);
    broker->unsubscribe(stream, &collector); // one too many: harmless
    broker->unsubscribe(u"room:never"_s, &collector);

    // Another subscriber of the stream gets the next message; the one that
    // left does not (both would be handed it in the same step).
    QVERIFY(subscribe(*broker, stream, std::nullopt, &control, this, &subscription));
    QVERIFY(publish(*broker, items(stream, 3, 3), this));
    QTRY_VERIFY_WITH_TIMEOUT(control.has(stream, 3), WaitMs);
    QCOMPARE(seqsOf(collector.messages()), range(1, 2));
    broker->unsubscribe(stream, &control);
    QTRY_COMPARE_WITH_TIMEOUT(broker->subscribedStreams(), 0, WaitMs);
}

void TestRedisBroker::resubscribeRightAfterUnsubscribe()
{
    // The node's channel may still be on its way out when a new reader
    // comes: it must end up subscribed and delivering.
    Collector collector;
    auto broker = startBroker(options());
    QVERIFY(broker);
    const QString stream = u"room:lobby"_s;
    for (int round = 1; round <= 5; ++round) {
        Subscription subscription;
        QVERIFY(subscribe(*broker, stream, std::nullopt, &collector, this, &subscription));
        broker->unsubscribe(stream, &collector);
        const auto again = subscribeAsync(*broker, stream, std::nullopt, &collector, this);
        QTRY_VERIFY_WITH_TIMEOUT(again->calls.load() > 0, WaitMs);
        QVERIFY2(again->error.isEmpty(), qPrintable(again->error));
        QCOMPARE(again->subscription.seq, quint64(round - 1));
        QTRY_COMPARE_WITH_TIMEOUT(broker->subscribedStreams(), 1, WaitMs);
        QVERIFY(publish(*broker, items(stream, round, round), this));
        QTRY_VERIFY_WITH_TIMEOUT(collector.has(stream, quint64(round)), WaitMs);
        broker->unsubscribe(stream, &collector);
    }
    QCOMPARE(seqsOf(collector.messages()), range(1, 5));
    QTRY_COMPARE_WITH_TIMEOUT(broker->subscribedStreams(), 0, WaitMs);
}

void TestRedisBroker::unsubscribeBeforeTheAnswerAnswersOnce()
{
    Collector collector;
    auto broker = startBroker(options());
    QVERIFY(broker);
    std::vector<std::shared_ptr<SubscribeOutcome>> outcomes;
    for (int i = 0; i < 20; ++i) {
        const QString stream = u"user:%1"_s.arg(i);
        outcomes.push_back(subscribeAsync(*broker, stream, std::nullopt, &collector, this));
        broker->unsubscribe(stream, &collector);
    }
    QTRY_VERIFY_WITH_TIMEOUT(
        std::all_of(outcomes.begin(), outcomes.end(), [](const auto &o) { return o->calls.load() > 0; }),
        WaitMs);
    QTRY_COMPARE_WITH_TIMEOUT(broker->subscribedStreams(), 0, WaitMs);
    // A round trip through the broker later, still one answer each.
    QVERIFY(publish(*broker, items(u"user:0"_s, 1, 1), this));
    for (const auto &outcome : outcomes)
        QCOMPARE(outcome->calls.load(), 1);
    QCOMPARE(collector.count(), 0);
}

void TestRedisBroker::unreachableRedisStartsAndFailsFast()
{
    // Nothing listens on the port (the server's, stopped for now). start()
    // waits up to the command timeout for Redis, then goes on without it.
    m_server.stop();
    Collector collector;
    auto broker = startBroker(options());
    QVERIFY(broker); // start() does not fail without Redis
    QVERIFY(!broker->health().up);
    QVERIFY2(broker->health().state.startsWith(u"redis down"_s), qPrintable(broker->health().state));

    QElapsedTimer timer;
    timer.start();
    const auto outcome = publishAsync(*broker, items(u"user:alice"_s, 1, 1), this);
    QTRY_VERIFY_WITH_TIMEOUT(outcome->calls.load() > 0, WaitMs);
    QVERIFY2(timer.elapsed() < FastMs, qPrintable(QString::number(timer.elapsed())));
    QVERIFY(!outcome->error.isEmpty());
    QVERIFY2(!outcome->error.contains(u"timeout"_s), qPrintable(outcome->error)); // not waited out
    QVERIFY(outcome->results.empty());

    const auto subscription = subscribeAsync(*broker, u"user:alice"_s, std::nullopt, &collector, this);
    QTRY_VERIFY_WITH_TIMEOUT(subscription->calls.load() > 0, WaitMs);
    QVERIFY(!subscription->error.isEmpty());
    broker->unsubscribe(u"user:alice"_s, &collector);

    // When Redis appears, the broker comes up by itself.
    QString error;
    QVERIFY2(m_server.start(&error), qPrintable(error));
    QTRY_VERIFY_WITH_TIMEOUT(broker->health().up, WaitMs);
    std::vector<PublishResult> results;
    QVERIFY(publish(*broker, items(u"user:alice"_s, 1, 1), this, &results));
    QCOMPARE(results.front().seq, quint64(1));
}

void TestRedisBroker::emptyPublishIsAnswered()
{
    auto broker = startBroker(options());
    QVERIFY(broker);
    const auto outcome = publishAsync(*broker, {}, this);
    QTRY_VERIFY_WITH_TIMEOUT(outcome->calls.load() > 0, WaitMs);
    QVERIFY2(outcome->error.isEmpty(), qPrintable(outcome->error));
    QVERIFY(outcome->results.empty());
}

void TestRedisBroker::breakerClosesWhenRedisAnswersAgain()
{
    // Publishes time out (Redis paused): the breaker opens. Its probe gets
    // an answer, if only an error (Redis out of memory): Redis is there
    // again, so publishes go through once it accepts them.
    RedisBrokerOptions quick = options();
    quick.timeoutMs = 300;
    auto broker = startBroker(quick);
    QVERIFY(broker);
    const QString stream = u"user:alice"_s;
    QVERIFY(publish(*broker, items(stream, 1, 1), this));
    RedisConnection control(u"127.0.0.1"_s, m_server.port());
    control.open();

    RedisReply reply = command(control, {"CLIENT", "PAUSE", "5000", "WRITE"});
    QVERIFY2(reply == RedisReply::status("OK"), describe(reply).constData());
    for (int i = 0; i < 3; ++i) {
        QString error;
        QVERIFY(!publish(*broker, items(stream, 2, 2), this, nullptr, &error));
        QVERIFY2(error.contains(u"timeout"_s), qPrintable(error));
    }
    QString error;
    QVERIFY(!publish(*broker, items(stream, 2, 2), this, nullptr, &error));
    QVERIFY2(error.contains(u"refused"_s), qPrintable(error)); // open: not even sent
    QVERIFY(!broker->health().up);

    reply = command(control, {"CONFIG", "SET", "maxmemory", "1"});
    QVERIFY2(reply == RedisReply::status("OK"), describe(reply).constData());
    reply = command(control, {"CLIENT", "UNPAUSE"});
    QVERIFY2(reply == RedisReply::status("OK"), describe(reply).constData());

    // After the cool-down the probe goes, and Redis answers it with an error.
    auto probeAnswered = [&] {
        QString text;
        publish(*broker, items(stream, 2, 2), this, nullptr, &text);
        return text.contains(u"OOM"_s);
    };
    QTRY_VERIFY_WITH_TIMEOUT(probeAnswered(), WaitMs);

    reply = command(control, {"CONFIG", "SET", "maxmemory", "0"});
    QVERIFY2(reply == RedisReply::status("OK"), describe(reply).constData());
    auto published = [&] {
        QString text;
        return publish(*broker, items(stream, 2, 2), this, nullptr, &text);
    };
    QTRY_VERIFY_WITH_TIMEOUT(published(), WaitMs);
    QTRY_VERIFY_WITH_TIMEOUT(broker->health().up, WaitMs);
}

void TestRedisBroker::publishAnswersOnTheContextThread()
{
    // A context living in another thread gets its answers there. (It
    // outlives the broker, which is destroyed first.)
    QThread thread;
    QObject context;
    context.moveToThread(&thread);
    thread.start();
    const auto stopThread = qScopeGuard([&thread] {
        thread.quit();
        thread.wait();
    });
    Collector collector;
    auto broker = startBroker(options());
    QVERIFY(broker);

    const auto outcome = publishAsync(*broker, items(u"user:alice"_s, 1, 3), &context);
    QTRY_VERIFY_WITH_TIMEOUT(outcome->calls.load() > 0, WaitMs);
    QCOMPARE(outcome->thread, &thread);
    QVERIFY(outcome->error.isEmpty());
    QCOMPARE(outcome->results.size(), size_t(3));

    auto answeredOn = std::make_shared<std::atomic<QThread *>>(nullptr);
    broker->subscribe(
        u"user:alice"_s, std::nullopt, &collector, &context,
        [answeredOn](const Subscription &, const QString &) { *answeredOn = QThread::currentThread(); });
    QTRY_VERIFY_WITH_TIMEOUT(answeredOn->load() != nullptr, WaitMs);
    QCOMPARE(answeredOn->load(), &thread);
    broker->unsubscribe(u"user:alice"_s, &collector);
}

void TestRedisBroker::stopAnswersEverythingInFlight()
{
    Collector collector;
    auto broker = startBroker(options());
    QVERIFY(broker);
    std::vector<std::shared_ptr<PublishOutcome>> publishes;
    std::vector<std::shared_ptr<SubscribeOutcome>> subscriptions;
    for (int i = 1; i <= 100; ++i) {
        publishes.push_back(publishAsync(*broker, items(u"user:%1"_s.arg(i % 7), i, i), this));
        if (i % 10 == 0)
            subscriptions.push_back(
                subscribeAsync(*broker, u"user:%1"_s.arg(i), std::nullopt, &collector, this));
    }
    broker->stop();

    // Each callback runs exactly once, stored or not.
    QTRY_VERIFY_WITH_TIMEOUT(
        std::all_of(publishes.begin(), publishes.end(), [](const auto &o) { return o->calls.load() > 0; }),
        WaitMs);
    QTRY_VERIFY_WITH_TIMEOUT(std::all_of(subscriptions.begin(), subscriptions.end(),
                                         [](const auto &o) { return o->calls.load() > 0; }),
                             WaitMs);
    QTest::qWait(50); // let any (wrongly) repeated callback run before we look
    for (const auto &outcome : publishes) {
        QCOMPARE(outcome->calls.load(), 1);
        QCOMPARE(outcome->error.isEmpty(), !outcome->results.empty());
    }
    for (const auto &outcome : subscriptions)
        QCOMPARE(outcome->calls.load(), 1);

    // After stop(), everything fails at once.
    QString error;
    QVERIFY(!publish(*broker, items(u"user:alice"_s, 1, 1), this, nullptr, &error));
    QVERIFY(!error.isEmpty());
    const auto late = subscribeAsync(*broker, u"user:alice"_s, std::nullopt, &collector, this);
    QTRY_VERIFY_WITH_TIMEOUT(late->calls.load() > 0, WaitMs);
    QVERIFY(!late->error.isEmpty());
    for (int i = 10; i <= 100; i += 10)
        broker->unsubscribe(u"user:%1"_s.arg(i), &collector);
    broker->unsubscribe(u"user:alice"_s, &collector);
}

QTEST_GUILESS_MAIN(TestRedisBroker)
#include "tst_redisbroker.moc"
