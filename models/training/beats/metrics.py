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


def ec57_metrics(cm: np.ndarray) -> dict:
    """VEB and SVEB Se / +P counted as WFDB `bxb` counts them (ANSI/AAMI EC57).

    `cm` is 6x6: rows N S V F Q and O (a detection matching no reference beat), columns N S V F Q
    and o (a reference beat with no classified detection). F or Q beats called V, and Q beats
    called S, are not false positives; missed V (S) beats are false negatives.
    """
    n, s, v, f, _, o = range(6)
    return {
        "V_se": _ratio(cm[v, v], cm[v].sum()),
        "V_ppv": _ratio(cm[v, v], cm[v, v] + cm[n, v] + cm[s, v] + cm[o, v]),
        "S_se": _ratio(cm[s, s], cm[s].sum()),
        "S_ppv": _ratio(cm[s, s], cm[s, s] + cm[n, s] + cm[v, s] + cm[f, s] + cm[o, s]),
    }


def ec57_confusion(cm: np.ndarray, extra_pred: np.ndarray, missed: np.ndarray) -> np.ndarray:
    """The 6x6 `bxb` matrix from a 5x5 confusion, the classes called for extra detections and
    the per-class counts of missed reference beats."""
    out = np.zeros((6, 6), np.int64)
    out[:5, :5] = cm
    out[5, :5] = np.bincount(extra_pred, minlength=5)[:5]
    out[:5, 5] = missed
    return out


def record_bootstrap(per_record: dict[int, np.ndarray], reps: int = 2000, seed: int = 0,
                     metrics=class_metrics) -> dict:
    """95 % percentile CIs of `metrics`, resampling whole records with replacement."""
    rng = np.random.default_rng(seed)
    ids = sorted(per_record)
    stack = np.stack([per_record[r] for r in ids])
    samples: dict[str, list[float]] = {}
    for _ in range(reps):
        cm = stack[rng.integers(0, len(ids), len(ids))].sum(axis=0)
        for key, value in metrics(cm).items():
            if value is not None:
                samples.setdefault(key, []).append(value)
    return {k: [float(np.percentile(v, 2.5)), float(np.percentile(v, 97.5))] for k, v in samples.items()}


def summary(labels: np.ndarray, pred: np.ndarray, records: np.ndarray, reps: int = 2000,
            extra_pred: np.ndarray | None = None, extra_records: np.ndarray | None = None,
            missed: dict[int, np.ndarray] | None = None) -> dict:
    """Pooled metrics with record-bootstrap CIs, confusion matrix and per-record V/S table; with
    the extra detections' predictions and the missed reference beats, also the EC57 (`bxb`) view."""
    per_record = {int(r): confusion(labels[records == r], pred[records == r]) for r in np.unique(records)}
    cm = sum(per_record.values())
    out = {
        "pooled": class_metrics(cm),
        "ci95_record_bootstrap": record_bootstrap(per_record, reps),
        "confusion": {"labels": LABELS, "rows_reference_cols_predicted": cm.tolist()},
        "per_record": per_record_vs(per_record),
    }
    if extra_pred is not None and missed is not None:
        per_record_6 = {r: ec57_confusion(m, extra_pred[extra_records == r], missed[r])
                        for r, m in per_record.items()}
        cm6 = sum(per_record_6.values())
        out["ec57"] = {
            "scoring": "WFDB bxb / ANSI/AAMI EC57 counting over every reference beat and detection "
                       "(VF/flutter excluded, whole records, de Chazal class mapping)",
            "pooled": ec57_metrics(cm6),
            "ci95_record_bootstrap": record_bootstrap(per_record_6, reps, metrics=ec57_metrics),
            "confusion": {"rows": LABELS + ["O"], "cols": LABELS + ["o"], "counts": cm6.tolist()},
        }
    return out


def fmt(pooled: dict) -> str:
    """One-line summary for logs."""
    def pct(v):
        return "  -  " if v is None else f"{100 * v:5.1f}"
    return " ".join(f"{n} Se {pct(pooled[f'{n}_se'])} +P {pct(pooled[f'{n}_ppv'])}" for n in LABELS[:4]) + \
        f" acc {pct(pooled['accuracy'])}"
