// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 BFG developers
#include "daemon/broker/broker.h"

#include <cstring>

#include <QHashFunctions>
#include <QStringEncoder>
#include <QVarLengthArray>

#include "common/websocket.h"

namespace bfg {

namespace {
// Every message becomes ServerFrame{message: Message{...}} (frames.proto) in
// a WebSocket frame. It is written here in the protobuf wire format
// (protobuf.dev/programming-guides/encoding) straight into the frame: one
// allocation of the exact size and one copy of the payload, where building
// the protobuf objects took a string per field, an encode and a frame copy.
// Fields at their default (empty, 0) are left out and the rest go in field
// order, as libprotobuf writes them: tst_frames checks the bytes are equal.
// Every field number is below 16, so each tag is one byte.
constexpr int WireVarint = 0;
constexpr int WireLength = 2;

qsizetype varintSize(quint64 value)
{
    qsizetype size = 1;
    for (; value >= 0x80; value >>= 7)
        ++size;
    return size;
}

char *putVarint(char *out, quint64 value)
{
    for (; value >= 0x80; value >>= 7)
        *out++ = char(value | 0x80);
    *out++ = char(value);
    return out;
}

qsizetype varintFieldSize(quint64 value)
{
    return value == 0 ? 0 : 1 + varintSize(value);
}

char *putVarintField(char *out, int field, quint64 value)
{
    if (value == 0)
        return out;
    *out++ = char(field << 3 | WireVarint);
    return putVarint(out, value);
}

qsizetype lengthFieldSize(qsizetype size)
{
    return size == 0 ? 0 : 1 + varintSize(quint64(size)) + size;
}

char *putLengthField(char *out, int field, QByteArrayView bytes)
{
    if (bytes.isEmpty())
        return out;
    *out++ = char(field << 3 | WireLength);
    out = putVarint(out, quint64(bytes.size()));
    memcpy(out, bytes.data(), size_t(bytes.size()));
    return out + bytes.size();
}

// UTF-8 of a short string without a heap allocation.
QVarLengthArray<char, 256> utf8(QStringView text)
{
    QStringEncoder encoder(QStringEncoder::Utf8);
    QVarLengthArray<char, 256> out(encoder.requiredSpace(text.size()));
    out.resize(encoder.appendToBuffer(out.data(), text) - out.data());
    return out;
}

QByteArrayView view(const QVarLengthArray<char, 256> &bytes)
{
    return {bytes.data(), bytes.size()};
}
} // namespace

size_t StreamNameHash::operator()(const QString &name) const
{
    return size_t(qHash(name));
}

MessagePtr makeMessage(QString stream, quint64 seq, QString epoch, QString id, qint64 publishTimeUs,
                       QByteArray payload, bool ephemeral)
{
    auto message = std::make_shared<BrokerMessage>();
    const auto streamUtf8 = utf8(stream);
    const auto epochUtf8 = utf8(epoch);
    const auto idUtf8 = utf8(id);
    const qsizetype body = lengthFieldSize(streamUtf8.size()) + varintFieldSize(seq) +
                           lengthFieldSize(epochUtf8.size()) + lengthFieldSize(idUtf8.size()) +
                           varintFieldSize(quint64(publishTimeUs)) + lengthFieldSize(payload.size()) +
                           varintFieldSize(ephemeral ? 1 : 0);
    // The oneof's Message field (2) is written even when empty.
    const qsizetype serverFrame = 1 + varintSize(quint64(body)) + body;

    QByteArray wire(websocket::headerSize(serverFrame) + serverFrame, Qt::Uninitialized);
    char *out = websocket::writeHeader(wire.data(), websocket::Opcode::Binary, serverFrame);
    *out++ = char(2 << 3 | WireLength);
    out = putVarint(out, quint64(body));
    out = putLengthField(out, 1, view(streamUtf8));
    out = putVarintField(out, 2, seq);
    out = putLengthField(out, 3, view(epochUtf8));
    out = putLengthField(out, 4, view(idUtf8));
    out = putVarintField(out, 5, quint64(publishTimeUs));
    out = putLengthField(out, 6, payload);
    out = putVarintField(out, 7, ephemeral ? 1 : 0);
    Q_ASSERT(out == wire.constData() + wire.size());

    message->stream = std::move(stream);
    message->seq = seq;
    message->epoch = std::move(epoch);
    message->id = std::move(id);
    message->publishTimeUs = publishTimeUs;
    message->payload = std::move(payload);
    message->ephemeral = ephemeral;
    message->wire = std::move(wire);
    return message;
}

} // namespace bfg
