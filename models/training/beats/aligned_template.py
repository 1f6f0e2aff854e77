"""Variant prototype (not shipped): shift each beat's template channel by the sub-sample offset
(within ±2 samples, steps of 0.25, linear interpolation, edges held) that best matches the beat
over the QRS (-8 .. +12 samples around the R-peak, least squares), so that the beat - template
channel carries no residual from 130 Hz sampling phase. Writes a copy of the exported set with
the labelled and the extra detections' templates replaced.

python -m beats.aligned_template --data /tmp/beats --out /tmp/beats-aligned
"""

import argparse
import json
import shutil
from pathlib import Path

import numpy as np

MAX_SHIFT = 2.0
STEP = 0.25
QRS = (-8, 12)


def align_templates(beats: np.ndarray, pre: int) -> np.ndarray:
    """`beats` [n, 2, L] (window, template) with each template shifted to its window."""
    window, template = beats[:, 0], beats[:, 1]
    length = template.shape[1]
    idx = np.arange(length, dtype=np.float32)
    qrs = slice(pre + QRS[0], pre + QRS[1])
    best = np.full(len(template), np.inf, np.float32)
    aligned = template.copy()
    for shift in np.arange(-MAX_SHIFT, MAX_SHIFT + 1e-6, STEP):
        pos = np.clip(idx - shift, 0, length - 1)
        lo = np.minimum(np.floor(pos).astype(int), length - 2)
        frac = (pos - lo).astype(np.float32)
        moved = template[:, lo] * (1 - frac) + template[:, lo + 1] * frac
        cost = ((window[:, qrs] - moved[:, qrs]) ** 2).sum(1)
        better = cost < best
        best[better] = cost[better]
        aligned[better] = moved[better]
    out = beats.copy()
    out[:, 1] = aligned
    return out


def main() -> None:
    """Copies the data set with aligned templates."""
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--data", required=True, help="directory written by `stressbeat dataset beats`")
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    src, dst = Path(args.data), Path(args.out)
    shutil.copytree(src, dst, dirs_exist_ok=True)
    pre = json.loads((src / "meta.json").read_text())["beat"]["pre"]
    for name in ("beats.npy", "extra_beats.npy"):
        if (src / name).exists():
            np.save(dst / name, align_templates(np.load(src / name).astype(np.float32), pre))


if __name__ == "__main__":
    main()
