// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 BFG developers
#include "common/decisionclient.h"

#include <algorithm>
#include <memory>

#include <QDateTime>
#include <QJsonDocument>
#include <QJsonObject>
#include <QTimer>
#include <QUrlQuery>

#include "common/httpconnection.h"
#include "common/logging.h"

using namespace Qt::Literals::StringLiterals;

namespace bfg {

namespace {

constexpr qint64 MaxBodyBytes = 64 * 1024;
constexpr int MaxRetryAfterMs = 10 * 60 * 1000;
constexpr int MaxRedirects = 3;

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

// Path and query of `url` as they go on the request line.
QByteArray requestTarget(const QUrl &url)
{
    QByteArray target = url.path(QUrl::FullyEncoded).toUtf8();
    if (target.isEmpty())
        target = "/";
    if (url.hasQuery())
        target += '?' + url.query(QUrl::FullyEncoded).toUtf8();
    return target;
}

// Retry-After is delta-seconds in practice; an HTTP date is allowed by RFC 9110 as well.
int retryAfterMs(const QByteArray &header)
{
    const QByteArray value = header.trimmed();
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
    QUrl url;      // of the request to the server being asked
    int redirects = 0;
    AssignResult result;
};

DecisionClient::DecisionClient(const QList<QUrl> &decisionUrls, QObject *parent)
    : QObject(parent)
    , m_urls(decisionUrls)
    , m_servers(size_t(decisionUrls.size()))
{}

DecisionClient::~DecisionClient() = default;

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
    attempt->url = assignUrl(m_urls.at(index), attempt->userId, attempt->affinity);
    attempt->redirects = 0;
    send(index, std::move(attempt));
}

void DecisionClient::send(int index, std::shared_ptr<Attempt> attempt)
{
    Server &server = m_servers[size_t(index)];
    HttpConnection *connection = nullptr;
    if (!server.idle.empty()) {
        connection = server.idle.back();
        server.idle.pop_back();
    } else if (server.connections < m_maxConnections) {
        // Owned by this client, so that requests in flight go when it does.
        connection = new HttpConnection(m_urls.at(index), m_timeoutMs, this);
        ++server.connections;
    } else {
        server.waiting.push_back(std::move(attempt)); // sent when a connection is free
        return;
    }
    connection->request("GET", requestTarget(attempt->url), "Accept: application/x-protobuf\r\n", {},
                        [this, index, connection, attempt](const HttpConnection::Response &response) {
                            Server &server = m_servers[size_t(index)];
                            server.idle.push_back(connection);
                            if (!server.waiting.empty()) {
                                std::shared_ptr<Attempt> next = std::move(server.waiting.front());
                                server.waiting.pop_front();
                                send(index, std::move(next));
                            }
                            onAnswer(index, attempt, response);
                        });
}

// As QNetworkRequest::NoLessSafeRedirectPolicy did: to http or https, never from https to
// http, a few hops at most, each on a connection of its own.
bool DecisionClient::followRedirect(int index, const std::shared_ptr<Attempt> &attempt,
                                    const HttpConnection::Response &response)
{
    static constexpr int RedirectStatuses[] = {301, 302, 303, 307, 308};
    if (std::find(std::begin(RedirectStatuses), std::end(RedirectStatuses), response.status) ==
            std::end(RedirectStatuses) ||
        attempt->redirects >= MaxRedirects)
        return false;
    const QUrl target =
        attempt->url.resolved(QUrl::fromEncoded(response.header("location").toByteArray(), QUrl::StrictMode));
    const bool toHttp = target.scheme() == u"http"_s;
    if (!target.isValid() || target.host().isEmpty() || (!toHttp && target.scheme() != u"https"_s) ||
        (toHttp && attempt->url.scheme() == u"https"_s))
        return false;
    ++attempt->redirects;
    attempt->url = target;
    auto *connection = new HttpConnection(target, m_timeoutMs, this);
    connection->request("GET", requestTarget(target), "Accept: application/x-protobuf\r\n", {},
                        [this, index, connection, attempt](const HttpConnection::Response &answer) {
                            connection->deleteLater();
                            onAnswer(index, attempt, answer);
                        });
    return true;
}

void DecisionClient::onAnswer(int index, const std::shared_ptr<Attempt> &attempt,
                              const HttpConnection::Response &response)
{
    if (followRedirect(index, attempt, response))
        return;
    AssignResult &result = attempt->result;
    const int status = response.status;
    ++m_answers[status];
    const QByteArray body = response.body.left(MaxBodyBytes); // an assignment is a few hundred bytes
    result.httpStatus = status;
    const QString server = m_urls.at(index).toString();

    if (status == 0) {
        // No HTTP answer: refused, reset, DNS, TLS or the timeout.
        result.error = server + u": "_s +
                       (response.timedOut ? u"no answer within %1 ms"_s.arg(m_timeoutMs) : response.error);
        qCDebug(lcClient).noquote() << "decision server unreachable:" << result.error;
        tryNext(attempt);
        return;
    }

    if (status == 200) {
        v1::AssignResponse assignment;
        const bool parsed = response.header("content-type").startsWith("application/json")
                                ? parseJsonAssign(body, &assignment)
                                : assignment.ParseFromArray(body.constData(), int(body.size()));
        if (!parsed || assignment.uri().empty() || assignment.token().empty()) {
            result.error = server + u": undecodable assign response"_s;
            qCWarning(lcClient) << "decision server" << server << "sent an undecodable assign response";
            tryNext(attempt);
            return;
        }
        m_preferred = index;
        result.ok = true;
        result.terminal = false;
        result.error.clear();
        result.response = std::move(assignment);
        attempt->done(result);
        return;
    }

    result.error = server + u": "_s + errorText(status, body);
    if (status == 429 || status >= 500) {
        result.retryAfterMs =
            std::max(result.retryAfterMs, retryAfterMs(response.header("retry-after").toByteArray()));
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
    // 1xx, or 3xx not followed: not a decision server we understand.
    tryNext(attempt);
}

} // namespace bfg
