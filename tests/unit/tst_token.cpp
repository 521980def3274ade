// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 BFG developers
//
// Connect and node tokens (HS256 JWT): what the decision server signs a
// push node must accept, and nothing else.
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QMessageAuthenticationCode>
#include <QSet>
#include <QTest>

#include "common/token.h"

using namespace Qt::Literals::StringLiterals;
using bfg::TokenClaims;
using bfg::TokenError;
using bfg::TokenSigner;

namespace {
const QByteArray Secret = QByteArrayLiteral("unit-test-secret-0123456789abcdef");
constexpr qint64 Now = 1'800'000'000; // a fixed "now", seconds since the epoch
constexpr auto Base64Url = QByteArray::Base64UrlEncoding | QByteArray::OmitTrailingEquals;

TokenClaims connectClaims(qint64 expiresAt = Now + 60)
{
    TokenClaims claims;
    claims.subject = u"alice"_s;
    claims.scope = TokenSigner::ConnectScope;
    claims.streams = {u"user:alice"_s, u"room:lobby"_s};
    claims.issuedAt = Now - 10;
    claims.expiresAt = expiresAt;
    return claims;
}

QByteArray part(const QByteArray &raw)
{
    return raw.toBase64(Base64Url);
}

// A token built by hand: any header and payload, correctly signed with
// `secret`, so that only the property under test is wrong.
QByteArray forge(const QByteArray &header, const QByteArray &payload, const QByteArray &secret = Secret)
{
    const QByteArray signingInput = part(header) + '.' + part(payload);
    const QByteArray mac = QMessageAuthenticationCode::hash(signingInput, secret, QCryptographicHash::Sha256);
    return signingInput + '.' + part(mac);
}

const QByteArray Hs256Header = QByteArrayLiteral(R"({"alg":"HS256","typ":"JWT"})");

QByteArray payloadJson(const QJsonObject &object)
{
    return QJsonDocument(object).toJson(QJsonDocument::Compact);
}

QList<QByteArray> parts(const QByteArray &token)
{
    return token.split('.');
}

QByteArray dotted(const QByteArray &header, const QByteArray &payload, const QByteArray &signature)
{
    return header + '.' + payload + '.' + signature;
}
} // namespace

class TestToken : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void signedTokenVerifiesWithAllClaims();
    void nodeTokenWithoutStreamsVerifies();
    void verifyClassifiesTokens_data();
    void verifyClassifiesTokens();
    void previousSecretsVerifyButNeverSign();
    void patternsGrantFamiliesOfStreams_data();
    void patternsGrantFamiliesOfStreams();
    void patternValidity_data();
    void patternValidity();
    void errorTextsAreDistinct();
};

void TestToken::signedTokenVerifiesWithAllClaims()
{
    const TokenSigner signer(Secret);
    const TokenClaims claims = connectClaims();
    const QByteArray token = signer.sign(claims);

    QCOMPARE(token.count('.'), 2);
    const bfg::TokenCheck check = signer.verify(token, Now);
    QVERIFY(check.ok());
    QCOMPARE(check.error, TokenError::None);
    QCOMPARE(check.claims.subject, claims.subject);
    QCOMPARE(check.claims.scope, claims.scope);
    QCOMPARE(check.claims.streams, claims.streams);
    QCOMPARE(check.claims.issuedAt, claims.issuedAt);
    QCOMPARE(check.claims.expiresAt, claims.expiresAt);
}

void TestToken::nodeTokenWithoutStreamsVerifies()
{
    const TokenSigner signer(Secret);
    TokenClaims claims;
    claims.subject = u"node-1"_s;
    claims.scope = TokenSigner::NodeScope;
    claims.issuedAt = Now;
    claims.expiresAt = Now + 30;

    const bfg::TokenCheck check = signer.verify(signer.sign(claims), Now);
    QVERIFY(check.ok());
    QCOMPARE(check.claims.subject, u"node-1"_s);
    QCOMPARE(check.claims.scope, TokenSigner::NodeScope);
    QVERIFY(check.claims.streams.isEmpty());
}

