// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 BFG developers
//
// GET /metrics on a real bfgd (decision and push roles in one process),
// read with the tests' strict parser of the text format: after a client
// connects and messages are published, the figures an operator would look
// at say so (one connection, what was published was delivered, one
// assignment), each limit a test runs into shows in
// bfg_limit_exceeded_total, and general/metrics_key closes the endpoint.
#include <QNetworkAccessManager>
#include <QSignalSpy>
#include <QTcpSocket>
#include <QTest>
#include <QWebSocket>

#include "bfg/v1/api.pb.h"
#include "bfg/v1/frames.pb.h"
#include "common/decisionclient.h"
#include "common/protocol.h"
#include "common/pushclient.h"
#include "tests/support/bfgdprocess.h"
#include "tests/support/prometheustext.h"
#include "tests/support/redisserver.h"
#include "tests/support/testhttp.h"

using namespace Qt::Literals::StringLiterals;
using bfg::test::BfgdProcess;
using bfg::test::PrometheusText;
namespace v1 = bfg::v1;

namespace {
constexpr int WaitMs = 10000;
const QByteArray TextFormat = "text/plain; version=0.0.4; charset=utf-8";

QUrl metricsUrl(QUrl base)
{
    base.setPath(u"/metrics"_s);
    return base;
}
} // namespace

class TestMetrics : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void scrapesShowAClientAndItsMessages();
    void limitsCountWhenExceeded();
    void metricsKeyClosesTheEndpoint();
    void redisBrokerStateFollowsRedis();

private:
    // Scrapes `url` and parses it strictly; fails the test on any problem.
    std::optional<PrometheusText> scrape(const QUrl &url, const QByteArray &authorization = {});
    // One value of a fresh scrape; NaN when the scrape or the sample is missing.
    double scrapeValue(const QUrl &url, const QByteArray &name, const PrometheusText::Labels &labels = {});
    bfg::test::HttpResult publish(const BfgdProcess &bfgd, const QByteArray &json);

    QNetworkAccessManager m_network;
};

std::optional<PrometheusText> TestMetrics::scrape(const QUrl &url, const QByteArray &authorization)
{
    const auto result =
        bfg::test::httpCall(m_network, {"GET", metricsUrl(url), {}, {}, authorization, {}, {}});
    if (result.status != 200) {
        qWarning() << "scrape of" << url << "failed:" << result.describe();
        return std::nullopt;
    }
    if (result.contentType != TextFormat) {
        qWarning() << "scrape of" << url << "has Content-Type" << result.contentType;
        return std::nullopt;
    }
    QString error;
    std::optional<PrometheusText> parsed = PrometheusText::parse(result.body, &error);
    if (!parsed)
        qWarning().noquote() << "scrape of" << url.toString() << "is not valid:" << error;
    return parsed;
}

double TestMetrics::scrapeValue(const QUrl &url, const QByteArray &name, const PrometheusText::Labels &labels)
{
    const std::optional<PrometheusText> parsed = scrape(url);
    return parsed ? parsed->value(name, labels).value_or(qQNaN()) : qQNaN();
}

bfg::test::HttpResult TestMetrics::publish(const BfgdProcess &bfgd, const QByteArray &json)
{
    QUrl url = bfgd.publishUrl();
    url.setPath(u"/v1/publish"_s);
    return bfg::test::httpCall(m_network,
                               {"POST", url, json, "application/json", {}, "application/json", {}});
}

