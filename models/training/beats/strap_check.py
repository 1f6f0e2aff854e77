"""Unlabelled sanity check of the beat-type model on a real Polar H10 chest-strap recording with
PVCs (`polar_h10/detectpvc/polar_h10.csv`, 130 Hz, ~10 min; no beat annotations exist).

Per predicted class it reports the rhythm signature (pre-RR over the median RR of the 21 beats
around it; pre + post RR over that median, ~2 for a full compensatory pause) and the morphology
(QRS correlation with the median beat of the beats called N and of those called V).

stressbeat beats ../../../shared/data/polar_h10/detectpvc/polar_h10.csv --json > /tmp/pvc.json
python -m beats.strap_check --beats /tmp/pvc.json \
    --csv ../../../shared/data/polar_h10/detectpvc/polar_h10.csv --out ../reports/beat-type-polar-h10-check.json
"""

import argparse
import json
from pathlib import Path

import numpy as np

PRE, POST = 30, 60  # window around R (samples at 130 Hz)
QRS = slice(20, 50)  # -77 ms .. +154 ms
EARLY_BELOW = 0.8  # pre-RR over the local median RR: an early beat


def corr(a: np.ndarray, b: np.ndarray) -> float:
    a, b = a - a.mean(), b - b.mean()
    return float((a * b).sum() / np.sqrt((a * a).sum() * (b * b).sum()))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--beats", required=True, help="`stressbeat beats PATH --json` output")
    ap.add_argument("--csv", required=True, help="the recording (time,ecg,... in mV)")
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    beats = json.loads(Path(args.beats).read_text())["beats"]
    ecg = np.loadtxt(args.csv, delimiter=",", skiprows=1, usecols=1)
    peak = np.array([b["sample"] for b in beats])
    cls = np.array([b["class"] for b in beats])
    conf = np.array([b["confidence"] for b in beats])
    inner = np.arange(1, len(peak) - 1)
    inner = inner[(peak[inner] >= PRE) & (peak[inner] + POST <= len(ecg))]
    rr = np.diff(peak).astype(float)
    win = np.stack([ecg[p - PRE:p + POST] for p in peak[inner]])
    win -= np.median(win, axis=1, keepdims=True)
    c = cls[inner]
    median_n, median_v = np.median(win[c == "N"], 0), np.median(win[c == "V"], 0)
    local = np.array([np.median(rr[max(0, i - 10):i + 10]) for i in inner])
    pre, post = rr[inner - 1] / local, rr[inner] / local
    corr_n = np.array([corr(w[QRS], median_n[QRS]) for w in win])
    corr_v = np.array([corr(w[QRS], median_v[QRS]) for w in win])
    per_class = {}
    for k in ["N", "S", "V", "F", "Q"]:
        m = c == k
        if not m.any():
            continue
        per_class[k] = {
            "beats": int(m.sum()),
            "median_confidence": round(float(np.median(conf[inner][m])), 3),
            "median_pre_over_local": round(float(np.median(pre[m])), 3),
            "median_pre_plus_post_over_local": round(float(np.median(pre[m] + post[m])), 3),
            "median_qrs_corr_with_n_median": round(float(np.median(corr_n[m])), 3),
            "median_qrs_corr_with_v_median": round(float(np.median(corr_v[m])), 3),
            "closer_to_v_median": int((m & (corr_v > corr_n)).sum()),
            "closer_to_v_median_and_early": int((m & (corr_v > corr_n) & (pre < EARLY_BELOW)).sum()),
        }
    report = {"recording": Path(args.csv).name, "beats": len(beats), "scored_beats": int(len(inner)),
              "class_counts": {k: int((cls == k).sum()) for k in ["N", "S", "V", "F", "Q"]},
              "n_v_median_qrs_corr": round(corr(median_n[QRS], median_v[QRS]), 3), "per_class": per_class}
    Path(args.out).write_text(json.dumps(report, indent=1) + "\n")
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
