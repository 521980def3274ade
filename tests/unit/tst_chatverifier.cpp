// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 BFG developers
//
// The chat scenario's verdict logic, fed by hand: every member receiving
// every room message once and in order passes; a message missing at one
// member is lost, one arriving twice duplicated, one late reordered; two
// members (or a sender's ack and a member) that saw different message ids
// at one seq are an order disagreement; ephemeral messages bypass the seq
// checks and are counted apart, with the drops; a member resuming through
// a Welcome is a resume; the room's ledger stays bounded.
#include <string>

#include <QTest>

#include "client/chatverifier.h"
#include "client/probereport.h"
#include "client/userverifier.h"

using namespace Qt::Literals::StringLiterals;
using bfg::probe::ChatVerifier;
using bfg::probe::UserVerifier;
namespace v1 = bfg::v1;

namespace {

const QString Room = u"room:t-r0"_s;
constexpr qint64 SentUs = 1'000'000'000;

v1::Message roomMessage(quint64 seq, const std::string &id, const QString &room = Room,
                        bool ephemeral = false)
{
    v1::Message message;
    message.set_stream(room.toStdString());
    message.set_seq(ephemeral ? 0 : seq);
    message.set_epoch(ephemeral ? "" : "e1");
    message.set_id(id);
    std::string payload;
    UserVerifier::writePayload(&payload, SentUs, room.toStdString());
    message.set_payload(payload);
    message.set_ephemeral(ephemeral);
    return message;
}

v1::StreamState roomState(quint64 seq, bool recovered = true)
{
    v1::StreamState state;
    state.set_stream(Room.toStdString());
    state.set_epoch("e1");
    state.set_seq(seq);
    state.set_recovered(recovered);
    return state;
}

// One room of `members` users t-r0-0 ... subscribed at seq `from`.
ChatVerifier room(int members, quint64 from = 0)
{
    QStringList users;
    for (int member = 0; member < members; ++member)
        users << u"t-r0-%1"_s.arg(member);
    ChatVerifier verifier;
    verifier.setRooms({Room}, members, users);
    for (int member = 0; member < members; ++member)
        verifier.onSubscribed(member, roomState(from));
    return verifier;
}

// Member `sender` publishes `count` messages, acked seq from+1 ...; every member in `to` gets them.
void exchange(ChatVerifier &verifier, int sender, quint64 from, int count, const QList<int> &to)
{
    for (int i = 1; i <= count; ++i) {
        const QString id = u"c%1"_s.arg(from + quint64(i));
        verifier.onSent(sender, false);
        verifier.onAcked(sender, id, from + quint64(i), false);
        const std::string messageId = "t-r0-" + std::to_string(sender) + "/" + id.toStdString();
        bool ephemeral = true;
        for (int member : to)
            verifier.onMessage(member, roomMessage(from + quint64(i), messageId), SentUs + 2000, &ephemeral);
        QVERIFY(!ephemeral);
    }
}

} // namespace

class TestChatVerifier : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void everyMemberReceivingEverythingInOrderPasses();
    void aMessageMissingAtOneMemberIsLost();
    void lateAndTwiceAreReorderedAndDuplicated();
    void differentIdsAtOneSeqAreADisagreement();
    void ackAndDeliveryThatDisagreeAreCaught();
    void ephemeralMessagesBypassTheSeqChecks();
    void userVerifierLetsEphemeralMessagesThrough();
    void resumeThroughAWelcomeIsCounted();
    void ledgerIsTrimmedBehindTheSlowestMember();
    void reportFailsOnDisagreementsAndUnacked();
};

void TestChatVerifier::everyMemberReceivingEverythingInOrderPasses()
{
    ChatVerifier verifier = room(3);
    exchange(verifier, 0, 0, 2, {0, 1, 2});
    exchange(verifier, 2, 2, 3, {0, 1, 2});
    QVERIFY(verifier.isCaughtUp());
    const ChatVerifier::Totals t = verifier.totals();
    QCOMPARE(t.sent, 5u);
    QCOMPARE(t.acked, 5u);
    QCOMPARE(t.unacked(), 0u);
    QCOMPARE(t.received, 15u);
    QCOMPARE(t.expected, 15u);
    QCOMPARE(t.lost, 0u);
    QCOMPARE(t.duplicated, 0u);
    QCOMPARE(t.reordered, 0u);
    QCOMPARE(t.misdelivered, 0u);
    QCOMPARE(t.disagreements, 0u);
    QCOMPARE(t.subscribed, 3);
}

void TestChatVerifier::aMessageMissingAtOneMemberIsLost()
{
    ChatVerifier verifier = room(3);
    exchange(verifier, 0, 0, 1, {0, 1, 2});
    exchange(verifier, 1, 1, 1, {0, 1}); // member 2 never gets seq 2
    QVERIFY(!verifier.isCaughtUp());
    ChatVerifier::Totals t = verifier.totals();
    QCOMPARE(t.lost, 1u);
    QCOMPARE(t.lostUndelivered, 1u);

    // Seq 3 reaches member 2: seq 2 is now a gap there.
    exchange(verifier, 0, 2, 1, {0, 1, 2});
    QVERIFY(verifier.isCaughtUp());
    t = verifier.totals();
    QCOMPARE(t.lost, 1u);
    QCOMPARE(t.lostUndelivered, 0u);
    QCOMPARE(verifier.lostSoFar(), 1u);
}

