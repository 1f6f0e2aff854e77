"""Screens against the false V calls on saved out-of-fold outputs (no retraining): a signal-quality
gate, the on-time gate with its threshold chosen per test fold on the other folds, and the mean of
several seeds' probabilities. Report only; nothing here is shipped.

python -m beats.false_v_screen --data DATASET --cv ../reports/beat-type-cv.json \
    --logits ../reports/beat-type-cv.logits.npz [--logits SEED100.logits.npz ...] --out REPORT.json
"""

import argparse
import json
from pathlib import Path

import numpy as np
import torch

from . import metrics
from .model import ON_TIME_ABOVE, gate_on_time

V, F = 2, 3
TAUS = [0.0, 0.6, 0.7, 0.8, 0.9, 0.95]  # 0: no gate
QUALITY_USABLE = 0.5


def v_figures(labels: np.ndarray, pred: np.ndarray) -> dict:
    m = metrics.class_metrics(metrics.confusion(labels, pred))
    return {"V_se": m["V_se"], "V_ppv": m["V_ppv"], "N_se": m["N_se"], "F_calls": int((pred == F).sum())}


def on_time_gate(prob: np.ndarray, rr: np.ndarray, tau: float) -> np.ndarray:
    """The classes the shipped on-time gate (`model.gate_on_time`) would give at threshold `tau`."""
    return gate_on_time(torch.from_numpy(prob), torch.from_numpy(rr), tau).numpy().argmax(1)


def v_criterion(labels: np.ndarray, pred: np.ndarray, rule: str) -> float:
    cm = metrics.confusion(labels, pred)
    se = cm[V, V] / max(cm[V].sum(), 1)
    ppv = cm[V, V] / max(cm[:, V].sum(), 1)
    return min(se, ppv) if rule == "min" else 2 * se * ppv / max(se + ppv, 1e-12)


def nested_gate(prob, rr, labels, records, folds, rule: str) -> dict:
    """Per test fold, the tau that maximises `rule` on the other folds' outputs."""
    by_tau = {t: on_time_gate(prob, rr, t) for t in TAUS}
    pred = np.zeros_like(labels)
    chosen = []
    for test_records in folds:
        test = np.isin(records, test_records)
        tau = max(TAUS, key=lambda t: v_criterion(labels[~test], by_tau[t][~test], rule))
        chosen.append(tau)
        pred[test] = by_tau[tau][test]
    return {"rule": rule, "tau_per_fold": chosen, **v_figures(labels, pred)}


def quality_gate(prob, labels, quality) -> dict:
    pred = prob.argmax(1)
    low = quality < QUALITY_USABLE
    false_v, true_v = (pred == V) & (labels != V), (pred == V) & (labels == V)
    return {"usable_below": QUALITY_USABLE, "beats_fraction_below": float(low.mean()),
            "false_v_below": int(false_v[low].sum()), "false_v": int(false_v.sum()),
            "true_v_below": int(true_v[low].sum()), "true_v": int(true_v.sum())}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", required=True, help="`stressbeat dataset beats` output (with quality.npy)")
    ap.add_argument("--cv", required=True, help="the beats.cv report (for its folds)")
    ap.add_argument("--logits", action="append", required=True, help="beats.cv .logits.npz, one per seed")
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    data = Path(args.data)
    labels = np.load(data / "labels.npy")
    records = np.load(data / "records.npy")
    rr = np.load(data / "rr.npy")
    quality = np.load(data / "quality.npy")
    folds = json.loads(Path(args.cv).read_text())["folds"]
    runs = [np.load(f) for f in args.logits]
    for run in runs:
        if not (run["labels"] == labels).all():
            raise SystemExit("the logits do not belong to this data set")
    report = {"data": str(data), "logits": args.logits, "on_time_ratio": ON_TIME_ABOVE, "taus": TAUS,
              "per_seed": []}
    for path, run in zip(args.logits, runs):
        prob = run["probabilities"]
        report["per_seed"].append({
            "logits": path,
            "ungated": v_figures(labels, prob.argmax(1)),
            "quality_gate": quality_gate(prob, labels, quality),
            "on_time_gate_nested": [nested_gate(prob, rr, labels, records, folds, r) for r in ("f1", "min")],
        })
    if len(runs) > 1:
        mean = np.mean([r["probabilities"] for r in runs], axis=0)
        report["seed_mean"] = v_figures(labels, mean.argmax(1))
        pooled = metrics.class_metrics(metrics.confusion(labels, mean.argmax(1)))
        report["seed_mean"].update({"S_se": pooled["S_se"], "S_ppv": pooled["S_ppv"]})
    Path(args.out).write_text(json.dumps(report, indent=1))
    print(json.dumps(report, indent=1)[:3000])


if __name__ == "__main__":
    main()