void TestToken::verifyClassifiesTokens_data()
{
    QTest::addColumn<QByteArray>("token");
    QTest::addColumn<qint64>("now");
    QTest::addColumn<TokenError>("expected");

    const TokenSigner signer(Secret);
    const QByteArray valid = signer.sign(connectClaims());
    const QList<QByteArray> validParts = parts(valid);
    const QJsonObject goodPayload{{u"iss"_s, u"bfg"_s},       {u"sub"_s, u"alice"_s},
                                  {u"scope"_s, u"connect"_s}, {u"iat"_s, Now},
                                  {u"exp"_s, Now + 60},       {u"streams"_s, QJsonArray{u"user:alice"_s}}};

    QTest::addRow("valid, one minute left") << valid << Now << TokenError::None;
    QTest::addRow("valid, one second left") << valid << Now + 59 << TokenError::None;
    QTest::addRow("expired exactly now") << valid << Now + 60 << TokenError::Expired;
    QTest::addRow("expired an hour ago") << valid << Now + 3600 << TokenError::Expired;
    QTest::addRow("signed already expired")
        << signer.sign(connectClaims(Now - 1)) << Now << TokenError::Expired;

    {
        QJsonObject mallory = goodPayload;
        mallory.insert(u"sub"_s, u"mallory"_s);
        const QByteArray tampered = dotted(validParts[0], part(payloadJson(mallory)), validParts[2]);
        QTest::addRow("payload swapped, signature kept") << tampered << Now << TokenError::BadSignature;
    }
    {
        QJsonObject longer = goodPayload;
        longer.insert(u"exp"_s, Now + 86400 * 365);
        const QByteArray tampered = dotted(validParts[0], part(payloadJson(longer)), validParts[2]);
        QTest::addRow("expiry extended, signature kept") << tampered << Now << TokenError::BadSignature;
    }
    {
        QByteArray signature = QByteArray::fromBase64(validParts[2], QByteArray::Base64UrlEncoding);
        signature[0] = char(signature[0] ^ 0x01);
        QTest::addRow("one signature bit flipped")
            << dotted(validParts[0], validParts[1], part(signature)) << Now << TokenError::BadSignature;
        QTest::addRow("signature truncated") << dotted(validParts[0], validParts[1], part(signature.left(16)))
                                             << Now << TokenError::BadSignature;
    }
    QTest::addRow("signed with another secret (its kid unknown here)")
        << TokenSigner(QByteArrayLiteral("some-other-secret-0123456789")).sign(connectClaims()) << Now
        << TokenError::UnknownKey;
    {
        const QByteArray kidHeader =
            R"({"alg":"HS256","typ":"JWT","kid":")" + TokenSigner::keyId(Secret) + "\"}";
        QTest::addRow("our kid, signed with another secret")
            << forge(kidHeader, payloadJson(goodPayload), QByteArrayLiteral("some-other-secret-0123456789"))
            << Now << TokenError::BadSignature;
        QTest::addRow("our kid, signed with our secret")
            << forge(kidHeader, payloadJson(goodPayload)) << Now << TokenError::None;
        QTest::addRow("no kid, signed with another secret")
            << forge(Hs256Header, payloadJson(goodPayload), QByteArrayLiteral("some-other-secret-0123456789"))
            << Now << TokenError::BadSignature;
        QTest::addRow("kid not a string")
            << forge(R"({"alg":"HS256","typ":"JWT","kid":7})", payloadJson(goodPayload)) << Now
            << TokenError::UnknownKey;
    }
    {
        QJsonObject otherIssuer = goodPayload;
        otherIssuer.insert(u"iss"_s, u"someone-else"_s);
        QTest::addRow("another issuer, correctly signed")
            << forge(Hs256Header, payloadJson(otherIssuer)) << Now << TokenError::Malformed;
        QJsonObject noIssuer = goodPayload;
        noIssuer.remove(u"iss"_s);
        QTest::addRow("no issuer, correctly signed")
            << forge(Hs256Header, payloadJson(noIssuer)) << Now << TokenError::Malformed;
    }

    QTest::addRow("empty") << QByteArray() << Now << TokenError::Malformed;
    QTest::addRow("garbage") << QByteArrayLiteral("this is not a token") << Now << TokenError::Malformed;
    QTest::addRow("binary garbage") << QByteArray("\x00\xff\x01.\x02\xfe.\x80", 8) << Now
                                    << TokenError::Malformed;
    QTest::addRow("two parts") << QByteArray(validParts[0] + '.' + validParts[1]) << Now
                               << TokenError::Malformed;
    QTest::addRow("four parts") << QByteArray(valid + '.' + validParts[2]) << Now << TokenError::Malformed;
    QTest::addRow("only dots") << QByteArrayLiteral("..") << Now << TokenError::Malformed;
    QTest::addRow("empty signature") << dotted(validParts[0], validParts[1], {}) << Now
                                     << TokenError::Malformed;
    QTest::addRow("empty header") << dotted({}, validParts[1], validParts[2]) << Now << TokenError::Malformed;
    QTest::addRow("payload not base64url")
        << dotted(validParts[0], "e30*!", validParts[2]) << Now << TokenError::Malformed;
    QTest::addRow("alg none, no signature")
        << dotted(part(R"({"alg":"none","typ":"JWT"})"), validParts[1], {}) << Now << TokenError::Malformed;
    QTest::addRow("alg none, correctly signed")
        << forge(R"({"alg":"none","typ":"JWT"})", payloadJson(goodPayload)) << Now << TokenError::Malformed;
    QTest::addRow("alg HS512, correctly signed")
        << forge(R"({"alg":"HS512","typ":"JWT"})", payloadJson(goodPayload)) << Now << TokenError::Malformed;
    QTest::addRow("header without alg")
        << forge(R"({"typ":"JWT"})", payloadJson(goodPayload)) << Now << TokenError::Malformed;
    QTest::addRow("signed payload is not JSON")
        << forge(Hs256Header, "not json at all") << Now << TokenError::Malformed;
    QTest::addRow("signed payload is a JSON array")
        << forge(Hs256Header, R"(["sub","alice"])") << Now << TokenError::Malformed;
    {
        QJsonObject noExp = goodPayload;
        noExp.remove(u"exp"_s);
        QTest::addRow("signed payload without exp")
            << forge(Hs256Header, payloadJson(noExp)) << Now << TokenError::Malformed;
        QJsonObject noSub = goodPayload;
        noSub.remove(u"sub"_s);
        QTest::addRow("signed payload without sub")
            << forge(Hs256Header, payloadJson(noSub)) << Now << TokenError::Malformed;
        QJsonObject noScope = goodPayload;
        noScope.remove(u"scope"_s);
        QTest::addRow("signed payload without scope")
            << forge(Hs256Header, payloadJson(noScope)) << Now << TokenError::Malformed;
        QJsonObject textExp = goodPayload;
        textExp.insert(u"exp"_s, u"tomorrow"_s);
        QTest::addRow("signed payload with exp as text")
            << forge(Hs256Header, payloadJson(textExp)) << Now << TokenError::Malformed;
        // Numbers no qint64 holds: converting them used to be undefined behaviour.
        QTest::addRow("signed payload with exp beyond any qint64")
            << forge(Hs256Header, R"({"exp":1e300,"iss":"bfg","scope":"connect","sub":"alice"})") << Now
            << TokenError::Malformed;
        QTest::addRow("signed payload with iat beyond any qint64")
            << forge(Hs256Header,
                     R"({"exp":1800000060,"iat":-1e300,"iss":"bfg","scope":"connect","sub":"alice"})")
            << Now << TokenError::None;
    }
    {
        // Correctly signed and unexpired, but above the size any real token has.
        TokenClaims big = connectClaims();
        for (int i = 0; i < 400; ++i)
            big.streams.append(u"room:%1"_s.arg(i, 6, 10, QChar(u'0')));
        const QByteArray oversized = signer.sign(big);
        QVERIFY(oversized.size() > TokenSigner::MaxTokenBytes);
        QTest::addRow("oversized but correctly signed") << oversized << Now << TokenError::Malformed;
    }
}

