// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 BFG developers
//
// Signed, short-lived tokens in JWT compact form (HS256): the decision
// server issues connect tokens that a push node verifies without a call
// back, and push nodes sign their reports with the same shared secret.
// Verification is constant-time in the signature.
#pragma once

#include <QByteArray>
#include <QByteArrayView>
#include <QString>
#include <QStringList>

namespace bfg {

struct TokenClaims
{
    QString subject;      // user id for "connect", node id for "node"
    QString scope;        // "connect" or "node"
    QStringList streams;  // streams a connect token may read
    qint64 issuedAt = 0;  // seconds since the Unix epoch
    qint64 expiresAt = 0; // seconds since the Unix epoch
};

enum class TokenError {
    None,
    Malformed,    // not three base64url parts, bad JSON, missing claims, wrong alg
    BadSignature, // signed with another secret or altered
    Expired,
};

struct TokenCheck
{
    TokenError error = TokenError::Malformed;
    TokenClaims claims;
    bool ok() const { return error == TokenError::None; }
};

class TokenSigner
{
public:
    static constexpr int MaxTokenBytes = 4096;
    static inline const QString ConnectScope = QStringLiteral("connect");
    static inline const QString NodeScope = QStringLiteral("node");

    explicit TokenSigner(QByteArray secret);

    QByteArray sign(const TokenClaims &claims) const;
    TokenCheck verify(QByteArrayView token, qint64 nowSeconds) const;

    static QString errorText(TokenError error);

private:
    QByteArray m_secret;
};

} // namespace bfg
