// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 BFG developers
#include "daemon/tls/servertls.h"

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <QFile>
#include <QSslCertificate>
#include <QSslKey>

using namespace Qt::Literals::StringLiterals;

namespace bfg {

namespace {
// What OpenSSL said last, its error queue emptied.
QString openSslError()
{
    QString text;
    while (const unsigned long code = ERR_get_error()) {
        char buffer[256];
        ERR_error_string_n(code, buffer, sizeof buffer);
        text = QString::fromLatin1(buffer); // the last is the most specific
    }
    return text.isEmpty() ? u"unknown OpenSSL error"_s : text;
}

QSslKey readKey(const QByteArray &pem)
{
    for (const QSsl::KeyAlgorithm algorithm : {QSsl::Rsa, QSsl::Ec}) {
        QSslKey key(pem, algorithm, QSsl::Pem, QSsl::PrivateKey);
        if (!key.isNull())
            return key;
    }
    return {};
}
} // namespace

ServerTls::~ServerTls()
{
    SSL_CTX_free(m_context);
}

std::shared_ptr<const ServerTls> ServerTls::load(const QString &certificateFile, const QString &keyFile,
                                                 QString *error)
{
    std::shared_ptr<ServerTls> tls(new ServerTls);
    const QByteArray certificatePath = QFile::encodeName(certificateFile);
    const QByteArray keyPath = QFile::encodeName(keyFile);
    ERR_clear_error();
    tls->m_context = SSL_CTX_new(TLS_server_method());
    if (!tls->m_context) {
        *error = u"cannot create a TLS context: %1"_s.arg(openSslError());
        return nullptr;
    }
    SSL_CTX *context = tls->m_context;
    SSL_CTX_set_min_proto_version(context, TLS1_2_VERSION);
    SSL_CTX_set_options(context, SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
    // Partial writes let a connection count what left; idle connections
    // give their 34 KiB of record buffers back.
    SSL_CTX_set_mode(context, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
                                  SSL_MODE_RELEASE_BUFFERS);
    if (SSL_CTX_use_certificate_chain_file(context, certificatePath.constData()) != 1) {
        *error = u"tls/certificate %1: %2"_s.arg(certificateFile, openSslError());
        return nullptr;
    }
    if (SSL_CTX_use_PrivateKey_file(context, keyPath.constData(), SSL_FILETYPE_PEM) != 1) {
        const bool mismatch = ERR_GET_REASON(ERR_peek_last_error()) == X509_R_KEY_VALUES_MISMATCH;
        *error = u"tls/private_key %1%2: %3"_s.arg(
            keyFile, mismatch ? u" does not belong to tls/certificate "_s + certificateFile : QString(),
            openSslError());
        return nullptr;
    }
    if (SSL_CTX_check_private_key(context) != 1) {
        *error = u"tls/private_key %1 does not belong to tls/certificate %2: %3"_s.arg(
            keyFile, certificateFile, openSslError());
        return nullptr;
    }

    // The same files for Qt's listeners.
    const QList<QSslCertificate> chain = QSslCertificate::fromPath(certificateFile, QSsl::Pem);
    QFile file(keyFile);
    if (chain.isEmpty() || !file.open(QIODevice::ReadOnly)) {
        *error = u"tls: Qt cannot read %1 or %2"_s.arg(certificateFile, keyFile);
        return nullptr;
    }
    const QSslKey key = readKey(file.readAll());
    if (key.isNull()) {
        *error = u"tls/private_key %1: Qt cannot read it as an RSA or EC key"_s.arg(keyFile);
        return nullptr;
    }
    QSslConfiguration configuration = QSslConfiguration::defaultConfiguration();
    configuration.setLocalCertificateChain(chain);
    configuration.setPrivateKey(key);
    configuration.setProtocol(QSsl::TlsV1_2OrLater);
    configuration.setPeerVerifyMode(QSslSocket::VerifyNone); // clients bring tokens, not certificates
    tls->m_qtConfiguration = configuration;

    const QSslCertificate &leaf = chain.first();
    tls->m_summary =
        u"%1, valid until %2"_s.arg(leaf.subjectDisplayName(), leaf.expiryDate().toString(Qt::ISODate));
    tls->m_fingerprint = leaf.digest(QCryptographicHash::Sha256);
    return tls;
}

} // namespace bfg
