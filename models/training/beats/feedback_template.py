"""A template of the beats the model itself called N: the core's template rule `classified_n`
(ring of 16, N only, stale 16 in its exports; ADR 0011). Its model v9 is not shipped (the beat-type
card, "v9"); the other options are screens.

The shipped template is the median of the previous 16 detected beats, whatever they were, so in a
ventricular run or a bigeminy it is made of V beats and the network compares a V beat with V
beats. Here the template is the median of the last 16 beats *classified N*: during training the
reference label decides (teacher forcing), during the test the fold's own model, beat after beat,
as a live session would (each beat's class feeds the next beat's template). If no beat among the
last `stale` detections was N, the ring is emptied and the plain template (channel 1 of the
export) is used until a beat is called N again, so a change of morphology cannot freeze a stale
template (`--keep-stale`, the first version screened: the ring is kept and the plain template used
only while no N call is recent, which froze record 124 at one seed). `--admit-correlation R`: a
beat of any class also enters when its window correlates at least R with the current template
(session 35, against the external exercise test's false V calls; it did not remove them).

Detections without a reference beat (the export's extra detections, outside ventricular flutter)
take part in the order of beats: their windows enter the ring only when the model calls them N
(test) and never during training (their class is unknown). The 433 detections inside 207's
ventricular flutter are not exported, so the screen's 207 lacks them; a live session would not.
An export of `inputs_revision` 3 also holds `templates_of_n.npy`, the core's reference-fed ring
(which counts those flutter detections); the training set of the core's rule takes its templates
from it, and the report records how far they agree with Python's `reference_templates`.

The CV report has the schema of `beats.cv` (plus "rule", "template" and "training_templates"), so
`beats.final` and `beats.card` read it; `--onnx` also runs each fold's float and int8 ONNX files
through the same loop (onnxruntime, one beat per call). `--seeds 0,100,200` cross-validates an
ensemble: each fold trains one model per seed, and their averaged calls feed the ring.

python -m beats.feedback_template --data /tmp/beats --seed 0 --stale 16 --onnx --out CV.json
python -m beats.feedback_template --data /tmp/beats --seed 0 --stale 16 --external /tmp/qtdb-other --out EXT.json
"""

import argparse
import json
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch

from . import metrics
from .data import DS1, LABELS, BeatSet, load_beats, load_extra, missed_references, record_folds
from .onnx_io import export_float, ort_session, quantize_weights_int8
from .model import parse_seeds, stage_parameters
from .train import TrainConfig, fit, fit_ensemble, predict_probabilities

# A beat's classifier in the loop: beat [1, C, L], rr [1, R] (float32) -> its 5 probabilities.
Classify = Callable[[np.ndarray, np.ndarray], np.ndarray]


@dataclass
class RingRule:
    """Which beats feed the template and when it is given up."""

    size: int = 16  # windows whose median is the template
    stale: int = 64  # detections without a ring-class call before the plain template
    classes: str = "N"  # classes whose windows enter the ring
    keep_stale: bool = False  # while stale, keep the ring (first version) instead of emptying it
    add: bool = False  # the template is a third channel beside the plain one instead of replacing it
    admit_correlation: float | None = None  # also enters when it correlates this well with the template


CORE_RULE = RingRule(size=16, stale=16, classes="N")  # the core's `classified_n` ring, as its exports feed it


