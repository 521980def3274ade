// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 BFG developers
//
// The decision store (daemon/store/) on both of its backends: every test
// runs once on a SQLite file and once on a real PostgreSQL server started
// for the suite, with the same data and the same assertions, each time on
// a fresh database. What several decision servers rely on is tested too:
// concurrent migrations, changes seen through another connection, and
// reconnecting after a lost connection. The URL tests at the end are about
// parsing PostgreSQL locations and run the same on either row.
#include <limits>
#include <memory>
#include <optional>
#include <vector>

#include <QHostAddress>
#include <QSqlQuery>
#include <QTcpServer>
#include <QTemporaryDir>
#include <QTest>
#include <QThread>

#include "daemon/store/adminkeytable.h"
#include "daemon/store/audittable.h"
#include "daemon/store/database.h"
#include "daemon/store/nodetable.h"
#include "daemon/store/settingstable.h"
#include "tests/support/postgresserver.h"

using namespace Qt::Literals::StringLiterals;
using bfg::AdminKey;
using bfg::AdminKeyTable;
using bfg::AuditEntry;
using bfg::AuditTable;
using bfg::Database;
using bfg::NodeRecord;
using bfg::NodeTable;
using bfg::SettingsTable;

namespace {
constexpr qint64 BigTimeMs = 1795487332123; // beyond 32 bits: 2026-11-24T02:28:52.123Z

NodeRecord report(const QString &id, qint64 atMs)
{
    NodeRecord node;
    node.id = id;
    node.uri = u"wss://%1.example:8443/v1/ws"_s.arg(id);
    node.publishUri = u"https://%1.example:8444/v1/publish"_s.arg(id);
    node.region = u"eu-west"_s;
    node.capacity = 2000;
    node.connections = 1200;
    node.state = u"active"_s;
    node.deliveredPerSec = 4321.5;
    node.latencyP50Ms = 1.25;
    node.latencyP99Ms = 12.75;
    node.lastReportMs = atMs;
    return node;
}

std::optional<NodeRecord> find(const QList<NodeRecord> &nodes, const QString &id)
{
    for (const NodeRecord &node : nodes) {
        if (node.id == id)
            return node;
    }
    return std::nullopt;
}

QStringList idsOf(const QList<NodeRecord> &nodes)
{
    QStringList ids;
    for (const NodeRecord &node : nodes)
        ids.append(node.id);
    return ids;
}

QStringList actionsOf(const QList<AuditEntry> &entries)
{
    QStringList actions;
    for (const AuditEntry &entry : entries)
        actions.append(entry.action);
    return actions;
}

quint16 closedLoopbackPort()
{
    QTcpServer server;
    return server.listen(QHostAddress::LocalHost, 0) ? server.serverPort() : 0;
}
} // namespace

class TestStore : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void initTestCase_data();
    void initTestCase();
    void init();
    void cleanup();

    void migrationCreatesTheSchemaOnce();
    void concurrentMigrationsAgreeOnOneVersion();
    void historySchemaIsKeptInSqliteOnly();
    void reportUpdatesFiguresAndKeepsTheOperatorsColumns();
    void nodeChangesCountTheRowsTheyChanged_data();
    void nodeChangesCountTheRowsTheyChanged();
    void reportFiguresRoundTripExactly_data();
    void reportFiguresRoundTripExactly();
    void settingsReadBackTheLastValueSet();
    void auditLogListsEntriesInWriteOrder_data();
    void auditLogListsEntriesInWriteOrder();
    void adminKeysAreSavedAndReplacedByName();
    void hashKeyIsLowercaseHexSha256_data();
    void hashKeyIsLowercaseHexSha256();
    void secondConnectionSeesWhatTheFirstWrote();
    void reconnectRecoversALostConnection();
    void postgresUrlsAreDecoded_data();
    void postgresUrlsAreDecoded();
    void badLocationsFailWithoutThePassword_data();
    void badLocationsFailWithoutThePassword();

