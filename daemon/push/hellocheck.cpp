// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 BFG developers
#include "daemon/push/hellocheck.h"

using namespace Qt::Literals::StringLiterals;

namespace bfg {

HelloCheck checkHelloToken(const TokenSigner &signer, const v1::Hello &hello, qint64 nowSeconds,
                           TokenClaims *claims)
{
    const TokenCheck check =
        signer.verify(QByteArrayView(hello.token().data(), qsizetype(hello.token().size())), nowSeconds);
    if (!check.ok())
        return {check.error == TokenError::Expired ? v1::TOKEN_EXPIRED : v1::BAD_TOKEN,
                TokenSigner::errorText(check.error)};
    if (check.claims.scope != TokenSigner::ConnectScope)
        return {v1::BAD_TOKEN, u"not a connect token"_s};
    *claims = check.claims;
    return {};
}

HelloCheck checkHelloPositions(const v1::Hello &hello, const TokenClaims &claims,
                               QHash<QString, StreamPoint> *positions)
{
    for (const v1::StreamPosition &position : hello.positions()) {
        const QString stream = QString::fromStdString(position.stream());
        if (!claims.streams.contains(stream))
            return {v1::NOT_ENTITLED, u"the token does not grant stream %1"_s.arg(stream)};
        positions->insert(stream, {QString::fromStdString(position.epoch()), position.seq()});
    }
    return {};
}

} // namespace bfg
