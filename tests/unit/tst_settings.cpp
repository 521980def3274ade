// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 BFG developers
//
// bfgd's configuration: defaults, the INI file, flags over the file, a
// clear refusal of bad values and unknown keys, the generated secret, and
// that resources/bfgd.conf documents the defaults the code really has.
#include <QFile>
#include <QRegularExpression>
#include <QTemporaryDir>
#include <QTest>

#include "daemon/settings.h"

using namespace Qt::Literals::StringLiterals;
using bfg::DaemonSettings;

class TestSettings : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void defaultsRunBothRolesOnLoopback();
    void fileIsReadAndFlagsOverrideIt();
    void storeIsAFileUnderDataDirOrAPostgresUrl();
    void adminKeysAreParsedAndOtherwiseGenerated();
    void badValuesAreRefusedNamingTheKey_data();
    void badValuesAreRefusedNamingTheKey();
    void redisBrokerIsConfiguredAndItsPasswordHidden();
    void metricsKeyReachesBothRolesAndIsHidden();
    void patternsAndPreviousSecretsAreAccepted();
    void secretIsCreatedPrivateAndReused();
    void shortSecretFileIsRefused();
    void shippedConfigDocumentsTheDefaults();
    void roleAllRunsBoth();
    void reloadTellsLiveChangesFromRestartOnes_data();
    void reloadTellsLiveChangesFromRestartOnes();
    void reloadSeesANewSecretFileContent();

private:
    static QString writeFile(const QTemporaryDir &dir, const QString &name, const QByteArray &content)
    {
        const QString path = dir.filePath(name);
        QFile file(path);
        if (!file.open(QIODevice::WriteOnly))
            qFatal("cannot write %s", qPrintable(path));
        file.write(content);
        return path;
    }
};

void TestSettings::defaultsRunBothRolesOnLoopback()
{
    DaemonSettings settings;
    QString error;
    QVERIFY2(DaemonSettings::load({}, {}, &settings, &error), qPrintable(error));
    QVERIFY(settings.runDecision);
    QVERIFY(settings.runPush);
    QCOMPARE(settings.decision.address, QHostAddress(QHostAddress::LocalHost));
    QCOMPARE(settings.decision.port, quint16(8080));
    QCOMPARE(settings.push.port, quint16(8081));
    QCOMPARE(settings.push.httpPort, quint16(8082));
    QCOMPARE(settings.decision.allowedLoadPercent, 80);
    QCOMPARE(settings.broker.historySize, 100);
    QCOMPARE(settings.broker.historyAgeSeconds, 300);
    QVERIFY(settings.push.decisionUrls.isEmpty()); // filled by bfgd with its own decision role
}

void TestSettings::fileIsReadAndFlagsOverrideIt()
{
    QTemporaryDir dir;
    const QString path = writeFile(dir, u"bfgd.conf"_s,
                                   "[general]\n"
                                   "roles = push ; comment\n"
                                   "data_dir = " +
                                       dir.path().toUtf8() +
                                       "\n"
                                       "[push]\n"
                                       "decision_urls = http://a:1, http://b:2\n"
                                       "capacity = 2000\n"
                                       "listen = 0.0.0.0:9001\n"
                                       "[broker]\n"
                                       "history_size = 7\n");
    DaemonSettings settings;
    QString error;
    QVERIFY2(DaemonSettings::load(path, {u"push/capacity=3000"_s}, &settings, &error), qPrintable(error));
    QVERIFY(!settings.runDecision);
    QVERIFY(settings.runPush);
    QCOMPARE(settings.push.decisionUrls, QList<QUrl>({QUrl(u"http://a:1"_s), QUrl(u"http://b:2"_s)}));
    QCOMPARE(settings.push.capacity, 3000); // the flag wins over the file
    QCOMPARE(settings.push.address, QHostAddress(QHostAddress::AnyIPv4));
    QCOMPARE(settings.push.port, quint16(9001));
    QCOMPARE(settings.broker.historySize, 7);
    QCOMPARE(settings.broker.databasePath, dir.filePath(u"history.db"_s)); // relative to data_dir
}

void TestSettings::storeIsAFileUnderDataDirOrAPostgresUrl()
{
    QTemporaryDir dir;
    DaemonSettings settings;
    QString error;
    QVERIFY(DaemonSettings::load({}, {u"general/data_dir="_s + dir.path()}, &settings, &error));
    QCOMPARE(settings.decision.store, dir.filePath(u"decision.db"_s));
    const QString url = u"postgresql://bfg:pw@db.example:5433/bfg"_s;
    QVERIFY(DaemonSettings::load({}, {u"decision/store="_s + url}, &settings, &error));
    QCOMPARE(settings.decision.store, url);
}

