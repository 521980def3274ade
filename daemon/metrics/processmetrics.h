// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 BFG developers
//
// The standard process_* metrics every Prometheus client exports (memory,
// CPU, file descriptors, start time), read from /proc/self on Linux and
// left out elsewhere, and bfg_build_info. Every role's /metrics has them.
#pragma once

namespace bfg {

class MetricsWriter;

class ProcessMetrics
{
public:
    static void write(MetricsWriter &writer);
};

} // namespace bfg
