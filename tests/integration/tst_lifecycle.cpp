// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 BFG developers
//
// bfgd as a service sees it: what it tells systemd (READY, STATUS, WATCHDOG,
// RELOADING, STOPPING on the NOTIFY_SOCKET, as a Type=notify unit gets
// them), SIGHUP reloading the configuration file (new keys and limits in
// effect, a broken file refused with the running settings kept), and SIGTERM
// stopping gracefully with exit code 0: the push role drains its clients,
// the decision role answers the request it is in the middle of.
#include <algorithm>
#include <csignal>
#include <cstring>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <QFile>
#include <QNetworkAccessManager>
#include <QProcessEnvironment>
#include <QSocketNotifier>
#include <QTcpSocket>
#include <QTemporaryDir>
#include <QTest>
#include <QWebSocket>

#include "bfg/v1/api.pb.h"
#include "bfg/v1/frames.pb.h"
#include "common/protocol.h"
#include "tests/support/bfgdprocess.h"
#include "tests/support/testhttp.h"

using namespace Qt::Literals::StringLiterals;
using bfg::test::BfgdProcess;
namespace protocol = bfg::protocol;
namespace v1 = bfg::v1;

namespace {
constexpr int WaitMs = 15000;
const QByteArray OldKey = "old-publish-key-0123456789";
const QByteArray NewKey = "new-publish-key-0123456789";

#ifdef BFG_HAVE_SYSTEMD
constexpr bool HaveSystemd = true;
#else
constexpr bool HaveSystemd = false;
#endif

// The service manager's end of sd_notify(3): a unix datagram socket; each
// datagram holds newline-separated assignments ("READY=1\nSTATUS=...").
class NotifySocket : public QObject
{
public:
    ~NotifySocket() override
    {
        if (m_fd >= 0)
            ::close(m_fd);
    }

    bool open(const QString &path)
    {
        sockaddr_un address = {};
        address.sun_family = AF_UNIX;
        const QByteArray native = QFile::encodeName(path);
        if (size_t(native.size()) >= sizeof address.sun_path)
            return false;
        memcpy(address.sun_path, native.constData(), size_t(native.size()));
        m_fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (m_fd < 0 || ::bind(m_fd, reinterpret_cast<sockaddr *>(&address), sizeof address) != 0)
            return false;
        m_path = path;
        auto *notifier = new QSocketNotifier(m_fd, QSocketNotifier::Read, this);
        connect(notifier, &QSocketNotifier::activated, this, [this] {
            char buffer[4096];
            ssize_t got;
            while ((got = ::recv(m_fd, buffer, sizeof buffer, 0)) > 0) {
                const QStringList assignments =
                    QString::fromUtf8(buffer, got).split(u'\n', Qt::SkipEmptyParts);
                m_lines += assignments;
            }
        });
        return true;
    }

    QString path() const { return m_path; }
    // Every assignment received, in order.
    const QStringList &lines() const { return m_lines; }
    int count(const QString &line) const { return int(m_lines.count(line)); }
    int indexOf(const QString &line, int from = 0) const { return int(m_lines.indexOf(line, from)); }
    // The STATUS= values received, in order.
    QStringList statuses() const
    {
        QStringList values;
        for (const QString &line : m_lines) {
            if (line.startsWith(u"STATUS="_s))
                values.append(line.mid(7));
        }
        return values;
    }

    // The environment systemd gives a Type=notify service with WatchdogSec.
    QProcessEnvironment environment(int watchdogUsec) const
    {
        QProcessEnvironment environment = QProcessEnvironment::systemEnvironment();
        environment.insert(u"NOTIFY_SOCKET"_s, m_path);
        if (watchdogUsec > 0)
            environment.insert(u"WATCHDOG_USEC"_s, QString::number(watchdogUsec));
        environment.remove(u"WATCHDOG_PID"_s); // unset: meant for bfgd, whatever its pid
        return environment;
    }

private:
    int m_fd = -1;
    QString m_path;
    QStringList m_lines;
};

// A WebSocket client that says hello and records the frames and the close.
class WsClient : public QObject
{
public:
    WsClient()
    {
        connect(&m_socket, &QWebSocket::disconnected, this, [this] {
            m_closed = true;
            m_closeCode = int(m_socket.closeCode());
        });
        connect(&m_socket, &QWebSocket::binaryMessageReceived, this, [this](const QByteArray &bytes) {
            v1::ServerFrame frame;
            if (protocol::decode(bytes, &frame))
                m_frames.push_back(frame);
        });
    }

