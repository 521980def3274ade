// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 BFG developers
//
// A client's frames after the upgrade, as a push worker reads them: decode a
// bfg.v1.ClientFrame, and for a Hello run the checks the worker makes before
// it trusts the client (daemon/push/hellocheck.h): the connect token, signed
// with a fixed secret so that a valid seed reaches past the signature, and
// the resume positions, against that token's streams and against a token
// that grants every other stream the hello names. The names it would
// subscribe to go through the stream and user name checks.
#include <cstdint>

#include "common/protocol.h"
#include "common/token.h"
#include "daemon/push/hellocheck.h"
#include "fuzz/fuzzcheck.h"

using namespace Qt::Literals::StringLiterals;

namespace {
// The seeds' tokens are signed with this secret and expire after this time.
constexpr char Secret[] = "fuzz-secret";
constexpr qint64 NowSeconds = 1700000000;
constexpr qsizetype MaxFrameBytes = 64 * 1024; // the node's default: larger frames are refused unread

void checkPositions(const bfg::v1::Hello &hello, const bfg::TokenClaims &claims)
{
    QHash<QString, bfg::StreamPoint> positions;
    QStringList streams, refused;
    const bfg::HelloCheck check = bfg::checkHelloPositions(hello, claims, &positions, &streams, &refused);
    if (check.ok()) {
        BFG_FUZZ_CHECK(refused.size() <= bfg::MaxStreamsPerSession);
        for (const QString &stream : refused)
            BFG_FUZZ_CHECK(!bfg::TokenSigner::grants(claims.streams, stream) && !streams.contains(stream) &&
                           !stream.startsWith(u"user:"));
        BFG_FUZZ_CHECK(positions.size() <= hello.positions_size());
        BFG_FUZZ_CHECK(streams.size() <= bfg::MaxStreamsPerSession + claims.streams.size());
        for (auto it = positions.cbegin(); it != positions.cend(); ++it)
            BFG_FUZZ_CHECK(bfg::TokenSigner::grants(claims.streams, it.key()) && streams.contains(it.key()));
        for (const QString &stream : streams)
            BFG_FUZZ_CHECK(!stream.endsWith(u'*'));
    } else {
        BFG_FUZZ_CHECK((check.error == bfg::v1::NOT_ENTITLED || check.error == bfg::v1::BAD_REQUEST) &&
                       !check.errorText.isEmpty());
    }
}
} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > size_t(MaxFrameBytes))
        return 0;
    bfg::v1::ClientFrame frame;
    if (!bfg::protocol::decode(QByteArrayView(reinterpret_cast<const char *>(data), qsizetype(size)), &frame))
        return 0;
    // What the node answers with on a bad frame: must encode.
    BFG_FUZZ_CHECK(!bfg::protocol::errorFrame(bfg::v1::PROTOCOL_VIOLATION, u"fuzz"_s).isEmpty());
    if (!frame.has_hello())
        return 0;
    const bfg::v1::Hello &hello = frame.hello();

    static const bfg::TokenSigner signer{QByteArray(Secret)};
    bfg::TokenClaims claims;
    const bfg::HelloCheck token = bfg::checkHelloToken(signer, hello, NowSeconds, &claims);
    if (token.ok()) {
        BFG_FUZZ_CHECK(claims.scope == bfg::TokenSigner::ConnectScope && claims.expiresAt > NowSeconds);
        bfg::protocol::isValidUserId(claims.subject);
        for (const QString &stream : claims.streams)
            bfg::protocol::isValidStreamName(stream);
        checkPositions(hello, claims);
    } else {
        BFG_FUZZ_CHECK(token.error == bfg::v1::BAD_TOKEN || token.error == bfg::v1::TOKEN_EXPIRED ||
                       token.error == bfg::v1::TOKEN_TAMPERED || token.error == bfg::v1::WRONG_SCOPE);
        BFG_FUZZ_CHECK(!token.errorText.isEmpty());
    }

    bfg::TokenClaims half;
    for (int i = 0; i < hello.positions_size(); i += 2) {
        const QString stream = QString::fromStdString(hello.positions(i).stream());
        bfg::protocol::isValidStreamName(stream);
        half.streams.append(stream);
    }
    checkPositions(hello, half);
    return 0;
}
