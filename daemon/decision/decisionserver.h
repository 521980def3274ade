// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 BFG developers
//
// The decision role: tells each client which push node to use
// (GET /v1/assign) and takes the push nodes' reports
// (POST /v1/nodes/{id}/report). Node state is kept in memory for the hot
// path and written through to the store, so a restarted decision server
// knows its nodes. GET /v1/cluster shows what it knows.
#pragma once

#include <memory>

#include <QHash>
#include <QHostAddress>
#include <QObject>
#include <QUrl>

#include "common/token.h"
#include "daemon/decision/loadpolicy.h"

class QHttpServerRequest;

namespace bfg {

class Database;
class HttpService;
class HttpReply;
class NodeTable;

struct DecisionOptions
{
    QHostAddress address = QHostAddress::LocalHost;
    quint16 port = 8080;
    QString storePath; // SQLite file
    int allowedLoadPercent = 80;
    int tokenTtlSeconds = 60;
    int reportIntervalMs = 1000;
    QByteArray secret; // shared with the push nodes
};

class DecisionServer : public QObject
{
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(DecisionServer)

public:
    explicit DecisionServer(DecisionOptions options, QObject *parent = nullptr);
    ~DecisionServer() override;

    bool start(QString *error);
    quint16 port() const { return m_port; }
    QUrl url() const;

private:
    void assign(const QHttpServerRequest &request, const std::shared_ptr<HttpReply> &reply);
    void report(const QHttpServerRequest &request, const QString &nodeId,
                const std::shared_ptr<HttpReply> &reply);
    void cluster(const std::shared_ptr<HttpReply> &reply);

    DecisionOptions m_options;
    TokenSigner m_signer;
    LoadPolicy m_policy;
    std::unique_ptr<Database> m_database;
    std::unique_ptr<NodeTable> m_nodeTable;
    HttpService *m_http = nullptr;
    QList<NodeLoad> m_nodes; // in id order
    quint16 m_port = 0;
};

} // namespace bfg
