#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# SPDX-FileCopyrightText: 2026 BFG developers
#
# packages_unpack: builds the Debian packages of this build directory with
# cpack into a temporary directory, unpacks each with dpkg-deb and checks
# what an installation would get: the files, the control fields (version,
# Depends found by dpkg-shlibdeps and no GUI library where none belongs,
# conffiles, maintainer scripts) and the packaged binaries' --version.
#   packages-unpack.sh BUILD_DIR VERSION WITH_CONSOLE(0|1)
set -euo pipefail
build="$1" version="$2" console="$3"

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
problems=0
fail() {
    echo "FAIL: $*" >&2
    problems=$((problems + 1))
}

if ! cpack --config "$build/CPackConfig.cmake" -G DEB -B "$work/out" >"$work/cpack.log" 2>&1; then
    cat "$work/cpack.log" >&2
    echo "FAIL: cpack -G DEB failed" >&2
    exit 1
fi

packages=(bfgd bfg-probe)
[ "$console" = 1 ] && packages+=(bfg-console bfg-probe-gui)

# A sanitizer build's binaries leak-check at exit; --version is not what
# the leak checks are about.
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0"

for package in "${packages[@]}"; do
    deb=$(ls "$work/out/${package}_${version}-"*.deb 2>/dev/null | head -n 1 || true)
    if [ -z "$deb" ]; then
        fail "$package: no ${package}_${version}-*.deb among: $(cd "$work/out" && ls *.deb 2>/dev/null | xargs)"
        continue
    fi
    root="$work/root/$package"
    mkdir -p "$root"
    dpkg-deb -x "$deb" "$root"
    field() { dpkg-deb -f "$deb" "$1"; }
    depends=$(field Depends)
    echo "$package: $(basename "$deb"), $(du -k "$deb" | cut -f1) KB; Depends: $depends"

    [ "$(field Package)" = "$package" ] || fail "$package: Package field is $(field Package)"
    [ "$(field Version)" = "$version-1" ] || fail "$package: Version $(field Version), expected $version-1"
    for name in Maintainer Description Section Homepage; do
        [ -n "$(field $name)" ] || fail "$package: no $name"
    done
    for doc in README.md copyright; do
        [ -s "$root/usr/share/doc/$package/$doc" ] || fail "$package: no /usr/share/doc/$package/$doc"
    done
    grep -q 'libc6' <<<"$depends" || fail "$package: Depends lacks libc6 (dpkg-shlibdeps did not run?)"
    grep -q 'libqt6core6' <<<"$depends" || fail "$package: Depends lacks libqt6core6"

    binary="$root/usr/bin/$package"
    [ "$package" = bfgd ] && binary="$root/usr/bin/bfgd"
    if [ ! -x "$binary" ]; then
        fail "$package: no executable /usr/bin/$(basename "$binary")"
        continue
    fi
    # Stripped, the debug information in the -dbgsym package.
    if readelf -S "$binary" | grep -q '\.debug_info'; then
        fail "$package: /usr/bin/$(basename "$binary") still has debug information"
    fi
    ddeb=$(ls "$work/out/${package}-dbgsym_${version}-"*.ddeb 2>/dev/null | head -n 1 || true)
    if [ -z "$ddeb" ]; then
        fail "$package: no ${package}-dbgsym .ddeb"
    elif ! dpkg-deb -c "$ddeb" | grep -q '/usr/lib/debug/.build-id/.*\.debug$'; then
        fail "$package: the -dbgsym package has no /usr/lib/debug/.build-id/*.debug"
    fi

    case "$package" in
    bfgd)
        [ -f "$root/etc/bfg/bfgd.conf" ] || fail "bfgd: no /etc/bfg/bfgd.conf"
        cmp -s "$root/etc/bfg/bfgd.conf" "$(dirname "$0")/../../resources/bfgd.conf" ||
            fail "bfgd: /etc/bfg/bfgd.conf is not resources/bfgd.conf"
        dpkg-deb -e "$deb" "$work/control-bfgd"
        grep -qx '/etc/bfg/bfgd.conf' "$work/control-bfgd/conffiles" 2>/dev/null ||
            fail "bfgd: /etc/bfg/bfgd.conf is not a conffile"
        for script in postinst prerm postrm; do
            if [ ! -x "$work/control-bfgd/$script" ]; then
                fail "bfgd: no executable $script"
            elif ! sh -n "$work/control-bfgd/$script"; then
                fail "bfgd: $script is not valid sh"
            fi
        done
        grep -q 'adduser .*--system .*bfg' "$work/control-bfgd/postinst" || fail "bfgd: postinst makes no bfg user"
        grep -q 'rm -rf /var/lib/bfg' "$work/control-bfgd/postrm" || fail "bfgd: postrm does not purge /var/lib/bfg"
        for dependency in libqt6network6 libqt6sql6-sqlite adduser; do
            grep -q "$dependency" <<<"$depends" || fail "bfgd: Depends lacks $dependency"
        done
        # Every unit and sysctl file of packaging/ is in the package.
        for file in "$(dirname "$0")"/../../packaging/systemd/*.service; do
            [ -e "$file" ] || continue
            [ -f "$root/lib/systemd/system/$(basename "$file")" ] || fail "bfgd: no /lib/systemd/system/$(basename "$file")"
        done
        for file in "$(dirname "$0")"/../../packaging/sysctl/*.conf; do
            [ -e "$file" ] || continue
            [ -f "$root/usr/lib/sysctl.d/$(basename "$file")" ] || fail "bfgd: no /usr/lib/sysctl.d/$(basename "$file")"
        done
        # The packaged configuration, every key commented out, is the defaults.
        if ! "$binary" --config "$root/etc/bfg/bfgd.conf" --print-config >"$work/conf.txt" 2>&1; then
            fail "bfgd: rejects its packaged /etc/bfg/bfgd.conf: $(cat "$work/conf.txt")"
        fi
        ;;
    bfg-probe)
        [ ! -e "$root/usr/bin/bfg-probe-gui" ] || fail "bfg-probe: holds bfg-probe-gui (its own package)"
        ;;
    bfg-console | bfg-probe-gui)
        grep -q 'libqt6widgets6' <<<"$depends" || fail "$package: Depends lacks libqt6widgets6"
        ;;
    esac
    case "$package" in
    bfgd | bfg-probe)
        if grep -Eq 'libqt6(widgets|gui)6' <<<"$depends"; then
            fail "$package: Depends on a Qt GUI library: $depends"
        fi
        ;;
    esac

    # The packaged binary runs against the system's Qt and names the version.
    if [ "$package" = bfgd ] || [ "$package" = bfg-probe ]; then
        printed=$("$binary" --version 2>&1 || true)
        [ "$printed" = "$package $version" ] || fail "$package --version printed \"$printed\", expected \"$package $version\""
    fi
done

if [ "$problems" -gt 0 ]; then
    echo "packages_unpack: $problems problem(s); cpack's log:" >&2
    tail -n 20 "$work/cpack.log" >&2
    exit 1
fi
echo "packages_unpack: ${#packages[@]} packages ok"
