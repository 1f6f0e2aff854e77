"""EXPERIMENT (not the shipped contract): what a per-person reference would add.

Writes a copy of the beat export with a second beat channel, the causal running template (the
element-wise median of the previous 16 exported windows of the same record), and one more RR
feature, `pre_long_ratio` (pre-RR over the median of it and the previous 64 pre-RRs). BeatNet
then sees the beat and beat minus template. Rows are consecutive labelled beats, so "previous"
skips the few unmatched detections; the core would have to compute the same on its own peaks.

python -m beats.template_experiment --data /work/datasets/beats --out /tmp/beats-template
python -m beats.cv --data /tmp/beats-template --no-onnx --config '{"epochs": 8}' \
    --out ../reports/beat-type-cv-template-experiment.json
"""

import argparse
import json
from pathlib import Path

import numpy as np

TEMPLATE_BEATS = 16
LONG_RR_BEATS = 64


def main() -> None:
    """Builds the augmented copy of the export."""
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--data", required=True)
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    src, dst = Path(args.data), Path(args.out)
    dst.mkdir(parents=True, exist_ok=True)
    beats = np.load(src / "beats.npy")
    rr = np.load(src / "rr.npy")
    records = np.load(src / "records.npy")
    template = np.zeros_like(beats)
    long_ratio = np.zeros((len(rr), 1), np.float32)
    for record in np.unique(records):
        rows = np.flatnonzero(records == record)
        for j, row in enumerate(rows):
            previous = rows[max(0, j - TEMPLATE_BEATS):j] if j > 0 else rows[:1]
            template[row] = np.median(beats[previous], axis=0)
            long_ratio[row, 0] = rr[row, 0] / np.median(rr[rows[max(0, j - LONG_RR_BEATS):j + 1], 0])
    np.save(dst / "beats.npy", np.concatenate([beats, template], axis=1).astype(np.float32))
    np.save(dst / "rr.npy", np.hstack([rr, long_ratio]).astype(np.float32))
    for name in ("labels.npy", "records.npy"):
        np.save(dst / name, np.load(src / name))
    meta = json.loads((src / "meta.json").read_text())
    meta["beat"]["rr_features"] = list(meta["beat"]["rr_features"]) + ["pre_long_ratio"]
    meta["experiment"] = "channel 2 = running median template of the previous 16 beats"
    (dst / "meta.json").write_text(json.dumps(meta, indent=1))


if __name__ == "__main__":
    main()
