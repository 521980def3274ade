// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 BFG developers
//
// What a push worker checks in a client's Hello before it trusts it: the
// connect token (signature, expiry, scope) and the resume positions (each a
// stream the token grants). Pure functions over the decoded frame: the
// worker acts on the answer, the client-frame fuzzer feeds them bytes.
#pragma once

#include <QHash>
#include <QString>
#include <QStringList>

#include "bfg/v1/frames.pb.h"
#include "common/token.h"
#include "daemon/broker/broker.h"

namespace bfg {

// A check's answer: ok, or the error code and text to close the session with.
struct HelloCheck
{
    v1::ErrorCode error = v1::ERROR_CODE_UNSPECIFIED;
    QString errorText;
    bool ok() const { return error == v1::ERROR_CODE_UNSPECIFIED; }
};

// Streams one session may read (its token's, and those its hello names under a pattern).
inline constexpr int MaxStreamsPerSession = 256;

// The hello's token: valid, unexpired, and a connect token; each reason has
// its own code (a client renews an expired token, not a forged one). Fills `claims`.
HelloCheck checkHelloToken(const TokenSigner &signer, const v1::Hello &hello, qint64 nowSeconds,
                           TokenClaims *claims);
// The hello's resume positions, each for a stream `claims` grants (named,
// or under a pattern such as "fx:*"). Fills `positions` (a stream named
// twice keeps its last position) and `streams`: what the session reads, the
// token's named streams, then those of the hello its patterns grant. A
// shared stream the token does not grant (a room left, a public stream the
// operator withdrew) goes to `refused`, to be refused on its own after the
// welcome; a personal stream of another user, or a name that is no stream,
// refuses the whole hello.
HelloCheck checkHelloPositions(const v1::Hello &hello, const TokenClaims &claims,
                               QHash<QString, StreamPoint> *positions, QStringList *streams,
                               QStringList *refused);

} // namespace bfg
