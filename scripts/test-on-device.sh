#!/usr/bin/env bash
# The core's Rust tests (unit + end-to-end on ../shared/data) on an Android emulator or device, or
# in an iOS simulator: cross-compiled for it, each test executable run there by a cargo runner
# (scripts/device/). See docs/qa-on-device.md.
#
#   scripts/test-on-device.sh android [--abi ABI] [--bench] [-- CARGO_ARGS...]
#   scripts/test-on-device.sh ios-sim [--arch arm64|x86_64] [--bench] [-- CARGO_ARGS...]
#
# ABI: x86_64, arm64-v8a, armeabi-v7a or x86 (default: the device's own, from ro.product.cpu.abi).
# CARGO_ARGS (for `cargo test`) default to `-p stressbeat-core -p stressbeat-e2e --profile ci
# --locked`: `-- -p stressbeat-e2e --test readers_real` picks one test file. --bench runs
# `cargo bench` instead (the core's criterion benches on the phone; default `-p stressbeat-core`).
# adb's device is ANDROID_SERIAL's when several are attached; the simulator is the booted one, or
# STRESSBEAT_SIMULATOR (a UDID or name). With CI set, a missing data set fails instead of skipping.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)

fail() { echo "test-on-device: $*" >&2; exit 2; }
usage() { sed -n '5,14p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }

platform=${1:-}
[[ $platform == android || $platform == ios-sim ]] || usage
shift
abi="" arch="" command=test
while [[ $# -gt 0 ]]; do
  case $1 in
    --abi) abi=${2:?--abi needs a value}; shift 2 ;;
    --bench) command=bench; shift ;;
    --arch) arch=${2:?--arch needs a value}; shift 2 ;;
    --) shift; break ;;
    *) usage ;;
  esac
done
cargo_args=("$@")
if [[ ${#cargo_args[@]} -eq 0 && $command == test ]]; then
  cargo_args=(-p stressbeat-core -p stressbeat-e2e --profile ci --locked)
elif [[ ${#cargo_args[@]} -eq 0 ]]; then
  cargo_args=(-p stressbeat-core --locked)
fi

need_target() {
  rustup target list --installed 2>/dev/null | grep -qx "$1" ||
    fail "the Rust target $1 is not installed: rustup target add $1"
}
runner_var() { # CARGO_TARGET_<TRIPLE>_RUNNER
  local t=${1^^}
  echo "CARGO_TARGET_${t//-/_}_RUNNER"
}

case $platform in
  android)
    adb=${ADB:-$(command -v adb || true)}
    if [[ -z $adb && -n ${ANDROID_HOME:-} ]]; then adb=$ANDROID_HOME/platform-tools/adb; fi
    [[ -n $adb && -x $adb ]] || fail "adb not found: put the Android SDK's platform-tools on PATH or set ADB"
    export ADB=$adb
    state=$("$adb" get-state 2>&1) || fail "no device or emulator ready ($state); start one (emulator -avd NAME) or set ANDROID_SERIAL"
    command -v cargo-ndk >/dev/null || fail "cargo-ndk not found: cargo install cargo-ndk (it finds the NDK through ANDROID_NDK_HOME or the SDK)"
    if [[ -z $abi ]]; then abi=$("$adb" shell getprop ro.product.cpu.abi | tr -d '\r'); fi
    case $abi in
      x86_64) triple=x86_64-linux-android ;;
      arm64-v8a) triple=aarch64-linux-android ;;
      armeabi-v7a) triple=armv7-linux-androideabi ;;
      x86) triple=i686-linux-android ;;
      *) fail "unknown ABI '$abi' (x86_64, arm64-v8a, armeabi-v7a, x86)" ;;
    esac
    need_target "$triple"
    export "$(runner_var "$triple")=$repo/scripts/device/android-runner.sh"
    echo "== cargo $command on $("$adb" shell getprop ro.product.model | tr -d '\r') (Android $("$adb" shell getprop ro.build.version.release | tr -d '\r'), $abi)"
    cargo ndk -t "$abi" "$command" "${cargo_args[@]}"
    ;;
  ios-sim)
    command -v xcrun >/dev/null || fail "xcrun not found: the iOS simulator needs macOS with Xcode"
    xcrun simctl list devices booted | grep -q Booted ||
      [[ -n ${STRESSBEAT_SIMULATOR:-} ]] || fail "no booted simulator: xcrun simctl boot 'iPhone 16' (or set STRESSBEAT_SIMULATOR)"
    arch=${arch:-$(uname -m)}
    case $arch in
      arm64) triple=aarch64-apple-ios-sim ;;
      x86_64) triple=x86_64-apple-ios ;;
      *) fail "unknown simulator architecture '$arch' (arm64, x86_64)" ;;
    esac
    need_target "$triple"
    export "$(runner_var "$triple")=$repo/scripts/device/ios-sim-runner.sh"
    echo "== cargo $command in the iOS simulator ($triple)"
    cargo "$command" --target "$triple" "${cargo_args[@]}"
    ;;
esac
