#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# SPDX-FileCopyrightText: 2026 BFG developers
#
# bfgd_manual: bfgd --help reads as a man page (its sections, every flag,
# every configuration key), --version names the version, a bad flag exits 2.
#   bfgd-manual.sh BFGD VERSION
set -euo pipefail
bfgd="$1" version="$2"
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0"
problems=0
fail() {
    echo "FAIL: $*" >&2
    problems=$((problems + 1))
}

manual=$("$bfgd" --help)
for section in NAME SYNOPSIS DESCRIPTION OPTIONS CONFIGURATION SIGNALS "EXIT STATUS" FILES ENVIRONMENT EXAMPLES; do
    grep -qx "$section" <<<"$manual" || fail "no $section section"
done
options=$(awk '/^OPTIONS$/ { on = 1; next } /^[A-Z]/ { on = 0 } on' <<<"$manual")
for flag in --config --role --data-dir --decision-listen --push-listen --publish-listen --decision-url \
    --node-id --set --print-config --issue-token --token-subject --token-streams --token-days --help --version; do
    grep -q -- "^    .*$flag\b" <<<"$options" || fail "the OPTIONS section does not list $flag"
done
for signal in SIGTERM SIGINT SIGHUP; do
    grep -q "$signal" <<<"$manual" || fail "no word on $signal"
done
grep -q /etc/bfg/bfgd.conf <<<"$manual" || fail "no word on /etc/bfg/bfgd.conf"
# Every key, under its section.
while IFS= read -r line; do
    key=${line%% = *}
    grep -Eq "^        ${key#*/} =( |$)" <<<"$manual" || fail "the manual does not list $key"
done < <("$bfgd" --print-config)
# No line wider than a terminal.
wide=$(awk 'length > 79' <<<"$manual")
[ -z "$wide" ] || fail "lines wider than 79 columns: $wide"

[ "$("$bfgd" --version)" = "bfgd $version" ] || fail "--version printed \"$("$bfgd" --version)\""
status=0
"$bfgd" --no-such-flag >/dev/null 2>&1 || status=$?
[ "$status" = 2 ] || fail "an unknown flag exits $status, not 2"

[ "$problems" -eq 0 ] || exit 1
echo "bfgd --help: $(wc -l <<<"$manual") lines, every section, flag and key"
