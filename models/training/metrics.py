"""Window-level metrics pooled over LOSO folds, with 95 % CIs by bootstrap over subjects."""
from __future__ import annotations

import numpy as np
from sklearn.metrics import roc_auc_score

N_BOOT = 2000


def balanced_accuracy(y: np.ndarray, pred: np.ndarray) -> float:
    """Mean of the per-class recalls."""
    return float(np.mean([np.mean(pred[y == c] == c) for c in (0, 1) if np.any(y == c)]))


def auc(y: np.ndarray, score: np.ndarray) -> float:
    return float(roc_auc_score(y, score)) if len(np.unique(y)) == 2 else float("nan")


def summarize(y: np.ndarray, score: np.ndarray, pred: np.ndarray, subject: np.ndarray,
              seed: int = 0) -> dict:
    """Pooled balanced accuracy and AUC with bootstrap CIs, and the per-subject spread."""
    y, score, pred, subject = map(np.asarray, (y, score, pred, subject))
    subs = np.unique(subject)
    idx = {s: np.flatnonzero(subject == s) for s in subs}
    rng = np.random.default_rng(seed)
    boot_ba, boot_auc = [], []
    for _ in range(N_BOOT):
        rows = np.concatenate([idx[s] for s in rng.choice(subs, len(subs))])
        boot_ba.append(balanced_accuracy(y[rows], pred[rows]))
        boot_auc.append(auc(y[rows], score[rows]))
    per_subject = [balanced_accuracy(y[idx[s]], pred[idx[s]]) for s in subs]
    return {
        "balanced_accuracy": balanced_accuracy(y, pred),
        "balanced_accuracy_ci95": [float(np.nanpercentile(boot_ba, 2.5)), float(np.nanpercentile(boot_ba, 97.5))],
        "auc": auc(y, score),
        "auc_ci95": [float(np.nanpercentile(boot_auc, 2.5)), float(np.nanpercentile(boot_auc, 97.5))],
        "per_subject_balanced_accuracy": {
            "mean": float(np.mean(per_subject)), "sd": float(np.std(per_subject)),
            "min": float(np.min(per_subject)), "median": float(np.median(per_subject)),
            "max": float(np.max(per_subject)),
            "subjects_below_0.7": int(np.sum(np.array(per_subject) < 0.7)),
        },
        "windows": int(len(y)), "stress_windows": int(np.sum(y == 1)), "subjects": int(len(subs)),
    }


def best_threshold(y: np.ndarray, score: np.ndarray) -> float:
    """Threshold on `score` maximising balanced accuracy (midpoint between neighbours)."""
    s = np.unique(score)
    cands = np.concatenate([[s[0] - 1.0], (s[:-1] + s[1:]) / 2, [s[-1] + 1.0]])
    if len(cands) > 400:
        cands = np.quantile(score, np.linspace(0, 1, 401))
    above = score[None, :] > cands[:, None]  # [thresholds, windows]
    recalls = [(above[:, y == 1].mean(1) if c == 1 else (~above[:, y == 0]).mean(1))
               for c in (0, 1) if np.any(y == c)]
    bas = np.mean(recalls, axis=0)  # balanced_accuracy of every threshold at once
    return float(cands[int(np.argmax(bas))])
