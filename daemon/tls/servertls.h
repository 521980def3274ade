// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 BFG developers
//
// The certificate and key every listener of a bfgd serves TLS with, loaded
// once at start: as an OpenSSL context for the push node's own WebSocket
// layer (daemon/push/wsconnection), and as a QSslConfiguration for the HTTP
// listeners Qt serves (decision, admin, publish, node reports). One pair of
// files for all listeners, checked to belong together before anything
// listens, so a mistake is a start-up error and never a failed handshake.
#pragma once

#include <memory>

#include <QSslConfiguration>
#include <QString>

struct ssl_ctx_st;

namespace bfg {

class ServerTls
{
public:
    // `certificateFile`: PEM, the server's certificate first and then any
    // intermediates; `keyFile`: its PEM private key (RSA or EC, unencrypted).
    // nullptr with `error` set when either cannot be used.
    static std::shared_ptr<const ServerTls> load(const QString &certificateFile, const QString &keyFile,
                                                 QString *error);
    ~ServerTls();
    Q_DISABLE_COPY_MOVE(ServerTls)

    // Shared by every connection of every worker thread (OpenSSL makes
    // SSL_new on one context safe from several threads).
    ssl_ctx_st *context() const { return m_context; }
    const QSslConfiguration &qtConfiguration() const { return m_qtConfiguration; }
    // The certificate's subject and expiry, for the start-up log line.
    QString summary() const { return m_summary; }
    // SHA-256 of the server certificate: a reload tells a new one by it.
    QByteArray fingerprint() const { return m_fingerprint; }

private:
    ServerTls() = default;

    ssl_ctx_st *m_context = nullptr;
    QSslConfiguration m_qtConfiguration;
    QString m_summary;
    QByteArray m_fingerprint;
};

} // namespace bfg
