// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 BFG developers
#include "tests/support/testhttp.h"

#include "bfg/v1/api.pb.h"
#include "common/protocol.h"

#include <QJsonDocument>
#include <QNetworkAccessManager>
#include <QNetworkReply>
#include <QTcpServer>
#include <QTest>

using namespace Qt::Literals::StringLiterals;

namespace bfg::test {

QJsonObject HttpResult::json() const
{
    return QJsonDocument::fromJson(body).object();
}

QString HttpResult::errorCode() const
{
    return json().value(u"error"_s).toObject().value(u"code"_s).toString();
}

QString HttpResult::describe() const
{
    return u"HTTP %1 %2"_s.arg(status).arg(QString::fromUtf8(body.left(300)));
}

HttpResult httpCall(QNetworkAccessManager &network, const HttpCall &call, int timeoutMs)
{
    QNetworkRequest request(call.url);
    if (!call.contentType.isEmpty())
        request.setHeader(QNetworkRequest::ContentTypeHeader, call.contentType);
    if (!call.authorization.isEmpty())
        request.setRawHeader("Authorization", call.authorization);
    if (!call.accept.isEmpty())
        request.setRawHeader("Accept", call.accept);
    for (const auto &[name, value] : call.headers)
        request.setRawHeader(name, value);
    request.setTransferTimeout(timeoutMs);
    QNetworkReply *reply = network.sendCustomRequest(request, call.method, call.body);
    HttpResult result;
    result.finished = QTest::qWaitFor([reply] { return reply->isFinished(); }, timeoutMs + 1000);
    if (result.finished) {
        result.status = reply->attribute(QNetworkRequest::HttpStatusCodeAttribute).toInt();
        result.contentType = reply->header(QNetworkRequest::ContentTypeHeader).toByteArray();
        result.retryAfter = reply->rawHeader("Retry-After");
        result.body = reply->readAll();
    } else {
        reply->abort();
    }
    reply->deleteLater();
    return result;
}

QByteArray bearer(const QByteArray &key)
{
    return "Bearer " + key;
}

quint16 freeLoopbackPort()
{
    QTcpServer server;
    if (!server.listen(QHostAddress::LocalHost, 0))
        return 0;
    return server.serverPort();
}

bfg::v1::AssignResponse assignUntilReady(QNetworkAccessManager &network, const QUrl &decision,
                                         const QString &user, int timeoutMs)
{
    QUrl url = decision;
    url.setPath(QStringLiteral("/v1/assign"));
    url.setQuery(QStringLiteral("user=") + user);
    bfg::v1::AssignResponse response;
    const bool answered = QTest::qWaitFor(
        [&] {
            const HttpResult result =
                httpCall(network, {"GET", url, {}, {}, {}, "application/x-protobuf", {}});
            return result.status == 200 && bfg::protocol::decode(result.body, &response) &&
                   !response.token().empty();
        },
        timeoutMs);
    if (!answered) {
        qWarning() << "no assignment for" << user << "from" << decision;
        response.Clear();
    }
    return response;
}

} // namespace bfg::test
