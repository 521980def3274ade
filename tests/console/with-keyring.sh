#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# SPDX-FileCopyrightText: 2026 BFG developers
#
# Runs a command against a real keychain that is nobody's: a gnome-keyring
# Secret Service on the private D-Bus session of dbus-run-session, its
# 'login' collection created and unlocked with a throwaway password in a
# temporary HOME, never the user's own keyring.
#   dbus-run-session -- tests/console/with-keyring.sh COMMAND [ARGS...]
# The command gets BFG_TEST_KEYCHAIN=secret-service. No keyring, no test:
# this fails (rather than skips) when the daemon cannot be started.
set -euo pipefail

fail() { echo "with-keyring.sh: $*" >&2; exit 1; }

[ $# -gt 0 ] || fail "usage: dbus-run-session -- $0 COMMAND [ARGS...]"
[ -n "${DBUS_SESSION_BUS_ADDRESS:-}" ] || fail "no D-Bus session bus; run under dbus-run-session"
command -v gnome-keyring-daemon >/dev/null || fail "gnome-keyring-daemon not found (scripts/setup installs gnome-keyring)"
command -v dbus-send >/dev/null || fail "dbus-send not found (scripts/setup installs dbus-bin)"

tmp="$(mktemp -d "${TMPDIR:-/tmp}/bfg-keyring.XXXXXX")"
daemon_pid=
cleanup()
{
    if [ -n "$daemon_pid" ]; then
        kill "$daemon_pid" 2>/dev/null || true
        wait "$daemon_pid" 2>/dev/null || true
    fi
    rm -rf "$tmp"
}
trap cleanup EXIT

export HOME="$tmp/home"
export XDG_DATA_HOME="$HOME/.local/share" XDG_CONFIG_HOME="$HOME/.config" XDG_CACHE_HOME="$HOME/.cache"
export XDG_RUNTIME_DIR="$tmp/run"
mkdir -p "$XDG_DATA_HOME" "$XDG_CONFIG_HOME" "$XDG_CACHE_HOME" "$XDG_RUNTIME_DIR"
chmod 700 "$XDG_RUNTIME_DIR"
unset GNOME_KEYRING_CONTROL SSH_AUTH_SOCK

# In the foreground (backgrounded here) so that its pid is ours to stop.
# --unlock reads the password from stdin and creates the 'login' collection
# with it when there is none; an empty password would need a prompt.
printf 'throwaway' >"$tmp/password"
gnome-keyring-daemon --foreground --unlock --components=secrets <"$tmp/password" >"$tmp/daemon.log" 2>&1 &
daemon_pid=$!
export GNOME_KEYRING_CONTROL="$XDG_RUNTIME_DIR/keyring"

# Ready when it owns org.freedesktop.secrets and the default collection is
# unlocked. The bus is asked first: calling org.freedesktop.secrets before
# the name is taken would start a second daemon through D-Bus activation.
secrets_ready()
{
    dbus-send --session --print-reply --dest=org.freedesktop.DBus /org/freedesktop/DBus \
        org.freedesktop.DBus.NameHasOwner string:org.freedesktop.secrets 2>/dev/null |
        grep -q 'boolean true' || return 1
    dbus-send --session --print-reply --dest=org.freedesktop.secrets /org/freedesktop/secrets/aliases/default \
        org.freedesktop.DBus.Properties.Get string:org.freedesktop.Secret.Collection string:Locked 2>/dev/null |
        grep -q 'boolean false'
}
for _ in $(seq 100); do
    secrets_ready && break
    if ! kill -0 "$daemon_pid" 2>/dev/null; then
        cat "$tmp/daemon.log" >&2
        fail "gnome-keyring-daemon exited"
    fi
    sleep 0.1
done
if ! secrets_ready; then
    cat "$tmp/daemon.log" >&2
    fail "no unlocked default collection on org.freedesktop.secrets after 10 s"
fi

status=0
BFG_TEST_KEYCHAIN=secret-service "$@" || status=$?
exit "$status"
