// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 BFG developers
#include "client/chatverifier.h"

#include <algorithm>
#include <functional>
#include <limits>
#include <string_view>

namespace bfg::probe {

void ChatVerifier::setRooms(const QStringList &rooms, int members, const QStringList &userIds)
{
    m_members = std::max(1, members);
    m_rooms.clear();
    m_verifiers.clear();
    m_userIds.clear();
    for (const QString &room : rooms) {
        Room entry;
        entry.stream = room.toStdString();
        m_rooms.push_back(std::move(entry));
    }
    m_ephemeralAckedByRoom.assign(m_rooms.size(), 0);
    m_ephemeralOthersByRoom.assign(m_rooms.size(), 0);
    const int users = int(m_rooms.size()) * m_members;
    m_verifiers.reserve(size_t(users));
    m_userIds.reserve(size_t(users));
    for (int user = 0; user < users; ++user) {
        // The probe's payload: send time, then the room's name (a misdelivery check).
        m_verifiers.emplace_back(rooms.at(roomOf(user)), rooms.at(roomOf(user)), true);
        m_userIds.push_back(userIds.value(user).toStdString());
    }
}

void ChatVerifier::onSubscribed(int user, const v1::StreamState &state)
{
    UserVerifier &verifier = m_verifiers[size_t(user)];
    // A Subscribed after the first one answers a Subscribe sent again after a reconnect:
    // a resume like one in a Hello.
    verifier.onStreamState(state, verifier.hasWelcome());
    Room &room = m_rooms[size_t(roomOf(user))];
    room.maxSeq = std::max<quint64>(room.maxSeq, state.seq());
}

bool ChatVerifier::onWelcome(int user, const v1::Welcome &welcome, bool resumed)
{
    const std::string &stream = m_rooms[size_t(roomOf(user))].stream;
    for (const v1::StreamState &state : welcome.streams()) {
        if (state.stream() == stream) {
            UserVerifier &verifier = m_verifiers[size_t(user)];
            verifier.onStreamState(state, resumed || !verifier.hasWelcome());
            Room &room = m_rooms[size_t(roomOf(user))];
            room.maxSeq = std::max<quint64>(room.maxSeq, state.seq());
            return true;
        }
    }
    return false;
}

quint64 ChatVerifier::hashId(const std::string &id)
{
    const quint64 hash = std::hash<std::string_view>()(id);
    return hash == 0 ? 1 : hash; // 0 marks a seq not seen yet
}

void ChatVerifier::record(Room &room, quint64 seq, quint64 idHash)
{
    if (seq < room.ledgerBase || seq - room.ledgerBase >= MaxLedgerSpan) {
        ++room.unchecked; // trimmed long ago (a late duplicate), or absurdly far ahead
        return;
    }
    const size_t index = size_t(seq - room.ledgerBase);
    if (index >= room.ledger.size())
        room.ledger.resize(index + 1, 0);
    quint64 &entry = room.ledger[index];
    if (entry == 0)
        entry = idHash;
    else if (entry != idHash)
        ++room.disagreements;
}

qint64 ChatVerifier::onMessage(int user, const v1::Message &message, qint64 nowUs, bool *ephemeral)
{
    const int roomIndex = roomOf(user);
    Room &room = m_rooms[size_t(roomIndex)];
    *ephemeral = message.ephemeral() || message.seq() == 0;
    const qint64 latencyUs = m_verifiers[size_t(user)].onMessage(message, nowUs);
    if (message.stream() != room.stream)
        return latencyUs; // counted as misdelivered by the member's verifier
    if (*ephemeral) {
        const std::string &self = m_userIds[size_t(user)];
        const std::string &id = message.id();
        const bool own =
            id.size() > self.size() && id.compare(0, self.size(), self) == 0 && id[self.size()] == '/';
        if (own)
            ++m_ephemeralOwn;
        else
            ++m_ephemeralOthersByRoom[size_t(roomIndex)];
        return latencyUs;
    }
    room.maxSeq = std::max<quint64>(room.maxSeq, message.seq());
    record(room, message.seq(), hashId(message.id()));
    return latencyUs;
}

void ChatVerifier::onSent(int /*user*/, bool ephemeral)
{
    ++(ephemeral ? m_ephemeralSent : m_sent);
}

void ChatVerifier::onAcked(int user, const QString &clientMessageId, quint64 seq, bool duplicate)
{
    const int roomIndex = roomOf(user);
    if (seq == 0) {
        ++m_ephemeralAcked;
        ++m_ephemeralAckedByRoom[size_t(roomIndex)];
        return;
    }
    ++m_acked;
    m_ackedDuplicate += duplicate ? 1 : 0;
    Room &room = m_rooms[size_t(roomIndex)];
    room.maxSeq = std::max<quint64>(room.maxSeq, seq);
    // The sender's word on what this seq carries, against what the members saw.
    m_id = m_userIds[size_t(user)];
    m_id += '/';
    m_id += clientMessageId.toStdString();
    record(room, seq, hashId(m_id));
}

void ChatVerifier::onRefused(int /*user*/, bool ephemeral)
{
    ++(ephemeral ? m_ephemeralRefused : m_refused);
}

void ChatVerifier::onSubscriptionRefused(int /*user*/)
{
    ++m_subscriptionsRefused;
}

void ChatVerifier::propagate()
{
    for (size_t user = 0; user < m_verifiers.size(); ++user)
        m_verifiers[user].onAcked(m_rooms[size_t(roomOf(int(user)))].maxSeq);
}

void ChatVerifier::sample()
{
    propagate();
    for (UserVerifier &verifier : m_verifiers)
        verifier.sampleAcked();
    // Seqs every member of a room has passed (and LedgerMargin more) can go: only a late
    // duplicate could still name them, and it is counted as one anyway.
    for (size_t roomIndex = 0; roomIndex < m_rooms.size(); ++roomIndex) {
        Room &room = m_rooms[roomIndex];
        quint64 slowest = std::numeric_limits<quint64>::max();
        for (int member = 0; member < m_members; ++member) {
            const UserVerifier &verifier = m_verifiers[roomIndex * size_t(m_members) + size_t(member)];
            slowest = std::min(slowest, verifier.hasWelcome() ? verifier.maxSeq() : 0);
        }
        if (slowest <= LedgerMargin)
            continue;
        const quint64 keepFrom = slowest - LedgerMargin;
        while (room.ledgerBase < keepFrom && !room.ledger.empty()) {
            room.ledger.pop_front();
            ++room.ledgerBase;
        }
    }
}

bool ChatVerifier::isCaughtUp()
{
    propagate();
    return std::all_of(m_verifiers.cbegin(), m_verifiers.cend(),
                       [](const UserVerifier &verifier) { return verifier.isCaughtUp(); });
}

quint64 ChatVerifier::lostSoFar()
{
    quint64 lost = 0;
    for (const UserVerifier &verifier : m_verifiers)
        lost += verifier.gapCount() + verifier.overdueCount();
    return lost;
}

ChatVerifier::Totals ChatVerifier::totals()
{
    propagate();
    Totals t;
    t.sent = m_sent;
    t.acked = m_acked;
    t.ackedDuplicate = m_ackedDuplicate;
    t.refused = m_refused;
    t.subscriptionsRefused = m_subscriptionsRefused;
    for (size_t user = 0; user < m_verifiers.size(); ++user) {
        const UserVerifier &verifier = m_verifiers[user];
        t.received += verifier.received();
        t.ephemeralReceived += verifier.ephemeral();
        t.lost += verifier.lostCount();
        t.lostUndelivered += verifier.undeliveredCount();
        t.duplicated += verifier.duplicates();
        t.reordered += verifier.reordered();
        t.misdelivered += verifier.misdelivered();
        t.wrongEpoch += verifier.wrongEpoch();
        t.resumes += verifier.resumes();
        t.recovered += verifier.recovered();
        t.notRecovered += verifier.notRecovered();
        if (verifier.hasWelcome()) {
            ++t.subscribed;
            const quint64 roomMax = m_rooms[size_t(roomOf(int(user)))].maxSeq;
            t.expected += roomMax > verifier.baseline() ? roomMax - verifier.baseline() : 0;
        }
    }
    for (size_t room = 0; room < m_rooms.size(); ++room) {
        t.disagreements += m_rooms[room].disagreements;
        t.unchecked += m_rooms[room].unchecked;
        // Every acked ephemeral message should reach the room's other members; what did not
        // was dropped (a member behind, or a connection that was down).
        const quint64 others = m_ephemeralAckedByRoom[room] * quint64(m_members - 1);
        t.ephemeralDropped +=
            others > m_ephemeralOthersByRoom[room] ? others - m_ephemeralOthersByRoom[room] : 0;
    }
    t.ephemeralSent = m_ephemeralSent;
    t.ephemeralAcked = m_ephemeralAcked;
    t.ephemeralRefused = m_ephemeralRefused;
    t.ephemeralOwn = m_ephemeralOwn;
    return t;
}

} // namespace bfg::probe