void TestChatVerifier::lateAndTwiceAreReorderedAndDuplicated()
{
    ChatVerifier verifier = room(2);
    bool ephemeral = false;
    verifier.onMessage(0, roomMessage(1, "t-r0-1/c1"), SentUs, &ephemeral);
    verifier.onMessage(0, roomMessage(3, "t-r0-1/c3"), SentUs, &ephemeral);
    verifier.onMessage(0, roomMessage(2, "t-r0-1/c2"), SentUs, &ephemeral); // late
    verifier.onMessage(0, roomMessage(3, "t-r0-1/c3"), SentUs, &ephemeral); // again
    for (quint64 seq = 1; seq <= 3; ++seq)
        verifier.onMessage(1, roomMessage(seq, "t-r0-1/c" + std::to_string(seq)), SentUs, &ephemeral);
    const ChatVerifier::Totals t = verifier.totals();
    QCOMPARE(t.reordered, 1u);
    QCOMPARE(t.duplicated, 1u);
    QCOMPARE(t.lost, 0u);
    QCOMPARE(t.disagreements, 0u);
    QCOMPARE(t.received, 7u);
}

void TestChatVerifier::differentIdsAtOneSeqAreADisagreement()
{
    ChatVerifier verifier = room(3);
    bool ephemeral = false;
    verifier.onMessage(0, roomMessage(1, "t-r0-1/c1"), SentUs, &ephemeral);
    verifier.onMessage(1, roomMessage(1, "t-r0-1/c1"), SentUs, &ephemeral);
    verifier.onMessage(2, roomMessage(1, "t-r0-2/c1"), SentUs, &ephemeral); // saw another message there
    QCOMPARE(verifier.totals().disagreements, 1u);
}

void TestChatVerifier::ackAndDeliveryThatDisagreeAreCaught()
{
    ChatVerifier verifier = room(2);
    verifier.onSent(0, false);
    verifier.onAcked(0, u"c1"_s, 1, false);
    bool ephemeral = false;
    verifier.onMessage(1, roomMessage(1, "t-r0-1/c9"), SentUs, &ephemeral);
    QCOMPARE(verifier.totals().disagreements, 1u);

    // A retried publish acked as the duplicate it is: the seq of the first, no disagreement.
    ChatVerifier retried = room(2);
    retried.onSent(0, false);
    retried.onAcked(0, u"c1"_s, 1, true);
    retried.onMessage(1, roomMessage(1, "t-r0-0/c1"), SentUs, &ephemeral);
    retried.onMessage(0, roomMessage(1, "t-r0-0/c1"), SentUs, &ephemeral);
    const ChatVerifier::Totals t = retried.totals();
    QCOMPARE(t.disagreements, 0u);
    QCOMPARE(t.ackedDuplicate, 1u);
    QCOMPARE(t.acked, 1u);
}

void TestChatVerifier::ephemeralMessagesBypassTheSeqChecks()
{
    ChatVerifier verifier = room(3, 5);
    exchange(verifier, 0, 5, 1, {0, 1, 2});
    // Member 1 types twice; members 0 and 2 get the first, member 0 the second, the sender
    // its own first one.
    for (int i = 0; i < 2; ++i) {
        verifier.onSent(1, true);
        verifier.onAcked(1, u"t%1"_s.arg(i), 0, false);
    }
    bool ephemeral = false;
    const qint64 latencyUs =
        verifier.onMessage(0, roomMessage(0, "t-r0-1/t0", Room, true), SentUs + 1500, &ephemeral);
    QVERIFY(ephemeral);
    QCOMPARE(latencyUs, 1500);
    verifier.onMessage(2, roomMessage(0, "t-r0-1/t0", Room, true), SentUs, &ephemeral);
    verifier.onMessage(1, roomMessage(0, "t-r0-1/t0", Room, true), SentUs, &ephemeral);
    verifier.onMessage(0, roomMessage(0, "t-r0-1/t1", Room, true), SentUs, &ephemeral);
    exchange(verifier, 2, 6, 1, {0, 1, 2});

    QVERIFY(verifier.isCaughtUp());
    const ChatVerifier::Totals t = verifier.totals();
    QCOMPARE(t.lost, 0u);
    QCOMPARE(t.duplicated, 0u);
    QCOMPARE(t.reordered, 0u);
    QCOMPARE(t.wrongEpoch, 0u);
    QCOMPARE(t.received, 6u);
    QCOMPARE(t.ephemeralSent, 2u);
    QCOMPARE(t.ephemeralAcked, 2u);
    QCOMPARE(t.ephemeralReceived, 4u);
    QCOMPARE(t.ephemeralOwn, 1u);
    QCOMPARE(t.ephemeralDropped, 1u); // 2 acked x 2 other members, 3 arrived
    QCOMPARE(t.sent, 2u);
}

