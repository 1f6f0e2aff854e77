"""AAMI metrics: confusion matrix, per-class sensitivity / positive predictivity, record bootstrap."""

import numpy as np

from .data import LABELS


def confusion(labels: np.ndarray, pred: np.ndarray) -> np.ndarray:
    """5x5 counts, rows = reference class, columns = predicted class."""
    cm = np.zeros((5, 5), dtype=np.int64)
    np.add.at(cm, (labels, pred), 1)
    return cm


def _ratio(num: float, den: float) -> float | None:
    return None if den == 0 else float(num / den)


def class_metrics(cm: np.ndarray) -> dict:
    """Per-class Se and +P (None where undefined), and accuracy, from a confusion matrix."""
    out = {"accuracy": _ratio(np.trace(cm), cm.sum())}
    for k, name in enumerate(LABELS):
        out[f"{name}_se"] = _ratio(cm[k, k], cm[k].sum())
        out[f"{name}_ppv"] = _ratio(cm[k, k], cm[:, k].sum())
    return out


def record_bootstrap(per_record: dict[int, np.ndarray], reps: int = 2000, seed: int = 0) -> dict:
    """95 % percentile CIs of class_metrics, resampling whole records with replacement."""
    rng = np.random.default_rng(seed)
    ids = sorted(per_record)
    stack = np.stack([per_record[r] for r in ids])
    samples: dict[str, list[float]] = {}
    for _ in range(reps):
        cm = stack[rng.integers(0, len(ids), len(ids))].sum(axis=0)
        for key, value in class_metrics(cm).items():
            if value is not None:
                samples.setdefault(key, []).append(value)
    return {k: [float(np.percentile(v, 2.5)), float(np.percentile(v, 97.5))] for k, v in samples.items()}


def per_record_vs(per_record: dict[int, np.ndarray]) -> list[dict]:
    """Per-record V and S counts, sensitivity and positive predictivity."""
    rows = []
    for r in sorted(per_record):
        cm = per_record[r]
        row = {"record": int(r), "beats": int(cm.sum())}
        for k, name in ((2, "V"), (1, "S")):
            row[f"{name}_true"] = int(cm[k].sum())
            row[f"{name}_pred"] = int(cm[:, k].sum())
            row[f"{name}_tp"] = int(cm[k, k])
            row[f"{name}_se"] = _ratio(cm[k, k], cm[k].sum())
            row[f"{name}_ppv"] = _ratio(cm[k, k], cm[:, k].sum())
        rows.append(row)
    return rows


def summary(labels: np.ndarray, pred: np.ndarray, records: np.ndarray, reps: int = 2000) -> dict:
    """Pooled metrics with record-bootstrap CIs, confusion matrix and per-record V/S table."""
    per_record = {int(r): confusion(labels[records == r], pred[records == r]) for r in np.unique(records)}
    cm = sum(per_record.values())
    return {
        "pooled": class_metrics(cm),
        "ci95_record_bootstrap": record_bootstrap(per_record, reps),
        "confusion": {"labels": LABELS, "rows_reference_cols_predicted": cm.tolist()},
        "per_record": per_record_vs(per_record),
    }


def fmt(pooled: dict) -> str:
    """One-line summary for logs."""
    def pct(v):
        return "  -  " if v is None else f"{100 * v:5.1f}"
    return " ".join(f"{n} Se {pct(pooled[f'{n}_se'])} +P {pct(pooled[f'{n}_ppv'])}" for n in LABELS[:4]) + \
        f" acc {pct(pooled['accuracy'])}"