@dataclass
class Detections:
    """An export's labelled beats and its detections without a reference beat, with R-peaks."""

    labelled: BeatSet
    peaks: np.ndarray
    extra: BeatSet | None  # None for an export without them
    extra_peaks: np.ndarray | None
    templates_of_n: np.ndarray | None = None  # [n, L] the core's reference-fed ring (revision 3 exports)

    @classmethod
    def load(cls, directory: str, records: list[int] | None = None) -> "Detections":
        """The export in `directory`, restricted to `records` (default: every exported record)."""
        d = Path(directory)
        extra = load_extra(directory, "all")
        fed = d / "templates_of_n.npy"
        every = cls(load_beats(directory, "all"), np.load(d / "peaks.npy"), extra,
                    None if extra is None else np.load(d / "extra_peaks.npy"),
                    np.load(fed).astype(np.float32) if fed.exists() else None)
        if every.templates_of_n is not None and len(every.templates_of_n) != len(every.labelled.labels):
            raise ValueError(f"{fed}: {len(every.templates_of_n)} rows for {len(every.labelled.labels)} beats")
        return every if records is None else every.of_records(records)

    def of_records(self, records) -> "Detections":
        """The rows of `records` only."""
        keep = np.isin(self.labelled.records, records)
        fed = None if self.templates_of_n is None else self.templates_of_n[keep]
        if self.extra is None:
            return Detections(self.labelled.subset(keep), self.peaks[keep], None, None, fed)
        held = np.isin(self.extra.records, records)
        return Detections(self.labelled.subset(keep), self.peaks[keep], self.extra.subset(held),
                          self.extra_peaks[held], fed)

    def in_order(self, record: int) -> list[tuple[BeatSet, int]]:
        """(set, row) of every detection of `record` (labelled or extra), in R-peak order."""
        rows = [(int(self.peaks[i]), 0, int(i)) for i in np.flatnonzero(self.labelled.records == record)]
        if self.extra is not None:
            rows += [(int(self.extra_peaks[i]), 1, int(i)) for i in np.flatnonzero(self.extra.records == record)]
        return [(self.extra if is_extra else self.labelled, i) for _, is_extra, i in sorted(rows)]


def correlation(a: np.ndarray, b: np.ndarray) -> float:
    a, b = a - a.mean(), b - b.mean()
    return float((a * b).sum() / np.sqrt((a * a).sum() * (b * b).sum() + 1e-12))


class Ring:
    """The last windows called a ring class and how many detections ago the last one was."""

    def __init__(self, rule: RingRule):
        self.rule = rule
        self.classes = [LABELS.index(c) for c in rule.classes]
        self.windows: list[np.ndarray] = []
        self.since_last = 0

    def template(self, plain: np.ndarray) -> np.ndarray:
        if self.since_last >= self.rule.stale:
            if self.rule.keep_stale:
                return plain
            self.windows = []  # a new morphology: start again from the beats called N after it
        if not self.windows:
            return plain
        return np.median(np.stack(self.windows), 0)

    def resembles(self, window: np.ndarray) -> bool:
        """Whatever its class, a window this close to the current template follows a drifting
        morphology into the ring (`admit_correlation`)."""
        threshold = self.rule.admit_correlation
        return (threshold is not None and bool(self.windows)
                and correlation(window, np.median(np.stack(self.windows), 0)) >= threshold)

    def push(self, window: np.ndarray, cls: int) -> None:
        self.since_last += 1
        if cls in self.classes or self.resembles(window):
            self.windows = (self.windows + [window])[-self.rule.size:]
            self.since_last = 0


def reference_templates(det: Detections, rule: RingRule) -> np.ndarray:
    """Training templates: the ring fed by the reference labels (extra detections never enter)."""
    data = det.labelled
    out = data.beats[:, 1].copy()
    for record in np.unique(data.records):
        ring = Ring(rule)
        for src, i in det.in_order(record):
            if src is data:
                out[i] = ring.template(data.beats[i, 1])
            ring.push(src.beats[i, 0], int(data.labels[i]) if src is data else -1)
    return out


def is_core_rule(rule: RingRule) -> bool:
    """Whether the core implements `rule` (`classified_n` of any stale; the template replaces the
    plain one)."""
    return (rule.size == CORE_RULE.size and rule.classes == "N" and not rule.keep_stale and not rule.add
            and rule.admit_correlation is None)


def template_metadata(rule: RingRule) -> dict | None:
    """The model metadata's `beat.template` for `rule`, None for a rule the core does not implement."""
    return {"rule": "classified_n", "stale": rule.stale} if is_core_rule(rule) else None


def rule_of_metadata(meta: dict) -> RingRule | None:
    """The ring of a beat-type model's metadata (its `beat.template`), None for the plain template."""
    template = meta.get("beat", {}).get("template", {"rule": "previous"})
    if template["rule"] == "previous":
        return None
    if template["rule"] != "classified_n":
        raise ValueError(f"unknown template rule {template['rule']!r}")
    return RingRule(size=CORE_RULE.size, stale=int(template["stale"]), classes="N")


