// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 BFG developers
#include "daemon/push/hellocheck.h"

#include "common/protocol.h"

using namespace Qt::Literals::StringLiterals;

namespace bfg {

HelloCheck checkHelloToken(const TokenSigner &signer, const v1::Hello &hello, qint64 nowSeconds,
                           TokenClaims *claims)
{
    const TokenCheck check =
        signer.verify(QByteArrayView(hello.token().data(), qsizetype(hello.token().size())), nowSeconds);
    if (!check.ok()) {
        const v1::ErrorCode code =
            check.error == TokenError::Expired ? v1::TOKEN_EXPIRED
            : check.error == TokenError::BadSignature || check.error == TokenError::UnknownKey
                ? v1::TOKEN_TAMPERED
                : v1::BAD_TOKEN;
        return {code, TokenSigner::errorText(check.error)};
    }
    if (check.claims.scope != TokenSigner::ConnectScope)
        return {v1::WRONG_SCOPE, u"a %1 token cannot connect"_s.arg(check.claims.scope.left(64))};
    *claims = check.claims;
    return {};
}

HelloCheck checkHelloPositions(const v1::Hello &hello, const TokenClaims &claims,
                               QHash<QString, StreamPoint> *positions, QStringList *streams,
                               QStringList *refused)
{
    for (const QString &granted : claims.streams) {
        if (!granted.endsWith(u'*') && !streams->contains(granted))
            streams->append(granted);
    }
    for (const v1::StreamPosition &position : hello.positions()) {
        const QString stream = QString::fromStdString(position.stream());
        if (!protocol::isValidStreamName(stream) ||
            (!TokenSigner::grants(claims.streams, stream) && stream.startsWith(u"user:"_s)))
            return {v1::NOT_ENTITLED, u"the token does not grant stream %1"_s.arg(stream.left(128))};
        if (!TokenSigner::grants(claims.streams, stream)) {
            if (!refused->contains(stream) && refused->size() < MaxStreamsPerSession)
                refused->append(stream);
            continue;
        }
        positions->insert(stream, {QString::fromStdString(position.epoch()), position.seq()});
        if (!streams->contains(stream))
            streams->append(stream);
        if (streams->size() > MaxStreamsPerSession)
            return {v1::BAD_REQUEST, u"a session reads at most %1 streams"_s.arg(MaxStreamsPerSession)};
    }
    return {};
}

} // namespace bfg