void TestMetrics::scrapesShowAClientAndItsMessages()
{
    BfgdProcess bfgd;
    QString error;
    QVERIFY2(bfgd.start(&error), qPrintable(error));

    // Before anything happens: both listeners answer, every family is there.
    auto push = scrape(bfgd.publishUrl());
    QVERIFY(push);
    auto decision = scrape(bfgd.decisionUrl());
    QVERIFY(decision);
    for (const QByteArray family :
         {"bfg_push_connections", "bfg_push_handshakes_total", "bfg_push_messages_delivered_total",
          "bfg_push_messages_published_total", "bfg_push_messages_replayed_total",
          "bfg_push_delivery_latency_seconds", "bfg_push_send_queue_bytes",
          "bfg_push_slow_consumer_disconnects_total", "bfg_push_draining", "bfg_broker_up",
          "bfg_broker_state", "bfg_limit_exceeded_total", "process_resident_memory_bytes",
          "process_cpu_seconds_total", "process_open_fds", "process_start_time_seconds", "bfg_build_info"})
        QVERIFY2(push->has(family), family.constData());
    for (const QByteArray family :
         {"bfg_decision_assignments_total", "bfg_decision_nodes", "bfg_decision_allowed_load_ratio",
          "bfg_limit_exceeded_total", "process_resident_memory_bytes", "bfg_build_info"})
        QVERIFY2(decision->has(family), family.constData());
    QCOMPARE(push->value("bfg_push_connections"), 0.0);
    QCOMPARE(push->value("bfg_broker_up", {{"type", "local"}}), 1.0);
    QCOMPARE(push->value("bfg_push_draining"), 0.0);
    QCOMPARE(push->families().value("bfg_push_delivery_latency_seconds").type, QByteArray("histogram"));
    QCOMPARE(decision->value("bfg_decision_allowed_load_ratio"), 0.8);
    QVERIFY(push->value("process_resident_memory_bytes").value_or(0) > 0);
    QVERIFY(decision->value("process_resident_memory_bytes").value_or(0) > 0);

    // A client goes live.
    bfg::DecisionClient decisionClient({bfgd.decisionUrl()});
    bfg::PushClient::Options options;
    options.userId = u"alice"_s;
    bfg::PushClient client(&decisionClient, options);
    int received = 0;
    connect(&client, &bfg::PushClient::messageReceived, this, [&received] { ++received; });
    client.start();
    QTRY_COMPARE_WITH_TIMEOUT(client.state(), bfg::PushClient::State::Live, WaitMs);
    push = scrape(bfgd.publishUrl());
    QVERIFY(push);
    QCOMPARE(push->value("bfg_push_connections"), 1.0);
    QCOMPARE(push->value("bfg_push_handshakes_total", {{"result", "ok"}}), 1.0);
    decision = scrape(bfgd.decisionUrl());
    QVERIFY(decision);
    // One session, one assignment (a 503 may have come first, before the node's first report).
    QCOMPARE(decision->value("bfg_decision_assignments_total", {{"status", "200"}}), 1.0);
    QCOMPARE(decision->value("bfg_decision_nodes", {{"state", "active"}}), 1.0);

    // 25 messages in one request: published, delivered, measured.
    constexpr int Messages = 25;
    QByteArray items;
    for (int i = 0; i < Messages; ++i)
        items += (i ? "," : "") + QByteArray(R"({"stream":"user:alice","text":"m)") + QByteArray::number(i) +
                 "\"}";
    const auto published = publish(bfgd, "{\"items\":[" + items + "]}");
    QVERIFY2(published.status == 200, qPrintable(published.describe()));
    QTRY_COMPARE_WITH_TIMEOUT(received, Messages, WaitMs);
    push = scrape(bfgd.publishUrl());
    QVERIFY(push);
    QCOMPARE(push->value("bfg_push_messages_published_total"), double(Messages));
    QCOMPARE(push->value("bfg_push_messages_delivered_total"), double(Messages));
    QCOMPARE(push->value("bfg_push_messages_replayed_total"), 0.0);
    QCOMPARE(push->value("bfg_push_delivery_latency_seconds_count"), double(Messages));
    QCOMPARE(push->value("bfg_push_delivery_latency_seconds_bucket", {{"le", "+Inf"}}), double(Messages));
    QVERIFY(push->value("bfg_push_delivery_latency_seconds_sum").value_or(-1) >= 0);
    QCOMPARE(push->value("bfg_push_publish_requests_total", {{"status", "200"}}), 1.0);
    QCOMPARE(push->value("bfg_push_publish_duration_seconds_count"), 1.0);

    client.stop();
    QTRY_COMPARE_WITH_TIMEOUT(scrapeValue(bfgd.publishUrl(), "bfg_push_connections"), 0.0, WaitMs);
    QCOMPARE(received, Messages);

    // A client resuming from seq 20 gets the last 5 replayed.
    const v1::StreamPosition position = client.positions().value(u"user:alice"_s);
    QCOMPARE(position.seq(), quint64(Messages));
    QUrl assignUrl = bfgd.decisionUrl();
    assignUrl.setPath(u"/v1/assign"_s);
    assignUrl.setQuery(u"user=alice"_s);
    const auto assigned = bfg::test::httpCall(m_network, {"GET", assignUrl, {}, {}, {}, {}, {}});
    QCOMPARE(assigned.status, 200);
    v1::ClientFrame hello;
    hello.mutable_hello()->set_token(assigned.json().value(u"token"_s).toString().toStdString());
    v1::StreamPosition *from = hello.mutable_hello()->add_positions();
    *from = position;
    from->set_seq(Messages - 5);
    QWebSocket resuming;
    int replayed = 0;
    connect(&resuming, &QWebSocket::binaryMessageReceived, this, [&replayed](const QByteArray &bytes) {
        v1::ServerFrame frame;
        if (bfg::protocol::decode(bytes, &frame) && frame.has_message())
            ++replayed;
    });
    resuming.open(bfgd.pushUrl());
    QTRY_COMPARE_WITH_TIMEOUT(resuming.state(), QAbstractSocket::ConnectedState, WaitMs);
    resuming.sendBinaryMessage(bfg::protocol::encode(hello));
    QTRY_COMPARE_WITH_TIMEOUT(replayed, 5, WaitMs);
    push = scrape(bfgd.publishUrl());
    QVERIFY(push);
    QCOMPARE(push->value("bfg_push_messages_replayed_total"), 5.0);
    QCOMPARE(push->value("bfg_push_messages_delivered_total"), double(Messages)); // replays apart
    QCOMPARE(push->value("bfg_push_handshakes_total", {{"result", "ok"}}), 2.0);
    QCOMPARE(push->value("bfg_push_connections"), 1.0);
    decision = scrape(bfgd.decisionUrl());
    QVERIFY(decision);
    QCOMPARE(decision->value("bfg_decision_assignments_total", {{"status", "200"}}), 2.0);
}

