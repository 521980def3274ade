// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 BFG developers
//
// Where the console keeps admin tokens (CredentialStore) and which clusters
// it remembers (RecentClusters). CTest runs this three ways, chosen by
// BFG_TEST_KEYCHAIN (tests/console/CMakeLists.txt):
//   secret-service  a real, throwaway gnome-keyring on a private D-Bus
//                   session (with-keyring.sh): tokens go to the keychain;
//   none            no session bus at all: tokens stay in the session, with
//                   one warning, and quickly;
//   unset           RecentClusters only; no keychain is touched.
// The RecentClusters cases run every time.
#include <memory>

#include <QDir>
#include <QElapsedTimer>
#include <QFile>
#include <QLocalServer>
#include <QRandomGenerator>
#include <QScopeGuard>
#include <QSettings>
#include <QSignalSpy>
#include <QTemporaryDir>
#include <QTest>

#include "console/core/credentialstore.h"
#include "console/core/recentclusters.h"

using namespace Qt::Literals::StringLiterals;
using bfg::CredentialStore;
using bfg::RecentCluster;
using bfg::RecentClusters;

namespace {
// A keychain answers well within this; so does its absence.
constexpr int AnswerMs = 5000;
// "Fails fast": the whole no-keychain path, with a margin for sanitizers.
constexpr int NoKeychainMs = 2000;

// What a store's callback handed back, and how often it was called.
struct Answer
{
    int calls = 0;
    QString token;
    bool persisted = false;
};

std::shared_ptr<Answer> readToken(CredentialStore &store, const QString &key)
{
    auto answer = std::make_shared<Answer>();
    store.readToken(key, &store, [answer](const QString &token) {
        ++answer->calls;
        answer->token = token;
    });
    return answer;
}

std::shared_ptr<Answer> storeToken(CredentialStore &store, const QString &key, const QString &token)
{
    auto answer = std::make_shared<Answer>();
    store.storeToken(key, token, &store, [answer](bool persisted) {
        ++answer->calls;
        answer->persisted = persisted;
    });
    return answer;
}

QString keyFor(const QString &url)
{
    return RecentClusters::keyFor({url});
}

// A token nobody else would use, so that a grep finds only ours.
QString uniqueToken(const char *what)
{
    return u"bfg-test-%1-%2"_s.arg(QLatin1String(what),
                                   QString::number(QRandomGenerator::global()->generate64(), 16));
}
} // namespace

class TestCredentialStore : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void initTestCase();
    void init();

    // RecentClusters, every run.
    void recentClustersAreNewestFirst();
    void rememberingAgainMovesToTheFrontWithoutDuplicate();
    void onlyTheTenNewestAreKept();
    void forgetRemovesOnlyThatCluster();
    void recentClustersSurviveANewSettingsObject();
    void keyForNormalisesUrls_data();
    void keyForNormalisesUrls();

    // A real keychain (BFG_TEST_KEYCHAIN=secret-service).
    void storedTokenIsReadBackByANewStore();
    void missingTokenReadsBackEmpty();
    void forgottenTokenReadsBackEmpty();
    void clusterKeysDoNotMix();
    void tokenNeverReachesTheSettingsFile();

    // No keychain (BFG_TEST_KEYCHAIN=none).
    void storeFallsBackToTheSessionWithOneWarning();
    void readFindsNoKeychainQuickly();
    void forgetDropsTheSessionToken();
    void keychainThatNeverAnswersIsGivenUpOn();

private:
    bool keychainMode(const char *mode) const { return m_mode == QLatin1String(mode); }

    QString m_mode;
    QString m_service;
    std::unique_ptr<QTemporaryDir> m_dir;
    std::unique_ptr<QSettings> m_settings;
};

#define REQUIRE_KEYCHAIN_MODE(mode, ctestName)                                                               \
    if (!keychainMode(mode))                                                                                 \
        QSKIP("needs BFG_TEST_KEYCHAIN=" mode "; ctest runs it as " ctestName);

void TestCredentialStore::initTestCase()
{
    m_mode = qEnvironmentVariable("BFG_TEST_KEYCHAIN");
    QVERIFY2(m_mode.isEmpty() || keychainMode("secret-service") || keychainMode("none"),
             qPrintable(u"unknown BFG_TEST_KEYCHAIN=%1"_s.arg(m_mode)));
    if (keychainMode("secret-service"))
        QVERIFY2(!qEnvironmentVariableIsEmpty("DBUS_SESSION_BUS_ADDRESS"),
                 "keychain run without a session bus");
    // Entries of this run only, even in a keyring that is not throwaway.
    m_service = u"bfg-console-test-%1"_s.arg(QCoreApplication::applicationPid());
}

