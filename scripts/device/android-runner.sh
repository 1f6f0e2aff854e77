#!/usr/bin/env bash
# Cargo runner for the Android targets (CARGO_TARGET_<TRIPLE>_RUNNER, set by
# scripts/test-on-device.sh): runs one test, bench or binary executable on the device or emulator
# that adb talks to, as `cargo test` would run it here, and exits with its exit status.
#
# On the device, under $STRESSBEAT_DEVICE_ROOT (default /data/local/tmp/stressbeat):
#   bin/      the executable, and the helpers the tests spawn (history-writer)
#   data/     ../shared/data (or $STRESSBEAT_DATA), pushed with --sync: only what changed
#   repo/     models/ and tests/fixtures/ of this repository
#   tmp/      TMPDIR of the run
# and the tests find them through STRESSBEAT_DATA, STRESSBEAT_REPO and STRESSBEAT_HISTORY_WRITER
# (tests/src/lib.rs). CI, PROPTEST_*, RUST_BACKTRACE, RUST_LOG and RUST_TEST_THREADS are passed on.
set -euo pipefail
exe=${1:?usage: android-runner.sh EXECUTABLE [ARGS...]}
shift
repo=$(cd "$(dirname "$0")/../.." && pwd)
adb=${ADB:-adb}
root=${STRESSBEAT_DEVICE_ROOT:-/data/local/tmp/stressbeat}
host_data=${STRESSBEAT_DATA:-$repo/../shared/data}
name=$(basename "$exe")

# `sh` on the device (mksh, toybox) has no arrays: every word goes single-quoted.
quote() { printf "'%s'" "${1//\'/\'\\\'\'}"; }
push() { "$adb" push --sync "$1" "$2" >/dev/null; }

"$adb" shell "mkdir -p $(quote "$root/bin") $(quote "$root/repo/tests") $(quote "$root/tmp")" >/dev/null
push "$exe" "$root/bin/$name"
# cargo puts a package's binaries one level above the test executables (target/<triple>/<profile>/)
writer="$(dirname "$exe")/../history-writer"
if [[ -x $writer ]]; then push "$writer" "$root/bin/history-writer"; fi
if [[ -d $host_data ]]; then push "$host_data/." "$root/data"; fi
push "$repo/models/." "$root/repo/models"
push "$repo/tests/fixtures/." "$root/repo/tests/fixtures"

cmd="cd $(quote "$root") && export STRESSBEAT_DATA=$(quote "$root/data")"
cmd+=" STRESSBEAT_REPO=$(quote "$root/repo") STRESSBEAT_HISTORY_WRITER=$(quote "$root/bin/history-writer")"
cmd+=" TMPDIR=$(quote "$root/tmp")"
for v in CI PROPTEST_RNG_SEED PROPTEST_CASES RUST_BACKTRACE RUST_LOG RUST_TEST_THREADS; do
  if [[ -n ${!v:-} ]]; then cmd+=" $v=$(quote "${!v}")"; fi
done
cmd+=" && $(quote "$root/bin/$name")"
for a in "$@"; do cmd+=" $(quote "$a")"; done
# Each executable (~25 MB) is removed after its run. adb shell returns the remote status only on
# devices with shell protocol v2 (Android 7+): the status travels in a last line instead, which is
# taken off the output.
marker="__stressbeat_exit_status="
cmd+="; s=\$?; rm -f $(quote "$root/bin/$name"); echo $marker\$s"

status_file=$(mktemp)
trap 'rm -f "$status_file"' EXIT
"$adb" shell "$cmd" | awk -v m="$marker" -v f="$status_file" '
  { sub(/\r$/, "") }
  (i = index($0, m)) > 0 {
    if (i > 1) print substr($0, 1, i - 1)
    print substr($0, i + length(m)) > f
    next
  }
  { print; fflush() }'
status=$(cat "$status_file")
if [[ -z $status ]]; then
  echo "android-runner: no exit status from the device (adb lost it?) for $name" >&2
  exit 1
fi
exit "$status"