private:
    // Opens `database` on this test's fresh location, or says why not.
    QString open(Database &database, Database::Schema schema = Database::Schema::Decision);
    QString freshPostgresDatabase(QString *error);

    std::unique_ptr<bfg::test::PostgresServer> m_postgres;
    std::unique_ptr<QTemporaryDir> m_dir;
    QString m_location;
    int m_databases = 0;
};

void TestStore::initTestCase_data()
{
    QTest::addColumn<QString>("backend");
    QTest::addRow("sqlite") << u"sqlite"_s;
    QTest::addRow("postgresql") << u"postgresql"_s;
}

void TestStore::initTestCase()
{
    m_postgres = std::make_unique<bfg::test::PostgresServer>();
    QString error;
    QVERIFY2(m_postgres->start(&error), qPrintable(error));
}

void TestStore::init()
{
    QFETCH_GLOBAL(QString, backend);
    if (backend == u"sqlite"_s) {
        m_dir = std::make_unique<QTemporaryDir>();
        QVERIFY(m_dir->isValid());
        m_location = m_dir->filePath(u"store/decision.db"_s);
    } else {
        QString error;
        m_location = freshPostgresDatabase(&error);
        QVERIFY2(!m_location.isEmpty(), qPrintable(error));
    }
}

void TestStore::cleanup()
{
    m_dir.reset();
    m_location.clear();
}

QString TestStore::open(Database &database, Database::Schema schema)
{
    QString error;
    return database.open(m_location, schema, &error) ? QString() : error;
}

QString TestStore::freshPostgresDatabase(QString *error)
{
    const QString name = u"store_%1"_s.arg(++m_databases);
    return m_postgres->createDatabase(name, error) ? m_postgres->url(name) : QString();
}

void TestStore::migrationCreatesTheSchemaOnce()
{
    QFETCH_GLOBAL(QString, backend);
    {
        Database database;
        const QString error = open(database);
        QVERIFY2(error.isEmpty(), qPrintable(error));
        QCOMPARE(database.isPostgres(), backend == u"postgresql"_s);
        QCOMPARE(database.schemaVersion(), Database::latestVersion(Database::Schema::Decision));
        const QStringList tables = database.db().tables();
        for (const QString &table : {NodeTable::Name, SettingsTable::Name, AuditTable::Name,
                                     AdminKeyTable::Name, u"schema_version"_s})
            QVERIFY2(tables.contains(table), qPrintable(table + u" missing from "_s + tables.join(u", "_s)));
        NodeTable nodes(database.db());
        QVERIFY(nodes.saveReport(report(u"n1"_s, BigTimeMs)));
    }
    // A second start migrates nothing and loses nothing.
    Database again;
    const QString error = open(again);
    QVERIFY2(error.isEmpty(), qPrintable(error));
    QCOMPARE(again.schemaVersion(), Database::latestVersion(Database::Schema::Decision));
    QCOMPARE(idsOf(NodeTable(again.db()).all()), QStringList{u"n1"_s});
}

void TestStore::concurrentMigrationsAgreeOnOneVersion()
{
    // Several decision servers starting at once on one fresh database.
    constexpr int Servers = 4;
    struct Outcome
    {
        bool opened = false;
        QString error;
        int version = -1;
    };
    std::vector<Outcome> outcomes(Servers);
    std::vector<std::unique_ptr<QThread>> threads;
    for (int i = 0; i < Servers; ++i) {
        Outcome *outcome = &outcomes[size_t(i)];
        const QString location = m_location;
        // A connection belongs to its thread: each opens and closes its own.
        threads.emplace_back(QThread::create([outcome, location] {
            Database database;
            outcome->opened = database.open(location, Database::Schema::Decision, &outcome->error);
            outcome->version = database.schemaVersion();
        }));
    }
    for (const auto &thread : threads)
        thread->start();
    for (const auto &thread : threads)
        QVERIFY(thread->wait(60000));
    for (const Outcome &outcome : outcomes) {
        QVERIFY2(outcome.opened, qPrintable(outcome.error));
        QCOMPARE(outcome.version, Database::latestVersion(Database::Schema::Decision));
    }
    Database database;
    const QString error = open(database);
    QVERIFY2(error.isEmpty(), qPrintable(error));
    QCOMPARE(database.schemaVersion(), Database::latestVersion(Database::Schema::Decision));
}

