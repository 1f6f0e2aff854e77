#!/usr/bin/env bash
# Create (once) a Debian trixie chroot with Swift 6 (Debian's `swiftlang` package) for testing the
# uniffi-generated Swift bindings on Linux. Idempotent: a marker file makes re-runs instant.
#
#   scripts/setup-swift-chroot.sh            # quiet; prints the chroot path
#   SWIFT_CHROOT=/some/dir scripts/setup-swift-chroot.sh
#   VERBOSE=1 scripts/setup-swift-chroot.sh  # show debootstrap/apt output
#
# Needs root, and network access to deb.debian.org for the first run only (~2.7 GB on disk).
set -euo pipefail

CHROOT="${SWIFT_CHROOT:-/var/cache/stressbeat/swift-chroot}"
SUITE="${SWIFT_CHROOT_SUITE:-trixie}"
MIRROR="${SWIFT_CHROOT_MIRROR:-http://deb.debian.org/debian}"
# Bump when the package list changes so existing chroots are upgraded.
MARKER_VERSION=1
MARKER="$CHROOT/.stressbeat-swift-ready-v$MARKER_VERSION"
# swiftlang: swiftc + Foundation + XCTest; libc6-dev: the C runtime headers and objects swiftc links.
PACKAGES=(swiftlang libc6-dev)

log() { printf '[setup-swift-chroot] %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }
run_quiet() {
    if [[ -n "${VERBOSE:-}" ]]; then "$@"; return; fi
    local out; out=$(mktemp)
    if ! "$@" >"$out" 2>&1; then
        tail -n 40 "$out" >&2; rm -f "$out"; die "command failed: $*"
    fi
    rm -f "$out"
}

if [[ -f "$MARKER" ]]; then
    echo "$CHROOT"
    exit 0
fi

[[ $EUID -eq 0 ]] || die "must run as root (debootstrap/chroot)"

if ! command -v debootstrap >/dev/null; then
    log "installing debootstrap on the host"
    run_quiet apt-get update -q
    run_quiet env DEBIAN_FRONTEND=noninteractive apt-get install -y -q debootstrap
fi

mkdir -p "$(dirname "$CHROOT")"
if [[ ! -f "$CHROOT/.stressbeat-debootstrap-done" ]]; then
    log "debootstrap $SUITE -> $CHROOT (first run; a few minutes)"
    # A half-finished debootstrap is not resumable: start over (never while something is mounted).
    for m in proc sys dev; do mountpoint -q "$CHROOT/$m" 2>/dev/null && die "$CHROOT/$m is mounted; unmount first"; done
    rm -rf "$CHROOT"
    run_quiet debootstrap --variant=minbase "$SUITE" "$CHROOT" "$MIRROR"
    touch "$CHROOT/.stressbeat-debootstrap-done"
fi

mounted=0
cleanup() { if [[ $mounted -eq 1 ]]; then umount "$CHROOT/proc" 2>/dev/null || umount -l "$CHROOT/proc" || true; fi; }
trap cleanup EXIT
if ! mountpoint -q "$CHROOT/proc"; then mount -t proc proc "$CHROOT/proc"; mounted=1; fi
cp /etc/resolv.conf "$CHROOT/etc/resolv.conf" 2>/dev/null || true

log "installing ${PACKAGES[*]} in the chroot"
run_quiet chroot "$CHROOT" env DEBIAN_FRONTEND=noninteractive apt-get update -q
run_quiet chroot "$CHROOT" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${PACKAGES[@]}"
run_quiet chroot "$CHROOT" apt-get clean

chroot "$CHROOT" swiftc --version >/dev/null 2>&1 || die "swiftc does not run in the chroot"
mkdir -p "$CHROOT/work"
touch "$MARKER"
log "ready: $(chroot "$CHROOT" swiftc --version 2>&1 | head -n1)"
echo "$CHROOT"
