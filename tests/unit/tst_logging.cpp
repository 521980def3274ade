// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 BFG developers
//
// bfgd's log lines are logfmt: values that a parser would split are
// quoted and escaped, an event is "event=<name>" and its fields in order,
// and a line written through the handler is one line, whatever the text.
#include <QProcess>
#include <QTest>

#include "common/logging.h"

using namespace Qt::Literals::StringLiterals;

class TestLogging : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void valuesAreQuotedWhenNeeded_data();
    void valuesAreQuotedWhenNeeded();
    void eventsListTheirFieldsInOrder();
    void handlerWritesOneLogfmtLinePerMessage();
};

void TestLogging::valuesAreQuotedWhenNeeded_data()
{
    QTest::addColumn<QString>("value");
    QTest::addColumn<QString>("written");
    QTest::addRow("plain") << u"vm-8081"_s << u"vm-8081"_s;
    QTest::addRow("url") << u"wss://127.0.0.1:8081/v1/ws"_s << u"wss://127.0.0.1:8081/v1/ws"_s;
    QTest::addRow("empty") << QString() << u"\"\""_s;
    QTest::addRow("space") << u"redis down"_s << u"\"redis down\""_s;
    QTest::addRow("equals") << u"a=b"_s << u"\"a=b\""_s;
    QTest::addRow("quote and backslash") << u"say \"hi\\\""_s << u"\"say \\\"hi\\\\\\\"\""_s;
    QTest::addRow("newline") << u"two\nlines"_s << u"\"two\\nlines\""_s;
    QTest::addRow("tab") << u"a\tb"_s << u"\"a b\""_s;
}

void TestLogging::valuesAreQuotedWhenNeeded()
{
    QFETCH(QString, value);
    QFETCH(QString, written);
    QCOMPARE(bfg::logfmtValue(value), written);
}

void TestLogging::eventsListTheirFieldsInOrder()
{
    QCOMPARE(bfg::logEvent("drained"), u"event=drained"_s);
    QCOMPARE(bfg::logEvent("redis_lost", {{"redis", u"127.0.0.1:6379"_s}, {"reason", u"connection reset"_s}}),
             u"event=redis_lost redis=127.0.0.1:6379 reason=\"connection reset\""_s);
}

void TestLogging::handlerWritesOneLogfmtLinePerMessage()
{
    // In a child process (this one's own handler stays Qt's): the test binary
    // itself with an argument that makes it log through the handler.
    QProcess child;
    child.start(QCoreApplication::applicationFilePath(), {u"--log-child"_s});
    QVERIFY(child.waitForFinished(10000));
    const QList<QByteArray> lines = child.readAllStandardError().split('\n');
    QCOMPARE(lines.size(), 3); // two lines and the end
    QVERIFY2(lines[0].contains(" level=warning cat=bfg.push msg=\"first\\nsecond\""), lines[0].constData());
    QVERIFY2(lines[0].startsWith("ts="), lines[0].constData());
    QVERIFY2(lines[1].endsWith(" level=info cat=bfg.main event=drained ms=12"), lines[1].constData());
    QVERIFY(lines[2].isEmpty());
}

int main(int argc, char *argv[])
{
    if (argc == 2 && qstrcmp(argv[1], "--log-child") == 0) {
        QCoreApplication app(argc, argv);
        bfg::installLogfmtHandler();
        qCWarning(lcPush).noquote() << "first\nsecond";
        qCInfo(lcMain).noquote() << bfg::logEvent("drained", {{"ms", u"12"_s}});
        return 0;
    }
    QCoreApplication app(argc, argv);
    TestLogging test;
    return QTest::qExec(&test, argc, argv);
}

#include "tst_logging.moc"
