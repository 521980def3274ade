// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 BFG developers
//
// Signed, short-lived tokens in JWT compact form (HS256): the decision
// server issues connect tokens that a push node verifies without a call
// back, and push nodes sign their reports with the same shared secret.
// Verification is constant-time in the signature.
//
// Key rotation: one secret signs, older ones still verify. Each token's
// header names its key ("kid": the first 16 hex digits of the secret's
// SHA-256, so nothing else needs configuring); a token without a kid is
// checked against the signing key. Tokens name their issuer ("bfg").
#pragma once

#include <vector>

#include <QByteArray>
#include <QList>
#include <QByteArrayView>
#include <QString>
#include <QStringList>

namespace bfg {

struct TokenClaims
{
    QString subject;      // user id for "connect", node id for "node"
    QString scope;        // "connect" or "node"
    QStringList streams;  // streams a connect token may read; "kind:prefix*" grants a family
    QStringList publish;  // streams a connect token may publish to over its connection (chat)
    qint64 issuedAt = 0;  // seconds since the Unix epoch
    qint64 expiresAt = 0; // seconds since the Unix epoch
};

enum class TokenError {
    None,
    Malformed,    // not three base64url parts, bad JSON, missing claims, wrong alg or issuer
    BadSignature, // altered, or signed with another secret
    UnknownKey,   // names a key (kid) this side does not have
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
    static inline const QString PublishScope = QStringLiteral("publish");      // a backend's long-lived token
    static inline const QString AdminReadScope = QStringLiteral("admin:read"); // the admin API, reading
    static inline const QString AdminWriteScope = QStringLiteral("admin:write"); // and changing

    static inline const QString Issuer = QStringLiteral("bfg");

    // `secret` signs; it and every one of `previous` verify.
    explicit TokenSigner(QByteArray secret, const QList<QByteArray> &previous = {});

    QByteArray sign(const TokenClaims &claims) const;
    TokenCheck verify(QByteArrayView token, qint64 nowSeconds) const;

    static QString errorText(TokenError error);
    // The key id a secret signs with.
    static QByteArray keyId(const QByteArray &secret);

    // Whether `stream` is one of `granted`: named, or matched by a "prefix*"
    // entry. Patterns over personal streams ("user:*") count only where
    // `personal` says so: for a backend's publish token, never to read.
    static bool grants(const QStringList &granted, const QString &stream, bool personal = false);
    // A grant pattern: "kind:" then a prefix, ending in '*' ("fx:*",
    // "room:4*"); of the personal kind "user:" only when `personal`.
    static bool isValidPattern(const QString &pattern, bool personal = false);

private:
    struct Key
    {
        QByteArray id;
        QByteArray secret;
    };
    std::vector<Key> m_keys; // the first signs
};

} // namespace bfg
