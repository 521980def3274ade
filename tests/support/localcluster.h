// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 BFG developers
//
// A BFG cluster of separate processes on loopback, as the multi-node
// integration suites build it: one decision-only bfgd and push-only bfgd
// nodes reporting to it, all sharing a random token secret; and the calls
// the suites make on the decision server (the admin API with its generated
// operator key, GET /v1/assign). Push nodes can be added while it runs.
#pragma once

#include <memory>
#include <vector>

#include <QJsonArray>
#include <QJsonObject>
#include <QStringList>

#include "tests/support/bfgdprocess.h"
#include "tests/support/testhttp.h"

class QNetworkAccessManager;

namespace bfg::test {

class LocalCluster
{
public:
    // `decisionArgs` go to the decision server, `pushArgs` to every push
    // node (e.g. the broker settings), after the ones the cluster sets.
    explicit LocalCluster(QStringList decisionArgs = {}, QStringList pushArgs = {});
    ~LocalCluster();
    Q_DISABLE_COPY_MOVE(LocalCluster)

    bool startDecision(QString *error);
    // Starts one more push node reporting to the decision server; nullptr,
    // with the reason in `error`, when it does not become ready.
    BfgdProcess *addPushNode(QString *error);
    // Kills the push nodes still running (SIGKILL: nothing of theirs is
    // checked afterwards) and stops the decision server.
    void stop();

    BfgdProcess &decision() const { return *m_decision; }
    BfgdProcess &push(int index) const { return *m_push.at(size_t(index)); }
    int pushCount() const { return int(m_push.size()); }

    // A call on the decision server's admin API with the operator key.
    HttpResult admin(const QByteArray &method, const QString &path, const QByteArray &body = {});
    // GET /v1/assign?user=<user>, as a client asks (no key).
    HttpResult assign(const QString &user);

    // The push nodes as GET /v1/cluster shows them.
    QJsonArray nodes();
    // One of them; empty when the decision server does not know it (yet).
    QJsonObject node(const BfgdProcess &push);
    int connections(const BfgdProcess &push) { return node(push).value(u"connections").toInt(-1); }
    QString state(const BfgdProcess &push) { return node(push).value(u"state").toString(); }
    bool eligible(const BfgdProcess &push) { return node(push).value(u"eligible").toBool(); }
    QString broker(const BfgdProcess &push) { return node(push).value(u"broker").toString(); }

private:
    QString m_secret;
    QStringList m_decisionArgs;
    QStringList m_pushArgs;
    std::unique_ptr<BfgdProcess> m_decision;
    std::vector<std::unique_ptr<BfgdProcess>> m_push;
    std::unique_ptr<QNetworkAccessManager> m_network;
};

} // namespace bfg::test
