// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 BFG developers
#include "common/decisionclient.h"

#include <algorithm>
#include <memory>

#include <QDateTime>
#include <QJsonDocument>
#include <QJsonObject>
#include <QNetworkAccessManager>
#include <QNetworkReply>
#include <QNetworkRequest>
#include <QTimer>
#include <QUrlQuery>
#include <QVariant>

#include "common/logging.h"

using namespace Qt::Literals::StringLiterals;

namespace bfg {

namespace {

constexpr qint64 MaxBodyBytes = 64 * 1024;
constexpr int MaxRetryAfterMs = 10 * 60 * 1000;

// "{base}/v1/assign?user=U[&affinity=K]", whether or not the base URL ends in a slash
// or carries a path prefix of its own (a reverse proxy mounting the API below /bfg).
QUrl assignUrl(const QUrl &base, const QString &userId, const QString &affinity)
{
    QUrl url = base;
    QString path = url.path();
    while (path.endsWith(u'/'))
        path.chop(1);
    url.setPath(path + u"/v1/assign"_s);
    QUrlQuery query;
    query.addQueryItem(u"user"_s, userId);
    if (!affinity.isEmpty())
        query.addQueryItem(u"affinity"_s, affinity);
    url.setQuery(query);
    url.setFragment({});
    return url;
}

// Retry-After is delta-seconds in practice; an HTTP date is allowed by RFC 9110 as well.
int retryAfterMs(const QNetworkReply *reply)
{
    const QByteArray value = reply->rawHeader("Retry-After").trimmed();
    if (value.isEmpty())
        return 0;
    bool ok = false;
    const qint64 seconds = value.toLongLong(&ok);
    if (ok)
        return int(std::clamp<qint64>(seconds * 1000, 0, MaxRetryAfterMs));
    const QDateTime when = QDateTime::fromString(QString::fromLatin1(value), Qt::RFC2822Date);
    if (!when.isValid())
        return 0;
    return int(std::clamp<qint64>(QDateTime::currentDateTimeUtc().msecsTo(when), 0, MaxRetryAfterMs));
}

// The message of a JSON error body {"error": {"code", "message"}}, or the start of the body.
QString errorText(int status, const QByteArray &body)
{
    const QJsonObject error = QJsonDocument::fromJson(body).object().value(u"error"_s).toObject();
    const QString code = error.value(u"code"_s).toString();
    const QString message = error.value(u"message"_s).toString();
    if (!code.isEmpty() || !message.isEmpty())
        return u"HTTP %1 %2: %3"_s.arg(status).arg(code, message);
    return u"HTTP %1: %2"_s.arg(status).arg(QString::fromUtf8(body.left(200)).simplified());
}

// A server that answered 200 in JSON rather than Protobuf (it ignored Accept): take it.
bool parseJsonAssign(const QByteArray &body, v1::AssignResponse *response)
{
    QJsonParseError parseError;
    const QJsonDocument document = QJsonDocument::fromJson(body, &parseError);
    if (parseError.error != QJsonParseError::NoError || !document.isObject())
        return false;
    const QJsonObject object = document.object();
    response->set_uri(object.value(u"uri"_s).toString().toStdString());
    response->set_node(object.value(u"node"_s).toString().toStdString());
    response->set_token(object.value(u"token"_s).toString().toStdString());
    response->set_expires(qint64(object.value(u"expires"_s).toDouble()));
    response->set_publish_uri(object.value(u"publish_uri"_s).toString().toStdString());
    return true;
}

} // namespace

struct DecisionClient::Attempt
{
    QString userId;
    QString affinity;
    std::function<void(const AssignResult &)> done;
    int first = 0; // index of the first server asked
    int tried = 0; // servers asked so far
    AssignResult result;
};

DecisionClient::DecisionClient(QNetworkAccessManager *network, const QList<QUrl> &decisionUrls,
                               QObject *parent)
    : QObject(parent)
    , m_network(network)
    , m_urls(decisionUrls)
{}

void DecisionClient::assign(const QString &userId, const QString &affinity,
                            std::function<void(const AssignResult &)> done)
{
    auto attempt = std::make_shared<Attempt>();
    attempt->userId = userId;
    attempt->affinity = affinity;
    attempt->done = std::move(done);
    attempt->first = m_urls.isEmpty() ? 0 : m_preferred % int(m_urls.size());
    if (m_urls.isEmpty()) {
        attempt->result.error = u"no decision server configured"_s;
        // Callers rely on `done` never running inside assign().
        QTimer::singleShot(0, this, [attempt] { attempt->done(attempt->result); });
        return;
    }
    tryNext(std::move(attempt));
}

void DecisionClient::tryNext(std::shared_ptr<Attempt> attempt)
{
    const int count = int(m_urls.size());
    if (attempt->tried >= count) {
        attempt->result.ok = false;
        qCDebug(lcClient) << "assign failed on every decision server for" << attempt->userId << "-"
                          << attempt->result.error;
        attempt->done(attempt->result);
        return;
    }
    const int index = (attempt->first + attempt->tried) % count;
    ++attempt->tried;

    QNetworkRequest request(assignUrl(m_urls.at(index), attempt->userId, attempt->affinity));
    request.setRawHeader("Accept", "application/x-protobuf");
    request.setTransferTimeout(m_timeoutMs);
    request.setAttribute(QNetworkRequest::RedirectPolicyAttribute, QNetworkRequest::NoLessSafeRedirectPolicy);
    QNetworkReply *reply = m_network->get(request);
    // Owned by this client, so that replies in flight go when it does.
    reply->setParent(this);

    connect(reply, &QNetworkReply::finished, this, [this, reply, index, attempt] {
        reply->deleteLater();
        AssignResult &result = attempt->result;
        const QVariant statusAttribute = reply->attribute(QNetworkRequest::HttpStatusCodeAttribute);
        const int status = statusAttribute.isValid() ? statusAttribute.toInt() : 0;
        result.httpStatus = status;
        const QString server = m_urls.at(index).toString();

        if (status == 0) {
            // No HTTP answer: refused, reset, DNS, TLS or the transfer timeout.
            result.error = server + u": "_s +
                           (reply->error() == QNetworkReply::OperationCanceledError
                                ? u"no answer within %1 ms"_s.arg(m_timeoutMs)
                                : reply->errorString());
            qCDebug(lcClient).noquote() << "decision server unreachable:" << result.error;
            tryNext(attempt);
            return;
        }

        const QByteArray body = reply->read(MaxBodyBytes);
        if (status == 200) {
            const QByteArray contentType = reply->header(QNetworkRequest::ContentTypeHeader).toByteArray();
            v1::AssignResponse response;
            const bool parsed = contentType.startsWith("application/json")
                                    ? parseJsonAssign(body, &response)
                                    : response.ParseFromArray(body.constData(), int(body.size()));
            if (!parsed || response.uri().empty() || response.token().empty()) {
                result.error = server + u": undecodable assign response"_s;
                qCWarning(lcClient) << "decision server" << server << "sent an undecodable assign response";
                tryNext(attempt);
                return;
            }
            m_preferred = index;
            result.ok = true;
            result.terminal = false;
            result.error.clear();
            result.response = std::move(response);
            attempt->done(result);
            return;
        }

        result.error = server + u": "_s + errorText(status, body);
        if (status == 429 || status >= 500) {
            result.retryAfterMs = std::max(result.retryAfterMs, retryAfterMs(reply));
            qCDebug(lcClient) << "decision server" << server << "declined:" << result.error;
            tryNext(attempt);
            return;
        }
        if (status >= 400) {
            // The request itself is wrong (bad user id, unknown path): another server will agree.
            result.terminal = true;
            qCWarning(lcClient) << "assign for" << attempt->userId << "refused:" << result.error;
            attempt->done(result);
            return;
        }
        // 1xx/3xx left over after redirects: not a decision server we understand.
        tryNext(attempt);
    });
}

} // namespace bfg
