"""Unlabelled check of the beat-type model on healthy people: how many beats it calls S or V in
recordings of young healthy adults at rest, doing mental arithmetic (EEGMAT, 26 subjects) and in a
stress test (BioPsyKit Vp01, Vp02). No beat annotations exist; healthy hearts have few ectopic
beats, so the counts are an upper bound on false calls, and a run of S calls while the heart
rate rises is the failure this check exists for.

for f in ../../../shared/data/eegmat/Subject*_[12].edf; do
    stressbeat beats $f --json > /tmp/healthy/$(basename $f .edf).json; done
for v in Vp01 Vp02; do stressbeat beats ../../../shared/data/biopsykit/ecg_sample_$v.csv --unit uV \
    --json > /tmp/healthy/$v.json; done
python -m beats.healthy_check --beats shipped=/tmp/healthy [--beats v4=/tmp/healthy-v4] \
    --out ../reports/beat-type-healthy-check.json
"""

import argparse
import json
from collections import Counter
from pathlib import Path

# a run: at least this many S calls within RUN_WINDOW consecutive beats
RUN_CALLS, RUN_WINDOW = 5, 10


def summarise(directory: Path) -> dict:
    """Class counts per recording and in total, and the S calls that come in runs."""
    per_recording = {}
    total: Counter = Counter()
    for path in sorted(directory.glob("*.json")):
        beats = json.loads(path.read_text())["beats"]
        classes = [b["class"] for b in beats]
        counts = Counter(classes)
        is_s = [c == "S" for c in classes]
        in_run = sum(1 for i in range(len(is_s))
                     if is_s[i] and any(sum(is_s[j:j + RUN_WINDOW]) >= RUN_CALLS
                                        for j in range(max(0, i - RUN_WINDOW + 1), i + 1)))
        per_recording[path.stem] = {"beats": len(beats), **{k: counts.get(k, 0) for k in "NSVFQ"},
                                    "S_in_runs": in_run}
        total.update(counts)
        total["beats"] += len(beats)
        total["S_in_runs"] += in_run
    return {"recordings": len(per_recording), "total": dict(total), "per_recording": per_recording}


def main() -> None:
    """Writes the report."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--beats", action="append", required=True, metavar="NAME=DIR",
                    help="a model's `stressbeat beats --json` outputs, one file per recording")
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    report = {"runs": f"S calls with at least {RUN_CALLS} S calls among {RUN_WINDOW} consecutive beats",
              "models": {}}
    for item in args.beats:
        name, directory = item.split("=", 1)
        report["models"][name] = summarise(Path(directory))
        t = report["models"][name]["total"]
        print(f"{name}: {t['beats']} beats, S {t.get('S', 0)} ({t['S_in_runs']} in runs), V {t.get('V', 0)}")
    Path(args.out).write_text(json.dumps(report, indent=1) + "\n")


if __name__ == "__main__":
    main()