void TestCredentialStore::init()
{
    m_settings.reset();
    m_dir = std::make_unique<QTemporaryDir>();
    QVERIFY(m_dir->isValid());
    m_settings = std::make_unique<QSettings>(m_dir->filePath(u"bfg-console.conf"_s), QSettings::IniFormat);
}

void TestCredentialStore::recentClustersAreNewestFirst()
{
    RecentClusters recent(m_settings.get());
    QVERIFY(recent.clusters().isEmpty());
    recent.remember({u"staging"_s, {u"https://staging-1:8443"_s, u"https://staging-2:8443"_s}});
    recent.remember({u"production"_s, {u"https://prod-1:8443"_s}});
    recent.remember({QString(), {u"http://127.0.0.1:8080"_s}});

    const QList<RecentCluster> clusters = recent.clusters();
    QCOMPARE(clusters.size(), 3);
    QCOMPARE(clusters.at(0), (RecentCluster{QString(), {u"http://127.0.0.1:8080"_s}}));
    QCOMPARE(clusters.at(1), (RecentCluster{u"production"_s, {u"https://prod-1:8443"_s}}));
    QCOMPARE(clusters.at(2),
             (RecentCluster{u"staging"_s, {u"https://staging-1:8443"_s, u"https://staging-2:8443"_s}}));
}

void TestCredentialStore::rememberingAgainMovesToTheFrontWithoutDuplicate()
{
    RecentClusters recent(m_settings.get());
    recent.remember({u"a"_s, {u"https://a-1"_s, u"https://a-2"_s}});
    recent.remember({u"b"_s, {u"https://b"_s}});
    // Same URLs in the same order, written differently, under a new name.
    recent.remember({u"a, renamed"_s, {u" https://a-1/"_s, u"https://a-2//"_s, u"  "_s}});

    QList<RecentCluster> clusters = recent.clusters();
    QCOMPARE(clusters.size(), 2);
    QCOMPARE(clusters.at(0), (RecentCluster{u"a, renamed"_s, {u"https://a-1"_s, u"https://a-2"_s}}));
    QCOMPARE(clusters.at(1).name, u"b"_s);

    // Another fallback order is another cluster entry (and another keychain key).
    recent.remember({u"a reversed"_s, {u"https://a-2"_s, u"https://a-1"_s}});
    clusters = recent.clusters();
    QCOMPARE(clusters.size(), 3);
    QCOMPARE(clusters.at(0).name, u"a reversed"_s);

    // Nothing to connect to, nothing to remember.
    recent.remember({u"empty"_s, {u" "_s}});
    QCOMPARE(recent.clusters().size(), 3);
}

void TestCredentialStore::onlyTheTenNewestAreKept()
{
    RecentClusters recent(m_settings.get());
    for (int i = 0; i < 15; ++i)
        recent.remember({u"cluster %1"_s.arg(i), {u"https://decision-%1:8443"_s.arg(i)}});

    const QList<RecentCluster> clusters = recent.clusters();
    QCOMPARE(clusters.size(), RecentClusters::MaxCount);
    QCOMPARE(clusters.size(), 10);
    for (int i = 0; i < 10; ++i)
        QCOMPARE(clusters.at(i).name, u"cluster %1"_s.arg(14 - i));
}

void TestCredentialStore::forgetRemovesOnlyThatCluster()
{
    RecentClusters recent(m_settings.get());
    recent.remember({u"a"_s, {u"https://a"_s}});
    recent.remember({u"b"_s, {u"https://b-1"_s, u"https://b-2"_s}});
    recent.remember({u"c"_s, {u"https://c"_s}});

    recent.forget({u"https://b-1/"_s, u" https://b-2"_s});
    QList<RecentCluster> clusters = recent.clusters();
    QCOMPARE(clusters.size(), 2);
    QCOMPARE(clusters.at(0).name, u"c"_s);
    QCOMPARE(clusters.at(1).name, u"a"_s);

    recent.forget({u"https://unknown"_s});
    QCOMPARE(recent.clusters().size(), 2);
}

