// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 BFG developers
#include "daemon/push/session.h"

#include <algorithm>

namespace bfg {

Session::Session(std::unique_ptr<WsConnection> connection, quint64 id)
    : m_connection(std::move(connection))
    , m_id(id)
{}

Session::StreamState &Session::addStream(const QString &stream)
{
    if (StreamState *known = this->stream(stream)) {
        *known = StreamState();
        return *known;
    }
    return m_streams.emplace_back(stream, StreamState()).second;
}

Session::StreamState *Session::stream(const QString &stream)
{
    for (auto &[name, state] : m_streams) {
        if (name == stream)
            return &state;
    }
    return nullptr;
}

bool Session::allReady() const
{
    return std::all_of(m_streams.cbegin(), m_streams.cend(),
                       [](const auto &entry) { return entry.second.ready || !entry.second.active; });
}

int Session::activeStreams() const
{
    return int(std::count_if(m_streams.cbegin(), m_streams.cend(),
                             [](const auto &entry) { return entry.second.active; }));
}

namespace {
// Epochs are usually the broker's one copy of the string: equal data pointers
// answer without reading it.
bool sameText(const QString &a, const QString &b)
{
    return (a.constData() == b.constData() && a.size() == b.size()) || a == b;
}
} // namespace

Session::Delivery Session::deliver(StreamState &state, const MessagePtr &message)
{
    // A connection already closing (the peer's close came first) takes nothing:
    // not counted as delivered; the client resumes from what it had.
    if (m_stage == Stage::AwaitingHello || m_stage == Stage::Closing ||
        m_connection->state() != WsConnection::State::Open)
        return Delivery::Skipped;
    if (message->ephemeral) {
        // Outside the stream's order: now or never, never held for later.
        if (!state.ready || m_stage != Stage::Live)
            return Delivery::Skipped;
        m_connection->send(message->wire);
        return Delivery::Sent;
    }
    if (!state.ready || m_stage == Stage::Subscribing) {
        if (state.held.size() >= MaxHeld)
            return Delivery::Gap;
        state.held.push_back(message);
        return Delivery::Held;
    }
    if (!sameText(message->epoch, state.epoch))
        return Delivery::Gap; // the broker lost the stream: the client must learn it
    if (message->seq <= state.delivered)
        return Delivery::Skipped;
    if (message->seq != state.delivered + 1)
        return Delivery::Gap;
    state.delivered = message->seq;
    m_connection->send(message->wire); // framed once, shared by every reader
    return Delivery::Sent;
}

void Session::sendFrame(const QByteArray &frame)
{
    m_connection->send(websocket::frame(websocket::Opcode::Binary, frame));
}

} // namespace bfg
