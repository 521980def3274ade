// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 BFG developers
#include "common/token.h"

#include <algorithm>
#include <cmath>
#include <optional>

#include <QCryptographicHash>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QMessageAuthenticationCode>

#include "common/protocol.h"

using namespace Qt::Literals::StringLiterals;

namespace bfg {

namespace {
constexpr auto Base64Url = QByteArray::Base64UrlEncoding | QByteArray::OmitTrailingEquals;

bool decodeBase64Url(QByteArrayView part, QByteArray *out)
{
    auto result = QByteArray::fromBase64Encoding(
        part.toByteArray(), QByteArray::Base64UrlEncoding | QByteArray::AbortOnBase64DecodingErrors);
    if (!result)
        return false;
    *out = std::move(*result);
    return true;
}

// A time claim in seconds. Whole numbers come back exactly (sign() writes
// them so); a fraction is truncated. nullopt for what is not a number or no
// qint64 holds: converting that would be undefined behaviour.
std::optional<qint64> secondsOf(const QJsonValue &value)
{
    if (!value.isDouble())
        return std::nullopt;
    const qint64 whole = value.toInteger(0);
    if (whole == value.toInteger(1))
        return whole;
    const double seconds = value.toDouble();
    if (!std::isfinite(seconds) || std::abs(seconds) >= 9.2e18)
        return std::nullopt;
    return qint64(seconds);
}
} // namespace

TokenSigner::TokenSigner(QByteArray secret, const QList<QByteArray> &previous)
{
    m_keys.push_back({keyId(secret), std::move(secret)});
    for (const QByteArray &older : previous)
        m_keys.push_back({keyId(older), older});
}

QByteArray TokenSigner::keyId(const QByteArray &secret)
{
    return QCryptographicHash::hash(secret, QCryptographicHash::Sha256).toHex().left(16);
}

QByteArray TokenSigner::sign(const TokenClaims &claims) const
{
    const Key &key = m_keys.front();
    const QByteArray header = QJsonDocument(QJsonObject{{u"alg"_s, u"HS256"_s},
                                                        {u"typ"_s, u"JWT"_s},
                                                        {u"kid"_s, QString::fromLatin1(key.id)}})
                                  .toJson(QJsonDocument::Compact);
    QJsonObject payload{
        {u"iss"_s, Issuer},          {u"sub"_s, claims.subject},   {u"scope"_s, claims.scope},
        {u"iat"_s, claims.issuedAt}, {u"exp"_s, claims.expiresAt},
    };
    if (!claims.streams.isEmpty())
        payload.insert(u"streams"_s, QJsonArray::fromStringList(claims.streams));
    if (!claims.publish.isEmpty())
        payload.insert(u"publish"_s, QJsonArray::fromStringList(claims.publish));
    const QByteArray signingInput = header.toBase64(Base64Url) + '.' +
                                    QJsonDocument(payload).toJson(QJsonDocument::Compact).toBase64(Base64Url);
    const QByteArray mac =
        QMessageAuthenticationCode::hash(signingInput, key.secret, QCryptographicHash::Sha256);
    return signingInput + '.' + mac.toBase64(Base64Url);
}

bool TokenSigner::grants(const QStringList &granted, const QString &stream, bool personal)
{
    for (const QString &entry : granted) {
        if (entry == stream)
            return true;
        if (entry.endsWith(u'*') && isValidPattern(entry, personal) && stream.size() >= entry.size() &&
            QStringView(stream).startsWith(QStringView(entry).chopped(1)))
            return true;
    }
    return false;
}

bool TokenSigner::isValidPattern(const QString &pattern, bool personal)
{
    // "kind:" and a prefix of the name, then '*': the stream names it matches
    // (at least one character where the '*' stands) must be valid names.
    if (!pattern.endsWith(u'*') || (!personal && pattern.startsWith(u"user:"_s)))
        return false;
    const QString example = pattern.chopped(1) + u'x';
    return example.indexOf(u':') > 0 && protocol::isValidStreamName(example);
}

TokenCheck TokenSigner::verify(QByteArrayView token, qint64 nowSeconds) const
{
    TokenCheck check;
    if (token.isEmpty() || token.size() > MaxTokenBytes)
        return check;
    const qsizetype firstDot = token.indexOf('.');
    const qsizetype lastDot = token.lastIndexOf('.');
    if (firstDot <= 0 || lastDot <= firstDot + 1 || lastDot == token.size() - 1 ||
        token.sliced(firstDot + 1, lastDot - firstDot - 1).contains('.'))
        return check;

    QByteArray header, payload, signature;
    if (!decodeBase64Url(token.first(firstDot), &header) ||
        !decodeBase64Url(token.sliced(firstDot + 1, lastDot - firstDot - 1), &payload) ||
        !decodeBase64Url(token.sliced(lastDot + 1), &signature))
        return check;
    const QJsonObject headerObject = QJsonDocument::fromJson(header).object();
    if (headerObject.value(u"alg"_s).toString() != u"HS256"_s)
        return check;                 // never "none", never another algorithm
    const Key *key = &m_keys.front(); // no kid: a token from before key ids
    if (const QJsonValue kid = headerObject.value(u"kid"_s); !kid.isUndefined()) {
        const auto found = std::find_if(m_keys.cbegin(), m_keys.cend(), [&kid](const Key &candidate) {
            return kid.toString() == QLatin1StringView(candidate.id);
        });
        if (found == m_keys.cend()) {
            check.error = TokenError::UnknownKey;
            return check;
        }
        key = &*found;
    }

    const QByteArray expected = QMessageAuthenticationCode::hash(token.first(lastDot).toByteArray(),
                                                                 key->secret, QCryptographicHash::Sha256);
    if (!protocol::constantTimeEquals(expected, signature)) {
        check.error = TokenError::BadSignature;
        return check;
    }

    QJsonParseError parseError;
    const QJsonDocument document = QJsonDocument::fromJson(payload, &parseError);
    if (parseError.error != QJsonParseError::NoError || !document.isObject())
        return check;
    const QJsonObject object = document.object();
    const std::optional<qint64> exp = secondsOf(object.value(u"exp"_s));
    if (!exp || !object.value(u"sub"_s).isString() || !object.value(u"scope"_s).isString() ||
        object.value(u"iss"_s).toString() != Issuer)
        return check;
    check.claims.subject = object.value(u"sub"_s).toString();
    check.claims.scope = object.value(u"scope"_s).toString();
    check.claims.issuedAt = secondsOf(object.value(u"iat"_s)).value_or(0); // informational only
    check.claims.expiresAt = *exp;
    for (const QJsonValue &stream : object.value(u"streams"_s).toArray())
        check.claims.streams.append(stream.toString());
    for (const QJsonValue &stream : object.value(u"publish"_s).toArray())
        check.claims.publish.append(stream.toString());
    check.error = check.claims.expiresAt <= nowSeconds ? TokenError::Expired : TokenError::None;
    return check;
}

QString TokenSigner::errorText(TokenError error)
{
    switch (error) {
    case TokenError::None:
        return u"valid"_s;
    case TokenError::Malformed:
        return u"token is malformed"_s;
    case TokenError::BadSignature:
        return u"token signature does not match"_s;
    case TokenError::UnknownKey:
        return u"token is signed with a key this server does not have"_s;
    case TokenError::Expired:
        return u"token has expired"_s;
    }
    return {};
}

} // namespace bfg
