// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 BFG developers
//
// The fuzz targets' assertion: a property that does not hold is a crash,
// which libFuzzer records like any other (and the replay test fails on).
// Not assert(): it must hold in release builds too.
#pragma once

#include <cstdio>
#include <cstdlib>

#define BFG_FUZZ_CHECK(condition)                                                                            \
    do {                                                                                                     \
        if (!(condition)) {                                                                                  \
            std::fprintf(stderr, "%s:%d: property failed: %s\n", __FILE__, __LINE__, #condition);            \
            std::abort();                                                                                    \
        }                                                                                                    \
    } while (false)