void TestStore::historySchemaIsKeptInSqliteOnly()
{
    QFETCH_GLOBAL(QString, backend);
    Database database;
    const QString error = open(database, Database::Schema::History);
    if (backend == u"postgresql"_s) {
        QVERIFY2(error.contains(u"SQLite only"_s), qPrintable(error));
        QVERIFY(!database.isOpen());
    } else {
        QVERIFY2(error.isEmpty(), qPrintable(error));
        QCOMPARE(database.schemaVersion(), Database::latestVersion(Database::Schema::History));
    }
}

void TestStore::reportUpdatesFiguresAndKeepsTheOperatorsColumns()
{
    Database database;
    const QString error = open(database);
    QVERIFY2(error.isEmpty(), qPrintable(error));
    NodeTable nodes(database.db());

    QString failure;
    QVERIFY2(nodes.saveReport(report(u"n1"_s, BigTimeMs), &failure), qPrintable(failure));
    std::optional<NodeRecord> stored = find(nodes.all(&failure), u"n1"_s);
    QVERIFY2(stored, qPrintable(failure));
    QCOMPARE(stored->adminState, u"active"_s);
    QCOMPARE(stored->capacityOverride, 0);
    QCOMPARE(stored->suggestedCapacity, 0);
    QCOMPARE(stored->effectiveCapacity(), 2000);

    QCOMPARE(nodes.setAdminState(u"n1"_s, u"draining"_s), 1);
    QCOMPARE(nodes.setCapacityOverride(u"n1"_s, 1500), 1);
    QCOMPARE(nodes.setSuggestedCapacity(u"n1"_s, 1800), 1);

    // The next report carries new figures, and the defaults of the columns
    // a report does not own: those must not overwrite the operator's.
    NodeRecord next = report(u"n1"_s, BigTimeMs + 1000);
    next.uri = u"wss://n1.example:9443/v1/ws"_s;
    next.region = QString(); // null: stored as ''
    next.capacity = 2500;
    next.connections = 1300;
    next.state = u"draining"_s;
    next.deliveredPerSec = 99.5;
    next.latencyP50Ms = 2.5;
    next.latencyP99Ms = 30.25;
    QVERIFY2(nodes.saveReport(next, &failure), qPrintable(failure));

    const QList<NodeRecord> all = nodes.all(&failure);
    QVERIFY2(failure.isEmpty(), qPrintable(failure));
    QCOMPARE(all.size(), 1);
    const NodeRecord &node = all.first();
    QCOMPARE(node.uri, next.uri);
    QCOMPARE(node.publishUri, next.publishUri);
    QCOMPARE(node.region, QString());
    QCOMPARE(node.capacity, 2500);
    QCOMPARE(node.connections, 1300);
    QCOMPARE(node.state, u"draining"_s);
    QCOMPARE(node.deliveredPerSec, 99.5);
    QCOMPARE(node.latencyP50Ms, 2.5);
    QCOMPARE(node.latencyP99Ms, 30.25);
    QCOMPARE(node.lastReportMs, BigTimeMs + 1000);
    QCOMPARE(node.adminState, u"draining"_s);
    QCOMPARE(node.capacityOverride, 1500);
    QCOMPARE(node.suggestedCapacity, 1800);
    QCOMPARE(node.effectiveCapacity(), 1500);
}