    void connectWith(const QUrl &url, const std::string &token)
    {
        connect(&m_socket, &QWebSocket::connected, this, [this, token] {
            v1::ClientFrame frame;
            frame.mutable_hello()->set_token(token);
            frame.mutable_hello()->set_client("tst_lifecycle");
            m_socket.sendBinaryMessage(protocol::encode(frame));
        });
        m_socket.open(url);
    }

    bool has(v1::ServerFrame::KindCase kind) const
    {
        return std::any_of(m_frames.begin(), m_frames.end(),
                           [kind](const v1::ServerFrame &frame) { return frame.kind_case() == kind; });
    }
    const v1::ServerFrame *first(v1::ServerFrame::KindCase kind) const
    {
        for (const v1::ServerFrame &frame : m_frames) {
            if (frame.kind_case() == kind)
                return &frame;
        }
        return nullptr;
    }
    bool isClosed() const { return m_closed; }
    int closeCode() const { return m_closeCode; }

private:
    QWebSocket m_socket;
    std::vector<v1::ServerFrame> m_frames;
    bool m_closed = false;
    int m_closeCode = -1;
};

void writeConfig(const QString &path, const QByteArray &text)
{
    QFile file(path);
    if (!file.open(QIODevice::WriteOnly | QIODevice::Truncate))
        qFatal("cannot write %s", qPrintable(path));
    file.write(text);
}

// The line of `log` that contains `text`, empty when none does.
QByteArray lineWith(const QByteArray &log, const QByteArray &text)
{
    for (const QByteArray &line : log.split('\n')) {
        if (line.contains(text))
            return line;
    }
    return {};
}
} // namespace

class TestLifecycle : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void systemdHearsReadyStatusWatchdogAndStopping();
    void reloadAppliesNewKeysAndLimits();
    void brokenConfigOnReloadKeepsTheRunningSettings();
    void stopDrainsConnectedClientsAndExitsZero();
    void stopAnswersTheDecisionRequestInProgress();

private:
    bool connectUser(const BfgdProcess &bfgd, const QString &user, WsClient *client);
    int publishWith(const BfgdProcess &bfgd, const QByteArray &key);

    QNetworkAccessManager m_network;
};

bool TestLifecycle::connectUser(const BfgdProcess &bfgd, const QString &user, WsClient *client)
{
    QUrl url = bfgd.decisionUrl();
    url.setPath(u"/v1/assign"_s);
    url.setQuery(u"user="_s + user);
    v1::AssignResponse assigned;
    // Until the node's first report arrives the answer is 503: ask again.
    const bool ok = QTest::qWaitFor(
        [&] {
            const auto result =
                bfg::test::httpCall(m_network, {"GET", url, {}, {}, {}, "application/x-protobuf", {}});
            return result.status == 200 && protocol::decode(result.body, &assigned) &&
                   !assigned.token().empty();
        },
        WaitMs);
    if (!ok)
        return false;
    client->connectWith(QUrl(QString::fromStdString(assigned.uri())), assigned.token());
    return QTest::qWaitFor(
        [client] { return client->has(v1::ServerFrame::kWelcome) || client->has(v1::ServerFrame::kError); },
        WaitMs);
}

int TestLifecycle::publishWith(const BfgdProcess &bfgd, const QByteArray &key)
{
    QUrl url = bfgd.publishUrl();
    url.setPath(u"/v1/publish"_s);
    return bfg::test::httpCall(m_network, {"POST",
                                           url,
                                           R"({"stream":"user:alice","text":"x"})",
                                           "application/json",
                                           bfg::test::bearer(key),
                                           {},
                                           {}})
        .status;
}

