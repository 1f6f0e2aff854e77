"""Variant screen (not shipped): a template of the beats the model itself called N.

The shipped template is the median of the previous 16 detected beats, whatever they were, so in a
ventricular run or a bigeminy it is made of V beats and the network compares a V beat with V
beats. Here the template is the median of the last 16 beats *classified N*: during training the
reference label decides (teacher forcing), during the test the fold's own model, beat after beat,
as a live session would (each beat's class feeds the next beat's template). If no beat among the
last `stale` detections was N, the ring is emptied and the plain template (channel 1 of the
export) is used until a beat is called N again, so a change of morphology cannot freeze a stale
template (`--keep-stale`, the first version screened: the ring is kept and the plain template used
only while no N call is recent, which froze record 124 at one seed).

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
from .data import LABELS, BeatSet, load_beats, load_extra, record_folds
from .train import TrainConfig, fit


@dataclass
class RingRule:
    """Which beats feed the template and when it is given up."""

    size: int = 16  # windows whose median is the template
    stale: int = 64  # detections without a ring-class call before the plain template
    classes: str = "N"  # classes whose windows enter the ring
    keep_stale: bool = False  # while stale, keep the ring (first version) instead of emptying it
    add: bool = False  # the template is a third channel beside the plain one instead of replacing it


def _order(data: BeatSet, peaks: np.ndarray, extra: BeatSet | None, extra_peaks: np.ndarray | None,
           record: int) -> list[tuple[bool, int]]:
    """(is_extra, row) of every exported detection of `record`, in R-peak order."""
    rows = [(int(peaks[i]), False, int(i)) for i in np.flatnonzero(data.records == record)]
    if extra is not None:
        rows += [(int(extra_peaks[i]), True, int(i)) for i in np.flatnonzero(extra.records == record)]
    return [(is_extra, i) for _, is_extra, i in sorted(rows)]


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

    def push(self, window: np.ndarray, cls: int) -> None:
        self.since_last += 1
        if cls in self.classes:
            self.windows = (self.windows + [window])[-self.rule.size:]
            self.since_last = 0


def reference_templates(data: BeatSet, peaks: np.ndarray, extra: BeatSet | None, extra_peaks: np.ndarray | None,
                        rule: RingRule) -> np.ndarray:
    """Training templates: the ring fed by the reference labels (extra detections never enter)."""
    out = data.beats[:, 1].copy()
    for record in np.unique(data.records):
        ring = Ring(rule)
        for is_extra, i in _order(data, peaks, extra, extra_peaks, record):
            if is_extra:
                ring.push(extra.beats[i, 0], -1)
            else:
                out[i] = ring.template(data.beats[i, 1])
                ring.push(data.beats[i, 0], int(data.labels[i]))
    return out


def training_set(data: BeatSet, peaks: np.ndarray, extra: BeatSet | None, extra_peaks: np.ndarray | None,
                 rule: RingRule) -> BeatSet:
    """`data` with the reference-fed template as its template channel (or beside it)."""
    fed = reference_templates(data, peaks, extra, extra_peaks, rule)[:, None]
    beats = np.concatenate([data.beats, fed], 1) if rule.add else np.concatenate([data.beats[:, :1], fed], 1)
    return BeatSet(beats, data.rr, data.labels, data.records, data.meta)


@torch.no_grad()
def feedback_predict(model, data: BeatSet, peaks: np.ndarray, extra: BeatSet | None, extra_peaks: np.ndarray | None,
                     rule: RingRule) -> np.ndarray:
    """Test: beat after beat, the template from the beats the model called N. The class of every
    labelled row of `data`."""
    model.eval()
    pred = np.full(len(data.labels), -1, np.int64)
    for record in np.unique(data.records):
        ring = Ring(rule)
        for is_extra, i in _order(data, peaks, extra, extra_peaks, record):
            src = extra if is_extra else data
            window, plain = src.beats[i, 0], src.beats[i, 1]
            x = np.stack([window] + ([plain] if rule.add else []) + [ring.template(plain)])[None]
            cls = int(model(torch.from_numpy(x), torch.from_numpy(src.rr[i:i + 1])).argmax(1))
            if not is_extra:
                pred[i] = cls
            ring.push(window, cls)
    return pred


def _load(directory: str, records: str | None):
    """Labelled beats, their R-peaks, the extra detections and theirs, of `records` (None: DS1)."""
    data = load_beats(directory, records)
    all_records = np.load(Path(directory) / "records.npy")
    peaks = np.load(Path(directory) / "peaks.npy")[np.isin(all_records, np.unique(data.records))]
    extra = load_extra(directory, records)
    extra_peaks = None if extra is None else np.load(Path(directory) / "extra_peaks.npy")
    if extra is not None:
        keep = np.isin(extra.records, np.unique(data.records))
        extra, extra_peaks = extra.subset(keep), extra_peaks[keep]
    return data, peaks, extra, extra_peaks


def cross_validate(data, peaks, extra, extra_peaks, cfg: TrainConfig, rule: RingRule, seed: int,
                   n_folds: int) -> dict:
    """Patient-wise CV as `beats.cv` (same folds and seeds), the test beat by beat."""
    trained = training_set(data, peaks, extra, extra_peaks, rule)
    start = time.time()
    pred = np.full(len(data.labels), -1, np.int64)
    for i, test_records in enumerate(record_folds(data.records, n_folds)):
        test = np.isin(data.records, test_records)
        model = fit(trained.subset(~test), cfg, seed=seed + i)
        held = np.isin(extra.records, test_records) if extra is not None else None
        pred[test] = feedback_predict(model, data.subset(test), peaks[test],
                                      None if extra is None else extra.subset(held),
                                      None if extra is None else extra_peaks[held], rule)
        part = metrics.summary(data.labels[test], pred[test], data.records[test], reps=0)["pooled"]
        print(f"[{time.time() - start:5.0f}s] fold {i + 1} {test_records}: {metrics.fmt(part)}", flush=True)
    assert (pred >= 0).all()
    return {"torch": metrics.summary(data.labels, pred, data.records)}


def external_test(data, peaks, extra, extra_peaks, directory: str, cfg: TrainConfig, rule: RingRule,
                  seed: int) -> dict:
    """Final models on all DS1, plain and feedback template (same seed), scored on other patients."""
    ext, ext_peaks, ext_extra, ext_extra_peaks = _load(directory, "all")
    plain = fit(data, cfg, seed=seed)
    with torch.no_grad():
        plain_pred = plain(torch.from_numpy(ext.beats), torch.from_numpy(ext.rr)).argmax(1).numpy()
    model = fit(training_set(data, peaks, extra, extra_peaks, rule), cfg, seed=seed)
    pred = feedback_predict(model, ext, ext_peaks, ext_extra, ext_extra_peaks, rule)
    return {"external": directory,
            "plain": metrics.summary(ext.labels, plain_pred, ext.records),
            "feedback": metrics.summary(ext.labels, pred, ext.records)}


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
    ap.add_argument("--external", help="instead of the CV: final models (plain and feedback template, same "
                                        "seed) trained on all DS1, scored on this `dataset beats --records "
                                        "qtdb-other` export")
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    torch.set_num_threads(1)
    cfg = TrainConfig(**json.loads(Path(args.cv).read_text())["config"])
    rule = RingRule(args.size, args.stale, args.ring_classes, args.keep_stale, args.add)
    ds1 = _load(args.data, None)
    if args.external:
        result = external_test(*ds1, args.external, cfg, rule, args.seed)
    else:
        result = cross_validate(*ds1, cfg, rule, args.seed, args.folds)
    report = {"variant": "template of the beats classified N (reference labels in training, the model's own "
                         "calls in the test, beat by beat)",
              "rule": asdict(rule), "seed": args.seed, "config": cfg.to_dict(), **result}
    Path(args.out).write_text(json.dumps(report, indent=1))
    for k in ("torch", "plain", "feedback"):
        if k in report:
            print(f"{k:9s}", metrics.fmt(report[k]["pooled"]))


if __name__ == "__main__":
    main()