void TestCredentialStore::recentClustersSurviveANewSettingsObject()
{
    {
        RecentClusters recent(m_settings.get());
        recent.remember({u"old"_s, {u"https://old"_s}});
        recent.remember({u"new"_s, {u"https://new-1"_s, u"https://new-2"_s}});
    }
    const QString path = m_settings->fileName();
    m_settings.reset(); // writes the file
    QVERIFY(QFile::exists(path));

    QSettings reopened(path, QSettings::IniFormat);
    const QStringList groups = reopened.childGroups();
    QVERIFY2(groups == QStringList{u"recent"_s}, qPrintable(groups.join(u", "_s)));
    const QList<RecentCluster> clusters = RecentClusters(&reopened).clusters();
    QCOMPARE(clusters.size(), 2);
    QCOMPARE(clusters.at(0), (RecentCluster{u"new"_s, {u"https://new-1"_s, u"https://new-2"_s}}));
    QCOMPARE(clusters.at(1), (RecentCluster{u"old"_s, {u"https://old"_s}}));
}

void TestCredentialStore::keyForNormalisesUrls_data()
{
    QTest::addColumn<QStringList>("urls");
    QTest::addColumn<QString>("key");

    QTest::addRow("one URL") << QStringList{u"https://d1:8443"_s} << u"https://d1:8443"_s;
    QTest::addRow("trimmed") << QStringList{u"  https://d1:8443\t"_s} << u"https://d1:8443"_s;
    QTest::addRow("trailing slash") << QStringList{u"https://d1:8443/"_s} << u"https://d1:8443"_s;
    QTest::addRow("trailing slashes and blanks")
        << QStringList{u" https://d1:8443// "_s} << u"https://d1:8443"_s;
    QTest::addRow("path kept") << QStringList{u"https://d1/bfg/"_s} << u"https://d1/bfg"_s;
    QTest::addRow("fallback order kept") << QStringList{u"https://d2/"_s, u"https://d1"_s, u"https://d3"_s}
                                         << u"https://d2,https://d1,https://d3"_s;
    QTest::addRow("blank lines dropped")
        << QStringList{u""_s, u"https://d1"_s, u"   "_s, u"https://d2"_s} << u"https://d1,https://d2"_s;
    QTest::addRow("nothing") << QStringList{} << QString();
}

void TestCredentialStore::keyForNormalisesUrls()
{
    QFETCH(QStringList, urls);
    QFETCH(QString, key);
    QCOMPARE(RecentClusters::keyFor(urls), key);
}

void TestCredentialStore::storedTokenIsReadBackByANewStore()
{
    REQUIRE_KEYCHAIN_MODE("secret-service", "tst_credentialstore_keychain");
    const QString key = keyFor(u"https://keychain-1.example:8443"_s);
    const QString token = uniqueToken("readback");
    {
        CredentialStore store(m_service);
        QSignalSpy unavailable(&store, &CredentialStore::keychainUnavailable);
        const auto stored = storeToken(store, key, token);
        QTRY_COMPARE_WITH_TIMEOUT(stored->calls, 1, AnswerMs);
        QVERIFY2(stored->persisted, qPrintable(store.warning()));
        QVERIFY(store.isKeychainAvailable());
        QVERIFY(store.warning().isEmpty());
        QCOMPARE(unavailable.count(), 0);
    }
    // A new object (as in the next console session) finds it in the keychain.
    CredentialStore store(m_service);
    const auto read = readToken(store, key);
    QTRY_COMPARE_WITH_TIMEOUT(read->calls, 1, AnswerMs);
    QCOMPARE(read->token, token);
    QVERIFY(store.isKeychainAvailable());

    // Overwriting replaces it.
    const QString newToken = uniqueToken("rotated");
    const auto stored = storeToken(store, key, newToken);
    QTRY_COMPARE_WITH_TIMEOUT(stored->calls, 1, AnswerMs);
    QVERIFY(stored->persisted);
    CredentialStore another(m_service);
    const auto reread = readToken(another, key);
    QTRY_COMPARE_WITH_TIMEOUT(reread->calls, 1, AnswerMs);
    QCOMPARE(reread->token, newToken);
    store.forgetToken(key);

    // Each callback ran exactly once.
    QTest::qWait(0);
    QCOMPARE(read->calls, 1);
    QCOMPARE(stored->calls, 1);
}

