// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 BFG developers
//
// bfgd --help: the daemon's manual, laid out as a man page (NAME, SYNOPSIS,
// DESCRIPTION, OPTIONS, CONFIGURATION, SIGNALS, EXIT STATUS, FILES,
// ENVIRONMENT, EXAMPLES). The options come from main.cpp's parser and the
// keys with their defaults from DaemonSettings, so neither can drift from
// what bfgd accepts.
#pragma once

#include <QCommandLineOption>
#include <QList>
#include <QString>
#include <QStringList>

namespace bfg {

// `defaults`: DaemonSettings::effective of a configuration with nothing set,
// one "section/key = value" line per key.
QString daemonManual(const QList<QCommandLineOption> &options, const QStringList &defaults);

} // namespace bfg
