"""Off-DS1 checks of final models trained with variant recipes, one row per model: the real
chest-strap PVC recording (`beats.strap_check` output), the real H10 workout (`stressbeat beats
--json` output) and the 50 external patients (`beats.external` output). Report only.

Each DIR holds `strap.json`, `workout.json` and `external.json` of one model (see the beat-type
card, "Alignment augmentations", for the commands); without `external.json` (a model trained on
some of those patients) the external figures are null.

python -m beats.variant_check --model v8-seed0=DIR ... --out ../reports/beat-type-variant-check.json
"""

import argparse
import json
from collections import Counter
from pathlib import Path

import numpy as np


def on_time(beats: list[dict], cls: str) -> int:
    """Beats called `cls` whose pre-RR is within 15 % of the median of the ten before it (the
    workout's likely false calls; the beat-type card, "Exercise on a real Polar H10")."""
    samples = [b["sample"] for b in beats]
    count = 0
    for i in range(11, len(beats)):
        if beats[i]["class"] == cls:
            level = float(np.median(np.diff(samples[i - 11:i])))
            count += abs(samples[i] - samples[i - 1] - level) <= 0.15 * level
    return count


def summarise(directory: Path) -> dict:
    """The figures of one model directory."""
    strap = json.loads((directory / "strap.json").read_text())
    workout_beats = json.loads((directory / "workout.json").read_text())["beats"]
    workout = Counter(b["class"] for b in workout_beats)
    external_path = directory / "external.json"
    external = json.loads(external_path.read_text())["all"]["pooled"] if external_path.exists() else None
    return {
        "strap_pvc_recording": {
            "v_calls": strap["class_counts"]["V"],
            "n_calls_early_and_closer_to_v_median": strap["per_class"]["N"]["closer_to_v_median_and_early"],
            "v_median_confidence": strap["per_class"]["V"]["median_confidence"],
        },
        "workout": {k: workout.get(k, 0) for k in ("N", "S", "V", "F", "Q")},
        "workout_on_time": {k: on_time(workout_beats, k) for k in ("V", "F")},
        "external_qtdb": None if external is None else {k: round(external[k], 4)
                                                         for k in ("V_se", "V_ppv", "S_se", "S_ppv")},
    }


def main() -> None:
    """Writes the summary JSON and prints one line per model."""
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--model", action="append", required=True, metavar="NAME=DIR")
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    rows = {name: summarise(Path(d)) for name, d in (m.split("=", 1) for m in args.model)}
    Path(args.out).write_text(json.dumps({"models": rows}, indent=1) + "\n")
    for name, r in rows.items():
        s, w, e = r["strap_pvc_recording"], r["workout"], r["external_qtdb"]
        external = "not scored" if e is None else f"{100 * e['V_se']:.1f}/{100 * e['V_ppv']:.1f}"
        print(f"{name}: strap V {s['v_calls']} (PVC-like N {s['n_calls_early_and_closer_to_v_median']}), "
              f"workout V {w['V']} F {w['F']}, external V Se/+P {external}")


if __name__ == "__main__":
    main()
