#!/usr/bin/env bash
# Installs what a fresh Debian 12 machine of this project's kind lacks. Idempotent and fast when
# everything is there. Parts: --rust (toolchain check, system libraries), --bindings (JDK/Maven for
# the Kotlin tests, the Swift chroot), --all (default).
set -euo pipefail
cd "$(dirname "$0")/.."
part=${1:---all}

need_apt=()
have_pkg() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }
want() { for p in "$@"; do have_pkg "$p" || need_apt+=("$p"); done; }

command -v cargo >/dev/null || { echo "setup: cargo not found; install Rust with rustup first" >&2; exit 1; }
want pkg-config libdbus-1-dev   # libdbus-1-dev: btleplug (BlueZ over D-Bus), feature `ble`
case "$part" in
  --rust) ;;
  --bindings|--all)
    command -v mvn >/dev/null || want maven
    command -v javac >/dev/null || want default-jdk-headless
    want debootstrap ;;
  *) echo "usage: setup.sh [--rust|--bindings|--all]" >&2; exit 2 ;;
esac
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "setup: installing ${need_apt[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
fi
if [ "$part" != "--rust" ]; then
  bash scripts/setup-swift-chroot.sh
fi
