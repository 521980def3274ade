// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 BFG developers
//
// TLS on every listener of a bfgd, with certificates from
// scripts/make-dev-certs: a client trusting the dev CA assigns over HTTPS,
// says hello and receives over WSS and publishes over HTTPS; a client
// trusting another CA gets no connection on any port, and neither does
// one speaking plain text; the probe verifies with --ca-file and skips the
// check only with --insecure; a refusal is readable through TLS; and a
// certificate without its key, or a key of another certificate, stops
// bfgd at start with a message that names the setting.
#include <csignal>

#include <QDir>
#include <QFile>
#include <QNetworkAccessManager>
#include <QProcess>
#include <QSslCertificate>
#include <QSslConfiguration>
#include <QTemporaryDir>
#include <QElapsedTimer>
#include <QTest>

#include "bfg/v1/api.pb.h"
#include "bfg/v1/frames.pb.h"
#include "common/protocol.h"
#include "tests/support/bfgdprocess.h"
#include "tests/support/rawclient.h"
#include "tests/support/testhttp.h"

using namespace Qt::Literals::StringLiterals;
using bfg::test::BfgdProcess;
using bfg::test::RawClient;
namespace protocol = bfg::protocol;
namespace v1 = bfg::v1;

namespace {
constexpr int WaitMs = 10000;

// Runs scripts/make-dev-certs into `dir`; empty on success, else its output.
QString makeDevCerts(const QString &dir)
{
    QProcess script;
    script.setProcessChannelMode(QProcess::MergedChannels);
    script.start(u"bash"_s, {QStringLiteral(BFG_SOURCE_DIR "/scripts/make-dev-certs"), u"--out"_s, dir});
    if (!script.waitForFinished(60000) || script.exitStatus() != QProcess::NormalExit ||
        script.exitCode() != 0)
        return u"make-dev-certs failed: "_s + QString::fromUtf8(script.readAll());
    return {};
}
} // namespace

class TestTls : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void initTestCase();
    void everyListenerServesTlsWithTheDevCa();
    void anotherCaIsRefusedOnEveryPort();
    void plainTextGetsNoAnswer();
    void probeVerifiesUnlessInsecure();
    void refusalIsReadableThroughTls();
    void renewedCertificateIsServedAfterSighup();
    void badTlsSettingsStopTheStart_data();
    void badTlsSettingsStopTheStart();

private:
    QStringList tlsArgs() const;
    v1::AssignResponse assign(const BfgdProcess &bfgd, const QString &user);

    QTemporaryDir m_dir;
    QString m_good; // make-dev-certs output trusted by the tests
    QString m_other;
    QList<QSslCertificate> m_goodCa;
    QList<QSslCertificate> m_otherCa;
    QNetworkAccessManager m_network;
};

void TestTls::initTestCase()
{
    QVERIFY(m_dir.isValid());
    m_good = m_dir.filePath(u"good"_s);
    m_other = m_dir.filePath(u"other"_s);
    for (const QString &dir : {m_good, m_other}) {
        const QString failure = makeDevCerts(dir);
        QVERIFY2(failure.isEmpty(), qPrintable(failure));
    }
    m_goodCa = QSslCertificate::fromPath(m_good + u"/ca.pem"_s);
    m_otherCa = QSslCertificate::fromPath(m_other + u"/ca.pem"_s);
    QCOMPARE(m_goodCa.size(), 1);
    QCOMPARE(m_otherCa.size(), 1);
    QVERIFY(m_goodCa != m_otherCa);
    // What this process's HTTPS calls (QNetworkAccessManager) trust: the dev CA only.
    QSslConfiguration configuration = QSslConfiguration::defaultConfiguration();
    configuration.setCaCertificates(m_goodCa);
    QSslConfiguration::setDefaultConfiguration(configuration);
}

QStringList TestTls::tlsArgs() const
{
    return {u"--set"_s, u"tls/certificate="_s + m_good + u"/server.pem"_s,
            u"--set"_s, u"tls/private_key="_s + m_good + u"/server.key"_s,
            u"--set"_s, u"tls/ca_file="_s + m_good + u"/ca.pem"_s};
}

