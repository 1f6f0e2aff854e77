"""Screen (report only): the on-time gate lifted for a beat that follows a V call, so that the
later beats of a ventricular run keep a weak V call. Sequential within each record, on the saved
out-of-fold network logits of a `beats.cv` run (its per-fold rhythm stage rebuilds the gate's
input exactly; checked against the run's own predictions).

python -m beats.run_gate_screen --data /tmp/beats --cv ../reports/beat-type-cv-variant-v8-rerun-seed0.json
    (the run's `.logits.npz` beside it, as `beats.cv` writes it)
"""

import argparse
import json
from pathlib import Path

import numpy as np
import torch

from . import metrics
from .data import load_beats, record_folds
from .model import ON_TIME_ABOVE, RR_COLUMNS, gate_on_time, rhythm_features, split_n_or_s


def stage_probabilities(logits: torch.Tensor, rr: torch.Tensor, records: np.ndarray, report: dict) -> torch.Tensor:
    """Out-of-fold probabilities before the gate (network softmax split by each fold's stage)."""
    cfg = report["config"]
    p = torch.zeros(len(records), 5)
    for i, test in enumerate(record_folds(records, len(report["folds"]))):
        m = torch.from_numpy(np.isin(records, test))
        stage = report["fold_rhythm_stage"][i]
        x = rhythm_features(rr[m], cfg["rhythm_regular_only"], cfg["rhythm_onset_below"], cfg["rhythm_long_min"])
        s = torch.sigmoid(x @ torch.tensor(stage[:-1]).unsqueeze(1) + stage[-1])
        p[m] = split_n_or_s(torch.softmax(logits[m], 1), s)
    return p


def run_gate(p: np.ndarray, pre_local: np.ndarray, records: np.ndarray, gate: float, after: int) -> np.ndarray:
    """Classes with the gate (threshold `gate`) lifted within `after` beats of a V call (beats in
    record order)."""
    pred = np.zeros(len(p), np.int64)
    for r in np.unique(records):
        since_v = after + 1
        for i in np.flatnonzero(records == r):
            c = int(p[i].argmax())
            if c in (2, 3) and p[i, c] < gate and pre_local[i] > ON_TIME_ABOVE and since_v > after:
                c = 0
            pred[i] = c
            since_v = 1 if c == 2 else since_v + 1
    return pred


def main() -> None:
    """Prints V Se / +P for the shipped gate and the lifted ones."""
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--data", required=True)
    ap.add_argument("--cv", required=True, help="a beats.cv report with its .logits.npz beside it")
    args = ap.parse_args()
    data = load_beats(args.data)
    report = json.loads(Path(args.cv).read_text())
    saved = np.load(Path(args.cv).with_suffix(".logits.npz"))
    labels = saved["labels"]
    rr = torch.from_numpy(data.rr)
    p = stage_probabilities(torch.from_numpy(saved["logits"]), rr, data.records, report)
    gate = report["config"]["on_time_gate"]
    shipped = gate_on_time(p, rr, gate).numpy().argmax(1)
    agreement = (shipped == saved["probabilities"].argmax(1)).mean()
    assert agreement > 0.999, f"rebuilt gate agrees on {agreement:.4f} of beats only"

    def v(pred):
        m = metrics.class_metrics(metrics.confusion(labels, pred))
        return f"V Se / +P {100 * m['V_se']:.1f} / {100 * m['V_ppv']:.1f}"
    print(f"{args.cv}: shipped gate {v(shipped)}", end="")
    for after in (1, 2):
        print(f"; lifted within {after} beat(s) of a V call {v(run_gate(p.numpy(), data.rr[:, RR_COLUMNS.index('pre_local_ratio')], data.records, gate, after))}", end="")
    print()


if __name__ == "__main__":
    main()
