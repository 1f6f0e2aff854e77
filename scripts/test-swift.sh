#!/usr/bin/env bash
# Swift binding tests on Linux, end to end: build libstressbeat_core.so, generate the Swift
# bindings (StressBeatCore.swift + StressBeatCoreFFI.h + .modulemap, library mode), then inside the
# Debian trixie Swift chroot (scripts/setup-swift-chroot.sh) compile the module and the XCTest
# cases with swiftc and run them against the real library. Then the same for the iOS app's
# testable logic: module StressBeatAppLogic (ios/Sources/StressBeatAppLogic, Foundation +
# StressBeatCore only, Swift 6 language mode) and its XCTest runner (ios/Tests/StressBeatAppLogicTests).
#
#   scripts/test-swift.sh                       # quiet: XCTest summary + failures only
#   VERBOSE=1 scripts/test-swift.sh             # full compiler and XCTest output
# Env: PROFILE (debug), STRESSBEAT_DATA (../shared/data; real-data tests skip when absent),
#      SWIFT_CHROOT (/var/cache/stressbeat/swift-chroot). Needs root (chroot).
set -euo pipefail
cd "$(dirname "$0")/.."
root="$PWD"
PROFILE="${PROFILE:-debug}"
data="${STRESSBEAT_DATA:-$root/../shared/data}"
out="$root/build/bindings"
die() { echo "test-swift: $*" >&2; exit 1; }