v1::AssignResponse TestTls::assign(const BfgdProcess &bfgd, const QString &user)
{
    // Until the node's first report (itself over HTTPS) arrives the answer is 503.
    return bfg::test::assignUntilReady(m_network, bfgd.decisionUrl(), user, WaitMs);
}

void TestTls::everyListenerServesTlsWithTheDevCa()
{
    BfgdProcess bfgd(tlsArgs());
    QString error;
    QVERIFY2(bfgd.start(&error), qPrintable(error));
    QCOMPARE(bfgd.decisionUrl().scheme(), u"https"_s);
    QCOMPARE(bfgd.pushUrl().scheme(), u"wss"_s);
    QCOMPARE(bfgd.publishUrl().scheme(), u"https"_s);

    // The push node reported to its decision server over HTTPS (trusting
    // tls/ca_file): otherwise no node would be assigned.
    const v1::AssignResponse assigned = assign(bfgd, u"alice"_s);
    QVERIFY2(!assigned.token().empty(), bfgd.output().constData());
    QCOMPARE(QString::fromStdString(assigned.uri()), bfgd.pushUrl().toString());

    RawClient client;
    QVERIFY2(client.connectEncrypted(bfgd.pushUrl(), m_goodCa), qPrintable(client.socket().errorString()));
    QVERIFY(client.upgrade(RawClient::hello(assigned.token())));
    std::optional<v1::ServerFrame> welcome = client.nextServerFrame(QDeadlineTimer(WaitMs));
    QVERIFY(welcome && welcome->has_welcome());

    // Three messages published over HTTPS arrive over WSS, in order.
    QUrl publishUrl = bfgd.publishUrl();
    publishUrl.setPath(u"/v1/publish"_s);
    v1::PublishRequest request;
    for (int i = 1; i <= 3; ++i) {
        v1::PublishItem *item = request.add_items();
        item->set_stream("user:alice");
        item->set_payload("tls " + std::to_string(i));
    }
    const auto published = bfg::test::httpCall(
        m_network, {"POST", publishUrl, protocol::encode(request), "application/x-protobuf", {}, {}, {}});
    QCOMPARE(published.status, 200);
    for (int i = 1; i <= 3; ++i) {
        std::optional<v1::ServerFrame> frame = client.nextServerFrame(QDeadlineTimer(WaitMs));
        QVERIFY2(frame && frame->has_message(), "a message over WSS");
        QCOMPARE(frame->message().payload(), "tls " + std::to_string(i));
        QCOMPARE(frame->message().seq(), quint64(i));
    }
    QCOMPARE(bfgd.stop(), 0);
}

void TestTls::anotherCaIsRefusedOnEveryPort()
{
    BfgdProcess bfgd(tlsArgs());
    QString error;
    QVERIFY2(bfgd.start(&error), qPrintable(error));
    for (const QUrl &url : {bfgd.decisionUrl(), bfgd.pushUrl(), bfgd.publishUrl()}) {
        RawClient stranger;
        QVERIFY2(!stranger.connectEncrypted(url, m_otherCa), qPrintable(url.toString()));
        bool untrusted = false;
        for (const QSslError &sslError : stranger.socket().sslHandshakeErrors())
            untrusted |= sslError.error() == QSslError::UnableToGetLocalIssuerCertificate ||
                         sslError.error() == QSslError::CertificateUntrusted ||
                         sslError.error() == QSslError::UnableToVerifyFirstCertificate;
        QVERIFY2(untrusted, qPrintable(stranger.socket().errorString()));

        RawClient trusting; // the same port with the right CA: only the CA made the difference
        QVERIFY2(trusting.connectEncrypted(url, m_goodCa), qPrintable(trusting.socket().errorString()));
    }
}

