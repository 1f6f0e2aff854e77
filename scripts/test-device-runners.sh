#!/usr/bin/env bash
# Tests of the on-device test runners (scripts/device/, docs/qa-on-device.md) without a device:
# stand-ins for adb and xcrun run the "device" side on this machine (adb's shell in POSIX sh, its
# storage a folder), and the end-to-end tests run there are built from a copy of the repository
# that is deleted first, so a test still reading a path of the source tree fails here as it would
# on a phone. What is not checked here: cross-compiling, and a real adb, emulator or simulator.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)
profile=${PROFILE:-ci}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
failures=0
check() { # check NAME CONDITION...
  local name=$1
  shift
  if "$@"; then echo "ok: $name"; else echo "FAILED: $name" >&2; failures=$((failures + 1)); fi
}

echo "== test executables find their files through the runner's variables"
# Paths baked in at compile time do not exist on a device: the tests ask tests/src/lib.rs
# (data_dir, repo_file), whose fallbacks are the only compile-time paths.
baked=$(grep -rn 'env!("CARGO_MANIFEST_DIR")' tests/tests rust-core/src || true)
check "no test reads a compile-time path of the source tree" test -z "$baked"
[[ -z $baked ]] || echo "$baked" >&2
# a helper executable's compile-time path only as the fallback of a variable read the line before
unnamed=$(awk '/env!\("CARGO_BIN_EXE_/ && prev !~ /STRESSBEAT_/ { print FILENAME ":" FNR }
  { prev = $0 }' tests/tests/*.rs)
check "every spawned helper can be named at run time" test -z "$unnamed"
[[ -z $unnamed ]] || echo "$unnamed" >&2

echo "== stand-ins for adb and xcrun"
mkdir -p "$tmp/bin"
cat >"$tmp/bin/adb" <<'EOF'
#!/usr/bin/env bash
# adb stand-in: the device is this machine; `shell` runs its one command string in POSIX sh.
set -euo pipefail
echo "$*" >>"$FAKE_ADB_LOG"
case $1 in
  get-state) echo device ;;
  push)
    shift
    [[ $1 == --sync ]] && shift
    src=$1 dst=$2
    if [[ $src == */. ]]; then mkdir -p "$dst" && cp -R "$src" "$dst"
    elif [[ -d $dst ]]; then cp -R "$src" "$dst/"
    else cp -R "$src" "$dst"; fi ;;
  shell)
    shift
    case $* in
      "getprop ro.product.cpu.abi") echo x86_64 ;;
      getprop*) echo stand-in ;;
      *) exec sh -c "$*" ;;
    esac ;;
  *) echo "adb stand-in: unsupported: $*" >&2; exit 1 ;;
esac
EOF
cat >"$tmp/bin/xcrun" <<'EOF'
#!/usr/bin/env bash
# xcrun stand-in: `simctl spawn DEVICE EXE ARGS` runs EXE with only the SIMCTL_CHILD_ variables
# (unprefixed), PATH and HOME, as a simulator process gets them.
set -euo pipefail
[[ $1 == simctl && $2 == spawn ]] || { echo "xcrun stand-in: unsupported: $*" >&2; exit 1; }
shift 3
vars=(PATH="$PATH" HOME="$HOME")
while IFS='=' read -r k v; do vars+=("${k#SIMCTL_CHILD_}=$v"); done < <(env | grep '^SIMCTL_CHILD_')
exec env -i "${vars[@]}" "$@"
EOF
chmod +x "$tmp/bin/adb" "$tmp/bin/xcrun"
export ADB=$tmp/bin/adb XCRUN=$tmp/bin/xcrun FAKE_ADB_LOG=$tmp/adb.log
export STRESSBEAT_DEVICE_ROOT=$tmp/device
android=$repo/scripts/device/android-runner.sh
ios=$repo/scripts/device/ios-sim-runner.sh

echo "== arguments, output and exit status cross unchanged"
cat >"$tmp/echo-args" <<'EOF'
#!/bin/sh
for a in "$@"; do printf '[%s]\n' "$a"; done
printf 'no newline at the end'
exit 7
EOF
chmod +x "$tmp/echo-args"
# shellcheck disable=SC2016 # a literal $HOME: it must reach the executable unexpanded
args=("two words" "it's" '$HOME' '"q"' 'a;b' '')
expected=$(printf '[%s]\n' "${args[@]}"; printf 'no newline at the end')
for runner in "$android" "$ios"; do
  status=0
  out=$("$runner" "$tmp/echo-args" "${args[@]}") || status=$?
  check "$(basename "$runner"): arguments and output" test "$out" == "$expected"
  check "$(basename "$runner"): exit status 7" test "$status" -eq 7