void TestSettings::adminKeysAreParsedAndOtherwiseGenerated()
{
    QTemporaryDir dir;
    DaemonSettings given;
    QString error;
    QVERIFY2(DaemonSettings::load(
                 {},
                 {u"general/data_dir="_s + dir.path(),
                  u"decision/admin_keys=viewer:read:0123456789abcdef, ops:operator:fedcba9876543210"_s},
                 &given, &error),
             qPrintable(error));
    QVERIFY(given.loadSecret(&error));
    QCOMPARE(given.decision.adminKeys.size(), 2);
    QCOMPARE(given.decision.adminKeys[1].name, u"ops"_s);
    QCOMPARE(given.decision.adminKeys[1].scope, u"operator"_s);
    QCOMPARE(given.decision.adminKeys[1].key, u"fedcba9876543210"_s);
    QVERIFY(!QFile::exists(dir.filePath(u"admin-key"_s)));

    DaemonSettings generated;
    QVERIFY(DaemonSettings::load({}, {u"general/data_dir="_s + dir.path()}, &generated, &error));
    QVERIFY(generated.loadSecret(&error));
    QCOMPARE(generated.decision.adminKeys.size(), 1);
    QCOMPARE(generated.decision.adminKeys[0].scope, u"operator"_s);
    QFile file(dir.filePath(u"admin-key"_s));
    QVERIFY(file.open(QIODevice::ReadOnly));
    QCOMPARE(file.readAll().trimmed(), generated.decision.adminKeys[0].key.toLatin1());
}

void TestSettings::badValuesAreRefusedNamingTheKey_data()
{
    QTest::addColumn<QString>("override");
    QTest::addColumn<QString>("expected");
    QTest::addRow("capacity not a number") << u"push/capacity=abc"_s << u"push/capacity"_s;
    QTest::addRow("allowed load 0") << u"decision/allowed_load=0"_s << u"decision/allowed_load"_s;
    QTest::addRow("allowed load 101") << u"decision/allowed_load=101"_s << u"decision/allowed_load"_s;
    QTest::addRow("listen without port") << u"decision/listen=127.0.0.1"_s << u"decision/listen"_s;
    QTest::addRow("listen on a name") << u"push/listen=example:80"_s << u"push/listen"_s;
    QTest::addRow("unknown role") << u"general/roles=relay"_s << u"relay"_s;
    QTest::addRow("push alone, no decision") << u"general/roles=push"_s << u"push/decision_urls"_s;
    QTest::addRow("decision url not http") << u"push/decision_urls=ftp://x"_s << u"push/decision_urls"_s;
    QTest::addRow("unknown key (typo)") << u"push/capacty=5"_s << u"push/capacty"_s;
    QTest::addRow("public stream not a stream")
        << u"decision/public_streams=fx:a,no colon"_s << u"decision/public_streams"_s;
    QTest::addRow("public stream a user's")
        << u"decision/public_streams=user:bob"_s << u"decision/public_streams"_s;
    QTest::addRow("public pattern of users' streams")
        << u"decision/public_streams=user:*"_s << u"decision/public_streams"_s;
    QTest::addRow("public pattern without a kind")
        << u"decision/public_streams=*"_s << u"decision/public_streams"_s;
    QTest::addRow("previous secret too short")
        << u"general/previous_secrets=0123456789abcdef0123,short"_s << u"general/previous_secrets"_s;
    QTest::addRow("listen backlog 0") << u"push/listen_backlog=0"_s << u"push/listen_backlog"_s;
    QTest::addRow("connections per address negative")
        << u"push/connections_per_ip_per_s=-1"_s << u"push/connections_per_ip_per_s"_s;
    QTest::addRow("inbound frames not a number")
        << u"push/inbound_frames_per_s=many"_s << u"push/inbound_frames_per_s"_s;
    QTest::addRow("inbound bytes negative")
        << u"push/inbound_bytes_per_s=-5"_s << u"push/inbound_bytes_per_s"_s;
    QTest::addRow("per-user policy unknown")
        << u"push/connections_per_user_policy=lottery"_s << u"push/connections_per_user_policy"_s;
    QTest::addRow("connections per user negative")
        << u"push/max_connections_per_user=-2"_s << u"push/max_connections_per_user"_s;
    QTest::addRow("publish requests negative")
        << u"push/publish_requests_per_s=-1"_s << u"push/publish_requests_per_s"_s;
    QTest::addRow("broker we do not have") << u"broker/type=kafka"_s << u"broker/type"_s;
    QTest::addRow("redis address without port")
        << u"broker/redis_address=redis-host"_s << u"broker/redis_address"_s;
    QTest::addRow("redis port out of range")
        << u"broker/redis_address=redis-host:70000"_s << u"broker/redis_address"_s;
    QTest::addRow("redis timeout too small")
        << u"broker/redis_timeout_ms=1"_s << u"broker/redis_timeout_ms"_s;
    QTest::addRow("not key=value") << u"push/capacity"_s << u"section/key=value"_s;
    QTest::addRow("admin key without scope")
        << u"decision/admin_keys=ops:0123456789abcdef"_s << u"decision/admin_keys"_s;
    QTest::addRow("admin key of a made-up scope")
        << u"decision/admin_keys=ops:root:0123456789abcdef"_s << u"decision/admin_keys"_s;
    QTest::addRow("admin key too short")
        << u"decision/admin_keys=ops:operator:short"_s << u"decision/admin_keys"_s;
}

