// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 BFG developers
//
// What a BFG program trusts when it connects over TLS (https://, wss://):
// the system's CA certificates, plus those of a CA file (a private CA such
// as the one scripts/make-dev-certs makes), or, for development only,
// nothing checked at all. Set once at start, for every connection of the
// process (QSslConfiguration's default: QWebSocket, QSslSocket and
// QNetworkAccessManager all start from it).
#pragma once

#include <QString>

namespace bfg::clienttls {

// Adds the PEM certificates in `caFile` to the trusted ones. False with
// `error` set when the file cannot be read or holds no certificate.
bool trustCaFile(const QString &caFile, QString *error);

// Accepts any certificate for any name: `--insecure`, never for production.
void disableVerification();

// What --ca-file FILE (empty: not given) and --insecure ask for, checked
// (they exclude each other) and applied; false with `error` set.
bool configure(const QString &caFile, bool insecure, QString *error);

// The usage lines of the two flags every client program takes.
inline constexpr char CaFileHelp[] =
    "PEM file of the CA that signed the servers' certificates (trusted besides the system's CAs)";
inline constexpr char InsecureHelp[] =
    "Do not verify TLS certificates at all (development only: anyone on the path can read and change the "
    "traffic)";

} // namespace bfg::clienttls