void TestCredentialStore::missingTokenReadsBackEmpty()
{
    REQUIRE_KEYCHAIN_MODE("secret-service", "tst_credentialstore_keychain");
    CredentialStore store(m_service);
    QSignalSpy unavailable(&store, &CredentialStore::keychainUnavailable);
    const auto read = readToken(store, keyFor(u"https://never-stored.example"_s));
    QTRY_COMPARE_WITH_TIMEOUT(read->calls, 1, AnswerMs);
    QVERIFY(read->token.isEmpty());
    // "No such entry" is an answer from a working keychain.
    QVERIFY(store.isKeychainAvailable());
    QVERIFY(store.warning().isEmpty());
    QCOMPARE(unavailable.count(), 0);
}

void TestCredentialStore::forgottenTokenReadsBackEmpty()
{
    REQUIRE_KEYCHAIN_MODE("secret-service", "tst_credentialstore_keychain");
    const QString key = keyFor(u"https://forget.example:8443"_s);
    CredentialStore store(m_service);
    const auto stored = storeToken(store, key, uniqueToken("forget"));
    QTRY_COMPARE_WITH_TIMEOUT(stored->calls, 1, AnswerMs);
    QVERIFY(stored->persisted);

    // Deleting runs in the background; QtKeychain runs jobs in order, so a read after it sees it.
    store.forgetToken(key);
    const auto read = readToken(store, key);
    QTRY_COMPARE_WITH_TIMEOUT(read->calls, 1, AnswerMs);
    QVERIFY(read->token.isEmpty());

    CredentialStore fresh(m_service);
    const auto reread = readToken(fresh, key);
    QTRY_COMPARE_WITH_TIMEOUT(reread->calls, 1, AnswerMs);
    QVERIFY(reread->token.isEmpty());
    QVERIFY(fresh.isKeychainAvailable());
}

void TestCredentialStore::clusterKeysDoNotMix()
{
    REQUIRE_KEYCHAIN_MODE("secret-service", "tst_credentialstore_keychain");
    // The second key starts with the first: entries are matched whole, not by prefix.
    const QString one = RecentClusters::keyFor({u"https://mix-a:8443"_s});
    const QString two = RecentClusters::keyFor({u"https://mix-a:8443"_s, u"https://mix-b:8443"_s});
    const QString tokenOne = uniqueToken("one");
    const QString tokenTwo = uniqueToken("two");

    CredentialStore store(m_service);
    const auto storedOne = storeToken(store, one, tokenOne);
    const auto storedTwo = storeToken(store, two, tokenTwo);
    QTRY_COMPARE_WITH_TIMEOUT(storedTwo->calls, 1, AnswerMs);
    QTRY_COMPARE_WITH_TIMEOUT(storedOne->calls, 1, AnswerMs);
    QVERIFY(storedOne->persisted && storedTwo->persisted);

    CredentialStore fresh(m_service);
    const auto readOne = readToken(fresh, one);
    const auto readTwo = readToken(fresh, two);
    QTRY_COMPARE_WITH_TIMEOUT(readTwo->calls, 1, AnswerMs);
    QTRY_COMPARE_WITH_TIMEOUT(readOne->calls, 1, AnswerMs);
    QCOMPARE(readOne->token, tokenOne);
    QCOMPARE(readTwo->token, tokenTwo);

    // Another service (another program, or another test run) sees neither.
    CredentialStore other(m_service + u"-other"_s);
    const auto readOther = readToken(other, one);
    QTRY_COMPARE_WITH_TIMEOUT(readOther->calls, 1, AnswerMs);
    QVERIFY(readOther->token.isEmpty());

    // Forgetting one leaves the other.
    fresh.forgetToken(one);
    const auto afterOne = readToken(fresh, one);
    const auto afterTwo = readToken(fresh, two);
    QTRY_COMPARE_WITH_TIMEOUT(afterTwo->calls, 1, AnswerMs);
    QTRY_COMPARE_WITH_TIMEOUT(afterOne->calls, 1, AnswerMs);
    QVERIFY(afterOne->token.isEmpty());
    QCOMPARE(afterTwo->token, tokenTwo);
    fresh.forgetToken(two);
}