def template_agreement(det: Detections, python: np.ndarray, tolerance: float = 1e-5) -> dict:
    """How far the export's `templates_of_n` agrees with Python's reference-fed ring: the share of
    rows whose largest difference is under `tolerance`, and the records where some row is not."""
    diff = np.abs(det.templates_of_n - python).max(1)
    close = diff < tolerance
    records = det.labelled.records
    differing = {int(r): {"rows": int((records == r).sum()), "differing": int((~close[records == r]).sum()),
                          "max_abs_difference": float(diff[records == r].max())}
                 for r in np.unique(records[~close])}
    return {"tolerance": tolerance, "rows": int(len(close)), "fraction_agreeing": float(close.mean()),
            "max_abs_difference": float(diff.max()) if len(diff) else 0.0, "differing_records": differing}


def training_templates(det: Detections, rule: RingRule, name: str = "") -> tuple[np.ndarray, dict]:
    """The training set's templates and where they came from: the export's `templates_of_n` for
    the rule the export was made with (the core's ring, which also counts the detections Python
    does not see), else Python's `reference_templates`."""
    python = reference_templates(det, rule)
    if det.templates_of_n is None:
        return python, {"source": "python reference_templates (the export has no templates_of_n.npy)"}
    beat = det.labelled.meta["beat"]
    exported = RingRule(size=int(beat.get("template_beats", CORE_RULE.size)),
                        stale=int(beat.get("classified_n_stale", CORE_RULE.stale)), classes="N")
    if rule != exported:
        return python, {"source": f"python reference_templates (templates_of_n.npy is the ring of {exported}, "
                                  f"not of this rule)"}
    agreement = template_agreement(det, python)
    print(f"templates_of_n{name}: {100 * agreement['fraction_agreeing']:.3f} % of {agreement['rows']} rows within "
          f"{agreement['tolerance']:g} of Python's; differing: "
          + (", ".join(f"{r} ({d['differing']} of {d['rows']}, max {d['max_abs_difference']:.3g})"
                       for r, d in agreement["differing_records"].items()) or "none"), flush=True)
    return det.templates_of_n, {"source": "export templates_of_n.npy", "agreement_with_python": agreement}


def training_set(det: Detections, rule: RingRule, name: str = "") -> tuple[BeatSet, dict]:
    """The labelled beats with the reference-fed template as their template channel (or beside
    it), and where the templates came from (`training_templates`)."""
    data = det.labelled
    fed, source = training_templates(det, rule, name)
    fed = fed[:, None]
    beats = np.concatenate([data.beats, fed], 1) if rule.add else np.concatenate([data.beats[:, :1], fed], 1)
    return BeatSet(beats, data.rr, data.labels, data.records, data.meta), source


def feedback_loop(det: Detections, rule: RingRule, classify: Classify) -> tuple[np.ndarray, np.ndarray]:
    """Beat after beat in R-peak order, each record from an empty ring: the template from the
    beats `classify` called N (argmax), then the beat's probabilities. Those of every labelled
    row and of every extra detection (their rows' order)."""
    prob = np.zeros((len(det.labelled.labels), 5), np.float32)
    extra_prob = np.zeros((0 if det.extra is None else len(det.extra.labels), 5), np.float32)
    for record in np.unique(det.labelled.records):
        ring = Ring(rule)
        for src, i in det.in_order(record):
            window, plain = src.beats[i, 0], src.beats[i, 1]
            x = np.stack([window] + ([plain] if rule.add else []) + [ring.template(plain)])[None]
            p = classify(x.astype(np.float32, copy=False), src.rr[i:i + 1])
            (prob if src is det.labelled else extra_prob)[i] = p
            ring.push(window, int(np.argmax(p)))
    return prob, extra_prob


def torch_classify(model) -> Classify:
    """One beat through a torch model (eval mode, no gradients)."""
    model.eval()

    @torch.no_grad()
    def classify(x: np.ndarray, rr: np.ndarray) -> np.ndarray:
        return model(torch.from_numpy(x), torch.from_numpy(rr))[0].numpy()
    return classify


def ort_classify(path: str) -> Classify:
    """One beat through an ONNX file (onnxruntime, one thread), as the core runs it."""
    sess = ort_session(path)
    return lambda x, rr: sess.run(["probabilities"], {"beat": x, "rr": rr})[0][0]


def feedback_predict(model, det: Detections, rule: RingRule) -> np.ndarray:
    """Test: beat after beat, the template from the beats the model called N. The class of every
    labelled row."""
    return feedback_loop(det, rule, torch_classify(model))[0].argmax(1)


