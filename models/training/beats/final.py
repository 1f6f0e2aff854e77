"""Trains the shipped beat-type model on all DS1 records (and the CV's other-patient training sets)
with the CV-chosen settings, exports it (float and int8 weights), compares the two, and writes
models/beat-type.{onnx,json} and models/reports/beat-type-final.json.

A CV report of `beats.feedback_template` names its template rule ("template", e.g. classified_n,
stale 16): the model is then trained with that template channel (the reference-fed ring, from the
export's templates_of_n.npy where it has one) and its metadata records the rule
(`beat.template`), which the core's ring then follows beat by beat.

A CV report of an ensemble ("ensemble_seeds", `--seeds` of the CV) gives an ensemble: one model
per seed on all the data, averaged in one graph (`Ensemble`).

python -m beats.final --data /work/datasets/beats --cv ../reports/beat-type-cv.json --models ..
"""

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from .calibrate import inner_offsets
from .data import DS1, LABELS, BeatSet, concat, load_beats
from .feedback_template import Detections, RingRule, feedback_loop, ort_classify, rule_of_metadata, training_set
from .onnx_io import export_float, ort_probabilities, ort_session, quantize_weights_int8, sha256
from .model import stage_parameters
from .train import TrainConfig, fit_ensemble


def ort_latency_us(path: str, channels: int, length: int, n_rr: int, batch: int, reps: int = 300) -> float:
    """Median onnxruntime latency (µs) of one call with `batch` beats, one thread."""
    sess = ort_session(path)
    feed = {"beat": np.random.default_rng(0).normal(0, 0.3, (batch, channels, length)).astype(np.float32),
            "rr": np.full((batch, n_rr), 0.8, np.float32)}
    for _ in range(20):
        sess.run(None, feed)
    times = []
    for _ in range(reps):
        t = time.perf_counter()
        sess.run(None, feed)
        times.append(time.perf_counter() - t)
    return float(np.median(times) * 1e6)


def pick(pooled: dict, keys=("N_se", "N_ppv", "S_se", "S_ppv", "V_se", "V_ppv", "F_se", "F_ppv", "accuracy")) -> dict:
    """Rounded subset of pooled metrics."""
    return {k: None if pooled[k] is None else round(pooled[k], 4) for k in keys}


def training_data(directory: str, records, rule: RingRule | None, name: str) -> tuple[BeatSet, dict | None]:
    """An export's beats (`records`: None for DS1, "all"), with the reference-fed template of
    `rule` as the template channel when there is one, and where those templates came from."""
    if rule is None:
        return load_beats(directory, records), None
    det = Detections.load(directory, DS1 if records is None else None)
    return training_set(det, rule, f" ({name})")