void TestSettings::badValuesAreRefusedNamingTheKey()
{
    QFETCH(QString, override);
    QFETCH(QString, expected);
    DaemonSettings settings;
    QString error;
    QVERIFY(!DaemonSettings::load({}, {override}, &settings, &error));
    QVERIFY2(error.contains(expected), qPrintable(error));
}

void TestSettings::redisBrokerIsConfiguredAndItsPasswordHidden()
{
    DaemonSettings settings;
    QString error;
    QVERIFY2(DaemonSettings::load({},
                                  {u"broker/type=redis"_s, u"broker/redis_address=redis.internal:6380"_s,
                                   u"broker/redis_password=hunter2-redis"_s, u"broker/redis_db=3"_s,
                                   u"broker/history_size=500"_s, u"push/publish_keys=pk-secret"_s},
                                  &settings, &error),
             qPrintable(error));
    QCOMPARE(settings.brokerType, u"redis"_s);
    QCOMPARE(settings.redis.host, u"redis.internal"_s);
    QCOMPARE(settings.redis.port, quint16(6380));
    QCOMPARE(settings.redis.password, u"hunter2-redis"_s);
    QCOMPARE(settings.redis.db, 3);
    QCOMPARE(settings.redis.historySize, 500); // the history keys apply to either broker
    // --print-config shows that secrets are set, never what they are.
    const QString printed = settings.effective.join(u'\n');
    QVERIFY(printed.contains(u"broker/redis_password = (set)"_s));
    QVERIFY(printed.contains(u"push/publish_keys = (set)"_s));
    QVERIFY(!printed.contains(u"hunter2-redis"_s));
    QVERIFY(!printed.contains(u"pk-secret"_s));
}

void TestSettings::metricsKeyReachesBothRolesAndIsHidden()
{
    DaemonSettings open, keyed;
    QString error;
    QVERIFY2(DaemonSettings::load({}, {}, &open, &error), qPrintable(error));
    QVERIFY(open.decision.metricsKey.isEmpty()); // GET /metrics is open by default
    QVERIFY(open.push.metricsKey.isEmpty());
    QVERIFY2(DaemonSettings::load({}, {u"general/metrics_key=scrape-me-0123456789"_s}, &keyed, &error),
             qPrintable(error));
    QCOMPARE(keyed.decision.metricsKey, QByteArray("scrape-me-0123456789"));
    QCOMPARE(keyed.push.metricsKey, QByteArray("scrape-me-0123456789"));
    const QString printed = keyed.effective.join(u'\n');
    QVERIFY(printed.contains(u"general/metrics_key = (set)"_s));
    QVERIFY(!printed.contains(u"scrape-me"_s));
}

void TestSettings::patternsAndPreviousSecretsAreAccepted()
{
    QTemporaryDir dir;
    DaemonSettings settings;
    QString error;
    QVERIFY2(DaemonSettings::load(
                 {},
                 {u"general/data_dir="_s + dir.path(), u"decision/public_streams=fx:*, news:all, room:4*"_s,
                  u"general/previous_secrets=old-secret-0123456789, older-secret-0123456789"_s},
                 &settings, &error),
             qPrintable(error));
    QCOMPARE(settings.decision.publicStreams, (QStringList{u"fx:*"_s, u"news:all"_s, u"room:4*"_s}));
    QVERIFY2(settings.loadSecret(&error), qPrintable(error));
    const QList<QByteArray> previous{"old-secret-0123456789", "older-secret-0123456789"};
    QCOMPARE(settings.decision.previousSecrets, previous);
    QCOMPARE(settings.push.previousSecrets, previous);
}