void TestChatVerifier::userVerifierLetsEphemeralMessagesThrough()
{
    UserVerifier verifier(Room, Room, true);
    v1::Welcome welcome;
    *welcome.add_streams() = roomState(3);
    verifier.onWelcome(welcome, false);
    verifier.onAcked(4);
    verifier.onMessage(roomMessage(0, "x/t1", Room, true), SentUs);
    QCOMPARE(verifier.maxSeq(), 3u);
    QCOMPARE(verifier.ephemeral(), 1u);
    QCOMPARE(verifier.received(), 0u);
    verifier.onMessage(roomMessage(4, "x/c1"), SentUs);
    QVERIFY(verifier.isCaughtUp());
    QCOMPARE(verifier.lostCount(), 0u);
    QCOMPARE(verifier.duplicates(), 0u);
    QCOMPARE(verifier.wrongEpoch(), 0u);
    QCOMPARE(verifier.misdelivered(), 0u);
    // An ephemeral message of another stream is still misdelivered.
    verifier.onMessage(roomMessage(0, "x/t2", u"room:other"_s, true), SentUs);
    QCOMPARE(verifier.misdelivered(), 1u);
}

void TestChatVerifier::resumeThroughAWelcomeIsCounted()
{
    ChatVerifier verifier = room(2);
    exchange(verifier, 0, 0, 2, {0, 1});
    v1::Welcome welcome;
    *welcome.add_streams() = roomState(4);
    QVERIFY(verifier.onWelcome(1, welcome, true)); // member 1 resumes: 3 and 4 are replayed
    exchange(verifier, 0, 2, 2, {0, 1});
    QVERIFY(verifier.isCaughtUp());
    ChatVerifier::Totals t = verifier.totals();
    QCOMPARE(t.resumes, 1);
    QCOMPARE(t.recovered, 1);
    QCOMPARE(t.lost, 0u);

    v1::Welcome other;
    other.add_streams()->set_stream("user:t-r0-0");
    QVERIFY(!verifier.onWelcome(0, other, true)); // not resumed there: the Subscribed follows
    verifier.onSubscribed(0, roomState(4));
    t = verifier.totals();
    QCOMPARE(t.resumes, 2);
}

void TestChatVerifier::ledgerIsTrimmedBehindTheSlowestMember()
{
    ChatVerifier verifier = room(2);
    const int count = int(ChatVerifier::LedgerMargin) + 1000;
    exchange(verifier, 0, 0, count, {0, 1});
    verifier.sample();
    // A late copy of seq 1, now out of the ledger: a duplicate, not a disagreement.
    bool ephemeral = false;
    verifier.onMessage(1, roomMessage(1, "t-r0-9/c1"), SentUs, &ephemeral);
    ChatVerifier::Totals t = verifier.totals();
    QCOMPARE(t.duplicated, 1u);
    QCOMPARE(t.disagreements, 0u);
    QCOMPARE(t.unchecked, 1u);
    // Recent seqs are still compared.
    verifier.onMessage(1, roomMessage(quint64(count), "t-r0-9/c1"), SentUs, &ephemeral);
    t = verifier.totals();
    QCOMPARE(t.disagreements, 1u);
}

void TestChatVerifier::reportFailsOnDisagreementsAndUnacked()
{
    bfg::probe::ProbeReport report;
    report.users = report.usersLive = 4;
    report.publishing = true;
    report.publishingS = 1;
    report.chat = true;
    report.sent = 10;
    report.published = 10;
    QVERIFY(report.passed());
    report.chatFigures.disagreements = 2;
    report.published = 9;
    report.unacked = 1;
    report.chatFigures.ephemeralDropped = 5; // allowed: the first thing a node drops
    const QStringList failures = report.failures();
    QCOMPARE(failures, (QStringList{u"1 messages never acked"_s, u"2 order disagreements"_s}));

    // Round trip through JSON, as `bfg-probe merge` reads it.
    report.chatFigures.usersPerNode = {{u"push0"_s, 3}, {u"push1"_s, 1}};
    report.chatFigures.roomsByNodes = {{1, 1}, {2, 1}};
    bfg::probe::ProbeReport back;
    QString error;
    QVERIFY2(bfg::probe::ProbeReport::fromJson(report.toJson(), &back, &error), qPrintable(error));
    QVERIFY(back.chat);
    QCOMPARE(back.chatFigures.disagreements, 2u);
    QCOMPARE(back.chatFigures.ephemeralDropped, 5u);
    QCOMPARE(back.chatFigures.usersPerNode, report.chatFigures.usersPerNode);
    back.merge(report);
    QCOMPARE(back.chatFigures.usersPerNode.at(u"push0"_s), 6);
    QCOMPARE(back.chatFigures.roomsByNodes.at(2), 2);
    QCOMPARE(back.chatFigures.disagreements, 4u);
}

QTEST_GUILESS_MAIN(TestChatVerifier)
#include "tst_chatverifier.moc"
