"""Screens rhythm-stage and on-time-gate variants on saved out-of-fold network outputs (no
retraining): per fold the stage is refitted on the training records, as `beats.cv` does, so the
shipped variant reproduces its CV exactly. Report only.

python -m beats.stage_screen --data DATASET --logits ../reports/beat-type-cv-v6.logits.npz \
    --out ../reports/beat-type-stage-screen.json
"""

import argparse
import json

import numpy as np
import torch

from . import metrics
from .data import load_beats, record_folds
from .model import RR_COLUMNS, gate_on_time, rhythm_features, split_n_or_s
from .train import TrainConfig, fit_rhythm_regression

GATE = 0.95
ONSET_BELOW = 0.8
PRE_LOCAL, PRE_LONG, PRE_LONGER, IRREGULARITY, ONSET = (
    RR_COLUMNS.index(c) for c in ["pre_local_ratio", "pre_long_ratio", "pre_longer_ratio", "rr_irregularity",
                                  "onset_ratio"])


def quantile_irregularity(rr: np.ndarray, records: np.ndarray, q: float, beats: int = 16) -> np.ndarray:
    """`rr_irregularity` with the q-quantile of the successive differences instead of their median,
    over this and the previous `beats` labelled beats' pre-RRs (the core uses every detected beat)."""
    out = np.zeros(len(rr), np.float32)
    for r in np.unique(records):
        idx = np.flatnonzero(records == r)
        pre = rr[idx, 0]
        for k in range(1, len(idx)):
            w = pre[max(0, k - beats):k + 1]
            out[idx[k]] = np.quantile(np.abs(np.diff(w)), q) / np.median(w)
    return out


def stage_features(rr: np.ndarray, long_min: bool, extra_min: bool = False, regular_below: float = 0.1) -> np.ndarray:
    """The stage's features (v6: `long_min` False, v7: True); `extra_min` adds v7's smaller long
    ratio to v6's features as a fifth column."""
    t = torch.from_numpy(rr)
    x = rhythm_features(t, True, ONSET_BELOW, long_min, regular_below).numpy()
    if extra_min:
        v7 = rhythm_features(t, True, ONSET_BELOW, True, regular_below).numpy()
        x = np.concatenate([x[:, :-1], v7[:, 2:3], x[:, -1:]], axis=1)
    return x


def gate_rr(rr: np.ndarray, rule: str) -> np.ndarray:
    """`rr` with `pre_local_ratio` replaced so that the shipped gate (which reads only that column)
    counts a beat as on time only if it is also on time against the long reference: 'long' always,
    'long_after_onset' after an abrupt onset, 'min_long_after_onset' the same against the smaller
    long ratio. 'local': unchanged (shipped)."""
    if rule == "local":
        return rr
    reference = rr[:, PRE_LONG] if rule != "min_long_after_onset" else np.minimum(rr[:, PRE_LONG], rr[:, PRE_LONGER])
    if rule != "long":
        reference = np.where(rr[:, ONSET] < ONSET_BELOW, reference, np.inf)
    out = rr.copy()
    out[:, PRE_LOCAL] = np.minimum(rr[:, PRE_LOCAL], reference)
    return out


def evaluate(net: np.ndarray, x: np.ndarray, rr_gate: np.ndarray, labels, records, folds, cfg) -> dict:
    """Pooled figures of the stage on features `x` refitted per fold, then the gate."""
    prob = np.zeros_like(net)
    for test_records in folds:
        test = np.isin(records, test_records)
        q = fit_rhythm_regression(x[~test], labels[~test], cfg).predict_proba(x[test])[:, 1:2]
        staged = split_n_or_s(torch.from_numpy(net[test]), torch.from_numpy(q.astype(np.float32)))
        prob[test] = gate_on_time(staged, torch.from_numpy(rr_gate[test]), GATE).numpy()
    pred = prob.argmax(1)
    m = metrics.class_metrics(metrics.confusion(labels, pred))
    s_by_record = {int(r): [int(((pred == 1) & (labels == 1) & (records == r)).sum()),
                            int(((labels == 1) & (records == r)).sum()),
                            int(((pred == 1) & (records == r)).sum())] for r in np.unique(records)}
    return {**{k: m[k] for k in ["S_se", "S_ppv", "V_se", "V_ppv", "N_se"]},
            "accuracy": float((pred == labels).mean()),
            "S_found_reference_called_by_record": s_by_record}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--data", required=True)
    ap.add_argument("--logits", action="append", required=True, help="beats.cv .logits.npz (network logits)")
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    data = load_beats(args.data)
    folds = record_folds(data.records, 11)
    cfg = TrainConfig()
    rr = data.rr
    quartile = rr.copy()
    quartile[:, IRREGULARITY] = quantile_irregularity(rr, data.records, 0.25)
    third = rr.copy()
    third[:, IRREGULARITY] = quantile_irregularity(rr, data.records, 1 / 3)
    stages = {
        "v6 stage": (stage_features(rr, False), "local"),
        "v7 stage (smaller long ratio)": (stage_features(rr, True), "local"),
        "v6 stage + the smaller long ratio as a fifth feature": (stage_features(rr, False, True), "local"),
        "v6 stage, regular below 0.15": (stage_features(rr, False, regular_below=0.15), "local"),
        "v7 stage, regular below 0.15": (stage_features(rr, True, regular_below=0.15), "local"),
        "v7 stage, irregularity = lower quartile, regular below 0.05":
            (stage_features(quartile, True, regular_below=0.05), "local"),
        "v7 stage, irregularity = lower quartile, regular below 0.03":
            (stage_features(quartile, True, regular_below=0.03), "local"),
        "v7 stage, irregularity = 33rd percentile, regular below 0.05":
            (stage_features(third, True, regular_below=0.05), "local"),
        "v7 stage, gate also on time against the 64-beat reference": (stage_features(rr, True), "long"),
        "v7 stage, the same after an abrupt onset only": (stage_features(rr, True), "long_after_onset"),
        "v7 stage, the same against the smaller long ratio": (stage_features(rr, True), "min_long_after_onset"),
    }
    report = {"data": args.data, "gate": GATE, "folds": folds, "runs": {}}
    for path in args.logits:
        d = np.load(path)
        if not np.array_equal(d["labels"], data.labels):
            raise ValueError(f"{path} does not belong to {args.data}")
        net = torch.softmax(torch.from_numpy(d["logits"]), dim=1).numpy()
        report["runs"][path] = {}
        for name, (x, rule) in stages.items():
            r = evaluate(net, x, gate_rr(rr, rule), data.labels, data.records, folds, cfg)
            report["runs"][path][name] = r
            print(f"{path.split('/')[-1]:36s} {name:70s} S {100 * r['S_se']:.1f} / {100 * r['S_ppv']:.1f}  "
                  f"V {100 * r['V_se']:.1f} / {100 * r['V_ppv']:.1f}  acc {100 * r['accuracy']:.2f}", flush=True)
    with open(args.out, "w") as f:
        json.dump(report, f, indent=1)


if __name__ == "__main__":
    main()