void TestToken::verifyClassifiesTokens()
{
    QFETCH(QByteArray, token);
    QFETCH(qint64, now);
    QFETCH(TokenError, expected);

    const bfg::TokenCheck check = TokenSigner(Secret).verify(token, now);
    QCOMPARE(check.error, expected);
    QCOMPARE(check.ok(), expected == TokenError::None);
}

void TestToken::previousSecretsVerifyButNeverSign()
{
    // Rotation: the new secret signs; tokens of the old one verify until they expire.
    const QByteArray newSecret = QByteArrayLiteral("the-new-secret-0123456789abcdef");
    const TokenSigner rotated(newSecret, {Secret});
    const QByteArray old = TokenSigner(Secret).sign(connectClaims());
    const bfg::TokenCheck oldCheck = rotated.verify(old, Now);
    QCOMPARE(oldCheck.error, TokenError::None);
    QCOMPARE(oldCheck.claims.subject, u"alice"_s);

    const QByteArray fresh = rotated.sign(connectClaims());
    QCOMPARE(rotated.verify(fresh, Now).error, TokenError::None);
    const QJsonObject header =
        QJsonDocument::fromJson(QByteArray::fromBase64(parts(fresh)[0], QByteArray::Base64UrlEncoding))
            .object();
    QCOMPARE(header.value(u"kid"_s).toString(), QString::fromLatin1(TokenSigner::keyId(newSecret)));
    // A node that has only the old secret does not know the new key.
    QCOMPARE(TokenSigner(Secret).verify(fresh, Now).error, TokenError::UnknownKey);
    // Key ids differ per secret.
    QVERIFY(TokenSigner::keyId(Secret) != TokenSigner::keyId(newSecret));
    QCOMPARE(TokenSigner::keyId(Secret).size(), 16);
}