void TestStore::nodeChangesCountTheRowsTheyChanged_data()
{
    QTest::addColumn<QString>("change");
    QTest::addColumn<QString>("id");
    QTest::addColumn<int>("rows");

    for (const QString &change :
         {u"admin_state"_s, u"capacity_override"_s, u"suggested_capacity"_s, u"remove"_s}) {
        QTest::addRow("%s of a known node", qPrintable(change)) << change << u"n1"_s << 1;
        QTest::addRow("%s of an unknown node", qPrintable(change)) << change << u"ghost"_s << 0;
    }
}

void TestStore::nodeChangesCountTheRowsTheyChanged()
{
    QFETCH(QString, change);
    QFETCH(QString, id);
    QFETCH(int, rows);

    Database database;
    const QString error = open(database);
    QVERIFY2(error.isEmpty(), qPrintable(error));
    NodeTable nodes(database.db());
    QVERIFY(nodes.saveReport(report(u"n1"_s, BigTimeMs)));
    QVERIFY(nodes.saveReport(report(u"n2"_s, BigTimeMs)));

    QString failure;
    int changed = -1;
    if (change == u"admin_state"_s)
        changed = nodes.setAdminState(id, u"drained"_s, &failure);
    else if (change == u"capacity_override"_s)
        changed = nodes.setCapacityOverride(id, 700, &failure);
    else if (change == u"suggested_capacity"_s)
        changed = nodes.setSuggestedCapacity(id, 1700, &failure);
    else
        changed = nodes.remove(id, &failure);
    QVERIFY2(failure.isEmpty(), qPrintable(failure));
    QCOMPARE(changed, rows);

    // Only the named node changed, and no change created a node.
    const QList<NodeRecord> all = nodes.all();
    const QStringList remaining =
        change == u"remove"_s && rows == 1 ? QStringList{u"n2"_s} : QStringList{u"n1"_s, u"n2"_s};
    QCOMPARE(idsOf(all), remaining);
    const NodeRecord untouched = *find(all, u"n2"_s);
    QCOMPARE(untouched.adminState, u"active"_s);
    QCOMPARE(untouched.capacityOverride, 0);
    QCOMPARE(untouched.suggestedCapacity, 0);
    if (rows == 0 || change == u"remove"_s)
        return;
    const NodeRecord target = *find(all, u"n1"_s);
    QCOMPARE(target.adminState, change == u"admin_state"_s ? u"drained"_s : u"active"_s);
    QCOMPARE(target.capacityOverride, change == u"capacity_override"_s ? 700 : 0);
    QCOMPARE(target.suggestedCapacity, change == u"suggested_capacity"_s ? 1700 : 0);
}

void TestStore::reportFiguresRoundTripExactly_data()
{
    QTest::addColumn<qint64>("lastReportMs");
    QTest::addColumn<int>("connections");
    QTest::addColumn<double>("latencyP99Ms");

    QTest::addRow("never reported") << qint64(0) << 0 << 0.0;
    QTest::addRow("just past 32 bits") << (qint64(1) << 31) << 1 << 0.001;
    QTest::addRow("a 2026 timestamp") << BigTimeMs << 20000 << 12.345;
    QTest::addRow("largest timestamp") << std::numeric_limits<qint64>::max() << 2147483647 << 1e9;
}

void TestStore::reportFiguresRoundTripExactly()
{
    QFETCH(qint64, lastReportMs);
    QFETCH(int, connections);
    QFETCH(double, latencyP99Ms);

    Database database;
    const QString error = open(database);
    QVERIFY2(error.isEmpty(), qPrintable(error));
    NodeTable nodes(database.db());
    NodeRecord node = report(u"n1"_s, lastReportMs);
    node.connections = connections;
    node.latencyP99Ms = latencyP99Ms;
    QString failure;
    QVERIFY2(nodes.saveReport(node, &failure), qPrintable(failure));

    const QList<NodeRecord> all = nodes.all(&failure);
    QVERIFY2(all.size() == 1, qPrintable(failure));
    QCOMPARE(all.first().lastReportMs, lastReportMs);
    QCOMPARE(all.first().connections, connections);
    // Exact, not fuzzy: the figures the console charts are the ones reported.
    QVERIFY2(all.first().latencyP99Ms == latencyP99Ms,
             qPrintable(QString::number(all.first().latencyP99Ms, 'g', 17)));
}

