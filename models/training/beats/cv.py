"""Patient-wise cross-validation on MIT-BIH DS1 (folds of whole records), float and int8 ONNX.
With `--seeds 0,100,200` each fold trains one model per seed and scores their average (`Ensemble`).

python -m beats.cv --data /work/datasets/beats --out ../reports/beat-type-cv.json
"""

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from .calibrate import inner_offsets
from .data import concat, load_beats, load_extra, missed_references, record_folds
from .metrics import fmt, summary
from .onnx_io import export_float, ort_probabilities, quantize_weights_int8
from .model import parse_seeds, stage_parameters
from .train import TrainConfig, fit_ensemble, predict_logits, predict_probabilities


def main() -> None:
    """Runs the CV and writes the JSON report."""
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--data", required=True, help="directory written by `stressbeat dataset beats`")
    ap.add_argument("--out", required=True, help="report JSON path")
    ap.add_argument("--folds", type=int, default=11)
    ap.add_argument("--config", default="{}", help="JSON overrides of TrainConfig")
    ap.add_argument("--inner", type=int, default=0, help="inner folds for decision offsets (0: none)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--seeds", help="an ensemble: one model per seed (fold i: seed + i), averaged; replaces --seed")
    ap.add_argument("--no-onnx", action="store_true", help="skip the per-fold ONNX float/int8 check")
    ap.add_argument("--extra-train", action="append", default=[],
                    help="another `dataset beats` export (other patients) added to every fold's training set, "
                         "never tested on")
    args = ap.parse_args()
    torch.set_num_threads(1)
    cfg = TrainConfig(**json.loads(args.config))
    seeds = parse_seeds(args.seeds) if args.seeds else [args.seed]
    if args.inner and len(seeds) > 1:
        raise ValueError("--inner (decision offsets) is for a single model, not an ensemble")
    data = load_beats(args.data)
    extra = load_extra(args.data)  # detections without a reference beat, for the EC57 view
    missed = missed_references(data.meta)
    folds = record_folds(data.records, args.folds)
    extra_train = [load_beats(d, "all") for d in args.extra_train]
    start = time.time()

    def log(msg: str) -> None:
        print(f"[{time.time() - start:6.0f}s] {msg}", flush=True)

    n = len(data.labels)
    logits = np.zeros((n, 5), np.float32)
    probabilities = np.zeros((n, 5), np.float32)
    preds = {"torch": np.zeros(n, np.int64), "onnx_float": np.zeros(n, np.int64), "onnx_int8": np.zeros(n, np.int64)}
    n_extra = 0 if extra is None else len(extra.labels)
    extra_probabilities = np.zeros((n_extra, 5), np.float32)
    extra_preds = {k: np.zeros(n_extra, np.int64) for k in preds}
    offsets = []
    rhythm = []  # per fold: rhythm-stage weights, then bias
    tmp = Path(tempfile.mkdtemp(prefix="beat-cv-"))
    for i, test_records in enumerate(folds):
        test = np.isin(data.records, test_records)
        train, held = concat(data.subset(~test), *extra_train), data.subset(test)
        model = fit_ensemble(train, cfg, [s + i for s in seeds])
        if args.inner:
            offset = inner_offsets(train, cfg, args.inner, args.seed + i, log)
            model.logit_offset.copy_(torch.from_numpy(offset))
        fold_offsets, fold_rhythm = stage_parameters(model)
        offsets.append(fold_offsets)
        rhythm.append(fold_rhythm)
        logits[test] = predict_logits(model, held)
        probabilities[test] = predict_probabilities(model, held)
        preds["torch"][test] = probabilities[test].argmax(1)
        extra_test = np.zeros(n_extra, bool) if extra is None else np.isin(extra.records, test_records)
        extra_held = None if extra is None else extra.subset(extra_test)
        if extra_test.any():
            extra_probabilities[extra_test] = predict_probabilities(model, extra_held)
            extra_preds["torch"][extra_test] = extra_probabilities[extra_test].argmax(1)
        if not args.no_onnx:
            export_float(model, data.length, data.rr.shape[1], str(tmp / "f.onnx"))
            quantize_weights_int8(str(tmp / "f.onnx"), str(tmp / "q.onnx"))
            preds["onnx_float"][test] = ort_probabilities(str(tmp / "f.onnx"), held).argmax(1)
            preds["onnx_int8"][test] = ort_probabilities(str(tmp / "q.onnx"), held).argmax(1)
            if extra_test.any():
                for kind, file in (("onnx_float", "f.onnx"), ("onnx_int8", "q.onnx")):
                    extra_preds[kind][extra_test] = ort_probabilities(str(tmp / file), extra_held).argmax(1)
        part = summary(held.labels, preds["torch"][test], held.records, reps=0)["pooled"]
        log(f"fold {i + 1}/{len(folds)} records {test_records} offsets {offsets[-1]}: {fmt(part)}")

    def scored(kind: str) -> dict:
        detections = {} if extra is None or missed is None else {
            "extra_pred": extra_preds[kind], "extra_records": extra.records, "missed": missed}
        return summary(data.labels, preds[kind], data.records, **detections)

    report = {
        "protocol": f"MIT-BIH DS1 ({len(set(data.records.tolist()))} records), {args.folds}-fold "
                    "cross-validation by record (patient); normalisation"
                    + (f" and decision offsets ({args.inner}-fold inner CV)" if args.inner else "")
                    + " fit on training records only"
                    + (f"; each fold's model the average of {len(seeds)} trained with seeds {seeds} (+ fold index)"
                       if len(seeds) > 1 else "")
                    + (f"; every fold also trains on {sum(len(set(e.records.tolist())) for e in extra_train)} "
                       "records of other patients (" + ", ".join(args.extra_train) + ")" if extra_train else ""),
        "data": args.data,
        "extra_train": args.extra_train,
        "beats": int(n),
        "class_counts": np.bincount(data.labels, minlength=5).tolist(),
        "config": cfg.to_dict(),
        "inner_folds": args.inner,
        "seed": seeds[0],
        **({"ensemble_seeds": seeds} if len(seeds) > 1 else {}),
        "folds": folds,
        "fold_offsets": offsets,
        "fold_rhythm_stage": rhythm if cfg.rhythm_stage else None,
        "seconds": round(time.time() - start, 1),
        "torch": scored("torch"),
    }
    if not args.no_onnx:
        report["onnx_float"] = scored("onnx_float")
        report["onnx_int8"] = scored("onnx_int8")
        report["int8_vs_float_points"] = {
            k: None if report["onnx_float"]["pooled"][k] is None else
            round(100 * (report["onnx_int8"]["pooled"][k] - report["onnx_float"]["pooled"][k]), 3)
            for k in report["onnx_float"]["pooled"]}
        report["int8_float_prediction_agreement"] = float((preds["onnx_float"] == preds["onnx_int8"]).mean())
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(report, indent=1))
    np.savez_compressed(Path(args.out).with_suffix(".logits.npz"), logits=logits, probabilities=probabilities,
                        labels=data.labels, records=data.records,
                        extra_probabilities=extra_probabilities,
                        extra_records=np.zeros(0, np.int64) if extra is None else extra.records)
    log("pooled " + fmt(report["torch"]["pooled"]))
    if not args.no_onnx:
        log("int8   " + fmt(report["onnx_int8"]["pooled"]))
        if "ec57" in report["onnx_int8"]:
            log("int8 EC57 " + " ".join(f"{k} {100 * v:.1f}" for k, v in report["onnx_int8"]["ec57"]["pooled"].items()))


if __name__ == "__main__":
    main()