void TestSettings::secretIsCreatedPrivateAndReused()
{
    QTemporaryDir dir;
    DaemonSettings first;
    QString error;
    QVERIFY(DaemonSettings::load({}, {u"general/data_dir="_s + dir.path()}, &first, &error));
    QVERIFY2(first.loadSecret(&error), qPrintable(error));
    QVERIFY(first.decision.secret.size() >= 32);
    QCOMPARE(first.push.secret, first.decision.secret);
    const QFile::Permissions permissions = QFile::permissions(dir.filePath(u"secret"_s));
    QCOMPARE(permissions & (QFile::ReadGroup | QFile::ReadOther | QFile::WriteGroup | QFile::WriteOther),
             QFile::Permissions());

    DaemonSettings second;
    QVERIFY(DaemonSettings::load({}, {u"general/data_dir="_s + dir.path()}, &second, &error));
    QVERIFY(second.loadSecret(&error));
    QCOMPARE(second.decision.secret, first.decision.secret);

    DaemonSettings inlineSecret;
    QVERIFY(DaemonSettings::load(
        {}, {u"general/data_dir="_s + dir.path(), u"general/secret=given-secret-value"_s}, &inlineSecret,
        &error));
    QVERIFY(inlineSecret.loadSecret(&error));
    QCOMPARE(inlineSecret.decision.secret, QByteArray("given-secret-value"));
}

void TestSettings::shortSecretFileIsRefused()
{
    QTemporaryDir dir;
    const QString path = writeFile(dir, u"short"_s, "abc\n");
    DaemonSettings settings;
    QString error;
    QVERIFY(DaemonSettings::load({}, {u"general/secret_file="_s + path}, &settings, &error));
    QVERIFY(!settings.loadSecret(&error));
    QVERIFY2(error.contains(u"shorter than 16"_s), qPrintable(error));

    QVERIFY(DaemonSettings::load({}, {u"general/secret_file="_s + dir.filePath(u"missing"_s)}, &settings,
                                 &error));
    QVERIFY(!settings.loadSecret(&error));
    QVERIFY2(error.contains(u"does not exist"_s), qPrintable(error));
}

void TestSettings::shippedConfigDocumentsTheDefaults()
{
    const QString shipped = QStringLiteral(BFG_SOURCE_DIR) + u"/resources/bfgd.conf"_s;
    QFile file(shipped);
    QVERIFY(file.open(QIODevice::ReadOnly));
    // Uncomment every key: the file must then describe exactly the defaults.
    QByteArray uncommented = file.readAll();
    uncommented.replace(QByteArray("\n;"), QByteArray("\n"));
    // A continuation line of a comment starts with ';' and spaces: keep it a comment.
    static const QRegularExpression continuation(u"\n +;"_s);
    QString text = QString::fromUtf8(uncommented);
    text.replace(continuation, u"\n;"_s);
    QTemporaryDir dir;
    const QString path = writeFile(dir, u"bfgd.conf"_s, text.toUtf8());

    DaemonSettings fromFile, defaults;
    QString error;
    QVERIFY2(DaemonSettings::load(path, {}, &fromFile, &error), qPrintable(error));
    QVERIFY2(DaemonSettings::load({}, {}, &defaults, &error), qPrintable(error));
    QCOMPARE(fromFile.effective, defaults.effective);
    // Every key bfgd knows is documented in the file.
    for (const QString &line : std::as_const(defaults.effective)) {
        const QString key = line.section(u" = "_s, 0, 0).section(u'/', 1);
        QVERIFY2(text.contains(u"\n"_s + key + u" "_s), qPrintable(u"bfgd.conf does not document "_s + line));
    }
}

void TestSettings::roleAllRunsBoth()
{
    // What the systemd unit bfgd@all passes (--role %i).
    DaemonSettings settings;
    QString error;
    QVERIFY2(DaemonSettings::load({}, {u"general/roles=all"_s}, &settings, &error), qPrintable(error));
    QVERIFY(settings.runDecision);
    QVERIFY(settings.runPush);
}