void TestMetrics::limitsCountWhenExceeded()
{
    BfgdProcess bfgd(
        {u"--set"_s, u"push/publish_requests_per_s=2"_s, u"--set"_s, u"push/handshake_timeout_ms=200"_s});
    QString error;
    QVERIFY2(bfgd.start(&error), qPrintable(error));

    // Publish rate: 2 a second from one address (burst 2); count the 429s.
    int limited = 0;
    for (int i = 0; i < 6; ++i) {
        const auto result = publish(bfgd, R"({"stream":"room:1","text":"x"})");
        QVERIFY2(result.status == 200 || result.status == 429, qPrintable(result.describe()));
        limited += result.status == 429 ? 1 : 0;
    }
    QVERIFY2(limited >= 3, qPrintable(QString::number(limited)));

    // Body size on the decision listener (64 KiB).
    QUrl report = bfgd.decisionUrl();
    report.setPath(u"/v1/nodes/x/report"_s);
    const auto tooLarge = bfg::test::httpCall(
        m_network, {"POST", report, QByteArray(70000, 'x'), "application/x-protobuf", {}, {}, {}});
    QCOMPARE(tooLarge.status, 413);

    // Frame size: a message above push/max_frame_bytes (64 KiB) before the hello.
    QWebSocket big;
    QSignalSpy closed(&big, &QWebSocket::disconnected);
    big.open(bfgd.pushUrl());
    QTRY_COMPARE_WITH_TIMEOUT(big.state(), QAbstractSocket::ConnectedState, WaitMs);
    big.sendBinaryMessage(QByteArray(70000, 'x'));
    QTRY_COMPARE_WITH_TIMEOUT(closed.size(), 1, WaitMs);
    QCOMPARE(int(big.closeCode()), 3504); // FRAME_TOO_LARGE

    // Handshake timeout: a TCP connection that never sends its upgrade.
    QTcpSocket silent;
    silent.connectToHost(bfgd.pushUrl().host(), quint16(bfgd.pushUrl().port()));
    QVERIFY(silent.waitForConnected(WaitMs));
    QTRY_COMPARE_WITH_TIMEOUT(silent.state(), QAbstractSocket::UnconnectedState, WaitMs);

    auto push = scrape(bfgd.publishUrl());
    QVERIFY(push);
    QCOMPARE(push->value("bfg_limit_exceeded_total", {{"limit", "publish_rate"}}), double(limited));
    QCOMPARE(push->value("bfg_push_publish_requests_total", {{"status", "429"}}), double(limited));
    QCOMPARE(push->value("bfg_limit_exceeded_total", {{"limit", "frame_size"}}), 1.0);
    QCOMPARE(push->value("bfg_limit_exceeded_total", {{"limit", "handshake_timeout"}}), 1.0);
    QCOMPARE(push->value("bfg_push_handshakes_total", {{"result", "limited"}}), 1.0); // the large frame
    QCOMPARE(push->value("bfg_push_handshakes_total", {{"result", "timeout"}}), 1.0);
    QCOMPARE(push->value("bfg_limit_exceeded_total", {{"limit", "inbound_rate"}}), 0.0);
    QTRY_COMPARE_WITH_TIMEOUT(scrapeValue(bfgd.publishUrl(), "bfg_push_connections"), 0.0, WaitMs);
    auto decision = scrape(bfgd.decisionUrl());
    QVERIFY(decision);
    QCOMPARE(decision->value("bfg_limit_exceeded_total", {{"limit", "body_size"}}), 1.0);
    QCOMPARE(decision->value("bfg_limit_exceeded_total", {{"limit", "assign_rate"}}), 0.0);
}

