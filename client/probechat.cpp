// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 BFG developers
//
// `bfg-probe scenario chat`: rooms of members, each member a PushClient that
// subscribes to its room once live and publishes into it over its own
// WebSocket at --rate (and --typing-rate ephemeral messages). ChatVerifier
// checks what every member receives against the room's one order and the
// senders' acks; this file wires the clients to it, paces the publishing
// and adds the figures to the report.
#include <algorithm>
#include <set>

#include <QRandomGenerator>

#include "client/probe.h"
#include "common/logging.h"
#include "common/protocol.h"
#include "common/pushclient.h"

using namespace Qt::Literals::StringLiterals;

namespace bfg::probe {

namespace {
constexpr int ChatTickMs = 10;
constexpr int MaxRefusalsLogged = 10;
} // namespace

void Probe::setUpChat()
{
    QStringList userIds;
    for (int user = 0; user < m_options.users; ++user)
        userIds.append(m_options.userId(user));
    for (int room = 0; room < m_options.rooms; ++room) {
        m_roomNames.append(m_options.roomStream(room));
        m_roomTags.push_back(m_roomNames.constLast().toStdString());
    }
    m_chat.setRooms(m_roomNames, m_options.members, userIds);
    const size_t users = size_t(m_options.users);
    m_chatCounter.assign(users, 0);
    m_typingCounter.assign(users, 0);
    m_chatSendUs.assign(users, {});
    // Members start at random points of their period, so that a room's messages are spread
    // over the second rather than sent together every second.
    m_chatCredit.resize(users);
    m_typingCredit.resize(users);
    for (size_t user = 0; user < users; ++user) {
        m_chatCredit[user] = QRandomGenerator::global()->generateDouble();
        m_typingCredit[user] = QRandomGenerator::global()->generateDouble();
    }
    m_chatTimer.setInterval(ChatTickMs);
    m_chatTimer.setTimerType(Qt::PreciseTimer);
    connect(&m_chatTimer, &QTimer::timeout, this, &Probe::chatTick);
}

void Probe::connectChat(int user, PushClient *client)
{
    connect(client, &PushClient::subscribed, this,
            [this, user](const v1::StreamState &state) { onChatSubscribed(user, state); });
    connect(client, &PushClient::published, this,
            [this, user](const QString &id, const QString &, const QString &, quint64 seq, bool duplicate) {
                onChatAcked(user, id, seq, duplicate);
            });
    connect(client, &PushClient::publishRefused, this,
            [this, user](const QString &id, int code, const QString &text) {
                onChatRefused(user, id, code, text);
            });
    connect(client, &PushClient::subscriptionRefused, this,
            [this, user, client](const QString &stream, int code, const QString &text) {
                if (m_chatRefusalsLogged++ < MaxRefusalsLogged)
                    qCWarning(lcProbe).noquote()
                        << m_options.userId(user) << "may not read" << stream << ":" << code << text;
                m_chat.onSubscriptionRefused(user);
                client->stop(); // a member without its room has nothing to do
                if (!m_chat.isSubscribed(user))
                    onNeverReady();
            });
}

void Probe::onChatSubscribed(int user, const v1::StreamState &state)
{
    const bool first = !m_chat.isSubscribed(user);
    m_chat.onSubscribed(user, state);
    if (first)
        onUserReady(user);
}

void Probe::onChatMessage(int user, const v1::Message &message, qint64 nowUs)
{
    bool ephemeral = false;
    const qint64 latencyUs = m_chat.onMessage(user, message, nowUs, &ephemeral);
    if (ephemeral) {
        m_ephemeralLatency.record(latencyUs);
        return;
    }
    recordLatency(latencyUs, nowUs);
    ++m_received;
}

void Probe::onChatAcked(int user, const QString &clientMessageId, quint64 seq, bool duplicate)
{
    m_chat.onAcked(user, clientMessageId, seq, duplicate);
    if (!clientMessageId.startsWith(u'c'))
        return;
    auto &sent = m_chatSendUs[size_t(user)];
    const auto it = sent.find(clientMessageId.mid(1).toULongLong());
    if (it == sent.end())
        return;
    m_ackLatency.record(protocol::nowUs() - it->second);
    sent.erase(it);
}

void Probe::onChatRefused(int user, const QString &clientMessageId, int code, const QString &text)
{
    const bool ephemeral = clientMessageId.startsWith(u't');
    m_chat.onRefused(user, ephemeral);
    if (!ephemeral) {
        m_chatSendUs[size_t(user)].erase(clientMessageId.mid(1).toULongLong());
        // An ephemeral message lost with its connection is expected; a refused message is not.
        if (m_chatRefusalsLogged++ < MaxRefusalsLogged)
            qCWarning(lcProbe).noquote()
                << m_options.userId(user) << "publish" << clientMessageId << "refused:" << code << text;
    }
}

void Probe::startChat()
{
    // Where the members are as publishing begins: users per node, and over how many nodes
    // each room's members are spread (what affinity is meant to bring down to one).
    m_usersPerNode.clear();
    m_roomsByNodes.clear();
    for (int room = 0; room < m_options.rooms; ++room) {
        std::set<QString> nodes;
        for (int member = 0; member < m_options.members; ++member) {
            const PushClient *client = m_clients[size_t(room * m_options.members + member)];
            if (client->state() != PushClient::State::Live)
                continue;
            ++m_usersPerNode[client->nodeId()];
            nodes.insert(client->nodeId());
        }
        ++m_roomsByNodes[int(nodes.size())];
    }
    m_chatClock.start();
    m_chatLastNs = 0;
    m_chatSampleClock.start();
    if (m_options.ratePerUser > 0 || m_options.typingRate > 0)
        m_chatTimer.start();
}

void Probe::stopChat()
{
    m_chatTimer.stop();
}

void Probe::chatTick()
{
    const qint64 nowNs = m_chatClock.nsecsElapsed();
    // After a stall, catch up at most a second: a frozen probe must not fire a flood.
    const double elapsedS = std::min(1.0, double(nowNs - m_chatLastNs) / 1e9);
    m_chatLastNs = nowNs;
    const qint64 nowUs = protocol::nowUs();
    for (size_t user = 0; user < m_clients.size(); ++user) {
        // Members that left (churn) or stopped say nothing until they are back.
        if (m_away[user] || m_clients[user]->state() == PushClient::State::Stopped)
            continue;
        double &credit = m_chatCredit[user];
        credit += m_options.ratePerUser * elapsedS;
        for (; credit >= 1.0; credit -= 1.0)
            publishChat(int(user), false, nowUs);
        double &typing = m_typingCredit[user];
        typing += m_options.typingRate * elapsedS;
        for (; typing >= 1.0; typing -= 1.0)
            publishChat(int(user), true, nowUs);
    }
    if (m_chatSampleClock.elapsed() >= 1000) {
        m_chatSampleClock.restart();
        m_chat.sample();
    }
}

void Probe::publishChat(int user, bool ephemeral, qint64 nowUs)
{
    const int room = m_chat.roomOf(user);
    UserVerifier::writePayload(&m_chatPayload, nowUs, m_roomTags[size_t(room)]);
    const quint64 n = ++(ephemeral ? m_typingCounter : m_chatCounter)[size_t(user)];
    if (!ephemeral)
        m_chatSendUs[size_t(user)].emplace(n, nowUs);
    m_chat.onSent(user, ephemeral);
    m_clients[size_t(user)]->publish(m_roomNames.at(room),
                                     QByteArray(m_chatPayload.data(), qsizetype(m_chatPayload.size())),
                                     (ephemeral ? u"t"_s : u"c"_s) + QString::number(n), ephemeral);
}

bool Probe::isChatDrained()
{
    // Every message acked (or refused) and every member has every seq its room reached.
    for (const PushClient *client : m_clients) {
        if (client->pendingPublishes() > 0 && client->state() != PushClient::State::Stopped)
            return false;
    }
    return m_chat.isCaughtUp();
}

void Probe::addChatFigures(ProbeReport *report)
{
    const ChatVerifier::Totals t = m_chat.totals();
    report->chat = true;
    report->publishUrl.clear();
    report->sent = t.sent;
    report->published = t.acked;
    report->unacked = t.unacked();
    report->rejected = t.refused;
    report->lost += t.lost;
    report->lostUndelivered += t.lostUndelivered;
    report->duplicated += t.duplicated;
    report->reordered += t.reordered;
    report->misdelivered += t.misdelivered;
    report->wrongEpoch += t.wrongEpoch;
    ProbeReport::Chat &c = report->chatFigures;
    c.rooms = m_options.rooms;
    c.members = m_options.members;
    c.typingRate = m_options.typingRate;
    c.affinityRoom = m_options.affinityRoom;
    c.expected = t.expected;
    c.ackedDuplicate = t.ackedDuplicate;
    c.disagreements = t.disagreements;
    c.unchecked = t.unchecked;
    c.subscriptionsRefused = t.subscriptionsRefused;
    c.resumes = t.resumes;
    c.recovered = t.recovered;
    c.notRecovered = t.notRecovered;
    c.ephemeralSent = t.ephemeralSent;
    c.ephemeralAcked = t.ephemeralAcked;
    c.ephemeralRefused = t.ephemeralRefused;
    c.ephemeralReceived = t.ephemeralReceived;
    c.ephemeralOwn = t.ephemeralOwn;
    c.ephemeralDropped = t.ephemeralDropped;
    c.ackLatency = m_ackLatency;
    c.ephemeralLatency = m_ephemeralLatency;
    c.usersPerNode = m_usersPerNode;
    c.roomsByNodes = m_roomsByNodes;
}

} // namespace bfg::probe
