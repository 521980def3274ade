// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 BFG developers
//
// Small helpers around the bfg.v1 wire schema shared by nodes and clients:
// frame encoding, the retry/terminal code ranges, stream and user names,
// and the clock every timestamp on the wire is taken from.
#pragma once

#include <QByteArray>
#include <QByteArrayView>
#include <QString>

#include "bfg/v1/frames.pb.h"

namespace bfg::protocol {

inline constexpr char WebSocketPath[] = "/v1/ws";
inline constexpr int RetryRangeBegin = 3000;
inline constexpr int TerminalRangeBegin = 3500;
inline constexpr int CodeRangeEnd = 4000;

// A close or error code in 3000-3499: reconnect and resume.
bool isRetryCode(int code);
// A close or error code in 3500-3999: do not retry as is.
bool isTerminalCode(int code);

QByteArray encode(const google::protobuf::MessageLite &message);
bool decode(QByteArrayView bytes, google::protobuf::MessageLite *message);

QByteArray errorFrame(v1::ErrorCode code, const QString &text);

// Compares secrets in time that depends on the length only.
bool constantTimeEquals(QByteArrayView a, QByteArrayView b);

// "user:<id>": every user's personal stream.
QString userStream(const QString &userId);
// User ids: 1..128 of [A-Za-z0-9._@-].
bool isValidUserId(const QString &userId);
// Stream names: "<kind>:<name>", 3..200 of [A-Za-z0-9._:@-].
bool isValidStreamName(const QString &stream);

// Wall clock in µs / ms since the Unix epoch: what publish_time_us carries.
qint64 nowUs();
qint64 nowMs();

} // namespace bfg::protocol
