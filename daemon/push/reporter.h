// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 BFG developers
//
// Reports the push node's load to every decision server once per report
// interval (POST /v1/nodes/{id}/report, Protobuf, signed with a node
// token) and follows the interval the decision servers ask for.
#pragma once

#include <QNetworkAccessManager>
#include <QObject>
#include <QTimer>

#include "common/token.h"
#include "daemon/push/pushoptions.h"

namespace bfg {

class PushServer;

class Reporter : public QObject
{
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(Reporter)

public:
    Reporter(const PushOptions &options, PushServer *server, QObject *parent = nullptr);

    void start();
    void stop();
    // New settings (a reload): reports are signed with the new secret.
    void reconfigure(const PushOptions &options);
    // Reports at once, e.g. when the node's state changed.
    void reportNow() { sendReports(); }

private:
    void sendReports();

    PushOptions m_options;
    PushServer *m_server;
    TokenSigner m_signer;
    QNetworkAccessManager m_network;
    QTimer m_timer;
    quint64 m_lastDelivered = 0;
    qint64 m_lastReportMs = 0;
};

} // namespace bfg