def cross_validate(ds1: Detections, directory: str, cfg: TrainConfig, rule: RingRule, seeds: list[int],
                   n_folds: int, onnx: bool = False) -> tuple[dict, dict]:
    """Patient-wise CV as `beats.cv` (same folds and seeds), the test beat by beat: torch, and
    with `onnx` each fold's float and int8 ONNX files through onnxruntime. The report (schema of
    `beats.cv`) and the torch loop's out-of-fold probabilities (labelled and extra rows)."""
    data, extra = ds1.labelled, ds1.extra
    trained, source = training_set(ds1, rule)
    missed = missed_references(data.meta)
    folds = record_folds(data.records, n_folds)
    kinds = ["torch"] + (["onnx_float", "onnx_int8"] if onnx else [])
    n, n_extra = len(data.labels), 0 if extra is None else len(extra.labels)
    prob = {k: np.full((n, 5), np.nan, np.float32) for k in kinds}
    extra_prob = {k: np.full((n_extra, 5), np.nan, np.float32) for k in kinds}
    offsets, rhythm = [], []
    tmp = Path(tempfile.mkdtemp(prefix="beat-feedback-cv-"))
    start = time.time()
    for i, test_records in enumerate(folds):
        test = np.isin(data.records, test_records)
        extra_test = np.zeros(n_extra, bool) if extra is None else np.isin(extra.records, test_records)
        model = fit_ensemble(trained.subset(~test), cfg, [s + i for s in seeds])
        fold_offsets, fold_rhythm = stage_parameters(model)
        offsets.append(fold_offsets)
        rhythm.append(fold_rhythm)
        classifiers = {"torch": torch_classify(model)}
        if onnx:
            export_float(model, data.length, data.rr.shape[1], str(tmp / "f.onnx"))
            quantize_weights_int8(str(tmp / "f.onnx"), str(tmp / "q.onnx"))
            classifiers["onnx_float"] = ort_classify(str(tmp / "f.onnx"))
            classifiers["onnx_int8"] = ort_classify(str(tmp / "q.onnx"))
        held = ds1.of_records(test_records)
        for kind, classify in classifiers.items():
            prob[kind][test], extra_prob[kind][extra_test] = feedback_loop(held, rule, classify)
        pred = prob[kinds[-1]][test].argmax(1)
        part = metrics.summary(data.labels[test], pred, data.records[test], reps=0)["pooled"]
        print(f"[{time.time() - start:5.0f}s] fold {i + 1} {test_records} ({kinds[-1]}): {metrics.fmt(part)}",
              flush=True)
    assert not any(np.isnan(p).any() for p in [*prob.values(), *extra_prob.values()])

    def scored(kind: str) -> dict:
        detections = {} if extra is None or missed is None else {
            "extra_pred": extra_prob[kind].argmax(1), "extra_records": extra.records, "missed": missed}
        return metrics.summary(data.labels, prob[kind].argmax(1), data.records, **detections)

    report = {
        "protocol": f"MIT-BIH DS1 ({len(set(data.records.tolist()))} records), {n_folds}-fold "
                    "cross-validation by record (patient); normalisation fit on training records only; "
                    f"template channel: the median of the last {rule.size} beats classified "
                    f"{'/'.join(rule.classes)} (reference labels in training, the fold model's own calls "
                    f"beat by beat in the test), the plain template after {rule.stale} detections without "
                    "such a call"
                    + (f"; each fold's model the average of {len(seeds)} trained with seeds {seeds} (+ fold "
                       "index), whose averaged calls feed the ring" if len(seeds) > 1 else ""),
        "data": directory,
        "extra_train": [],
        "beats": int(n),
        "class_counts": np.bincount(data.labels, minlength=5).tolist(),
        "config": cfg.to_dict(),
        "inner_folds": 0,
        "seed": seeds[0],
        **({"ensemble_seeds": seeds} if len(seeds) > 1 else {}),
        "folds": folds,
        "fold_offsets": offsets,
        "fold_rhythm_stage": rhythm if cfg.rhythm_stage else None,
        "seconds": round(time.time() - start, 1),
        "training_templates": source,
        **{kind: scored(kind) for kind in kinds},
    }
    if onnx:
        report["int8_vs_float_points"] = {
            k: None if report["onnx_float"]["pooled"][k] is None else
            round(100 * (report["onnx_int8"]["pooled"][k] - report["onnx_float"]["pooled"][k]), 3)
            for k in report["onnx_float"]["pooled"]}
        pred_float, pred_int8 = prob["onnx_float"].argmax(1), prob["onnx_int8"].argmax(1)
        report["int8_float_prediction_agreement"] = float((pred_float == pred_int8).mean())
    return report, {"probabilities": prob["torch"], "extra_probabilities": extra_prob["torch"]}