void TestStore::settingsReadBackTheLastValueSet()
{
    Database database;
    const QString error = open(database);
    QVERIFY2(error.isEmpty(), qPrintable(error));
    SettingsTable settings(database.db());

    QString failure;
    QCOMPARE(settings.value(SettingsTable::AllowedLoadKey, &failure), std::nullopt);
    QVERIFY2(failure.isEmpty(), qPrintable(failure));

    QVERIFY2(settings.setValue(SettingsTable::AllowedLoadKey, u"80"_s, &failure), qPrintable(failure));
    QCOMPARE(settings.value(SettingsTable::AllowedLoadKey), std::optional<QString>(u"80"_s));

    QVERIFY2(settings.setValue(SettingsTable::AllowedLoadKey, u"65"_s, &failure), qPrintable(failure));
    QCOMPARE(settings.value(SettingsTable::AllowedLoadKey), std::optional<QString>(u"65"_s));

    // Quotes, non-ASCII and empty values are stored as given.
    const QString awkward = u"it's \"80%\" → 70; DROP TABLE settings"_s;
    QVERIFY2(settings.setValue(u"note"_s, awkward, &failure), qPrintable(failure));
    QCOMPARE(settings.value(u"note"_s), std::optional<QString>(awkward));
    QVERIFY2(settings.setValue(u"empty"_s, QString(), &failure), qPrintable(failure));
    QCOMPARE(settings.value(u"empty"_s), std::optional<QString>(QString()));

    QCOMPARE(settings.value(u"assignment_rate"_s), std::nullopt);
    QCOMPARE(settings.value(SettingsTable::AllowedLoadKey), std::optional<QString>(u"65"_s));
}

void TestStore::auditLogListsEntriesInWriteOrder_data()
{
    QTest::addColumn<qint64>("sinceMs");
    QTest::addColumn<int>("limit");
    QTest::addColumn<QStringList>("actions");

    // Written in this order, at these times (one clock stepped back).
    // a1 5000, a2 1000, a3 3000, a4 3000, a5 7000
    QTest::addRow("everything") << qint64(0) << 100
                                << QStringList{u"a1"_s, u"a2"_s, u"a3"_s, u"a4"_s, u"a5"_s};
    QTest::addRow("the first two") << qint64(0) << 2 << QStringList{u"a1"_s, u"a2"_s};
    QTest::addRow("since a time, in write order")
        << qint64(3000) << 100 << QStringList{u"a1"_s, u"a3"_s, u"a4"_s, u"a5"_s};
    QTest::addRow("since a time, limited") << qint64(3000) << 2 << QStringList{u"a1"_s, u"a3"_s};
    QTest::addRow("since the last entry") << qint64(7000) << 100 << QStringList{u"a5"_s};
    QTest::addRow("nothing that recent") << BigTimeMs << 100 << QStringList{};
    QTest::addRow("no room") << qint64(0) << 0 << QStringList{};
}

