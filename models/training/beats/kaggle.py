"""Kaggle-style comparison: 187-sample beats at 125 Hz (Kachuee et al. 2018 layout), RANDOM beat
split. Beats of the same patients fall on both sides, so this figure is leaky and only comparable
with the report we started from; it says nothing about unseen patients.

python -m beats.kaggle --data /work/datasets/beats --out ../reports/beat-type-kaggle.json
"""

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch
from sklearn.model_selection import train_test_split

from .data import load_kachuee
from .metrics import confusion, class_metrics
from .train import TrainConfig, fit, predict_logits


def main() -> None:
    """Trains the CNN (no RR input) on a random 80/20 beat split and reports test accuracy."""
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--data", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--epochs", type=int, default=12)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    torch.set_num_threads(1)
    data = load_kachuee(args.data)
    labels, records = data.labels, data.records
    idx_train, idx_test = train_test_split(np.arange(len(labels)), test_size=0.2, random_state=args.seed,
                                           stratify=labels)
    cfg = TrainConfig(epochs=args.epochs, n_per_epoch=len(labels), class_weight_power=0.0, augment=False)
    start = time.time()
    model = fit(data.subset(idx_train), cfg, seed=args.seed, log=print)
    test = data.subset(idx_test)
    cm = confusion(test.labels, predict_logits(model, test).argmax(1))
    report = {
        "warning": "LEAKY: random beat split (same patients in train and test); comparison only",
        "data": f"{len(labels)} beats of {len(set(records.tolist()))} records, 187 samples at 125 Hz",
        "records": sorted(set(records.tolist())),
        "split": "random stratified 80/20 over beats",
        "model": "the beat-type CNN without the RR input, unweighted loss",
        "config": cfg.to_dict(),
        "accuracy": round(class_metrics(cm)["accuracy"], 4),
        "per_class": {k: None if v is None else round(v, 4) for k, v in class_metrics(cm).items()},
        "confusion": cm.tolist(),
        "seconds": round(time.time() - start, 1),
    }
    Path(args.out).write_text(json.dumps(report, indent=1))
    print(json.dumps({k: report[k] for k in ("accuracy", "per_class")}, indent=1))


if __name__ == "__main__":
    main()
