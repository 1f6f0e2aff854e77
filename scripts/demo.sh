#!/usr/bin/env bash
# The main job: build the release CLI, then run `stressbeat demo` (a simulated Polar H10 with a
# stress episode through the whole monitor: live view, SQLite history, summary, PNG report) and
# list the history. With the shared data beside the repository (../shared/data), also replay a
# real EEGMAT recording (mental arithmetic) calibrated on the same subject at rest.
# Needs nothing beyond the repository; safe to re-run (the build is incremental, the history grows).
# Options are passed to `stressbeat demo` (e.g. --minutes 5, --realtime, --db FILE).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --rust
cargo build --release --locked -q -p stressbeat-cli
sb="${CARGO_TARGET_DIR:-target}/release/stressbeat"
"$sb" demo "$@"
data=../shared/data/eegmat
db=()
for ((i = 1; i <= $#; i++)); do
  if [ "${!i}" = "--db" ]; then j=$((i + 1)); db=(--db "${!j}"); fi
done
if [ -f "$data/Subject03_2.edf" ] && [ -f "$data/Subject03_1.edf" ]; then
  echo
  echo "== Replay of a real recording: EEGMAT subject 3, mental arithmetic, baseline from rest"
  if ! "$sb" replay "$data/Subject03_2.edf" --baseline "$data/Subject03_1.edf" "${db[@]}"; then
    echo "demo: the replay failed (see above); the simulated demo above is complete." >&2
  fi
else
  echo
  echo "(No $data beside the repository: skipping the replay of a real recording.)"
fi
echo
"$sb" history "${db[@]}"