void TestStore::auditLogListsEntriesInWriteOrder()
{
    QFETCH(qint64, sinceMs);
    QFETCH(int, limit);
    QFETCH(QStringList, actions);

    Database database;
    const QString error = open(database);
    QVERIFY2(error.isEmpty(), qPrintable(error));
    AuditTable audit(database.db());
    QString failure;
    const QList<qint64> times{5000, 1000, 3000, 3000, 7000};
    for (int i = 0; i < times.size(); ++i) {
        AuditEntry entry;
        entry.atMs = times[i];
        entry.actor = u"ops-alice"_s;
        entry.action = u"a%1"_s.arg(i + 1);
        entry.target = i % 2 ? u"cluster"_s : u"node-%1"_s.arg(i);
        entry.oldValue = i == 0 ? QString() : u"%1%"_s.arg(80 - i);
        entry.newValue = u"%1% — it's \"lower\""_s.arg(79 - i);
        QVERIFY2(audit.append(entry, &failure), qPrintable(failure));
    }

    const QList<AuditEntry> entries = audit.since(sinceMs, limit, &failure);
    QVERIFY2(failure.isEmpty(), qPrintable(failure));
    QCOMPARE(actionsOf(entries), actions);
    for (int i = 0; i < entries.size(); ++i) {
        const AuditEntry &entry = entries[i];
        const int written = entry.action.mid(1).toInt() - 1;
        QVERIFY(entry.id > 0);
        if (i > 0)
            QVERIFY2(entry.id > entries[i - 1].id, "ids increase in write order");
        QVERIFY(entry.atMs >= sinceMs);
        QCOMPARE(entry.atMs, times[written]);
        QCOMPARE(entry.actor, u"ops-alice"_s);
        QCOMPARE(entry.target, written % 2 ? u"cluster"_s : u"node-%1"_s.arg(written));
        QCOMPARE(entry.oldValue, written == 0 ? QString() : u"%1%"_s.arg(80 - written));
        QCOMPARE(entry.newValue, u"%1% — it's \"lower\""_s.arg(79 - written));
    }
}

void TestStore::adminKeysAreSavedAndReplacedByName()
{
    Database database;
    const QString error = open(database);
    QVERIFY2(error.isEmpty(), qPrintable(error));
    AdminKeyTable keys(database.db());

    QString failure;
    QVERIFY(keys.all(&failure).isEmpty());
    QVERIFY2(failure.isEmpty(), qPrintable(failure));
    const QByteArray watcherHash = AdminKeyTable::hashKey("watcher-secret");
    QVERIFY2(keys.save({u"watcher"_s, u"read"_s, watcherHash}, &failure), qPrintable(failure));
    QVERIFY2(keys.save({u"alice"_s, u"operator"_s, AdminKeyTable::hashKey("alice-secret")}, &failure),
             qPrintable(failure));

    QList<AdminKey> all = keys.all(&failure);
    QCOMPARE(all.size(), 2);
    QCOMPARE(all[0].name, u"alice"_s); // by name
    QCOMPARE(all[0].scope, u"operator"_s);
    QCOMPARE(all[0].keyHash, AdminKeyTable::hashKey("alice-secret"));
    QCOMPARE(all[1].name, u"watcher"_s);
    QCOMPARE(all[1].scope, u"read"_s);
    QCOMPARE(all[1].keyHash, watcherHash);

    // A new key under an existing name replaces the old one.
    QVERIFY2(keys.save({u"alice"_s, u"read"_s, AdminKeyTable::hashKey("rotated")}, &failure),
             qPrintable(failure));
    all = keys.all(&failure);
    QCOMPARE(all.size(), 2);
    QCOMPARE(all[0].name, u"alice"_s);
    QCOMPARE(all[0].scope, u"read"_s);
    QCOMPARE(all[0].keyHash, AdminKeyTable::hashKey("rotated"));
    QCOMPARE(all[1].keyHash, watcherHash);
}