[[ $EUID -eq 0 ]] || die "must run as root (chroot)"
# Linux XCTest runs only the cases listed in each class's `allTests`: a case missing there would
# silently not run.
for f in ios/Tests/StressBeatCoreTests/*Tests.swift ios/Tests/StressBeatAppLogicTests/*Tests.swift; do
    for t in $(grep -oE 'func test[A-Za-z0-9_]+' "$f" | cut -d' ' -f2); do
        grep -q "(\"$t\"," "$f" || die "$t in $f is not listed in allTests"
    done
done
chroot_dir="$(scripts/setup-swift-chroot.sh | tail -n1)"
lib="$(PROFILE="$PROFILE" OUT_DIR="$out" scripts/gen-bindings.sh swift | tail -n1)"

# Per-run work dir inside the chroot (several runs may share the chroot).
run_rel="work/run-$$"
run="$chroot_dir/$run_rel"
proc_mounted=0
cleanup() {
    [[ $proc_mounted -eq 1 ]] && { umount "$chroot_dir/proc" 2>/dev/null || umount -l "$chroot_dir/proc" || true; }
    rm -rf "${run:?}"
}
trap cleanup EXIT
rm -rf "$run"; mkdir -p "$run"/{gen,lib,tests,applogic,apptests,app,out,data/mitdb}
cp "$out"/swift/* "$run/gen/"
cp "$lib" "$run/lib/"
cp ios/Tests/StressBeatCoreTests/*.swift "$run/tests/"
cp ios/Sources/StressBeatAppLogic/*.swift "$run/applogic/"
cp ios/Tests/StressBeatAppLogicTests/*.swift "$run/apptests/"
find ios/App -name '*.swift' -exec cp {} "$run/app/" \;
# Only the record files the tests read (the data itself never enters the repo).
if [[ -f "$data/mitdb/101.hea" ]]; then
    cp "$data"/mitdb/101.{hea,dat,atr} "$run/data/mitdb/" 2>/dev/null || cp "$data"/mitdb/101.{hea,dat} "$run/data/mitdb/"
else
    echo "test-swift: no real data at $data; real-recording tests will be skipped" >&2
fi
# The Polar H10 capture and RR log the bridge tests replay (copies; absent → those tests skip).
for f in polar_h10/pmd_capture/hr_data_2023-01-13_11-40-07.bin \
         polar_h10/rr_log/polar_rri_20260623_001651.csv; do
    if [[ -f "$data/$f" ]]; then mkdir -p "$run/data/$(dirname "$f")"; cp "$data/$f" "$run/data/$f"; fi
done
if ! mountpoint -q "$chroot_dir/proc"; then mount -t proc proc "$chroot_dir/proc"; proc_mounted=1; fi

# Inside the chroot: 1) the StressBeatCore module (generated Swift over the C FFI module),
# 2) the XCTest runner importing it, 3) the StressBeatAppLogic module importing StressBeatCore,
# 4) its XCTest runner, 5) a syntax check of the app shell (ios/App: SwiftUI and CoreBluetooth do
# not exist on Linux, so it is parsed, not type-checked), 6) run both runners (each prints its
# own XCTest summary).
cat > "$run/build-and-test.sh" <<'INNER'
set -euo pipefail
cd "$(dirname "$0")"
ffi=(-I gen -Xcc -fmodule-map-file=gen/StressBeatCoreFFI.modulemap)
swiftc -parse-as-library -module-name StressBeatCore -emit-library -emit-module \
    -emit-module-path out/StressBeatCore.swiftmodule -o out/libStressBeatCore.so \
    "${ffi[@]}" gen/StressBeatCore.swift -L lib -lstressbeat_core -Xlinker -rpath -Xlinker '$ORIGIN/../lib' \
    >out/compile.log 2>&1 || { cat out/compile.log; echo "swiftc failed: StressBeatCore module" >&2; exit 3; }
swiftc -module-name StressBeatCoreTests -I out "${ffi[@]}" tests/*.swift -o out/run-tests \
    -L out -lStressBeatCore -L lib -lstressbeat_core -Xlinker -rpath -Xlinker '$ORIGIN' -Xlinker -rpath -Xlinker '$ORIGIN/../lib' \
    >>out/compile.log 2>&1 || { cat out/compile.log; echo "swiftc failed: tests" >&2; exit 3; }
swiftc -parse-as-library -swift-version 6 -module-name StressBeatAppLogic -emit-library -emit-module \
    -emit-module-path out/StressBeatAppLogic.swiftmodule -o out/libStressBeatAppLogic.so \
    -I out "${ffi[@]}" applogic/*.swift -L out -lStressBeatCore -L lib -lstressbeat_core \
    -Xlinker -rpath -Xlinker '$ORIGIN' -Xlinker -rpath -Xlinker '$ORIGIN/../lib' \
    >>out/compile.log 2>&1 || { cat out/compile.log; echo "swiftc failed: StressBeatAppLogic module" >&2; exit 3; }
swiftc -module-name StressBeatAppLogicTests -I out "${ffi[@]}" apptests/*.swift -o out/run-app-tests \
    -L out -lStressBeatAppLogic -lStressBeatCore -L lib -lstressbeat_core \
    -Xlinker -rpath -Xlinker '$ORIGIN' -Xlinker -rpath -Xlinker '$ORIGIN/../lib' \
    >>out/compile.log 2>&1 || { cat out/compile.log; echo "swiftc failed: app logic tests" >&2; exit 3; }
swiftc -parse app/*.swift >>out/compile.log 2>&1 \
    || { cat out/compile.log; echo "swiftc failed: syntax of the app shell (ios/App)" >&2; exit 3; }
[[ -n "${VERBOSE:-}" ]] && cat out/compile.log
rc=0
out/run-tests || rc=$?
out/run-app-tests || rc=$?
exit $rc
INNER

log="$root/build/test-swift.log"; mkdir -p "$(dirname "$log")"
set +e
chroot "$chroot_dir" /usr/bin/env -i PATH=/usr/local/bin:/usr/bin:/bin HOME=/root TMPDIR=/tmp LANG=C.UTF-8 \
    VERBOSE="${VERBOSE:-}" STRESSBEAT_DATA="/$run_rel/data" \
    /bin/bash "/$run_rel/build-and-test.sh" >"$log" 2>&1
rc=$?
set -e
if [[ -n "${VERBOSE:-}" ]]; then cat "$log"
else grep -E "error|failed|skipped" "$log" | grep -vE "^Test Suite|' passed|Executed" | sed -n '1,60p' || true
     # the last "Executed" line of each runner (its "All tests" suite)
     awk 'prev ~ /^Test Suite .(Selected tests|All tests)/ && /Executed/ {print} {prev=$0}' "$log" \
         | sed 's/^[[:space:]]*/XCTest: /' || true; fi
# Closing summary line, counted per test case.
count() { grep -cE "^Test Case '[^']+' $1 " "$log" || true; }
p=$(count passed); f=$(count failed); s=$(count skipped)
if [[ $rc -ne 0 || $((p + f + s)) -eq 0 ]]; then
    [[ -z "${VERBOSE:-}" && $((p + f + s)) -eq 0 ]] && tail -n 40 "$log" >&2
    echo "test-swift: $p passed, $f failed, $s skipped" >&2
    die "FAILED (exit $rc; full log: $log)"
fi
echo "test-swift: $p passed, $f failed, $s skipped"
# Under CI the shared data is always there: a skipped real-data test is a failure.
if [[ -n "${CI:-}" && $s -gt 0 ]]; then die "FAILED: tests skipped under CI (is ../shared/data there?)"; fi
