// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 BFG developers
//
// makeMessage() writes each message's WebSocket frame by hand in the
// protobuf wire format. A client decodes it with libprotobuf: the bytes must
// be the very ones libprotobuf and websocket::frame() would give, across the
// varint and frame-length boundaries, for empty fields and non-ASCII text.
#include <QTest>

#include "bfg/v1/frames.pb.h"
#include "common/protocol.h"
#include "common/websocket.h"
#include "daemon/broker/broker.h"

using namespace Qt::Literals::StringLiterals;

class TestBrokerMessage : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void wireIsWhatLibprotobufWrites_data();
    void wireIsWhatLibprotobufWrites();
};

void TestBrokerMessage::wireIsWhatLibprotobufWrites_data()
{
    QTest::addColumn<QString>("stream");
    QTest::addColumn<quint64>("seq");
    QTest::addColumn<QString>("epoch");
    QTest::addColumn<QString>("id");
    QTest::addColumn<qint64>("publishTimeUs");
    QTest::addColumn<QByteArray>("payload");

    const QString stream = u"user:42"_s;
    const QString epoch = u"5f3a9c0d11e2b7a4"_s;
    const qint64 now = 1795000000000000;
    QTest::newRow("typical") << stream << quint64(7) << epoch << u"m-7"_s << now
                             << QByteArray("EURUSD 1.0842");
    QTest::newRow("no id") << stream << quint64(1) << epoch << QString() << now << QByteArray("x");
    QTest::newRow("everything empty or zero")
        << QString() << quint64(0) << QString() << QString() << qint64(0) << QByteArray();
    QTest::newRow("seq 127") << stream << quint64(127) << epoch << QString() << now << QByteArray("a");
    QTest::newRow("seq 128") << stream << quint64(128) << epoch << QString() << now << QByteArray("a");
    QTest::newRow("largest seq") << stream << ~quint64(0) << epoch << QString() << now << QByteArray("a");
    QTest::newRow("negative time") << stream << quint64(3) << epoch << QString() << qint64(-1)
                                   << QByteArray("a");
    QTest::newRow("non-ASCII stream and id") << u"room:gr\u00fc\u00dfe-\U0001F600"_s << quint64(9) << epoch
                                             << u"\u6d88\u606f-1"_s << now << QByteArray("\xff\x00\x01", 3);
    // Payload sizes around the varint steps and the frame's 7/16/64-bit lengths.
    for (const int size : {90, 97, 98, 120, 127, 128, 200, 16383, 16384, 65400, 65535, 65536, 70000}) {
        QTest::addRow("payload %d", size)
            << stream << quint64(1000) << epoch << u"id"_s << now << QByteArray(size, char('a' + size % 26));
    }
}

void TestBrokerMessage::wireIsWhatLibprotobufWrites()
{
    QFETCH(QString, stream);
    QFETCH(quint64, seq);
    QFETCH(QString, epoch);
    QFETCH(QString, id);
    QFETCH(qint64, publishTimeUs);
    QFETCH(QByteArray, payload);

    bfg::v1::ServerFrame frame;
    bfg::v1::Message *body = frame.mutable_message();
    body->set_stream(stream.toStdString());
    body->set_seq(seq);
    body->set_epoch(epoch.toStdString());
    body->set_id(id.toStdString());
    body->set_publish_time_us(publishTimeUs);
    body->set_payload(payload.constData(), size_t(payload.size()));
    const QByteArray expected =
        bfg::websocket::frame(bfg::websocket::Opcode::Binary, bfg::protocol::encode(frame));

    const bfg::MessagePtr message = bfg::makeMessage(stream, seq, epoch, id, publishTimeUs, payload);
    QCOMPARE(message->wire.size(), expected.size());
    QCOMPARE(message->wire, expected);
    QCOMPARE(message->stream, stream);
    QCOMPARE(message->seq, seq);
    QCOMPARE(message->epoch, epoch);
    QCOMPARE(message->id, id);
    QCOMPARE(message->publishTimeUs, publishTimeUs);
    QCOMPARE(message->payload, payload);

    // And a client reads it back.
    bfg::v1::ServerFrame decoded;
    QVERIFY(bfg::protocol::decode(bfg::websocket::payloadOf(message->wire), &decoded));
    QCOMPARE(QString::fromStdString(decoded.message().stream()), stream);
    QCOMPARE(decoded.message().seq(), seq);
    QCOMPARE(QString::fromStdString(decoded.message().id()), id);
}

QTEST_GUILESS_MAIN(TestBrokerMessage)
#include "tst_brokermessage.moc"
