"""Screening check: does scaling the heart-rate rise by the baseline's own variability help?

The shipped model with a personal baseline is "HR more than m bpm above the baseline HR" (m learned).
Its AUC is ~0.93 but its balanced accuracy stops at ~88 %: one margin in bpm does not fit every
person. This screen asks whether a per-person scale fits better. Scores, each with a threshold
learned on the training subjects (leave one subject out, best balanced accuracy on their scored
windows) and applied to the test subject:

- `d_hr`: HR - baseline HR (the shipped model's ranking);
- `rel_hr`: (HR - baseline HR) / baseline HR;
- `z_within`: (HR - baseline HR) / the baseline's beat-to-beat HR spread, HR_b * SDNN_b / meanNN_b
  (computable from the model's existing inputs);
- `z_between`: (HR - baseline HR) / the SD of HR over the baseline's windows (needs the windows).

Subjects without a personal baseline use the training subjects' mean baseline (and mean scales).
Reports pooled BA and AUC with bootstrap CIs over subjects and each score's paired BA / AUC
difference against `d_hr`. The four scores were declared before the first run; the nested pick
among them (an inner LOSO over each fold's training subjects) was added after it.

python stress_baseline_scale_check.py --data /tmp/stress-dataset --out ../reports/stress_baseline_scale_check.json
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

import metrics
import stress_data
from feature_models import paired_difference

SCORES = ["d_hr", "rel_hr", "z_within", "z_between"]
MIN_SCALE_BPM = 0.5  # floor of a scale as declared for the screen (the shipped hr_z uses 1.9)


def baseline_scales(data: stress_data.StressData) -> dict[int, dict[str, float]]:
    """Per subject with a personal baseline: its HR and the two spreads (bpm)."""
    f = data.feature_names
    hr, nn, sdnn = (data.features[:, f.index(k)].astype(np.float64) for k in ("hr_bpm", "mean_nn_ms", "sdnn_ms"))
    bm = data.baseline_mask()
    out = {}
    for s in data.subjects:
        m = bm & (data.subject == s)
        if not m.any():
            continue
        hr_b, nn_b, sdnn_b = hr[m].mean(), nn[m].mean(), sdnn[m].mean()
        out[int(s)] = {
            "hr": hr_b,
            "within": max(hr_b * sdnn_b / nn_b, MIN_SCALE_BPM),
            "between": max(hr[m].std(), MIN_SCALE_BPM),
            "windows": int(m.sum()),
        }
    return out


def score(name: str, hr: np.ndarray, b: dict[str, float]) -> np.ndarray:
    d = hr - b["hr"]
    return {"d_hr": d, "rel_hr": d / b["hr"], "z_within": d / b["within"], "z_between": d / b["between"]}[name]


def population(scales: dict[int, dict[str, float]], subjects) -> dict[str, float]:
    rows = [scales[s] for s in subjects if s in scales]
    return {k: float(np.mean([r[k] for r in rows])) for k in ("hr", "within", "between")}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--data", required=True, help="directory written by `stressbeat dataset stress`")
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    data = stress_data.load(args.data)
    hr = data.features[:, data.feature_names.index("hr_bpm")].astype(np.float64)
    scales = baseline_scales(data)
    ev = data.eval_mask()
    y, subj = data.label[ev], data.subject[ev]
    hr_ev = hr[ev]
    subjects = np.unique(subj)

    def scores_for(name: str, s: int, rows: np.ndarray, train_subjects) -> np.ndarray:
        b = scales.get(s) or population(scales, train_subjects)
        return score(name, hr_ev[rows], b)

    def fold_scores(name: str, test: int, train: list[int]) -> tuple[np.ndarray, float]:
        """The test subject's scores minus the threshold learned on `train`, and that threshold."""
        tr_scores = np.concatenate([scores_for(name, t, np.flatnonzero(subj == t), train) for t in train])
        tr_y = np.concatenate([y[subj == t] for t in train])
        thr = metrics.best_threshold(tr_y, tr_scores)
        return scores_for(name, test, np.flatnonzero(subj == test), train) - thr, thr

    def loso_scores(name: str, among) -> tuple[np.ndarray, list[float]]:
        """Threshold-shifted LOSO scores of `among`'s windows (order of `among`), thresholds."""
        folds = [fold_scores(name, s, [t for t in among if t != s]) for s in among]
        return np.concatenate([f[0] for f in folds]), [f[1] for f in folds]

    order = np.concatenate([np.flatnonzero(subj == s) for s in subjects])
    assert (order == np.arange(len(y))).all(), "windows must be grouped by subject"
    result, pooled = {}, {}
    for name in SCORES:
        out, thresholds = loso_scores(name, [int(s) for s in subjects])
        pooled[name] = out
        summary = metrics.summarize(y, out, out > 0, subj)
        summary["threshold_median"] = float(np.median(thresholds))
        summary["threshold_range"] = [float(np.min(thresholds)), float(np.max(thresholds))]
        result[name] = summary

    # nested: inside each outer fold, an inner LOSO over the training subjects picks the score
    nested, picks = np.zeros(len(y)), {}
    for s in (int(s) for s in subjects):
        train = [int(t) for t in subjects if t != s]
        inner_y = np.concatenate([y[subj == t] for t in train])
        inner_ba = {n: metrics.balanced_accuracy(inner_y, loso_scores(n, train)[0] > 0) for n in SCORES}
        best = max(SCORES, key=lambda n: inner_ba[n])  # ties: the first declared
        picks[str(s)] = best
        nested[subj == s] = fold_scores(best, s, train)[0]
    pooled["nested"] = nested
    result["nested"] = metrics.summarize(y, nested, nested > 0, subj)
    result["nested"]["picks"] = picks
    result["nested"]["pick_counts"] = {n: list(picks.values()).count(n) for n in SCORES}

    ref = pooled["d_hr"]
    for name in SCORES[1:] + ["nested"]:
        s = pooled[name]
        result[name]["minus_d_hr"] = paired_difference(y, subj, s, (s > 0).astype(int), ref, (ref > 0).astype(int))
    report = {
        "what": "LOSO, with a personal baseline: HR rise scaled per person, threshold learned on the training subjects",
        "windows": int(len(y)), "stress_windows": int(y.sum()), "subjects": int(len(subjects)),
        "subjects_with_personal_baseline": len(scales),
        "baseline_scales_bpm": {str(s): {k: round(v, 3) for k, v in r.items()} for s, r in scales.items()},
        "scores": result,
    }
    Path(args.out).write_text(json.dumps(report, indent=2) + "\n")
    for name in SCORES + ["nested"]:
        r = result[name]
        d = r.get("minus_d_hr")
        extra = (f"  vs d_hr: BA {d['balanced_accuracy'] * 100:+.1f} [{d['balanced_accuracy_ci95'][0] * 100:+.1f}, "
                 f"{d['balanced_accuracy_ci95'][1] * 100:+.1f}], AUC {d['auc']:+.3f}") if d else ""
        print(f"{name:10s} BA {r['balanced_accuracy'] * 100:5.1f} AUC {r['auc']:.3f}{extra}")


if __name__ == "__main__":
    main()
