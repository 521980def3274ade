// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 BFG developers
//
// bfg-probe --gui: what main() calls instead of the headless run when the
// probe was built with its GUI (BFG_BUILD_CONSOLE).
#pragma once

namespace bfg::probe {

struct ProbeOptions;

// Creates the QApplication (on Qt's default event dispatcher), opens a
// ProbeWindow with `options` filled in and runs the event loop.
int runProbeGui(int argc, char *argv[], const ProbeOptions &options);

} // namespace bfg::probe
