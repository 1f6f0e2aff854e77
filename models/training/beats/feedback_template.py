"""Variant screen (not shipped): a template of the beats the model itself called N.

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

python -m beats.feedback_template --data /tmp/beats --seed 0 --stale 16 --out CV.json
python -m beats.feedback_template --data /tmp/beats --seed 0 --stale 16 --external /tmp/qtdb-other --out EXT.json
"""

import argparse
import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch

from . import metrics
from .data import DS1, LABELS, BeatSet, load_beats, load_extra, record_folds
from .train import TrainConfig, fit, predict_probabilities


@dataclass
class RingRule:
    """Which beats feed the template and when it is given up."""

    size: int = 16  # windows whose median is the template
    stale: int = 64  # detections without a ring-class call before the plain template
    classes: str = "N"  # classes whose windows enter the ring
    keep_stale: bool = False  # while stale, keep the ring (first version) instead of emptying it
    add: bool = False  # the template is a third channel beside the plain one instead of replacing it
    admit_correlation: float | None = None  # also enters when it correlates this well with the template


@dataclass
class Detections:
    """An export's labelled beats and its detections without a reference beat, with R-peaks."""

    labelled: BeatSet
    peaks: np.ndarray
    extra: BeatSet | None  # None for an export without them
    extra_peaks: np.ndarray | None

    @classmethod
    def load(cls, directory: str, records: list[int] | None = None) -> "Detections":
        """The export in `directory`, restricted to `records` (default: every exported record)."""
        d = Path(directory)
        extra = load_extra(directory, "all")
        every = cls(load_beats(directory, "all"), np.load(d / "peaks.npy"), extra,
                    None if extra is None else np.load(d / "extra_peaks.npy"))
        return every if records is None else every.of_records(records)

    def of_records(self, records) -> "Detections":
        """The rows of `records` only."""
        keep = np.isin(self.labelled.records, records)
        if self.extra is None:
            return Detections(self.labelled.subset(keep), self.peaks[keep], None, None)
        held = np.isin(self.extra.records, records)
        return Detections(self.labelled.subset(keep), self.peaks[keep], self.extra.subset(held),
                          self.extra_peaks[held])

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


def training_set(det: Detections, rule: RingRule) -> BeatSet:
    """The labelled beats with the reference-fed template as their template channel (or beside it)."""
    data = det.labelled
    fed = reference_templates(det, rule)[:, None]
    beats = np.concatenate([data.beats, fed], 1) if rule.add else np.concatenate([data.beats[:, :1], fed], 1)
    return BeatSet(beats, data.rr, data.labels, data.records, data.meta)


@torch.no_grad()
def feedback_predict(model, det: Detections, rule: RingRule) -> np.ndarray:
    """Test: beat after beat, the template from the beats the model called N. The class of every
    labelled row."""
    model.eval()
    pred = np.full(len(det.labelled.labels), -1, np.int64)
    for record in np.unique(det.labelled.records):
        ring = Ring(rule)
        for src, i in det.in_order(record):
            window, plain = src.beats[i, 0], src.beats[i, 1]
            x = np.stack([window] + ([plain] if rule.add else []) + [ring.template(plain)])[None]
            cls = int(model(torch.from_numpy(x), torch.from_numpy(src.rr[i:i + 1])).argmax(1))
            if src is det.labelled:
                pred[i] = cls
            ring.push(window, cls)
    return pred


def cross_validate(ds1: Detections, cfg: TrainConfig, rule: RingRule, seed: int, n_folds: int) -> dict:
    """Patient-wise CV as `beats.cv` (same folds and seeds), the test beat by beat."""
    data = ds1.labelled
    trained = training_set(ds1, rule)
    start = time.time()
    pred = np.full(len(data.labels), -1, np.int64)
    for i, test_records in enumerate(record_folds(data.records, n_folds)):
        test = np.isin(data.records, test_records)
        model = fit(trained.subset(~test), cfg, seed=seed + i)
        pred[test] = feedback_predict(model, ds1.of_records(test_records), rule)
        part = metrics.summary(data.labels[test], pred[test], data.records[test], reps=0)["pooled"]
        print(f"[{time.time() - start:5.0f}s] fold {i + 1} {test_records}: {metrics.fmt(part)}", flush=True)
    assert (pred >= 0).all()
    return {"torch": metrics.summary(data.labels, pred, data.records)}


def external_test(ds1: Detections, directory: str, cfg: TrainConfig, rule: RingRule, seed: int) -> dict:
    """Final models on all DS1, plain and feedback template (same seed), scored on other patients."""
    ext = Detections.load(directory)
    plain_pred = predict_probabilities(fit(ds1.labelled, cfg, seed=seed), ext.labelled).argmax(1)
    pred = feedback_predict(fit(training_set(ds1, rule), cfg, seed=seed), ext, rule)
    labels, records = ext.labelled.labels, ext.labelled.records
    return {"external": directory,
            "plain": metrics.summary(labels, plain_pred, records),
            "feedback": metrics.summary(labels, pred, records)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", required=True, help="directory written by `stressbeat dataset beats`")
    ap.add_argument("--cv", default=str(Path(__file__).parents[2] / "reports" / "beat-type-cv.json"),
                    help="CV report whose config is used")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--folds", type=int, default=11)
    ap.add_argument("--size", type=int, default=RingRule.size, help="windows in the template")
    ap.add_argument("--stale", type=int, default=RingRule.stale,
                    help="detections without an N call before the plain template")
    ap.add_argument("--ring-classes", default=RingRule.classes, help="classes whose beats enter the template, e.g. NS")
    ap.add_argument("--keep-stale", action="store_true", help="keep the ring while stale (first version)")
    ap.add_argument("--add", action="store_true", help="a third channel beside the plain template")
    ap.add_argument("--admit-correlation", type=float,
                    help="a beat of any class also enters when its window correlates this well with the template")
    ap.add_argument("--external", help="instead of the CV: final models (plain and feedback template, same "
                                        "seed) trained on all DS1, scored on this `dataset beats --records "
                                        "qtdb-other` export")
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    torch.set_num_threads(1)
    cfg = TrainConfig(**json.loads(Path(args.cv).read_text())["config"])
    rule = RingRule(args.size, args.stale, args.ring_classes, args.keep_stale, args.add, args.admit_correlation)
    ds1 = Detections.load(args.data, DS1)
    if args.external:
        result = external_test(ds1, args.external, cfg, rule, args.seed)
    else:
        result = cross_validate(ds1, cfg, rule, args.seed, args.folds)
    report = {"variant": "template of the beats classified N (reference labels in training, the model's own "
                         "calls in the test, beat by beat)",
              "rule": asdict(rule), "seed": args.seed, "config": cfg.to_dict(), **result}
    Path(args.out).write_text(json.dumps(report, indent=1))
    for k in ("torch", "plain", "feedback"):
        if k in report:
            print(f"{k:9s}", metrics.fmt(report[k]["pooled"]))


if __name__ == "__main__":
    main()
