// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 BFG developers
//
// Connect and node tokens (common/token.h). Input: one control byte, then
// the rest. Mode (control byte % 3):
//   0  the rest is a token: verify it (fixed secret, fixed clock);
//   1  the rest is a token's claims JSON: sign it as the decision server
//      would and verify it, so that the claims parser is reached past the
//      signature;
//   2  the rest makes claims (subject, scope, streams: lines; the times:
//      the first 16 bytes): sign them, verify the token, and get the same
//      claims back.
#include <cstdint>
#include <cstring>

#include <QMessageAuthenticationCode>

#include "common/token.h"
#include "fuzz/fuzzcheck.h"

namespace {
constexpr char Secret[] = "fuzz-secret";
constexpr qint64 NowSeconds = 1700000000;
constexpr auto Base64Url = QByteArray::Base64UrlEncoding | QByteArray::OmitTrailingEquals;

const bfg::TokenSigner &signer()
{
    static const bfg::TokenSigner signer{QByteArray(Secret)};
    return signer;
}

void checkResult(const bfg::TokenCheck &check)
{
    if (check.ok())
        BFG_FUZZ_CHECK(check.claims.expiresAt > NowSeconds);
    if (check.error == bfg::TokenError::Expired)
        BFG_FUZZ_CHECK(check.claims.expiresAt <= NowSeconds);
    BFG_FUZZ_CHECK(!bfg::TokenSigner::errorText(check.error).isEmpty());
}

void verifyToken(QByteArrayView token)
{
    checkResult(signer().verify(token, NowSeconds));
}

void verifySignedPayload(QByteArrayView payload)
{
    const QByteArray signingInput = QByteArray(R"({"alg":"HS256","typ":"JWT"})").toBase64(Base64Url) + '.' +
                                    payload.toByteArray().toBase64(Base64Url);
    const QByteArray mac = QMessageAuthenticationCode::hash(signingInput, Secret, QCryptographicHash::Sha256);
    const QByteArray token = signingInput + '.' + mac.toBase64(Base64Url);
    const bfg::TokenCheck check = signer().verify(token, NowSeconds);
    checkResult(check);
    if (token.size() <= bfg::TokenSigner::MaxTokenBytes)
        BFG_FUZZ_CHECK(check.error != bfg::TokenError::BadSignature);
}

void roundTrip(QByteArrayView rest)
{
    if (rest.size() < 16)
        return;
    bfg::TokenClaims claims;
    std::memcpy(&claims.issuedAt, rest.data(), 8);
    std::memcpy(&claims.expiresAt, rest.data() + 8, 8);
    const QStringList lines = QString::fromUtf8(rest.sliced(16)).split(u'\n');
    claims.subject = lines.value(0);
    claims.scope = lines.value(1);
    claims.streams = lines.mid(2);

    const QByteArray token = signer().sign(claims);
    const bfg::TokenCheck check = signer().verify(token, NowSeconds);
    if (token.size() > bfg::TokenSigner::MaxTokenBytes) {
        BFG_FUZZ_CHECK(check.error == bfg::TokenError::Malformed);
        return;
    }
    BFG_FUZZ_CHECK(check.error ==
                   (claims.expiresAt > NowSeconds ? bfg::TokenError::None : bfg::TokenError::Expired));
    BFG_FUZZ_CHECK(check.claims.subject == claims.subject && check.claims.scope == claims.scope);
    BFG_FUZZ_CHECK(check.claims.streams == claims.streams);
    BFG_FUZZ_CHECK(check.claims.issuedAt == claims.issuedAt && check.claims.expiresAt == claims.expiresAt);
}
} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    const QByteArrayView rest(reinterpret_cast<const char *>(data) + 1, qsizetype(size - 1));
    switch (data[0] % 3) {
    case 0:
        verifyToken(rest);
        break;
    case 1:
        verifySignedPayload(rest);
        break;
    case 2:
        roundTrip(rest);
        break;
    }
    return 0;
}
