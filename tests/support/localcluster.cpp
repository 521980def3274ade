// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 BFG developers
#include "tests/support/localcluster.h"

#include <QNetworkAccessManager>

using namespace Qt::Literals::StringLiterals;

namespace bfg::test {

namespace {
constexpr int AdminCallMs = 5000;
} // namespace

LocalCluster::LocalCluster(QStringList decisionArgs, QStringList pushArgs)
    : m_secret(randomSecret())
    , m_decisionArgs(std::move(decisionArgs))
    , m_pushArgs(std::move(pushArgs))
    , m_network(std::make_unique<QNetworkAccessManager>())
{}

LocalCluster::~LocalCluster()
{
    stop();
}

bool LocalCluster::startDecision(QString *error)
{
    m_decision = std::make_unique<BfgdProcess>(
        QStringList{u"--role"_s, u"decision"_s, u"--set"_s, u"general/secret="_s + m_secret} +
        m_decisionArgs);
    if (!m_decision->start(error))
        return false;
    if (m_decision->adminKey().size() < 16) {
        *error = u"the decision server wrote no admin key"_s;
        return false;
    }
    return true;
}

BfgdProcess *LocalCluster::addPushNode(QString *error)
{
    if (!m_decision) {
        *error = u"start the decision server first"_s;
        return nullptr;
    }
    auto push = std::make_unique<BfgdProcess>(
        QStringList{u"--role"_s, u"push"_s, u"--set"_s, u"general/secret="_s + m_secret, u"--decision-url"_s,
                    m_decision->decisionUrl().toString()} +
        m_pushArgs);
    if (!push->start(error))
        return nullptr;
    if (push->nodeId().isEmpty()) {
        *error = u"the push node named no node id"_s;
        return nullptr;
    }
    return m_push.emplace_back(std::move(push)).get();
}

void LocalCluster::stop()
{
    for (auto &push : m_push) {
        if (push->isRunning())
            push->kill();
    }
    m_push.clear();
    if (m_decision && m_decision->isRunning())
        m_decision->stop();
    m_decision.reset();
}

HttpResult LocalCluster::admin(const QByteArray &method, const QString &path, const QByteArray &body)
{
    HttpCall call;
    call.method = method;
    call.url = m_decision->decisionUrl().resolved(QUrl(path));
    call.body = body;
    call.contentType = body.isEmpty() ? QByteArray() : QByteArrayLiteral("application/json");
    call.authorization = bearer(m_decision->adminKey());
    return httpCall(*m_network, call, AdminCallMs);
}

HttpResult LocalCluster::assign(const QString &user)
{
    HttpCall call;
    call.url = m_decision->decisionUrl().resolved(QUrl(u"/v1/assign"_s));
    call.url.setQuery(u"user="_s + user);
    return httpCall(*m_network, call, AdminCallMs);
}

QJsonArray LocalCluster::nodes()
{
    return admin("GET", u"/v1/cluster"_s).json().value(u"nodes"_s).toArray();
}

QJsonObject LocalCluster::node(const BfgdProcess &push)
{
    for (const QJsonValue &value : nodes()) {
        if (value.toObject().value(u"id"_s).toString() == push.nodeId())
            return value.toObject();
    }
    return {};
}

} // namespace bfg::test