done

echo "== end-to-end tests built from a copy of the repository that is then deleted"
mkdir "$tmp/src"
git ls-files -z --cached --others --exclude-standard | (cd "$repo" && xargs -0 cp --parents -t "$tmp/src")
tests=(hrv_neurokit2 model_errors model_real history_crash readers_real)
test_flags=()
for t in "${tests[@]}"; do test_flags+=(--test "$t"); done
(cd "$tmp/src" && CARGO_TARGET_DIR=$repo/target cargo test --profile "$profile" --locked --no-run \
  -p stressbeat-e2e "${test_flags[@]}" --message-format=json) >"$tmp/build.json"
rm -rf "$tmp/src"
executables=$(python3 -c '
import json, sys
for line in open(sys.argv[1]):
    m = json.loads(line)
    if m.get("reason") == "compiler-artifact" and m.get("executable") and m["profile"]["test"]:
        print(m["target"]["name"], m["executable"])' "$tmp/build.json")
check "every chosen test was built" test "$(wc -l <<<"$executables")" -eq "${#tests[@]}"
while read -r name exe; do
  for runner in "$android" "$ios"; do
    [[ $runner == "$ios" && $name == history_crash ]] && continue # one run of the minute-long kill test
    status=0
    "$runner" "$exe" >"$tmp/out" 2>&1 || status=$?
    passed=$(sed -n 's/^test result: ok\. \([0-9]*\) passed.*/\1/p' "$tmp/out")
    check "$(basename "$runner"): $name passes ($passed tests)" test "$status" -eq 0 -a "${passed:-0}" -gt 0
    if [[ $status -ne 0 ]]; then tail -20 "$tmp/out" >&2; fi
  done
done <<<"$executables"
check "the data, models and fixtures were pushed" test -f "$tmp/device/data/mitdb/101.hea" \
  -a -f "$tmp/device/repo/models/stress.onnx" -a -f "$tmp/device/repo/tests/fixtures/hrv_neurokit2.json"
check "each executable is removed from the device after its run" \
  test -z "$(find "$tmp/device/bin" -type f ! -name history-writer)"
check "pushes are --sync" test "$(grep -c '^push ' "$tmp/adb.log")" -eq "$(grep -c '^push --sync ' "$tmp/adb.log")"

exe=$(awk '$1 == "hrv_neurokit2" { print $2 }' <<<"$executables")
status=0
"$android" "$exe" --no-such-option >/dev/null 2>&1 || status=$?
check "a failing test run fails the runner (status $status)" test "$status" -ne 0

echo "== scripts/test-on-device.sh android: cargo ndk gets the runner"
# cargo-ndk and rustup stand-ins: a build for this machine, run with the runner meant for the
# emulator's triple
cat >"$tmp/bin/cargo-ndk" <<'EOF'
#!/usr/bin/env bash
set -euo pipefail
[[ $1 == ndk && $2 == -t && $3 == x86_64 ]] || { echo "cargo-ndk stand-in: unexpected: $*" >&2; exit 1; }
command=$4
shift 4
runner=${CARGO_TARGET_X86_64_LINUX_ANDROID_RUNNER:?the runner of the Android triple is not set}
exec cargo "$command" --config "target.$(rustc -vV | sed -n 's/^host: //p').runner='$runner'" "$@"
EOF
cat >"$tmp/bin/rustup" <<'EOF'
#!/bin/sh
echo x86_64-linux-android
EOF
chmod +x "$tmp/bin/cargo-ndk" "$tmp/bin/rustup"
: >"$FAKE_ADB_LOG"
status=0
PATH=$tmp/bin:$PATH bash scripts/test-on-device.sh android -- -p stressbeat-e2e --profile "$profile" \
  --locked --test hrv_neurokit2 >"$tmp/out" 2>&1 || status=$?
check "the emulator's ABI chosen and the tests run through adb" \
  test "$status" -eq 0 -a "$(grep -c '^shell .*bin/hrv_neurokit2' "$FAKE_ADB_LOG")" -eq 1
if [[ $status -ne 0 ]]; then tail -20 "$tmp/out" >&2; fi

if [[ $failures -gt 0 ]]; then
  echo "test-device-runners: $failures check(s) failed" >&2
  exit 1
fi
echo "== device runners: all checks passed"
