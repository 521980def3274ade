// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 BFG developers
//
// `bfg-probe merge FILE...`: the --json results of the shards of one run
// (--shard i/n, one process each) combined into one report and verdict.
#pragma once

#include <QString>
#include <QStringList>

namespace bfg::probe {

// Prints the combined report on stdout (and writes it to `jsonPath` unless
// empty); returns the exit code: 0 pass, 1 fail, 2 when a file is unreadable.
int mergeResults(const QStringList &files, const QString &jsonPath);

} // namespace bfg::probe