void TestStore::hashKeyIsLowercaseHexSha256_data()
{
    QTest::addColumn<QByteArray>("key");
    QTest::addColumn<QByteArray>("hash");

    // FIPS 180-2 test vectors.
    QTest::addRow("abc") << QByteArray("abc")
                         << QByteArray("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    QTest::addRow("empty") << QByteArray()
                           << QByteArray("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    QTest::addRow("two blocks") << QByteArray("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq")
                                << QByteArray(
                                       "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
}

void TestStore::hashKeyIsLowercaseHexSha256()
{
    QFETCH(QByteArray, key);
    QFETCH(QByteArray, hash);

    QCOMPARE(AdminKeyTable::hashKey(key), hash);

    // And it is what the store gives back.
    Database database;
    const QString error = open(database);
    QVERIFY2(error.isEmpty(), qPrintable(error));
    AdminKeyTable keys(database.db());
    QVERIFY(keys.save({u"k"_s, u"read"_s, AdminKeyTable::hashKey(key)}));
    QCOMPARE(keys.all().value(0).keyHash, hash);
}

void TestStore::secondConnectionSeesWhatTheFirstWrote()
{
    // Two decision servers on one database: what one writes, the other reads.
    Database first;
    Database second;
    QString error = open(first);
    QVERIFY2(error.isEmpty(), qPrintable(error));
    error = open(second);
    QVERIFY2(error.isEmpty(), qPrintable(error));

    QVERIFY(NodeTable(first.db()).saveReport(report(u"n1"_s, BigTimeMs)));
    QVERIFY(SettingsTable(first.db()).setValue(SettingsTable::AllowedLoadKey, u"70"_s));
    AuditEntry entry;
    entry.atMs = BigTimeMs;
    entry.actor = u"ops-alice"_s;
    entry.action = u"set_allowed_load"_s;
    entry.target = u"cluster"_s;
    entry.oldValue = u"80"_s;
    entry.newValue = u"70"_s;
    QVERIFY(AuditTable(first.db()).append(entry));
    QVERIFY(AdminKeyTable(first.db()).save({u"alice"_s, u"operator"_s, AdminKeyTable::hashKey("k")}));

    const QList<NodeRecord> nodes = NodeTable(second.db()).all();
    QCOMPARE(idsOf(nodes), QStringList{u"n1"_s});
    QCOMPARE(nodes.first().lastReportMs, BigTimeMs);
    QCOMPARE(SettingsTable(second.db()).value(SettingsTable::AllowedLoadKey),
             std::optional<QString>(u"70"_s));
    QCOMPARE(actionsOf(AuditTable(second.db()).since(0, 10)), QStringList{u"set_allowed_load"_s});
    QCOMPARE(AdminKeyTable(second.db()).all().value(0).name, u"alice"_s);

    // And the other way round.
    QCOMPARE(NodeTable(second.db()).setAdminState(u"n1"_s, u"draining"_s), 1);
    QCOMPARE(NodeTable(first.db()).all().value(0).adminState, u"draining"_s);
}

void TestStore::reconnectRecoversALostConnection()
{
    Database database;
    QString error = open(database);
    QVERIFY2(error.isEmpty(), qPrintable(error));
    NodeTable nodes(database.db());
    QVERIFY(nodes.saveReport(report(u"n1"_s, BigTimeMs)));

    // Lose the connection the way each backend can: PostgreSQL ends the
    // session (as on a restart), a SQLite connection is closed under us.
    if (database.isPostgres()) {
        qint64 pid = 0;
        {
            QSqlQuery query(database.db());
            QVERIFY(query.exec(u"SELECT pg_backend_pid()"_s) && query.next());
            pid = query.value(0).toLongLong();
        }
        Database other;
        error = open(other);
        QVERIFY2(error.isEmpty(), qPrintable(error));
        QSqlQuery terminate(other.db());
        terminate.prepare(u"SELECT pg_terminate_backend(?, 10000)"_s); // waits until it has gone
        terminate.addBindValue(pid);
        QVERIFY(terminate.exec() && terminate.next() && terminate.value(0).toBool());
    } else {
        database.db().close();
        QTest::ignoreMessage(QtWarningMsg, "QSqlQuery::exec: database not open");
    }
    QString failure;
    QVERIFY(nodes.all(&failure).isEmpty());
    QVERIFY(!failure.isEmpty());

    QVERIFY2(database.reconnect(&error), qPrintable(error));
    QVERIFY(nodes.saveReport(report(u"n2"_s, BigTimeMs)));
    QCOMPARE(idsOf(nodes.all()), (QStringList{u"n1"_s, u"n2"_s}));
    QCOMPARE(database.schemaVersion(), Database::latestVersion(Database::Schema::Decision));
}

void TestStore::postgresUrlsAreDecoded_data()
{
    QTest::addColumn<QString>("pattern"); // %1: port, %2: database

    QTest::addRow("postgresql scheme") << u"postgresql://postgres@127.0.0.1:%1/%2"_s;
    QTest::addRow("postgres scheme") << u"postgres://postgres@127.0.0.1:%1/%2"_s;
    QTest::addRow("percent-encoded user and password")
        << u"postgresql://postgre%73:p%40ss%3Aw%2Fd@127.0.0.1:%1/%2"_s;
    QTest::addRow("libpq option")
        << u"postgresql://postgres@127.0.0.1:%1/%2?sslmode=disable&connect_timeout=3"_s;
}

// About URLs, not a backend: the same on either row.
void TestStore::postgresUrlsAreDecoded()
{
    QFETCH(QString, pattern);

    QString error;
    const QString fresh = freshPostgresDatabase(&error);
    QVERIFY2(!fresh.isEmpty(), qPrintable(error));
    const QString name = fresh.section(u'/', -1);
    Database database;
    QVERIFY2(database.open(pattern.arg(m_postgres->port()).arg(name), Database::Schema::Decision, &error),
             qPrintable(error));
    QVERIFY(database.isPostgres());
    QCOMPARE(database.schemaVersion(), Database::latestVersion(Database::Schema::Decision));
}

void TestStore::badLocationsFailWithoutThePassword_data()
{
    QTest::addColumn<QString>("pattern"); // CLOSED: a port nobody listens on, PORT: the server's
    QTest::addColumn<bool>("history");
    QTest::addColumn<QString>("expected");

    QTest::addRow("no database") << u"postgresql://postgres:s3cret@127.0.0.1:PORT/"_s << false
                                 << u"names no database"_s;
    QTest::addRow("nobody listening") << u"postgresql://postgres:s3cret@127.0.0.1:CLOSED/bfg"_s << false
                                      << u"cannot connect to postgresql://postgres@127.0.0.1:CLOSED/bfg"_s;
    QTest::addRow("no such database") << u"postgresql://postgres:s3cret@127.0.0.1:PORT/missing"_s << false
                                      << u"\"missing\" does not exist"_s;
    QTest::addRow("option that would smuggle another")
        << u"postgresql://postgres:s3cret@127.0.0.1:PORT/bfg?sslmode=disable%20password%3Dx"_s << false
        << u"unsupported connection option \"sslmode\""_s;
    QTest::addRow("history on postgresql")
        << u"postgresql://postgres:s3cret@127.0.0.1:PORT/bfg"_s << true << u"SQLite only"_s;
}

// About URLs, not a backend: the same on either row.
void TestStore::badLocationsFailWithoutThePassword()
{
    QFETCH(QString, pattern);
    QFETCH(bool, history);
    QFETCH(QString, expected);

    const quint16 closed = closedLoopbackPort();
    QVERIFY(closed != 0);
    const auto fill = [&](QString text) {
        return text.replace(u"CLOSED"_s, QString::number(closed))
            .replace(u"PORT"_s, QString::number(m_postgres->port()));
    };
    const QString location = fill(pattern);
    Database database;
    QString error;
    QVERIFY(
        !database.open(location, history ? Database::Schema::History : Database::Schema::Decision, &error));
    QVERIFY2(error.contains(fill(expected)), qPrintable(error));
    QVERIFY2(!error.contains(u"s3cret"_s), qPrintable(error));
    QVERIFY(!database.isOpen());
}

QTEST_GUILESS_MAIN(TestStore)
#include "tst_store.moc"
