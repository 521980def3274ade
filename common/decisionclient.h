// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 BFG developers
//
// Asks the decision servers which push node a user should use
// (GET /v1/assign). Holds the ordered list of decision URLs and walks it on
// connection failure, timeout, 429 and 5xx, starting from the last server
// that answered, so that no decision server is a single point of failure.
// Used by PushClient (and so by the probe and the console). Requests go over
// keep-alive HttpConnections, at most maxConnections() at once to each
// server; more wait here, in order, their timeout not yet running.
#pragma once

#include <algorithm>
#include <deque>
#include <map>
#include <functional>
#include <memory>
#include <vector>

#include <QObject>
#include <QStringList>
#include <QUrl>

#include "bfg/v1/api.pb.h"
#include "common/httpconnection.h"

namespace bfg {

struct AssignResult
{
    bool ok = false;
    v1::AssignResponse response; // when ok
    int httpStatus = 0;          // of the last server asked; 0: no HTTP answer
    int retryAfterMs = 0;        // the largest Retry-After any server asked for
    bool terminal = false;       // a 4xx other than 429: retrying will not help
    QString error;               // for logs and progress lines
};

class DecisionClient : public QObject
{
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(DecisionClient)

public:
    static constexpr int DefaultMaxConnections = 16;

    explicit DecisionClient(const QList<QUrl> &decisionUrls, QObject *parent = nullptr);
    ~DecisionClient() override;

    // Before the first assign().
    void setTimeoutMs(int timeoutMs) { m_timeoutMs = timeoutMs; }
    void setMaxConnections(int count) { m_maxConnections = std::max(1, count); }
    int maxConnections() const { return m_maxConnections; }
    QList<QUrl> decisionUrls() const { return m_urls; }
    // How the decision servers answered so far, by HTTP status (0: no answer:
    // refused, reset or timed out); redirects are followed, not counted.
    const std::map<int, quint64> &answers() const { return m_answers; }

    // Tries each decision server at most once, in order from the last one
    // that answered; `done` is called once, on this object's thread.
    void assign(const QString &userId, const QString &affinity,
                std::function<void(const AssignResult &)> done);

private:
    struct Attempt;
    struct Server
    {
        std::vector<HttpConnection *> idle;
        int connections = 0;
        std::deque<std::shared_ptr<Attempt>> waiting;
    };

    void tryNext(std::shared_ptr<Attempt> attempt);
    void send(int index, std::shared_ptr<Attempt> attempt);
    void onAnswer(int index, const std::shared_ptr<Attempt> &attempt,
                  const HttpConnection::Response &response);
    bool followRedirect(int index, const std::shared_ptr<Attempt> &attempt,
                        const HttpConnection::Response &response);

    QList<QUrl> m_urls;
    std::vector<Server> m_servers; // by index in m_urls
    int m_preferred = 0;
    int m_timeoutMs = 5000;
    int m_maxConnections = DefaultMaxConnections;
    std::map<int, quint64> m_answers;
};

} // namespace bfg
