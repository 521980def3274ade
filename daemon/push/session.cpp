// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 BFG developers
#include "daemon/push/session.h"

#include <QWebSocket>

namespace bfg {

Session::Session(QWebSocket *socket, quint64 id)
    : m_socket(socket)
    , m_id(id)
{}

Session::Delivery Session::deliver(const BrokerMessage &message)
{
    const auto it = m_delivered.find(message.stream);
    if (m_stage != Stage::Live || it == m_delivered.end() || message.seq <= *it)
        return Delivery::Skipped;
    if (message.seq != *it + 1)
        return Delivery::Gap;
    *it = message.seq;
    sendFrame(message.frame);
    return Delivery::Sent;
}

void Session::sendFrame(const QByteArray &frame)
{
    m_socket->sendBinaryMessage(frame);
}

} // namespace bfg
