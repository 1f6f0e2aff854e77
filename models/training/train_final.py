"""Trains the shipped stress model on all subjects and writes models/stress.onnx + stress.json.

    python train_final.py --data DIR --report ../reports/stress_loso.json --method fusion:tachogram \
        --out-dir .. [--variant int8_weights] [--compression ../reports/stress_compression.json]

Hyper-parameters come from the LOSO report (the chosen method's cfg); the number of epochs is the
median best epoch of its LOSO folds (no early stopping: every subject trains). The population
baseline is the mean over all subjects' scorable rest windows.
"""
from __future__ import annotations

import argparse
import json
import shutil
import tempfile
from pathlib import Path

import numpy as np
import torch

import loso
import nets
import onnx_export
import stress_data

VERSION = "1.0.0"


def build(data, channels, cfg) -> nets.StressNet:
    return nets.StressNet(len(channels), len(data.feature_names), use_image=bool(channels),
                          use_features=True, width=cfg["width"], pool=cfg["pool"], hidden=cfg["hidden"],
                          dropout=cfg["dropout"], skip=cfg.get("skip", False), grid=cfg.get("grid", 1),
                          gate=cfg.get("gate", False))


def train_full(data, channels, cfg, epochs: int, seed: int = 0):
    """The fusion net trained on every subject, each window with and without its baseline."""
    base_rows = data.baseline_rows(data.personal_baselines())
    rows = np.flatnonzero(data.eval_mask())  # as in loso.Fold: the baseline span itself is not trained on
    rest = data.eval_mask() & (data.recording == stress_data.REST)  # as loso.Fold's population baseline
    pop = data.features[rest].mean(0)
    net = build(data, channels, cfg)
    net.set_standardisation(*loso.standardisation(data.features[rows], base_rows[rows]))
    T = loso.Tensors(data, channels, cfg["pool"])
    net, _ = nets.train(net, loso.batches(T, rows, base_rows, pop, "random"), len(rows), None,
                        epochs=epochs, lr=cfg["lr"], seed=seed,
                        class_weight=loso.class_weight(data.label[rows]))
    return net, pop, base_rows, rows


def fallback_json(data, base_rows, rows, pop):
    fb = loso.fit_fallback(data.features[rows], base_rows[rows], pop, data.label[rows], data.subject[rows])
    return {"features": data.feature_names * 2,
            "baseline_relative": [False] * len(data.feature_names) + [True] * len(data.feature_names),
            "mean": [float(v) for v in fb["mean"]], "std": [float(v) for v in fb["std"]],
            "coef": [float(v) for v in fb["coef"]], "intercept": fb["intercept"], "C": fb["C"]}


