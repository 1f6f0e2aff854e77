#!/usr/bin/env bash
# Cargo runner for the iOS simulator targets (CARGO_TARGET_<TRIPLE>_RUNNER, set by
# scripts/test-on-device.sh): runs one test, bench or binary executable in a booted simulator with
# `xcrun simctl spawn`, which exits with its status. A simulator process sees the Mac's files, so
# nothing is copied; the tests' paths go in as SIMCTL_CHILD_* variables (simctl passes each to the
# process without its prefix).
set -euo pipefail
exe=${1:?usage: ios-sim-runner.sh EXECUTABLE [ARGS...]}
shift
repo=$(cd "$(dirname "$0")/../.." && pwd)
export SIMCTL_CHILD_STRESSBEAT_DATA=${STRESSBEAT_DATA:-$repo/../shared/data}
export SIMCTL_CHILD_STRESSBEAT_REPO=$repo
SIMCTL_CHILD_STRESSBEAT_HISTORY_WRITER=$(dirname "$exe")/../history-writer
export SIMCTL_CHILD_STRESSBEAT_HISTORY_WRITER
for v in CI PROPTEST_RNG_SEED PROPTEST_CASES RUST_BACKTRACE RUST_LOG RUST_TEST_THREADS; do
  if [[ -n ${!v:-} ]]; then export "SIMCTL_CHILD_$v=${!v}"; fi
done
exec "${XCRUN:-xcrun}" simctl spawn "${STRESSBEAT_SIMULATOR:-booted}" "$exe" "$@"