void TestLifecycle::systemdHearsReadyStatusWatchdogAndStopping()
{
    if (!HaveSystemd)
        QSKIP("bfgd was built without libsystemd (libsystemd-dev): it sends no notifications");
    QTemporaryDir dir;
    NotifySocket notify;
    QVERIFY(notify.open(dir.filePath(u"notify"_s)));
    BfgdProcess bfgd;
    bfgd.setEnvironment(notify.environment(1'000'000)); // WatchdogSec=1s: a keep-alive every 0.5 s
    QString error;
    QVERIFY2(bfgd.start(&error), qPrintable(error));

    // Ready once it listens, with a status line systemctl status shows.
    QTRY_VERIFY_WITH_TIMEOUT(notify.count(u"READY=1"_s) == 1, WaitMs);
    QVERIFY2(!notify.statuses().isEmpty(), qPrintable(notify.lines().join(u" | "_s)));
    const QString first = notify.statuses().first();
    QVERIFY2(first.contains(u"push: 0 connections"_s) && first.contains(u"decision: "_s), qPrintable(first));

    // The status follows the node: a client connects.
    WsClient client;
    QVERIFY(connectUser(bfgd, u"alice"_s, &client));
    QVERIFY(client.has(v1::ServerFrame::kWelcome));
    QTRY_VERIFY_WITH_TIMEOUT(notify.statuses().last().contains(u"push: 1 connection"_s), WaitMs);

    // Keep-alives come from the running event loop.
    QTRY_VERIFY_WITH_TIMEOUT(notify.count(u"WATCHDOG=1"_s) >= 2, WaitMs);

    QVERIFY(bfgd.sendSignal(SIGTERM));
    QTRY_VERIFY_WITH_TIMEOUT(notify.count(u"STOPPING=1"_s) == 1, WaitMs);
    QCOMPARE(bfgd.waitForExit(WaitMs * 2), 0);
}

void TestLifecycle::reloadAppliesNewKeysAndLimits()
{
    QTemporaryDir dir;
    const QString config = dir.filePath(u"bfgd.conf"_s);
    writeConfig(config, "[push]\npublish_keys = " + OldKey + "\n");
    NotifySocket notify;
    QVERIFY(notify.open(dir.filePath(u"notify"_s)));
    BfgdProcess bfgd({u"--config"_s, config});
    bfgd.setEnvironment(notify.environment(0));
    QString error;
    QVERIFY2(bfgd.start(&error), qPrintable(error));

    QCOMPARE(publishWith(bfgd, OldKey), 200);
    QCOMPARE(publishWith(bfgd, NewKey), 401);
    // Two sessions of one user are fine under the default limit (10).
    WsClient first, second;
    QVERIFY(connectUser(bfgd, u"bob"_s, &first));
    QVERIFY(connectUser(bfgd, u"bob"_s, &second));
    QVERIFY(first.has(v1::ServerFrame::kWelcome) && second.has(v1::ServerFrame::kWelcome));

    // The new file: another key, one session per user, and a change that
    // needs a restart.
    writeConfig(config, "[push]\npublish_keys = " + NewKey +
                            "\nmax_connections_per_user = 1\nconnections_per_user_policy = refuse_new\n"
                            "workers = 3\n");
    QVERIFY(bfgd.sendSignal(SIGHUP));
    QVERIFY2(bfgd.waitForOutput("reloaded", WaitMs), bfgd.readOutput().constData());
    QVERIFY(bfgd.waitForOutput("after a restart", WaitMs));
    const QByteArray log = bfgd.readOutput();
    const QByteArray reloaded = lineWith(log, "reloaded");
    for (const char *key :
         {"push/publish_keys", "push/max_connections_per_user", "push/connections_per_user_policy"})
        QVERIFY2(reloaded.contains(key), reloaded.constData());
    QVERIFY2(!reloaded.contains("push/workers"), reloaded.constData());
    const QByteArray restart = lineWith(log, "after a restart");
    QVERIFY2(restart.contains("push/workers") && !restart.contains("publish_keys"), restart.constData());

    // The new key publishes, the removed one is refused.
    QCOMPARE(publishWith(bfgd, NewKey), 200);
    QCOMPARE(publishWith(bfgd, OldKey), 401);
    // The new limit: bob's next session is refused; those already here stay.
    WsClient third;
    QVERIFY(connectUser(bfgd, u"bob"_s, &third));
    QTRY_VERIFY_WITH_TIMEOUT(third.isClosed(), WaitMs);
    QCOMPARE(third.closeCode(), int(v1::TOO_MANY_CONNECTIONS));
    QVERIFY(!first.isClosed() && !second.isClosed());

    if (HaveSystemd) {
        // systemd saw the reload begin and end.
        const int reloading = notify.indexOf(u"RELOADING=1"_s);
        QVERIFY2(reloading >= 0, qPrintable(notify.lines().join(u" | "_s)));
        QVERIFY(notify.indexOf(u"READY=1"_s, reloading) > reloading);
    }
    QCOMPARE(bfgd.stop(), 0);
}

