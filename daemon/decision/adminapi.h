// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 BFG developers
//
// The decision server's admin API, what the console uses: the cluster
// view, allowed load, per-node capacity, drain, undrain, forget, the audit
// log, and a WebSocket stream with a cluster snapshot every second. Every
// call needs an admin key (Authorization: Bearer); "read" keys may look,
// "operator" keys may also change things, and each change is audited
// under the key's name.
#pragma once

#include <memory>
#include <optional>

#include <QObject>
#include <QTimer>

#include "common/token.h"
#include "daemon/http/httpservice.h"
#include "daemon/store/adminkeytable.h"

class QHttpServerRequest;
class QWebSocket;

namespace bfg {

class ClusterState;

class AdminApi : public QObject
{
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(AdminApi)

public:
    // `signer` verifies admin tokens (admin:read, admin:write) besides the keys.
    AdminApi(ClusterState *state, HttpService *http, const TokenSigner *signer, QObject *parent = nullptr);

    // Shutdown: closes every live stream with 1001 (going away), so that the
    // consoles move to their next decision server.
    void closeStreams();

private:
    // The key or token of an Authorization header: an admin key, or an
    // admin token as a key named "token:<subject>". Else nullopt with the
    // refusal in `error` (401, or 403 for a token of another scope).
    std::optional<AdminKey> authenticate(const QByteArray &authorization, HttpError *error) const;
    // The key allowed to do this, or nullopt after answering 401/403.
    std::optional<AdminKey> authorize(const QHttpServerRequest &request, bool change,
                                      const std::shared_ptr<HttpReply> &reply) const;
    void cluster(const std::shared_ptr<HttpReply> &reply);
    void setAllowedLoad(const QHttpServerRequest &request, const std::shared_ptr<HttpReply> &reply);
    void setCapacity(const QHttpServerRequest &request, const QString &id,
                     const std::shared_ptr<HttpReply> &reply);
    void setAdminState(const QHttpServerRequest &request, const QString &id, const QString &adminState,
                       const std::shared_ptr<HttpReply> &reply);
    void forget(const QHttpServerRequest &request, const QString &id,
                const std::shared_ptr<HttpReply> &reply);
    void audit(const QHttpServerRequest &request, const std::shared_ptr<HttpReply> &reply);
    void acceptStreams();
    void broadcast();

    ClusterState *m_state;
    HttpService *m_http;
    const TokenSigner *m_signer;
    QList<QWebSocket *> m_streams;
    QTimer m_streamTimer;
};

} // namespace bfg
