"""Decision offsets added to the logits, chosen on training records only (inner patient-wise CV)."""

import itertools

import numpy as np

from .data import BeatSet, record_folds
from .metrics import confusion
from .train import TrainConfig, fit, predict_logits

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


def inner_offsets(train: BeatSet, cfg: TrainConfig, n_inner: int, seed: int, log=None) -> np.ndarray:
    """Offsets from out-of-fold logits of an inner record-grouped CV on the training records."""
    logits = np.zeros((len(train.labels), 5), dtype=np.float32)
    for i, test_records in enumerate(record_folds(train.records, n_inner)):
        test = np.isin(train.records, test_records)
        model = fit(train.subset(~test), cfg, seed=seed + 100 + i)
        logits[test] = predict_logits(model, train.subset(test))
        if log:
            log(f"  inner fold {i + 1}/{n_inner} done")
    return best_offsets(logits, train.labels)