void TestLifecycle::brokenConfigOnReloadKeepsTheRunningSettings()
{
    QTemporaryDir dir;
    const QString config = dir.filePath(u"bfgd.conf"_s);
    writeConfig(config, "[push]\npublish_keys = " + OldKey + "\n");
    BfgdProcess bfgd({u"--config"_s, config});
    QString error;
    QVERIFY2(bfgd.start(&error), qPrintable(error));
    QCOMPARE(publishWith(bfgd, OldKey), 200);

    // A valid change next to a bad value: nothing of it is applied.
    writeConfig(config, "[push]\npublish_keys = " + NewKey + "\ninbound_frames_per_s = lots\n");
    QVERIFY(bfgd.sendSignal(SIGHUP));
    QVERIFY2(bfgd.waitForOutput("refused", WaitMs), bfgd.readOutput().constData());
    const QByteArray refused = lineWith(bfgd.readOutput(), "refused");
    QVERIFY2(refused.contains("push/inbound_frames_per_s"), refused.constData());
    QVERIFY(bfgd.isRunning());
    QCOMPARE(publishWith(bfgd, OldKey), 200);
    QCOMPARE(publishWith(bfgd, NewKey), 401);

    // Unknown keys are refused the same way; once fixed, the reload goes through.
    writeConfig(config, "[push]\npublish_keys = " + NewKey + "\npublish_keyz = typo\n");
    QVERIFY(bfgd.sendSignal(SIGHUP));
    QVERIFY(bfgd.waitForOutput("push/publish_keyz", WaitMs));
    QCOMPARE(publishWith(bfgd, OldKey), 200);
    writeConfig(config, "[push]\npublish_keys = " + NewKey + "\n");
    QVERIFY(bfgd.sendSignal(SIGHUP));
    QVERIFY(bfgd.waitForOutput("applied: push/publish_keys", WaitMs));
    QCOMPARE(publishWith(bfgd, NewKey), 200);
    QCOMPARE(publishWith(bfgd, OldKey), 401);
    QCOMPARE(bfgd.stop(), 0);
}

void TestLifecycle::stopDrainsConnectedClientsAndExitsZero()
{
    BfgdProcess bfgd;
    QString error;
    QVERIFY2(bfgd.start(&error), qPrintable(error));
    WsClient client;
    QVERIFY(connectUser(bfgd, u"carol"_s, &client));
    QVERIFY(client.has(v1::ServerFrame::kWelcome));

    QVERIFY(bfgd.sendSignal(SIGTERM));
    // Asked to reconnect elsewhere, then (it stays) closed with DRAINING.
    QTRY_VERIFY_WITH_TIMEOUT(client.isClosed(), WaitMs);
    const v1::ServerFrame *reconnect = client.first(v1::ServerFrame::kReconnect);
    QVERIFY(reconnect);
    QCOMPARE(int(reconnect->reconnect().code()), int(v1::DRAINING));
    QCOMPARE(client.closeCode(), int(v1::DRAINING));
    QCOMPARE(bfgd.waitForExit(WaitMs), 0);
    QVERIFY2(bfgd.readOutput().contains("event=drained "), bfgd.readOutput().constData());
}

void TestLifecycle::stopAnswersTheDecisionRequestInProgress()
{
    BfgdProcess bfgd({u"--role"_s, u"decision"_s});
    QString error;
    QVERIFY2(bfgd.start(&error), qPrintable(error));
    const QUrl url = bfgd.decisionUrl();

    // A request half sent when the signal comes...
    QTcpSocket request;
    request.connectToHost(url.host(), quint16(url.port()));
    QVERIFY(request.waitForConnected(WaitMs));
    request.write("GET /v1/assign?user=dave HTTP/1.1\r\nHost: 127.0.0.1\r\n");
    QVERIFY(request.waitForBytesWritten(WaitMs));
    QVERIFY(bfgd.sendSignal(SIGTERM));
    QVERIFY2(bfgd.waitForOutput("with a request in progress", WaitMs), bfgd.readOutput().constData());
    request.write("\r\n");

    // ...while new connections are no longer taken...
    QTcpSocket late;
    late.connectToHost(url.host(), quint16(url.port()));
    QVERIFY(!late.waitForConnected(WaitMs));

    // ...is still answered (no push node: 503 no_capacity), then bfgd exits 0.
    QByteArray answer;
    QVERIFY(QTest::qWaitFor(
        [&] {
            answer += request.readAll();
            return answer.contains("\r\n\r\n") && answer.contains("no_capacity");
        },
        WaitMs));
    QVERIFY2(answer.startsWith("HTTP/1.1 503"), answer.constData());
    QCOMPARE(bfgd.waitForExit(WaitMs), 0);
    QVERIFY2(bfgd.readOutput().contains("every request answered"), bfgd.readOutput().constData());
}

QTEST_GUILESS_MAIN(TestLifecycle)
#include "tst_lifecycle.moc"