void TestTls::plainTextGetsNoAnswer()
{
    BfgdProcess bfgd(tlsArgs());
    QString error;
    QVERIFY2(bfgd.start(&error), qPrintable(error));
    // A plain upgrade on the WSS port: no 101, and the connection is closed.
    RawClient plain;
    QVERIFY(plain.connectTo(bfgd.pushUrl()));
    plain.write(RawClient::upgradeRequest());
    const QByteArray answer = plain.readAll(3000);
    QVERIFY2(!answer.contains("HTTP/1.1 101"), answer.constData());
    QVERIFY(!plain.isConnected());
    // Plain HTTP on the HTTPS port: no HTTP answer.
    RawClient http;
    QVERIFY(http.connectTo(bfgd.decisionUrl()));
    http.write("GET /v1/assign?user=bob HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
    QVERIFY(!http.readAll(3000).contains("HTTP/1.1 200"));
    // And the node still serves TLS clients.
    RawClient trusting;
    QVERIFY(trusting.connectEncrypted(bfgd.pushUrl(), m_goodCa));
    QVERIFY(trusting.upgrade());
}

void TestTls::probeVerifiesUnlessInsecure()
{
    BfgdProcess bfgd(tlsArgs());
    QString error;
    QVERIFY2(bfgd.start(&error), qPrintable(error));
    const QStringList load{u"--decision"_s, bfgd.decisionUrl().toString(),
                           u"--users"_s,    u"5"_s,
                           u"--rate"_s,     u"5"_s,
                           u"--duration"_s, u"2"_s};

    const auto trusted =
        bfg::test::runProbe(load + QStringList{u"--ca-file"_s, m_good + u"/ca.pem"_s}, 60000);
    QVERIFY2(trusted.exitCode == 0, trusted.stderrText.constData());
    QCOMPARE(trusted.summary.value(u"lost"_s).toInt(), 0);
    QVERIFY(trusted.summary.value(u"received"_s).toInt() > 0);

    // With another CA nobody goes live: the decision server's certificate is refused.
    const auto stranger = bfg::test::runProbe(
        load + QStringList{u"--ca-file"_s, m_other + u"/ca.pem"_s, u"--duration"_s, u"1"_s}, 60000);
    QVERIFY2(stranger.exitCode != 0, stranger.stderrText.constData());
    QCOMPARE(stranger.summary.value(u"received"_s).toInt(), 0);

    const auto insecure = bfg::test::runProbe(load + QStringList{u"--insecure"_s}, 60000);
    QVERIFY2(insecure.exitCode == 0, insecure.stderrText.constData());
}

void TestTls::refusalIsReadableThroughTls()
{
    // One new connection a second (a burst of two) from one address: the
    // later ones are refused with HTTP 429, said after the TLS handshake.
    BfgdProcess bfgd(tlsArgs() << u"--set"_s << u"push/connections_per_ip_per_s=1"_s);
    QString error;
    QVERIFY2(bfgd.start(&error), qPrintable(error));
    int upgraded = 0, refused = 0;
    QElapsedTimer clock;
    clock.start();
    for (int i = 0; i < 6; ++i) {
        RawClient client;
        QVERIFY(client.connectEncrypted(bfgd.pushUrl(), m_goodCa));
        client.write(RawClient::upgradeRequest());
        const QByteArray head = client.readResponseHead();
        upgraded += head.startsWith("HTTP/1.1 101 ") ? 1 : 0;
        refused += head.startsWith("HTTP/1.1 429 ") ? 1 : 0;
    }
    // The burst, then one a second for as long as the handshakes took.
    const int allowed = 2 + int(clock.elapsed() / 1000) + 1;
    const QString counts = u"%1 upgraded, %2 refused, %3 allowed"_s.arg(upgraded).arg(refused).arg(allowed);
    QVERIFY2(upgraded >= 2 && upgraded <= allowed, qPrintable(counts));
    QVERIFY2(refused >= 6 - allowed, qPrintable(counts));
    QCOMPARE(upgraded + refused, 6);
}

void TestTls::renewedCertificateIsServedAfterSighup()
{
    // bfgd serves the files in `live`; a renewal replaces them, then SIGHUP.
    const QString live = m_dir.filePath(u"live"_s);
    QVERIFY(QDir().mkpath(live));
    auto install = [&](const QString &from) {
        for (const QString &name : {u"server.pem"_s, u"server.key"_s}) {
            QFile::remove(live + u'/' + name);
            if (!QFile::copy(from + u'/' + name, live + u'/' + name))
                return false;
        }
        return true;
    };
    QVERIFY(install(m_good));
    BfgdProcess bfgd({u"--set"_s, u"tls/certificate="_s + live + u"/server.pem"_s, u"--set"_s,
                      u"tls/private_key="_s + live + u"/server.key"_s, u"--set"_s,
                      u"tls/ca_file="_s + m_good + u"/ca.pem"_s});
    QString error;
    QVERIFY2(bfgd.start(&error), qPrintable(error));
    const v1::AssignResponse assigned = assign(bfgd, u"erin"_s);
    QVERIFY(!assigned.token().empty());
    RawClient before; // connected with the old certificate, and stays so
    QVERIFY(before.connectEncrypted(bfgd.pushUrl(), m_goodCa));
    QVERIFY(before.upgrade(RawClient::hello(assigned.token())));
    QVERIFY(before.nextServerFrame(QDeadlineTimer(WaitMs)));

    QVERIFY(install(m_other)); // renewed, by another CA to tell them apart
    QVERIFY(bfgd.sendSignal(SIGHUP));
    QVERIFY2(bfgd.waitForOutput("tls/certificate", WaitMs), bfgd.readOutput().constData());

    for (const QUrl &url : {bfgd.decisionUrl(), bfgd.pushUrl(), bfgd.publishUrl()}) {
        RawClient renewed;
        QVERIFY2(renewed.connectEncrypted(url, m_otherCa), qPrintable(url.toString()));
        RawClient stale;
        QVERIFY2(!stale.connectEncrypted(url, m_goodCa), qPrintable(url.toString()));
    }
    // The session from before the renewal still receives.
    QUrl publishUrl = bfgd.publishUrl();
    publishUrl.setPath(u"/v1/publish"_s);
    const QSslConfiguration trustingGood = QSslConfiguration::defaultConfiguration();
    QSslConfiguration trustingBoth = trustingGood;
    trustingBoth.addCaCertificates(m_otherCa);
    QSslConfiguration::setDefaultConfiguration(trustingBoth);
    const auto published = bfg::test::httpCall(m_network, {"POST",
                                                           publishUrl,
                                                           R"({"stream":"user:erin","text":"still here"})",
                                                           "application/json",
                                                           {},
                                                           {},
                                                           {}});
    QCOMPARE(published.status, 200);
    const std::optional<v1::ServerFrame> message = before.nextServerFrame(QDeadlineTimer(WaitMs));
    QVERIFY(message && message->has_message());
    QCOMPARE(message->message().payload(), "still here");
    QSslConfiguration::setDefaultConfiguration(trustingGood);
}

void TestTls::badTlsSettingsStopTheStart_data()
{
    QTest::addColumn<QString>("certificate");
    QTest::addColumn<QString>("key");
    QTest::addColumn<QString>("caFile");
    QTest::addColumn<QString>("message");
    QTest::addRow("certificate without key")
        << u"good/server.pem"_s << QString() << QString() << u"set both"_s;
    QTest::addRow("key of another certificate")
        << u"good/server.pem"_s << u"other/server.key"_s << QString() << u"does not belong to"_s;
    QTest::addRow("missing certificate")
        << u"good/nothing.pem"_s << u"good/server.key"_s << QString() << u"tls/certificate"_s;
    QTest::addRow("CA file that cannot be read")
        << QString() << QString() << u"good/nothing.pem"_s << u"tls/ca_file"_s;
}

void TestTls::badTlsSettingsStopTheStart()
{
    QFETCH(QString, certificate);
    QFETCH(QString, key);
    QFETCH(QString, caFile);
    QFETCH(QString, message);
    QStringList args;
    if (!certificate.isEmpty())
        args << u"--set"_s << u"tls/certificate="_s + m_dir.filePath(certificate);
    if (!key.isEmpty())
        args << u"--set"_s << u"tls/private_key="_s + m_dir.filePath(key);
    if (!caFile.isEmpty())
        args << u"--set"_s << u"tls/ca_file="_s + m_dir.filePath(caFile);
    BfgdProcess bfgd(args);
    QString error;
    QVERIFY(!bfgd.start(&error));
    QVERIFY2(error.contains(message), qPrintable(error));
}

QTEST_GUILESS_MAIN(TestTls)
#include "tst_tls.moc"