def external_test(ds1: Detections, directory: str, cfg: TrainConfig, rule: RingRule, seed: int) -> dict:
    """Final models on all DS1, plain and feedback template (same seed), scored on other patients."""
    ext = Detections.load(directory)
    plain_pred = predict_probabilities(fit(ds1.labelled, cfg, seed=seed), ext.labelled).argmax(1)
    trained, source = training_set(ds1, rule)
    pred = feedback_predict(fit(trained, cfg, seed=seed), ext, rule)
    labels, records = ext.labelled.labels, ext.labelled.records
    return {"external": directory,
            "training_templates": source,
            "plain": metrics.summary(labels, plain_pred, records),
            "feedback": metrics.summary(labels, pred, records)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", required=True, help="directory written by `stressbeat dataset beats`")
    ap.add_argument("--cv", default=str(Path(__file__).parents[2] / "reports" / "beat-type-cv.json"),
                    help="CV report whose config is used")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--seeds", help="CV of an ensemble: one model per seed (fold i: seed + i), averaged; "
                                    "replaces --seed")
    ap.add_argument("--folds", type=int, default=11)
    ap.add_argument("--size", type=int, default=RingRule.size, help="windows in the template")
    ap.add_argument("--stale", type=int, default=RingRule.stale,
                    help="detections without an N call before the plain template")
    ap.add_argument("--ring-classes", default=RingRule.classes, help="classes whose beats enter the template, e.g. NS")
    ap.add_argument("--keep-stale", action="store_true", help="keep the ring while stale (first version)")
    ap.add_argument("--add", action="store_true", help="a third channel beside the plain template")
    ap.add_argument("--admit-correlation", type=float,
                    help="a beat of any class also enters when its window correlates this well with the template")
    ap.add_argument("--onnx", action="store_true",
                    help="CV: also each fold's float and int8 ONNX files through the loop (onnxruntime)")
    ap.add_argument("--external", help="instead of the CV: final models (plain and feedback template, same "
                                        "seed) trained on all DS1, scored on this `dataset beats --records "
                                        "qtdb-other` export")
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    torch.set_num_threads(1)
    cfg = TrainConfig(**json.loads(Path(args.cv).read_text())["config"])
    rule = RingRule(args.size, args.stale, args.ring_classes, args.keep_stale, args.add, args.admit_correlation)
    ds1 = Detections.load(args.data, DS1)
    variant = ("template of the beats classified N (reference labels in training, the model's own calls in "
               "the test, beat by beat)")
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    if args.external and args.seeds:
        ap.error("--external compares single models (--seed); score an ensemble's final model with beats.external")
    if args.external:
        result = external_test(ds1, args.external, cfg, rule, args.seed)
        report = {"variant": variant, "rule": asdict(rule), "seed": args.seed, "config": cfg.to_dict(), **result}
    else:
        seeds = parse_seeds(args.seeds) if args.seeds else [args.seed]
        report, prob = cross_validate(ds1, args.data, cfg, rule, seeds, args.folds, args.onnx)
        # `beats.final` trains a model with this rule; a screen's rule has no "template"
        report = {"variant": variant, "rule": asdict(rule),
                  **({"template": template_metadata(rule)} if is_core_rule(rule) else {}), **report}
        # the card's S operating curve reads "probabilities" (here the torch loop's: its templates
        # follow the decisions made at offset 0, so other S offsets are approximate)
        extra = ds1.extra
        np.savez_compressed(Path(args.out).with_suffix(".logits.npz"), labels=ds1.labelled.labels,
                            records=ds1.labelled.records, **prob,
                            extra_records=np.zeros(0, np.int64) if extra is None else extra.records)
    Path(args.out).write_text(json.dumps(report, indent=1))
    for k in ("torch", "onnx_float", "onnx_int8", "plain", "feedback"):
        if k in report:
            print(f"{k:10s}", metrics.fmt(report[k]["pooled"]))
            if "ec57" in report[k]:
                print(f"{k:10s} EC57 " + " ".join(f"{m} {'-' if v is None else f'{100 * v:.1f}'}"
                                                  for m, v in report[k]["ec57"]["pooled"].items()))


if __name__ == "__main__":
    main()
