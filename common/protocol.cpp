// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 BFG developers
#include "common/protocol.h"

#include <chrono>

#include <QRegularExpression>

using namespace Qt::Literals::StringLiterals;

namespace bfg::protocol {

bool isRetryCode(int code)
{
    return code >= RetryRangeBegin && code < TerminalRangeBegin;
}

bool isTerminalCode(int code)
{
    return code >= TerminalRangeBegin && code < CodeRangeEnd;
}

QByteArray encode(const google::protobuf::MessageLite &message)
{
    QByteArray bytes(qsizetype(message.ByteSizeLong()), Qt::Uninitialized);
    message.SerializeWithCachedSizesToArray(reinterpret_cast<uint8_t *>(bytes.data()));
    return bytes;
}

bool decode(QByteArrayView bytes, google::protobuf::MessageLite *message)
{
    return message->ParseFromArray(bytes.data(), int(bytes.size()));
}

QByteArray errorFrame(v1::ErrorCode code, const QString &text)
{
    v1::ServerFrame frame;
    frame.mutable_error()->set_code(code);
    frame.mutable_error()->set_text(text.toStdString());
    return encode(frame);
}

bool constantTimeEquals(QByteArrayView a, QByteArrayView b)
{
    if (a.size() != b.size())
        return false;
    unsigned char diff = 0;
    for (qsizetype i = 0; i < a.size(); ++i)
        diff |= static_cast<unsigned char>(a[i] ^ b[i]);
    return diff == 0;
}

QString userStream(const QString &userId)
{
    return u"user:"_s + userId;
}

bool isValidUserId(const QString &userId)
{
    static const QRegularExpression pattern(QRegularExpression::anchoredPattern(u"[A-Za-z0-9._@-]{1,128}"_s));
    return pattern.match(userId).hasMatch();
}

bool isValidStreamName(const QString &stream)
{
    static const QRegularExpression pattern(
        QRegularExpression::anchoredPattern(u"[A-Za-z0-9._@-]+:[A-Za-z0-9._:@-]+"_s));
    return stream.size() <= 200 && pattern.match(stream).hasMatch();
}

qint64 nowUs()
{
    using namespace std::chrono;
    return duration_cast<microseconds>(system_clock::now().time_since_epoch()).count();
}

qint64 nowMs()
{
    return nowUs() / 1000;
}

} // namespace bfg::protocol
