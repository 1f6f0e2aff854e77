#!/usr/bin/env bash
# Kotlin/JVM binding tests, end to end: build libstressbeat_core.so, generate the Kotlin bindings
# (library mode), compile them with the tests (Maven + kotlin-maven-plugin) and run JUnit 5 on the
# JVM against the host library through JNA.
#
#   scripts/test-kotlin.sh            # quiet; Maven output only on failure
#   VERBOSE=1 scripts/test-kotlin.sh
#   MVN_OFFLINE=1 scripts/test-kotlin.sh   # after one online run (~/.m2 cache filled)
# Env: PROFILE (debug), STRESSBEAT_DATA (../shared/data; real-data tests skip when absent),
#      MVN_ARGS (extra Maven args, e.g. "-Dtest=AnalyzeRecordingTest#missingFileIsFileNotFound").
set -euo pipefail
cd "$(dirname "$0")/.."
root="$PWD"
PROFILE="${PROFILE:-debug}"
data="${STRESSBEAT_DATA:-$root/../shared/data}"
out="$root/build/bindings"

command -v mvn >/dev/null || { echo "test-kotlin: mvn not found (apt-get install maven)" >&2; exit 1; }
lib="$(PROFILE="$PROFILE" OUT_DIR="$out" scripts/gen-bindings.sh kotlin | tail -n1)"

mvn_flags=(-B -f android/bindings-jvm/pom.xml
    "-Duniffi.generated.dir=$out/kotlin"
    "-Dstressbeat.lib.dir=$(dirname "$lib")"
    "-Dstressbeat.data.dir=$data")
mvn_flags+=(-Dstyle.color=never)
[[ -n "${MVN_OFFLINE:-}" ]] && mvn_flags+=(-o)
[[ -z "${VERBOSE:-}" ]] && mvn_flags+=(-q)
summary() {  # one line from the surefire reports
    python3 - android/bindings-jvm/target/surefire-reports <<'PY' 2>/dev/null || true
import sys, glob, xml.etree.ElementTree as ET
t = f = e = s = 0
for p in glob.glob(sys.argv[1] + "/TEST-*.xml"):
    r = ET.parse(p).getroot()
    t += int(r.get("tests")); f += int(r.get("failures")); e += int(r.get("errors")); s += int(r.get("skipped"))
print(f"test-kotlin: {t - f - e - s} passed, {f + e} failed, {s} skipped")
PY
}
# a failed compile leaves the last run's reports: the summary must not count them
rm -rf android/bindings-jvm/target/surefire-reports
# (sed: strip the ANSI colour codes some plugins print even in batch mode)
# shellcheck disable=SC2086
if ! mvn "${mvn_flags[@]}" ${MVN_ARGS:-} test 2>&1 | sed 's/\x1b\[[0-9;]*m//g'; then
    summary >&2
    echo "test-kotlin: FAILED (reports: android/bindings-jvm/target/surefire-reports)" >&2
    exit 1
fi
line=$(summary)
echo "$line"
if ! [[ "$line" =~ ^test-kotlin:\ ([0-9]+)\ passed && ${BASH_REMATCH[1]} -gt 0 ]]; then
    echo "test-kotlin: FAILED: no test ran" >&2
    exit 1
fi
# Under CI the shared data is always there: a skipped real-data test is a failure.
if [[ -n "${CI:-}" && "$line" =~ [1-9][0-9]*\ skipped ]]; then
    echo "test-kotlin: FAILED: tests skipped under CI (is ../shared/data there?)" >&2
    exit 1
fi
exit 0
