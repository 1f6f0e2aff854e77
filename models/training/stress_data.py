"""Loads the stress dataset exported by `stressbeat dataset stress` and defines the evaluation protocol.

Protocol (docs/model-format.md, models/stress.md): leave-one-subject-out; the personal baseline is
the mean feature vector of the subject's scorable rest windows lying entirely inside the first
BASELINE_S seconds of the rest recording; the scored windows are the rest windows starting at or
after BASELINE_S plus every task window, each scorable (usable and finite features).
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

BASELINE_S = 60.0
REST, TASK = 1, 2


@dataclass
class StressData:
    """One row per 30 s window; beat arrays (optional) one row per beat."""

    subject: np.ndarray  # [n] int
    recording: np.ndarray  # [n] 1 rest, 2 task
    label: np.ndarray  # [n] 0 calm, 1 stress
    start_s: np.ndarray
    end_s: np.ndarray
    usable: np.ndarray
    scorable: np.ndarray  # [n] bool
    features: np.ndarray  # [n, F] float32 raw (NaN = not computable)
    feature_names: list[str]
    images: np.ndarray | None  # [n, C, 128, 128] uint8
    channels: list[str]
    min_usable_fraction: float
    meta: dict
    beat_images: np.ndarray | None = None  # [m, 1, 128, 128] uint8, one image per beat
    beat_subject: np.ndarray | None = None  # [m]
    beat_recording: np.ndarray | None = None  # [m]
    beat_time_s: np.ndarray | None = None  # [m] R-peak time in its recording

    @property
    def beat_label(self) -> np.ndarray:
        return (self.beat_recording == TASK).astype(np.int64)

    @property
    def subjects(self) -> np.ndarray:
        return np.unique(self.subject)

    def baseline_mask(self) -> np.ndarray:
        """Windows that form the personal baseline (rest, entirely inside the first BASELINE_S)."""
        return (self.recording == REST) & (self.end_s <= BASELINE_S + 1e-6) & self.scorable

    def eval_candidates(self) -> np.ndarray:
        """Windows evaluated in both settings, scorable or not."""
        return ((self.recording == REST) & (self.start_s >= BASELINE_S - 1e-6)) | (self.recording == TASK)

    def eval_mask(self) -> np.ndarray:
        """Scored windows: evaluation candidates that are scorable."""
        return self.eval_candidates() & self.scorable

    def personal_baselines(self) -> dict[int, np.ndarray]:
        """Mean features over each subject's baseline windows."""
        bm = self.baseline_mask()
        out = {}
        for s in self.subjects:
            m = bm & (self.subject == s)
            if m.any():
                out[int(s)] = self.features[m].mean(0)
        return out

    def baseline_rows(self, baselines: dict[int, np.ndarray]) -> np.ndarray:
        """[n, F] personal baseline of each window's subject (NaN when the subject has none)."""
        out = np.full_like(self.features, np.nan)
        for s, b in baselines.items():
            out[self.subject == s] = b
        return out


def _load(d: Path, name: str):
    p = d / f"{name}.npy"
    return np.load(p) if p.exists() else None


def load(path: str | Path) -> StressData:
    """Reads an export folder (meta.json + .npy files)."""
    d = Path(path)
    meta = json.loads((d / "meta.json").read_text())
    features = np.load(d / "features.npy").astype(np.float32)
    usable = np.load(d / "usable_fraction.npy").astype(np.float32)
    minu = float(meta["min_usable_fraction"])
    scorable = _load(d, "scorable")
    scorable = (scorable.astype(bool) if scorable is not None
                else (usable >= minu) & np.isfinite(features).all(1))
    images = _load(d, "images")
    channels = list(meta.get("image_channels", meta.get("channels", [])))
    data = StressData(
        subject=np.load(d / "subject.npy").astype(np.int64),
        recording=np.load(d / "recording.npy").astype(np.int64),
        label=np.load(d / "label.npy").astype(np.int64),
        start_s=np.load(d / "start_s.npy").astype(np.float64),
        end_s=np.load(d / "end_s.npy").astype(np.float64),
        usable=usable, scorable=scorable, features=features,
        feature_names=list(meta["features"]), images=images, channels=channels,
        min_usable_fraction=minu, meta=meta)
    bi = _load(d, "beat_images")
    if bi is not None:
        data.beat_images = bi if bi.ndim == 4 else bi[:, None]
        data.beat_subject = np.load(d / "beat_subject.npy").astype(np.int64)
        data.beat_recording = np.load(d / "beat_recording.npy").astype(np.int64)
        data.beat_time_s = np.load(d / "beat_time_s.npy").astype(np.float64)
    return data


def beats_of_windows(data: StressData) -> list[np.ndarray]:
    """Indices of the beats inside each window (windows overlap, so a beat is in several)."""
    res = []
    for i in range(len(data.subject)):
        m = ((data.beat_subject == data.subject[i]) & (data.beat_recording == data.recording[i])
             & (data.beat_time_s >= data.start_s[i]) & (data.beat_time_s < data.end_s[i]))
        res.append(np.flatnonzero(m))
    return res
