"""Decision offsets added to the log-probabilities, chosen on training records only (inner
patient-wise CV): either maximising the mean F1 of N, S and V, or the smallest S offset that
reaches a target S sensitivity."""

import itertools

import numpy as np

from .data import BeatSet, record_folds
from .metrics import confusion
from .train import TrainConfig, fit, predict_probabilities

GRID = np.arange(-2.0, 3.01, 0.25)


def _f1(cm: np.ndarray, k: int) -> float:
    tp = cm[k, k]
    den = cm[k].sum() + cm[:, k].sum()
    return 0.0 if den == 0 else 2.0 * tp / den


def best_offsets(logits: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """S and V offsets (grid) maximising mean F1 over N, S and V on the given out-of-fold logits."""
    best, best_score = np.zeros(5, dtype=np.float32), -1.0
    for s, v in itertools.product(GRID, GRID):
        offset = np.array([0.0, s, v, 0.0, 0.0], dtype=np.float32)
        cm = confusion(labels, (logits + offset).argmax(1))
        score = (_f1(cm, 0) + _f1(cm, 1) + _f1(cm, 2)) / 3.0
        if score > best_score + 1e-9:
            best, best_score = offset, score
    return best


def s_offset_for_sensitivity(log_p: np.ndarray, labels: np.ndarray, target: float) -> np.ndarray:
    """The smallest S offset (grid 0…3) whose S sensitivity on these outputs reaches `target`
    (the largest if none does)."""
    s_grid = GRID[GRID >= 0]
    for s in s_grid:
        offset = np.array([0.0, s, 0.0, 0.0, 0.0], dtype=np.float32)
        pred = (log_p + offset).argmax(1)
        if ((pred == 1) & (labels == 1)).sum() >= target * (labels == 1).sum():
            return offset
    return np.array([0.0, s_grid[-1], 0.0, 0.0, 0.0], dtype=np.float32)


def inner_offsets(train: BeatSet, cfg: TrainConfig, n_inner: int, seed: int, log=None) -> np.ndarray:
    """Offsets from out-of-fold outputs of an inner record-grouped CV on the training records
    (`cfg.s_target_sensitivity` set: the S offset for that sensitivity, else the best mean F1)."""
    log_p = np.zeros((len(train.labels), 5), dtype=np.float32)
    for i, test_records in enumerate(record_folds(train.records, n_inner)):
        test = np.isin(train.records, test_records)
        model = fit(train.subset(~test), cfg, seed=seed + 100 + i)
        log_p[test] = np.log(np.maximum(predict_probabilities(model, train.subset(test)), 1e-12))
        if log:
            log(f"  inner fold {i + 1}/{n_inner} done")
    if cfg.s_target_sensitivity is not None:
        return s_offset_for_sensitivity(log_p, train.labels, cfg.s_target_sensitivity)
    return best_offsets(log_p, train.labels)