void TestCredentialStore::tokenNeverReachesTheSettingsFile()
{
    REQUIRE_KEYCHAIN_MODE("secret-service", "tst_credentialstore_keychain");
    const QStringList urls{u"https://settings-1.example:8443"_s, u"https://settings-2.example:8443"_s};
    const QString token = uniqueToken("settings");

    // What the connect dialog does on OK.
    RecentClusters recent(m_settings.get());
    recent.remember({u"settings"_s, urls});
    CredentialStore store(m_service);
    const auto stored = storeToken(store, RecentClusters::keyFor(urls), token);
    QTRY_COMPARE_WITH_TIMEOUT(stored->calls, 1, AnswerMs);
    QVERIFY(stored->persisted);

    m_settings->sync();
    QCOMPARE(m_settings->status(), QSettings::NoError);
    QFile file(m_settings->fileName());
    QVERIFY(file.open(QIODevice::ReadOnly));
    const QByteArray contents = file.readAll();
    QVERIFY(contents.contains("settings-2.example")); // the right file, written
    QVERIFY2(!contents.contains(token.toUtf8()), contents.constData());
    // Nor does anything else the test directory holds (QtKeychain's insecure fallback is off).
    const QStringList files = QDir(m_dir->path()).entryList(QDir::Files | QDir::Hidden);
    QCOMPARE(files, QStringList{u"bfg-console.conf"_s});

    // And the token is where it should be.
    CredentialStore fresh(m_service);
    const auto read = readToken(fresh, RecentClusters::keyFor(urls));
    QTRY_COMPARE_WITH_TIMEOUT(read->calls, 1, AnswerMs);
    QCOMPARE(read->token, token);
    fresh.forgetToken(RecentClusters::keyFor(urls));
}

void TestCredentialStore::storeFallsBackToTheSessionWithOneWarning()
{
    REQUIRE_KEYCHAIN_MODE("none", "tst_credentialstore_nokeychain");
    const QString key = keyFor(u"https://session.example:8443"_s);
    const QString otherKey = keyFor(u"https://session-2.example:8443"_s);
    const QString token = uniqueToken("session");
    const QString otherToken = uniqueToken("session-2");

    QElapsedTimer elapsed;
    elapsed.start();
    CredentialStore store(m_service);
    QSignalSpy unavailable(&store, &CredentialStore::keychainUnavailable);
    QVERIFY(store.isKeychainAvailable()); // until asked
    QVERIFY(store.warning().isEmpty());

    const auto stored = storeToken(store, key, token);
    QCOMPARE(stored->calls, 0); // later, never from within storeToken()
    QTRY_COMPARE_WITH_TIMEOUT(stored->calls, 1, NoKeychainMs);
    QVERIFY(!stored->persisted);
    QVERIFY(!store.isKeychainAvailable());
    QVERIFY2(store.warning().contains(u"session"_s), qPrintable(store.warning()));
    QVERIFY2(store.warning().startsWith(u"No keychain available ("_s), qPrintable(store.warning()));
    QCOMPARE(unavailable.count(), 1);
    QCOMPARE(unavailable.at(0).at(0).toString(), store.warning());
    qInfo().noquote() << "no keychain detected after" << elapsed.elapsed() << "ms:" << store.warning();

    // From now on session-only, with no second warning.
    const auto storedOther = storeToken(store, otherKey, otherToken);
    QCOMPARE(storedOther->calls, 0);
    QTRY_COMPARE_WITH_TIMEOUT(storedOther->calls, 1, NoKeychainMs);
    QVERIFY(!storedOther->persisted);

    const auto read = readToken(store, key);
    const auto readOther = readToken(store, otherKey);
    const auto readMissing = readToken(store, keyFor(u"https://never-stored.example"_s));
    QCOMPARE(read->calls, 0);
    QTRY_COMPARE_WITH_TIMEOUT(readMissing->calls, 1, NoKeychainMs);
    QCOMPARE(read->calls, 1);
    QCOMPARE(read->token, token);
    QCOMPARE(readOther->calls, 1);
    QCOMPARE(readOther->token, otherToken);
    QVERIFY(readMissing->token.isEmpty());
    QCOMPARE(unavailable.count(), 1);

    // Nothing was persisted: the next session has no token.
    CredentialStore next(m_service);
    const auto readNext = readToken(next, key);
    QTRY_COMPARE_WITH_TIMEOUT(readNext->calls, 1, NoKeychainMs);
    QVERIFY(readNext->token.isEmpty());
    QVERIFY(!next.isKeychainAvailable());

    QVERIFY2(elapsed.elapsed() < NoKeychainMs, qPrintable(u"took %1 ms"_s.arg(elapsed.elapsed())));
    QTest::qWait(0);
    QCOMPARE(stored->calls, 1);
    QCOMPARE(read->calls, 1);
}