def main() -> None:
    """Trains, exports, quantizes and writes the shipped files and the final report."""
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--data", required=True)
    ap.add_argument("--cv", required=True, help="report of beats.cv (config and metrics)")
    ap.add_argument("--models", required=True, help="the repository's models/ directory")
    ap.add_argument("--kaggle", help="report of beats.kaggle (optional, quoted in the metadata)")
    ap.add_argument("--name", default="beat-type")
    ap.add_argument("--version", default="10.0.0")
    ap.add_argument("--seed", type=int, default=0, help="the seed of a single model (an ensemble's come from the CV)")
    ap.add_argument("--work", help="where the float model is kept for comparison (default: a temp dir)")
    args = ap.parse_args()
    torch.set_num_threads(1)
    cv = json.loads(Path(args.cv).read_text())
    cfg = TrainConfig(**cv["config"])
    if "rule" in cv and "template" not in cv:
        raise ValueError(f"{args.cv}: a screen's template rule {cv['rule']} that the core does not implement")
    # the template rule of a `beats.feedback_template` CV (None: the plain template of the previous beats)
    rule = rule_of_metadata({"beat": {"template": cv["template"]}}) if "template" in cv else None
    ds1, ds1_templates = training_data(args.data, None, rule, "DS1")
    # the CV's other-patient training sets (their paths as the CV was given them)
    extra_sets = [training_data(d, "all", rule, d) for d in cv.get("extra_train", [])]
    extra = [e for e, _ in extra_sets]
    data = concat(ds1, *extra)
    if rule is not None and int(data.meta["beat"]["inputs_revision"]) < 3:
        raise ValueError("a template rule needs an export of inputs_revision 3 or later (the core refuses the model)")
    models = Path(args.models)
    (models / "reports").mkdir(parents=True, exist_ok=True)
    start = time.time()
    seeds = cv.get("ensemble_seeds", [args.seed])
    if cv["inner_folds"] and len(seeds) > 1:
        raise ValueError("decision offsets (inner folds) are for a single model, not an ensemble")
    model = fit_ensemble(data, cfg, seeds, log=print)
    if cv["inner_folds"]:
        model.logit_offset.copy_(torch.from_numpy(inner_offsets(data, cfg, cv["inner_folds"], args.seed, print)))
    n_rr = data.rr.shape[1]
    work = Path(args.work or tempfile.mkdtemp(prefix="beat-final-"))
    work.mkdir(parents=True, exist_ok=True)
    float_path = work / f"{args.name}-float.onnx"
    int8_path = models / f"{args.name}.onnx"
    export_float(model, data.length, n_rr, str(float_path))
    quantized = quantize_weights_int8(str(float_path), str(int8_path))
    p_float = ort_probabilities(str(float_path), data)
    p_int8 = ort_probabilities(str(int8_path), data)
    loop = {}
    if rule is not None:
        # as the core runs it: beat by beat over DS1's detections, each file's own calls feeding its ring
        det = Detections.load(args.data, DS1)
        calls = {kind: feedback_loop(det, rule, ort_classify(str(path)))
                 for kind, path in (("float", float_path), ("int8", int8_path))}
        loop = {"feedback_loop_agreement_float_int8": float(
            (calls["float"][0].argmax(1) == calls["int8"][0].argmax(1)).mean()),
            "feedback_loop_extra_agreement_float_int8": float(
            (calls["float"][1].argmax(1) == calls["int8"][1].argmax(1)).mean()) if len(calls["float"][1]) else None}
    final = {
        "float_model": str(float_path),
        "trained_on": f"all {len(set(ds1.records.tolist()))} DS1 records"
                      + "".join(f" + {len(set(e.records.tolist()))} records of {d}"
                                for e, d in zip(extra, cv.get("extra_train", [])))
                      + f", {len(data.labels)} beats",
        "config": cfg.to_dict(),
        **({"template": cv["template"],
            "training_templates": {"DS1": ds1_templates,
                                   **{d: t for d, (_, t) in zip(cv.get("extra_train", []), extra_sets)}}}
           if rule else {}),
        "seeds": seeds,
        "logit_offset": stage_parameters(model)[0],
        "seconds": round(time.time() - start, 1),
        "quantized_tensors": quantized,
        "size_bytes": {"float": float_path.stat().st_size, "int8_weights": int8_path.stat().st_size},
        "training_set_agreement_float_int8": float((p_float.argmax(1) == p_int8.argmax(1)).mean()),
        "max_abs_probability_difference_float_int8": float(np.abs(p_float - p_int8).max()),
        **loop,
        "onnxruntime_latency_us_median_1_thread": {
            f"{kind}_batch{b}": round(ort_latency_us(str(path), data.beats.shape[1], data.length, n_rr, b), 1)
            for kind, path in (("float", float_path), ("int8_weights", int8_path)) for b in (1, 64)},
    }
    (models / "reports" / f"{args.name}-final.json").write_text(json.dumps(final, indent=1))
    # a CV run with --no-onnx (variants) has only the torch figures: quoted as such
    scored, kind = ("onnx_int8", "int8") if "onnx_int8" in cv else ("torch", "torch")
    metrics = {
        "protocol": cv["protocol"],
        f"cv_{kind}_pooled": pick(cv[scored]["pooled"]),
        f"cv_{kind}_ci95_record_bootstrap": {k: [round(v[0], 4), round(v[1], 4)]
                                             for k, v in cv[scored]["ci95_record_bootstrap"].items()},
        **({"cv_float_pooled": pick(cv["onnx_float"]["pooled"])} if "onnx_float" in cv else {}),
        f"cv_confusion_{kind}": cv[scored]["confusion"]["rows_reference_cols_predicted"],
        **({f"cv_{kind}_ec57_pooled": pick(cv[scored]["ec57"]["pooled"], ("S_se", "S_ppv", "V_se", "V_ppv"))}
           if "ec57" in cv[scored] else {}),
        "size_bytes": final["size_bytes"],
    }
    if args.kaggle:
        kaggle = json.loads(Path(args.kaggle).read_text())
        metrics["kaggle_style_random_beat_split_accuracy_leaky"] = kaggle["accuracy"]
    meta = {
        "format": "stressbeat-model/1",
        "task": "beat_type",
        "name": args.name,
        "version": args.version,
        "onnx_sha256": sha256(str(int8_path)),
        "sampling_rate_hz": 130.0,
        "inputs": [{"name": "beat", "shape": [-1, data.beats.shape[1], data.length]}, {"name": "rr", "shape": [-1, n_rr]}],
        "output": {"name": "probabilities", "labels": LABELS},
        "beat": {"length": data.length, "pre": int(data.meta["beat"]["pre"]),
                 "rr_features": list(data.meta["beat"]["rr_features"]),
                 # exports made before the field existed computed revision 1 or 2: refuse to guess
                 "inputs_revision": int(data.meta["beat"]["inputs_revision"]),
                 # the core's ring (`TemplateRule`); absent: the previous 16 beats (models up to 8.x)
                 **({"template": cv["template"]} if rule else {})},
        "threshold": 0.5,
        "quantization": "int8 weights (symmetric, per output channel, DequantizeLinear), float activations",
        "metrics": metrics,
    }
    (models / f"{args.name}.json").write_text(json.dumps(meta, indent=2) + "\n")
    print(json.dumps(final, indent=1))


if __name__ == "__main__":
    main()
