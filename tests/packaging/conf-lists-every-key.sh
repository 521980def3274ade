#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# SPDX-FileCopyrightText: 2026 BFG developers
#
# bfgd_conf_lists_every_key: resources/bfgd.conf (the package's
# /etc/bfg/bfgd.conf) names every key bfgd knows, commented out, with the
# built-in default; and bfgd accepts the file as it is.
#   conf-lists-every-key.sh BFGD CONF
set -euo pipefail
bfgd="$1" conf="$2"
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0"

defaults=$("$bfgd" --print-config)
[ "$("$bfgd" --config "$conf" --print-config)" = "$defaults" ] ||
    { echo "FAIL: bfgd --config $conf gives other values than the defaults" >&2; exit 1; }

# The file's "section/key = value" lines, from ";key = value ; comment".
listed=$(awk '
    /^\[/ { section = substr($0, 2, index($0, "]") - 2); next }
    /^;[a-z_]+ *=/ {
        line = substr($0, 2); key = line; sub(/ *=.*/, "", key)
        value = line; sub(/^[^=]*= */, "", value); sub(/ *;.*$/, "", value)
        print section "/" key " = " value
    }' "$conf")

problems=0
while IFS= read -r line; do
    key=${line%% = *}
    value=${line#* = }
    [ "$value" = "(set)" ] && value=""
    listedLine=$(grep "^$key = " <<<"$listed" | head -n 1 || true)
    if [ -z "$listedLine" ]; then
        echo "FAIL: $conf does not list $key (default: $value)" >&2
        problems=$((problems + 1))
        continue
    fi
    listedValue=${listedLine#* = }
    # data_dir is shown expanded (~ is the home directory).
    [ "$key" = general/data_dir ] && listedValue=${listedValue/#\~/$HOME}
    if [ "$listedValue" != "$value" ]; then
        echo "FAIL: $conf lists $key = \"$listedValue\", bfgd's default is \"$value\"" >&2
        problems=$((problems + 1))
    fi
done <<<"$defaults"
while IFS= read -r line; do
    key=${line%% = *}
    grep -q "^$key = " <<<"$defaults" || { echo "FAIL: $conf lists $key, which bfgd does not know" >&2; problems=$((problems + 1)); }
done <<<"$listed"
[ "$problems" -eq 0 ] || exit 1
echo "bfgd.conf lists all $(wc -l <<<"$defaults") keys with their defaults"
