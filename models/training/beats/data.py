"""Loads the beat data set exported by `stressbeat dataset beats` and defines the DS1 split."""

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

LABELS = ["N", "S", "V", "F", "Q"]

# de Chazal et al. (2004) DS1: the 22 training records of the inter-patient protocol (no paced).
DS1 = [101, 106, 108, 109, 112, 114, 115, 116, 118, 119, 122, 124,
       201, 203, 205, 207, 208, 209, 215, 220, 223, 230]


@dataclass
class BeatSet:
    """Beats of one data set: windows, raw RR features, AAMI class indices and record ids."""

    beats: np.ndarray  # [n, C, L] f32: the window, then (C = 2) its template
    rr: np.ndarray  # [n, R] f32, raw
    labels: np.ndarray  # [n] int64, index into LABELS
    records: np.ndarray  # [n] int64
    meta: dict

    def subset(self, mask: np.ndarray) -> "BeatSet":
        """Rows selected by a boolean mask or index array."""
        return BeatSet(self.beats[mask], self.rr[mask], self.labels[mask], self.records[mask], self.meta)

    @property
    def length(self) -> int:
        """Beat window length in samples."""
        return self.beats.shape[2]


def load_beats(directory: str, records: list[int] | str | None = None) -> BeatSet:
    """The exported 130 Hz beat set (layout in its meta.json), restricted to `records` (default
    DS1; "all": every exported record)."""
    d = Path(directory)
    data = BeatSet(
        beats=np.load(d / "beats.npy").astype(np.float32),
        rr=np.load(d / "rr.npy").astype(np.float32),
        labels=np.load(d / "labels.npy").astype(np.int64),
        records=np.load(d / "records.npy").astype(np.int64),
        meta=json.loads((d / "meta.json").read_text()),
    )
    if records == "all":
        return data
    keep = np.isin(data.records, DS1 if records is None else records)
    return data.subset(keep)


def concat(first: BeatSet, *more: BeatSet) -> BeatSet:
    """Rows of several beat sets with the same layout (the first one's meta); record ids must not
    collide."""
    sets = [first, *more]
    ids = [set(np.unique(s.records).tolist()) for s in sets]
    if sum(len(i) for i in ids) != len(set().union(*ids)):
        raise ValueError("beat sets share record ids")
    for s in more:
        if s.meta.get("beat") != first.meta.get("beat"):
            raise ValueError("beat sets were exported with different layouts")
    return BeatSet(np.concatenate([s.beats for s in sets]), np.concatenate([s.rr for s in sets]),
                   np.concatenate([s.labels for s in sets]), np.concatenate([s.records for s in sets]),
                   first.meta)


def load_extra(directory: str, records: list[int] | str | None = None) -> BeatSet | None:
    """Detections that matched no reference beat (outside VF), label -1; None for an older export."""
    d = Path(directory)
    if not (d / "extra_records.npy").exists():
        return None
    recs = np.load(d / "extra_records.npy").astype(np.int64)
    data = BeatSet(
        beats=np.load(d / "extra_beats.npy").astype(np.float32),
        rr=np.load(d / "extra_rr.npy").astype(np.float32),
        labels=np.full(len(recs), -1, np.int64),
        records=recs,
        meta={},
    )
    if records == "all":
        return data
    return data.subset(np.isin(data.records, DS1 if records is None else records))


def missed_references(meta: dict) -> dict[int, np.ndarray] | None:
    """Per record, reference beats (by class) with no labelled window: missed by the detector or at an edge."""
    if not all("missed_reference_class_counts" in r for r in meta["records"]):
        return None
    return {int(r.get("record_id", r["record"])): np.array(r["missed_reference_class_counts"], np.int64)
            for r in meta["records"]}


def load_kachuee(directory: str) -> BeatSet:
    """The Kachuee-style 187-sample beats (125 Hz) of the same export; no RR input (one zero column)."""
    d = Path(directory)
    labels = np.load(d / "kachuee_labels.npy").astype(np.int64)
    return BeatSet(
        beats=np.load(d / "kachuee_beats.npy").astype(np.float32).reshape(len(labels), 1, -1),
        rr=np.zeros((len(labels), 1), np.float32),
        labels=labels,
        records=np.load(d / "kachuee_records.npy").astype(np.int64),
        meta={},
    )


def record_folds(records: np.ndarray, n_folds: int) -> list[list[int]]:
    """Groups of whole records (patients): fold i holds every n_folds-th record in sorted order."""
    ids = sorted(set(int(r) for r in records))
    return [ids[i::n_folds] for i in range(n_folds)]