void TestToken::patternsGrantFamiliesOfStreams_data()
{
    QTest::addColumn<QStringList>("granted");
    QTest::addColumn<QString>("stream");
    QTest::addColumn<bool>("personal");
    QTest::addColumn<bool>("expected");
    const QStringList token{u"user:alice"_s, u"fx:*"_s, u"room:4*"_s};
    QTest::newRow("own stream") << token << u"user:alice"_s << false << true;
    QTest::newRow("another user's") << token << u"user:bob"_s << false << false;
    QTest::newRow("in the fx family") << token << u"fx:EURUSD"_s << false << true;
    QTest::newRow("the pattern itself") << token << u"fx:*"_s << false << true;
    QTest::newRow("the bare kind") << token << u"fx:"_s << false << false;
    QTest::newRow("a prefix family") << token << u"room:42"_s << false << true;
    QTest::newRow("outside the prefix") << token << u"room:52"_s << false << false;
    QTest::newRow("another kind") << token << u"news:all"_s << false << false;
    QTest::newRow("kind prefix only") << token << u"fxx:EURUSD"_s << false << false;
    QTest::newRow("user pattern never grants") << QStringList{u"user:*"_s} << u"user:bob"_s << false << false;
    QTest::newRow("bare star never grants") << QStringList{u"*"_s} << u"fx:EURUSD"_s << false << false;
    // A backend's publish token may name every user's stream.
    QTest::newRow("publish token, user pattern") << QStringList{u"user:*"_s} << u"user:bob"_s << true << true;
    QTest::newRow("publish token, another kind") << QStringList{u"user:*"_s} << u"room:1"_s << true << false;
}

void TestToken::patternsGrantFamiliesOfStreams()
{
    QFETCH(QStringList, granted);
    QFETCH(QString, stream);
    QFETCH(bool, personal);
    QFETCH(bool, expected);
    QCOMPARE(TokenSigner::grants(granted, stream, personal), expected);
}

void TestToken::patternValidity_data()
{
    QTest::addColumn<QString>("pattern");
    QTest::addColumn<bool>("valid");
    QTest::newRow("kind family") << u"fx:*"_s << true;
    QTest::newRow("name prefix") << u"room:4*"_s << true;
    QTest::newRow("no star") << u"fx:EURUSD"_s << false;
    QTest::newRow("bare star") << u"*"_s << false;
    QTest::newRow("no kind") << u"fx*"_s << false;
    QTest::newRow("personal streams") << u"user:*"_s << false;
    QTest::newRow("star inside") << u"fx:*:x*"_s << false;
    QTest::newRow("space") << u"fx: *"_s << false;
}

void TestToken::patternValidity()
{
    QFETCH(QString, pattern);
    QFETCH(bool, valid);
    QCOMPARE(TokenSigner::isValidPattern(pattern), valid);
}

void TestToken::errorTextsAreDistinct()
{
    const QStringList texts{
        TokenSigner::errorText(TokenError::None), TokenSigner::errorText(TokenError::Malformed),
        TokenSigner::errorText(TokenError::BadSignature), TokenSigner::errorText(TokenError::UnknownKey),
        TokenSigner::errorText(TokenError::Expired)};
    for (const QString &text : texts)
        QVERIFY(!text.isEmpty());
    QCOMPARE(QSet<QString>(texts.begin(), texts.end()).size(), texts.size());
}

QTEST_GUILESS_MAIN(TestToken)
#include "tst_token.moc"