def write_metadata(path: Path, onnx_path: Path, data, channels: list[str], pop, base_rows, rows, name: str,
                   quantization: str, metrics: dict, version: str = VERSION,
                   required_features: list[str] | None = None) -> None:
    """`stress.json` for the graph at onnx_path (docs/model-format.md): inputs (no `image` when
    channels is empty), population baseline, threshold 0.5, the HRV fallback fit on `rows`;
    `required_features` when the graph's output depends on only some features."""
    nf = len(data.feature_names)
    inputs = [{"name": "image", "shape": [-1, len(channels), 128, 128]}] if channels else []
    inputs += [{"name": "features", "shape": [-1, nf]}, {"name": "baseline", "shape": [-1, nf]},
               {"name": "has_baseline", "shape": [-1, 1]}]
    meta = {
        "format": "stressbeat-model/1", "task": "stress", "name": name, "version": version,
        "onnx_sha256": onnx_export.sha256(onnx_path), "sampling_rate_hz": float(data.meta["sampling_rate_hz"]),
        "inputs": inputs,
        "output": {"name": "probabilities", "labels": ["calm", "stress"]},
        "image_channels": channels, "features": data.feature_names,
        **({"required_features": required_features} if required_features is not None else {}),
        "population_baseline": [float(v) for v in pop], "threshold": 0.5,
        "hrv_fallback": fallback_json(data, base_rows, rows, pop),
        "quantization": quantization,
        "metrics": metrics,
    }
    path.write_text(json.dumps(meta, indent=1) + "\n")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", required=True)
    ap.add_argument("--report", required=True, help="LOSO report (stress_loso.json)")
    ap.add_argument("--method", required=True, help="a fusion method key of the report")
    ap.add_argument("--out-dir", required=True, help="writes stress.onnx and stress.json here")
    ap.add_argument("--float-out", default="", help="also keep the float model here")
    ap.add_argument("--save-state", default="", help="state dict for compress.py (outside the repo)")
    ap.add_argument("--variant", default="int8_weights", choices=["float", "int8_weights"])
    ap.add_argument("--compression", default="", help="compression report to copy into metrics")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--from-state", default="", help="skip training: export this --save-state file")
    args = ap.parse_args()
    torch.set_num_threads(1)
    data = stress_data.load(args.data)
    rep = json.loads(Path(args.report).read_text())
    res = rep["methods"][args.method]
    cfg = res["cfg"]
    channels = [c for c in args.method.partition(":")[2].split("+") if c]
    epochs = int(np.median([f["best_epoch"] for f in res["fold_info"]]))
    if args.from_state:
        st = torch.load(args.from_state, weights_only=False)
        net, _ = build(data, channels, cfg), None
        net.load_state_dict(st["state"])
        net.eval()
        pop, epochs = np.asarray(st["population_baseline"]), st["epochs"]
        base_rows = data.baseline_rows(data.personal_baselines())
        rows = np.flatnonzero(data.eval_mask())
    else:
        net, pop, base_rows, rows = train_full(data, channels, cfg, epochs, args.seed)
    if cfg.get("calibrate", False) and not args.from_state:
        # operating points: the median of the LOSO folds' (chosen on their validation subjects)
        off = np.median([f["offset"] for f in res["fold_info"]], axis=0)
        net.offset.copy_(torch.as_tensor(off, dtype=torch.float32))
        print(f"operating points (logit offsets without, with baseline): {off.round(3).tolist()}")

    if args.save_state:
        torch.save({"state": net.state_dict(), "population_baseline": pop, "epochs": epochs}, args.save_state)
    out = Path(args.out_dir)
    tmp = Path(tempfile.mkdtemp())
    float_path = tmp / "stress_float.onnx"
    onnx_export.export_float(net, float_path, max(len(channels), 1), len(data.feature_names))
    if args.float_out:
        shutil.copy(float_path, args.float_out)
    onnx_path = out / "stress.onnx"
    if args.variant == "int8_weights":
        onnx_export.weights_int8(float_path, onnx_path)
    else:
        shutil.copy(float_path, onnx_path)

    # the exported graph must reproduce the torch model
    sess = onnx_export.ort_session(onnx_path)
    ci = [data.channels.index(c) for c in channels]
    r = rows[:200]
    h = np.ones((len(r), 1), np.float32)
    p_onnx = onnx_export.ort_predict(sess, data.images[r][:, ci] if channels else None, data.features[r],
                                     np.nan_to_num(base_rows[r]), h, len(channels))
    with torch.no_grad():
        img = torch.from_numpy(data.images[r][:, ci].astype(np.float32) / 255) if channels else None
        p_torch = net(img, torch.from_numpy(data.features[r]), torch.from_numpy(np.nan_to_num(base_rows[r])),
                      torch.from_numpy(h))[:, 1].numpy()
    max_diff = float(np.abs(p_onnx - p_torch).max())
    print(f"onnx vs torch max |dp| = {max_diff:.2e}")
    if max_diff > 0.02:
        raise SystemExit("exported model disagrees with torch")

    metrics = {"loso": {"method": args.method, "without_baseline": res["without_baseline"],
                        "with_baseline": res["with_baseline"], "unscored_windows": res["unscored_windows"],
                        "candidate_windows": res["candidate_windows"]},
               "protocol": rep["protocol"], "final_training": {"epochs": epochs, "windows": int(len(rows)),
                                                                "subjects": int(len(np.unique(data.subject[rows])))}}
    if args.compression:
        metrics["compression"] = json.loads(Path(args.compression).read_text())
    write_metadata(out / "stress.json", onnx_path, data, channels, pop, base_rows, rows, "stress-fusion",
                   "int8 weights, float activations" if args.variant == "int8_weights" else "none (float32)",
                   metrics)
    print(f"wrote {onnx_path} ({onnx_path.stat().st_size} bytes) and {out / 'stress.json'}")


if __name__ == "__main__":
    main()
