// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 BFG developers
//
// The checks of `bfg-probe scenario chat` over the rooms one probe drives,
// every member of each: per member a UserVerifier of its room (every seq
// once and in order, from where it subscribed up to the last seq the room
// reached: what any sender's ack or any member's delivery says), and per
// room a ledger of the message id each seq carried, as the senders' acks
// and every member's deliveries say it: two that differ are an order
// disagreement (members, or a sender and a member, saw different
// sequences). Counts acks, refusals and ephemeral messages too. Pure
// bookkeeping, fed by Probe with what its clients report; O(1) per message.
#pragma once

#include <deque>
#include <string>
#include <vector>

#include <QString>
#include <QStringList>
#include <QtGlobal>

#include "client/userverifier.h"

namespace bfg::probe {

class ChatVerifier
{
public:
    // A room's ledger keeps at least this many seqs behind the slowest member.
    static constexpr size_t LedgerMargin = 4096;
    // A seq further than this ahead of the ledger's start is not recorded (a bogus seq
    // must not allocate gigabytes); counted as unchecked.
    static constexpr quint64 MaxLedgerSpan = 50'000'000;

    struct Totals
    {
        quint64 sent = 0;           // stored messages published (not ephemeral)
        quint64 acked = 0;          // of those, acked with a seq
        quint64 ackedDuplicate = 0; // of the acked: the node had it already (a retry after a reconnect)
        quint64 refused = 0;        // refused for good
        quint64 received = 0;       // room messages with a seq, by all members together
        quint64 expected = 0; // what every member should have received: the rooms' seqs since each subscribed
        quint64 lost = 0;
        quint64 lostUndelivered = 0;
        quint64 duplicated = 0;
        quint64 reordered = 0;
        quint64 misdelivered = 0;
        quint64 wrongEpoch = 0;
        quint64 disagreements = 0; // a seq seen with two different message ids
        quint64 unchecked = 0;     // deliveries whose seq was outside the ledger
        int resumes = 0;
        int recovered = 0;
        int notRecovered = 0;
        int subscribed = 0; // members with a baseline in their room
        int subscriptionsRefused = 0;
        quint64 ephemeralSent = 0;
        quint64 ephemeralAcked = 0;
        quint64 ephemeralRefused = 0;  // by the node, or lost with a connection
        quint64 ephemeralReceived = 0; // by all members, the senders' own copies included
        quint64 ephemeralOwn = 0;      // of those: a sender's own
        quint64 ephemeralDropped = 0;  // acked, and not received by another member of its room

        quint64 unacked() const { return sent > acked + refused ? sent - acked - refused : 0; }
    };

    ChatVerifier() = default;
    // `rooms`: the room streams; user u is member u % members of room u / members, with
    // user id userIds[u] (the node names its messages "<user id>/<client message id>").
    void setRooms(const QStringList &rooms, int members, const QStringList &userIds);

    int roomCount() const { return int(m_rooms.size()); }
    int members() const { return m_members; }
    int roomOf(int user) const { return user / m_members; }
    QString roomName(int room) const { return QString::fromStdString(m_rooms[size_t(room)].stream); }

    // Where a member starts in its room, or resumes: the Subscribed answer.
    void onSubscribed(int user, const v1::StreamState &state);
    // A Welcome: a reconnect whose Hello resumed the room lists it. False when it does not
    // (not subscribed yet: the Subscribed follows).
    bool onWelcome(int user, const v1::Welcome &welcome, bool resumed);
    bool isSubscribed(int user) const { return m_verifiers[size_t(user)].hasWelcome(); }
    // A message on the member's connection (its room's, or ephemeral); returns the end-to-end
    // latency in µs (from the send time in the payload) and says whether it was ephemeral.
    qint64 onMessage(int user, const v1::Message &message, qint64 nowUs, bool *ephemeral);

    void onSent(int user, bool ephemeral);
    // The sender's ack: `clientMessageId` got `seq` in the room (0: ephemeral).
    void onAcked(int user, const QString &clientMessageId, quint64 seq, bool duplicate);
    void onRefused(int user, bool ephemeral);
    void onSubscriptionRefused(int user);

    // Once a second: ack samples for overdueCount(), ledgers trimmed behind the slowest member.
    void sample();
    // Every member has every seq its room reached.
    bool isCaughtUp();
    // Lost so far, for the progress line: gaps, and acked ~5 s ago and still missing.
    quint64 lostSoFar();
    Totals totals();

private:
    struct Room
    {
        std::string stream;
        quint64 maxSeq = 0;         // the highest seq an ack or a delivery named
        quint64 ledgerBase = 1;     // seq of ledger[0]
        std::deque<quint64> ledger; // message id hashes by seq; 0: not seen yet
        quint64 disagreements = 0;
        quint64 unchecked = 0;
    };

    // Compares `idHash` with what the room's ledger says `seq` carried (or records it).
    void record(Room &room, quint64 seq, quint64 idHash);
    static quint64 hashId(const std::string &id);
    // Every member's verifier learns how far its room got.
    void propagate();

    std::vector<Room> m_rooms;
    int m_members = 1;
    std::vector<std::string> m_userIds;
    std::vector<UserVerifier> m_verifiers;
    std::string m_id; // scratch: "<user>/<client message id>"

    quint64 m_sent = 0;
    quint64 m_acked = 0;
    quint64 m_ackedDuplicate = 0;
    quint64 m_refused = 0;
    int m_subscriptionsRefused = 0;
    quint64 m_ephemeralSent = 0;
    quint64 m_ephemeralAcked = 0;
    quint64 m_ephemeralRefused = 0;
    quint64 m_ephemeralOwn = 0;
    std::vector<quint64> m_ephemeralAckedByRoom;
    std::vector<quint64> m_ephemeralOthersByRoom; // received by a member other than the sender
};

} // namespace bfg::probe
