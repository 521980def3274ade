// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 BFG developers
#include "common/clienttls.h"

#include <QFile>
#include <QSslCertificate>
#include <QSslConfiguration>
#include <QSslSocket>

#include "common/logging.h"

using namespace Qt::Literals::StringLiterals;

namespace bfg::clienttls {

bool trustCaFile(const QString &caFile, QString *error)
{
    QFile file(caFile);
    if (!file.open(QIODevice::ReadOnly)) {
        *error = u"CA file %1: %2"_s.arg(caFile, file.errorString());
        return false;
    }
    const QList<QSslCertificate> certificates = QSslCertificate::fromData(file.readAll(), QSsl::Pem);
    if (certificates.isEmpty()) {
        *error = u"CA file %1 holds no PEM certificate"_s.arg(caFile);
        return false;
    }
    QSslConfiguration configuration = QSslConfiguration::defaultConfiguration();
    configuration.addCaCertificates(certificates);
    QSslConfiguration::setDefaultConfiguration(configuration);
    return true;
}

void disableVerification()
{
    QSslConfiguration configuration = QSslConfiguration::defaultConfiguration();
    configuration.setPeerVerifyMode(QSslSocket::VerifyNone);
    QSslConfiguration::setDefaultConfiguration(configuration);
    qCWarning(lcClient) << "--insecure: TLS certificates are not verified";
}

bool configure(const QString &caFile, bool insecure, QString *error)
{
    if (insecure && !caFile.isEmpty()) {
        *error = u"--ca-file and --insecure exclude each other"_s;
        return false;
    }
    if (insecure)
        disableVerification();
    return caFile.isEmpty() || trustCaFile(caFile, error);
}

} // namespace bfg::clienttls
