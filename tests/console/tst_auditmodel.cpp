// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 BFG developers
//
// The audit log pane's model: newest first, overlapping pages merged
// without duplicates, where the next page starts, the bound on entries.
#include <QAbstractItemModelTester>
#include <QSignalSpy>
#include <QTest>

#include "console/core/auditmodel.h"

using namespace Qt::Literals::StringLiterals;
using bfg::AuditModel;
using bfg::AuditRecord;

namespace {
AuditRecord record(qint64 id, qint64 atMs, const QString &action = u"drain"_s)
{
    return {id, atMs, u"ops"_s, action, u"node-%1"_s.arg(id), u"active"_s, u"draining"_s};
}

QString text(const AuditModel &model, int row, int column)
{
    return model.index(row, column).data().toString();
}
} // namespace

class TestAuditModel : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void newestFirst()
    {
        AuditModel model;
        QCOMPARE(model.merge({record(1, 100'000), record(2, 200'000), record(3, 200'000)}), 3);
        QCOMPARE(model.rowCount(), 3);
        QCOMPARE(text(model, 0, AuditModel::TargetColumn), u"node-3"_s);
        QCOMPARE(text(model, 2, AuditModel::TargetColumn), u"node-1"_s);
        QCOMPARE(text(model, 0, AuditModel::ActorColumn), u"ops"_s);
        QCOMPARE(text(model, 0, AuditModel::ChangeColumn), u"active → draining"_s);
        // The next poll goes back a minute, for entries stamped by a lagging clock.
        QCOMPARE(model.nextSinceMs(), 200'000 - AuditModel::OverlapMs);
    }

    void overlappingPagesAddNothingTwice()
    {
        AuditModel model;
        model.merge({record(1, 1000), record(2, 2000)});
        QSignalSpy inserted(&model, &QAbstractItemModel::rowsInserted);
        // The server repeats the entries of the millisecond a page started from.
        QCOMPARE(model.merge({record(2, 2000), record(4, 2000), record(3, 2000)}), 2);
        QCOMPARE(inserted.count(), 1);
        QCOMPARE(model.rowCount(), 4);
        QCOMPARE(text(model, 0, AuditModel::TargetColumn), u"node-4"_s);
        QCOMPARE(text(model, 1, AuditModel::TargetColumn), u"node-3"_s);
        QCOMPARE(model.merge({record(4, 2000)}), 0);
        QCOMPARE(inserted.count(), 1);
    }

    void aLateEntryTakesItsPlaceById()
    {
        AuditModel model;
        QAbstractItemModelTester tester(&model, QAbstractItemModelTester::FailureReportingMode::QtTest);
        model.merge({record(1, 5000), record(3, 6000)});
        // Written between them by a decision server whose clock is behind.
        QCOMPARE(model.merge({record(3, 6000), record(2, 4000), record(4, 7000)}), 2);
        QCOMPARE(model.rowCount(), 4);
        for (int row = 0; row < 4; ++row)
            QCOMPARE(model.recordAt(row).id, qint64(4 - row));
        QCOMPARE(model.nextSinceMs(), 0); // 7000 - a minute
    }

    void boundedToTheNewest()
    {
        AuditModel model;
        QAbstractItemModelTester tester(&model, QAbstractItemModelTester::FailureReportingMode::QtTest);
        QList<AuditRecord> page;
        for (int id = 1; id <= AuditModel::MaxEntries + 10; ++id)
            page.append(record(id, id));
        model.merge(page);
        QCOMPARE(model.rowCount(), AuditModel::MaxEntries);
        QCOMPARE(model.recordAt(0).id, qint64(AuditModel::MaxEntries + 10));
        QCOMPARE(model.recordAt(AuditModel::MaxEntries - 1).id, qint64(11));
    }

    void actionsReadAsWords_data()
    {
        QTest::addColumn<QString>("action");
        QTest::addColumn<QString>("expected");
        QTest::addRow("allowed load") << u"set_allowed_load"_s << u"set allowed load"_s;
        QTest::addRow("capacity") << u"set_capacity"_s << u"set capacity"_s;
        QTest::addRow("drain") << u"drain"_s << u"drain"_s;
        QTest::addRow("unknown, future") << u"rotate_keys"_s << u"rotate keys"_s;
    }

    void actionsReadAsWords()
    {
        QFETCH(QString, action);
        QFETCH(QString, expected);
        QCOMPARE(AuditModel::actionText(action), expected);
    }

    void emptyValuesShowAsDashes()
    {
        AuditModel model;
        model.merge({{1, 1000, u"ops"_s, u"forget"_s, u"n"_s, u"draining"_s, QString()},
                     {2, 1000, u"ops"_s, u"note"_s, u"n"_s, QString(), QString()}});
        QCOMPARE(text(model, 1, AuditModel::ChangeColumn), u"draining → —"_s);
        QCOMPARE(text(model, 0, AuditModel::ChangeColumn), QString());
        model.clear();
        QCOMPARE(model.rowCount(), 0);
        QCOMPARE(model.nextSinceMs(), 0);
    }
};

QTEST_GUILESS_MAIN(TestAuditModel)
#include "tst_auditmodel.moc"