void TestMetrics::metricsKeyClosesTheEndpoint()
{
    BfgdProcess bfgd({u"--set"_s, u"general/metrics_key=scrape-key-0123456789"_s});
    QString error;
    QVERIFY2(bfgd.start(&error), qPrintable(error));
    for (const QUrl &listener : {bfgd.decisionUrl(), bfgd.publishUrl()}) {
        const auto open = bfg::test::httpCall(m_network, {"GET", metricsUrl(listener), {}, {}, {}, {}, {}});
        QCOMPARE(open.status, 401);
        QCOMPARE(open.errorCode(), u"unauthorized"_s);
        const auto wrong = bfg::test::httpCall(
            m_network,
            {"GET", metricsUrl(listener), {}, {}, bfg::test::bearer("scrape-key-01234567"), {}, {}});
        QCOMPARE(wrong.status, 401);
        QVERIFY(scrape(listener, bfg::test::bearer("scrape-key-0123456789")));
    }
}

void TestMetrics::redisBrokerStateFollowsRedis()
{
    bfg::test::RedisServer redis;
    QString error;
    QVERIFY2(redis.start(&error), qPrintable(error));
    BfgdProcess bfgd({u"--set"_s, u"broker/type=redis"_s, u"--set"_s,
                      u"broker/redis_address=127.0.0.1:%1"_s.arg(redis.port()), u"--set"_s,
                      u"broker/redis_timeout_ms=500"_s, u"--set"_s, u"push/drain_timeout_ms=0"_s});
    QVERIFY2(bfgd.start(&error), qPrintable(error));
    QTRY_COMPARE_WITH_TIMEOUT(scrapeValue(bfgd.publishUrl(), "bfg_broker_up", {{"type", "redis"}}), 1.0,
                              WaitMs);
    QCOMPARE(scrapeValue(bfgd.publishUrl(), "bfg_broker_state", {{"state", "up"}}), 1.0);

    redis.stop();
    QTRY_COMPARE_WITH_TIMEOUT(scrapeValue(bfgd.publishUrl(), "bfg_broker_up", {{"type", "redis"}}), 0.0,
                              WaitMs);
    auto push = scrape(bfgd.publishUrl());
    QVERIFY(push);
    QCOMPARE(push->value("bfg_broker_state", {{"state", "up"}}), 0.0);
    QCOMPARE(push->value("bfg_broker_state", {{"state", "degraded"}}).value_or(0) +
                 push->value("bfg_broker_state", {{"state", "down"}}).value_or(0),
             1.0);
    // A publish now fails fast with 503, and says so.
    const auto refused = publish(bfgd, R"({"stream":"room:1","text":"x"})");
    QCOMPARE(refused.status, 503);
    QCOMPARE(scrapeValue(bfgd.publishUrl(), "bfg_push_publish_requests_total", {{"status", "503"}}), 1.0);

    QVERIFY2(redis.restart(&error), qPrintable(error));
    QTRY_COMPARE_WITH_TIMEOUT(scrapeValue(bfgd.publishUrl(), "bfg_broker_up", {{"type", "redis"}}), 1.0,
                              20000);
}

QTEST_GUILESS_MAIN(TestMetrics)
#include "tst_metrics.moc"
