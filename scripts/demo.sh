#!/usr/bin/env bash
# The main job: build the release CLI, then analyse real recordings from ../shared/data:
# HRV and signal quality of an EEGMAT subject (rest, then mental arithmetic) and the R-peak
# detector's accuracy on all MIT-BIH records. Safe to re-run; the build is incremental.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --rust
cargo build --release --locked -q -p stressbeat-cli
sb=./target/release/stressbeat
data=../shared/data
if [ ! -d "$data/mitdb" ]; then
  echo "demo: $data not found. Put the shared data beside this repository (see README, Data)." >&2
  exit 1
fi
echo "== HRV of EEGMAT Subject 1 at rest ($data/eegmat/Subject01_1.edf)"
"$sb" hrv "$data/eegmat/Subject01_1.edf"
echo
echo "== HRV of the same subject during mental arithmetic ($data/eegmat/Subject01_2.edf)"
"$sb" hrv "$data/eegmat/Subject01_2.edf"
echo
echo "== R-peak detector on the MIT-BIH Arrhythmia Database ($data/mitdb)"
"$sb" eval-peaks "$data/mitdb"
