// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 BFG developers
//
// Asks the decision servers which push node a user should use
// (GET /v1/assign). Holds the ordered list of decision URLs and walks it on
// connection failure, timeout, 429 and 5xx, starting from the last server
// that answered, so that no decision server is a single point of failure.
// Used by PushClient (and so by the probe and the console).
#pragma once

#include <functional>
#include <memory>

#include <QObject>
#include <QStringList>
#include <QUrl>

#include "bfg/v1/api.pb.h"

class QNetworkAccessManager;

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
    DecisionClient(QNetworkAccessManager *network, const QList<QUrl> &decisionUrls,
                   QObject *parent = nullptr);

    void setTimeoutMs(int timeoutMs) { m_timeoutMs = timeoutMs; }
    QList<QUrl> decisionUrls() const { return m_urls; }

    // Tries each decision server at most once, in order from the last one
    // that answered; `done` is called once, on this object's thread.
    void assign(const QString &userId, const QString &affinity,
                std::function<void(const AssignResult &)> done);

private:
    struct Attempt;
    void tryNext(std::shared_ptr<Attempt> attempt);

    QNetworkAccessManager *m_network;
    QList<QUrl> m_urls;
    int m_preferred = 0;
    int m_timeoutMs = 5000;
};

} // namespace bfg