void TestCredentialStore::readFindsNoKeychainQuickly()
{
    REQUIRE_KEYCHAIN_MODE("none", "tst_credentialstore_nokeychain");
    QElapsedTimer elapsed;
    elapsed.start();
    CredentialStore store(m_service);
    QSignalSpy unavailable(&store, &CredentialStore::keychainUnavailable);
    const auto read = readToken(store, keyFor(u"https://read-first.example"_s));
    QTRY_COMPARE_WITH_TIMEOUT(read->calls, 1, NoKeychainMs);
    QVERIFY(read->token.isEmpty());
    QVERIFY(!store.isKeychainAvailable());
    QCOMPARE(unavailable.count(), 1);
    QVERIFY(store.warning().contains(u"session"_s));
    QVERIFY(elapsed.elapsed() < NoKeychainMs);
}

void TestCredentialStore::forgetDropsTheSessionToken()
{
    REQUIRE_KEYCHAIN_MODE("none", "tst_credentialstore_nokeychain");
    const QString key = keyFor(u"https://forget-session.example"_s);
    CredentialStore store(m_service);
    const auto stored = storeToken(store, key, uniqueToken("forget-session"));
    QTRY_COMPARE_WITH_TIMEOUT(stored->calls, 1, NoKeychainMs);
    QVERIFY(!stored->persisted);

    store.forgetToken(key);
    const auto read = readToken(store, key);
    QTRY_COMPARE_WITH_TIMEOUT(read->calls, 1, NoKeychainMs);
    QVERIFY(read->token.isEmpty());
}

// A session bus whose socket accepts and then never answers (a hung bus or
// keyring): D-Bus would wait without end, the store gives up after its
// timeout, and so do the calls queued behind the hung one.
void TestCredentialStore::keychainThatNeverAnswersIsGivenUpOn()
{
    REQUIRE_KEYCHAIN_MODE("none", "tst_credentialstore_nokeychain");
    QTemporaryDir socketDir;
    QVERIFY(socketDir.isValid());
    const QString socketPath = socketDir.filePath(u"bus"_s);
    auto silentBus = std::make_unique<QLocalServer>();
    QVERIFY2(silentBus->listen(socketPath), qPrintable(silentBus->errorString()));
    const QByteArray originalAddress = qgetenv("DBUS_SESSION_BUS_ADDRESS");
    qputenv("DBUS_SESSION_BUS_ADDRESS", "unix:path=" + QFile::encodeName(socketPath));
    auto restoreAddress = qScopeGuard([&] { qputenv("DBUS_SESSION_BUS_ADDRESS", originalAddress); });

    const QString key = keyFor(u"https://hung.example"_s);
    const QString token = uniqueToken("hung");
    {
        CredentialStore store(m_service);
        store.setTimeoutMs(300);
        QSignalSpy unavailable(&store, &CredentialStore::keychainUnavailable);
        const auto stored = storeToken(store, key, token);
        const auto read = readToken(store, key); // queued behind the store in QtKeychain
        QTRY_COMPARE_WITH_TIMEOUT(stored->calls, 1, AnswerMs);
        QVERIFY(!stored->persisted);
        QTRY_VERIFY(silentBus->hasPendingConnections()); // it was the bus that hung
        QVERIFY(!store.isKeychainAvailable());
        QVERIFY2(store.warning().contains(u"no answer"_s), qPrintable(store.warning()));
        QTRY_COMPARE_WITH_TIMEOUT(read->calls, 1, AnswerMs);
        QCOMPARE(read->token, token);
        QCOMPARE(unavailable.count(), 1);
        QCOMPARE(stored->calls, 1);
    }
    // Once the bus goes away the hung call fails, QtKeychain runs the next job again, and nothing
    // is left behind in this process.
    silentBus.reset();
    qputenv("DBUS_SESSION_BUS_ADDRESS", originalAddress);
    CredentialStore after(m_service);
    const auto read = readToken(after, key);
    QTRY_COMPARE_WITH_TIMEOUT(read->calls, 1, AnswerMs);
    QVERIFY(read->token.isEmpty());
    QVERIFY(!after.isKeychainAvailable());
}

QTEST_GUILESS_MAIN(TestCredentialStore)
#include "tst_credentialstore.moc"
