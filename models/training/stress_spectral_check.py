"""Screening check: do respiration-related RR features add anything to heart rate on EEGMAT?

Per 30 s window, from the exported R-peak times (`beat_time_s`): the RSA respiration rate (peak of
the Lomb-Scargle periodogram of the RR series in 0.1-0.7 Hz), log HF power (0.15-0.4 Hz) and
log LF/HF. Reports univariate AUCs (pooled raw, pooled minus the personal baseline, mean within
subject) next to the core's features, and a plain LOSO logistic regression (C = 1, class-balanced)
of HR alone against HR plus the three, without and with the baseline. Not a nested selection: a
screen for whether the features deserve one.

python stress_spectral_check.py --data /work/datasets/stress --out ../reports/stress_spectral_check.json
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
from scipy.signal import lombscargle
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score

import metrics
import stress_data

FREQS_HZ = np.linspace(0.1, 0.7, 61)
NAMES = ["rsa_resp_rate_bpm", "log_hf_power", "log_lf_hf"]


def window_features(t: np.ndarray) -> np.ndarray:
    """The three features of one window's R-peak times (NaN when too few clean intervals)."""
    if len(t) < 9:
        return np.full(3, np.nan)
    rr, tm = np.diff(t), t[1:]
    median = np.median(rr)
    ok = (rr > 0.25) & (rr < 2.0) & (np.abs(rr - median) < 0.3 * median)
    if ok.sum() < 8:
        return np.full(3, np.nan)
    p = lombscargle(tm[ok], (rr[ok] - rr[ok].mean()) * 1000, 2 * np.pi * FREQS_HZ)
    lf, hf = p[FREQS_HZ < 0.15].sum(), p[(FREQS_HZ >= 0.15) & (FREQS_HZ <= 0.4)].sum()
    return np.array([FREQS_HZ[p.argmax()] * 60, np.log(hf + 1e-3), np.log((lf + 1e-3) / (hf + 1e-3))])


def loso(y, subject, X) -> dict:
    """LOSO scores of a standardised, class-balanced logistic regression."""
    s = np.zeros(len(y))
    for subj in np.unique(subject):
        tr, te = subject != subj, subject == subj
        mu, sd = X[tr].mean(0), X[tr].std(0) + 1e-9
        m = LogisticRegression(C=1.0, class_weight="balanced").fit((X[tr] - mu) / sd, y[tr])
        s[te] = m.decision_function((X[te] - mu) / sd)
    return {"balanced_accuracy": round(metrics.balanced_accuracy(y, s > 0), 4), "auc": round(metrics.auc(y, s), 4)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--data", required=True, help="directory written by `stressbeat dataset stress`")
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    data = stress_data.load(args.data)
    extra = np.stack([window_features(np.sort(data.beat_time_s[b])) for b in stress_data.beats_of_windows(data)])
    names = data.feature_names + NAMES
    x = np.c_[data.features, extra]
    base = np.full_like(x, np.nan)
    for s in data.subjects:
        m = data.baseline_mask() & (data.subject == s) & np.isfinite(extra).all(1)
        if m.any():
            base[data.subject == s] = x[m].mean(0)
    ev = data.eval_mask() & np.isfinite(extra).all(1) & np.isfinite(base).all(1)
    y, subj, x, base = data.label[ev], data.subject[ev], x[ev], base[ev]
    univariate = {}
    for j, n in enumerate(names):
        # orientation fixed from the pooled data, so that chance stays at 0.5 within a subject
        sign = 1.0 if roc_auc_score(y, x[:, j]) >= 0.5 else -1.0
        within = [roc_auc_score(y[subj == s], sign * x[subj == s, j]) for s in np.unique(subj)
                  if len(np.unique(y[subj == s])) == 2]
        univariate[n] = {"higher_in_stress": sign > 0,
                         "auc_raw": round(roc_auc_score(y, sign * x[:, j]), 3),
                         "auc_minus_baseline": round(roc_auc_score(y, sign * (x[:, j] - base[:, j])), 3),
                         "auc_within_subject_mean": round(float(np.mean(within)), 3)}
    hr = [names.index("hr_bpm")]
    plus = hr + [names.index(n) for n in NAMES]
    report = {
        "windows": int(ev.sum()), "stress_windows": int(y.sum()), "subjects": int(len(np.unique(subj))),
        "note": "subjects with a personal baseline only; univariate AUCs oriented by the pooled raw direction",
        "univariate": univariate,
        "loso_logistic_regression": {
            "without_baseline": {"hr": loso(y, subj, x[:, hr]), "hr+respiration": loso(y, subj, x[:, plus])},
            "with_baseline": {"hr": loso(y, subj, (x - base)[:, hr]),
                              "hr+respiration": loso(y, subj, (x - base)[:, plus])},
        },
    }
    Path(args.out).write_text(json.dumps(report, indent=1) + "\n")
    print(json.dumps(report["loso_logistic_regression"], indent=1))


if __name__ == "__main__":
    main()