void TestSettings::reloadTellsLiveChangesFromRestartOnes_data()
{
    QTest::addColumn<QStringList>("running");
    QTest::addColumn<QStringList>("changed");
    QTest::addColumn<QStringList>("live");
    QTest::addColumn<QStringList>("restart");
    const QStringList both;
    const QStringList pushOnly{u"general/roles=push"_s, u"push/decision_urls=http://d:8080"_s};
    QTest::addRow("nothing changed") << both << QStringList() << QStringList() << QStringList();
    QTest::addRow("publish keys") << both << QStringList{u"push/publish_keys=key-0123456789abcdef"_s}
                                  << QStringList{u"push/publish_keys"_s} << QStringList();
    QTest::addRow("limits and log rules")
        << both
        << QStringList{u"push/inbound_frames_per_s=5"_s, u"push/max_connections_per_user=2"_s,
                       u"general/log_rules=bfg.push.debug=true"_s}
        << QStringList{u"general/log_rules"_s, u"push/inbound_frames_per_s"_s,
                       u"push/max_connections_per_user"_s}
        << QStringList();
    QTest::addRow("a setting back at its default is no change")
        << both << QStringList{u"push/capacity=10000"_s} << QStringList() << QStringList();
    QTest::addRow("listeners, roles, broker need a restart")
        << both
        << QStringList{u"push/listen=127.0.0.1:9"_s, u"general/roles=decision"_s, u"broker/history_size=5"_s}
        << QStringList() << QStringList{u"broker/history_size"_s, u"general/roles"_s, u"push/listen"_s};
    QTest::addRow("live and restart together")
        << both << QStringList{u"decision/allowed_load=60"_s, u"decision/store=other.db"_s}
        << QStringList{u"decision/allowed_load"_s} << QStringList{u"decision/store"_s};
    QTest::addRow("the secret") << both << QStringList{u"general/secret=another-secret-0123456789"_s}
                                << QStringList{u"general/secret"_s} << QStringList();
    QTest::addRow("decision keys on a push-only node do not matter")
        << pushOnly << QStringList{u"decision/allowed_load=60"_s, u"decision/listen=0.0.0.0:1"_s}
        << QStringList() << QStringList();
    QTest::addRow("but its report interval does")
        << pushOnly << QStringList{u"decision/report_interval_ms=500"_s} << QStringList()
        << QStringList{u"decision/report_interval_ms"_s};
}

void TestSettings::reloadTellsLiveChangesFromRestartOnes()
{
    QFETCH(QStringList, running);
    QFETCH(QStringList, changed);
    QFETCH(QStringList, live);
    QFETCH(QStringList, restart);
    QTemporaryDir dir;
    const QStringList base =
        QStringList{u"general/data_dir="_s + dir.path(), u"general/secret=a-secret-of-some-length"_s,
                    u"decision/admin_keys=ops:operator:0123456789abcdef"_s} +
        running;
    DaemonSettings before, after;
    QString error;
    QVERIFY2(DaemonSettings::load({}, base, &before, &error) && before.loadSecret(&error), qPrintable(error));
    QVERIFY2(DaemonSettings::load({}, base + changed, &after, &error) && after.loadSecret(&error),
             qPrintable(error));
    const DaemonSettings::Changes changes = before.changesTo(after);
    QCOMPARE(changes.live, live);
    QCOMPARE(changes.needRestart, restart);
    for (const QString &key : std::as_const(changes.live))
        QVERIFY(DaemonSettings::LiveKeys.contains(key));
    // Once taken, the same file again changes nothing; what needs a restart still does.
    before.takeLiveSettings(after);
    QCOMPARE(before.changesTo(after).live, QStringList());
    QCOMPARE(before.changesTo(after).needRestart, restart);
}

void TestSettings::reloadSeesANewSecretFileContent()
{
    QTemporaryDir dir;
    const QString secretPath = writeFile(dir, u"secret"_s, "first-secret-0123456789\n");
    const QStringList flags{u"general/data_dir="_s + dir.path(), u"general/secret_file="_s + secretPath};
    DaemonSettings before, after;
    QString error;
    QVERIFY2(DaemonSettings::load({}, flags, &before, &error) && before.loadSecret(&error),
             qPrintable(error));
    writeFile(dir, u"secret"_s, "second-secret-0123456789\n");
    QVERIFY2(DaemonSettings::load({}, flags, &after, &error) && after.loadSecret(&error), qPrintable(error));
    QCOMPARE(before.changesTo(after).live, QStringList{u"general/secret_file"_s});
    QCOMPARE(after.decision.secret, QByteArray("second-secret-0123456789"));
}

QTEST_GUILESS_MAIN(TestSettings)
#include "tst_settings.moc"
