// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 BFG developers
#include "daemon/broker/broker.h"

#include "bfg/v1/frames.pb.h"
#include "common/protocol.h"
#include "common/websocket.h"

namespace bfg {

MessagePtr makeMessage(QString stream, quint64 seq, QString epoch, QString id, qint64 publishTimeUs,
                       QByteArray payload)
{
    auto message = std::make_shared<BrokerMessage>();
    message->stream = std::move(stream);
    message->seq = seq;
    message->epoch = std::move(epoch);
    message->id = std::move(id);
    message->publishTimeUs = publishTimeUs;
    message->payload = std::move(payload);

    v1::ServerFrame frame;
    v1::Message *body = frame.mutable_message();
    body->set_stream(message->stream.toStdString());
    body->set_seq(seq);
    body->set_epoch(message->epoch.toStdString());
    if (!message->id.isEmpty())
        body->set_id(message->id.toStdString());
    body->set_publish_time_us(publishTimeUs);
    body->set_payload(message->payload.constData(), size_t(message->payload.size()));
    message->wire = websocket::frame(websocket::Opcode::Binary, protocol::encode(frame));
    return message;
}

} // namespace bfg
