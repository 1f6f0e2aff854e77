"""Training loop: class-balanced sampling of the majority class, weighted loss, light augmentation."""

from dataclasses import dataclass, asdict

import numpy as np
import torch
from sklearn.linear_model import LogisticRegression
from torch import nn

from .data import BeatSet
from .model import RR_COLUMNS, BeatNet, Ensemble, rhythm_features
from .noise import NoiseBank


@dataclass
class TrainConfig:
    """Hyper-parameters (chosen by patient-wise CV)."""

    width: int = 16
    hidden: int = 32
    dropout: float = 0.3
    epochs: int = 8
    batch: int = 256
    lr: float = 2e-3
    weight_decay: float = 1e-3
    n_per_epoch: int = 12000  # N beats drawn per epoch; all other classes are kept
    class_weight_power: float = 0.5  # loss weight ~ (1 / class frequency) ** power
    weight_floor: int = 1000  # class counts below this weigh as if they had this many beats
    augment: bool = True
    beat_scale: bool = False  # feed the CNN amplitude-normalised beats (+ log amplitude to the MLP)
    global_pool: bool = False  # average the CNN features over time instead of flattening
    additive: bool = False  # logits = f(beat) + g(rr) instead of a joint head
    cnn_rr_features: int | None = None  # the CNN's RR MLP sees the first this many RR columns (None: all)
    rhythm_stage: bool = False  # split N + S by a logistic regression on rhythm features (v3)
    rhythm_c: float = 1.0  # inverse L2 strength of that regression
    rhythm_regular_only: bool = False  # its RR ratios count only in a regular rhythm (v4)
    rhythm_onset_below: float | None = None  # its long ratios count only after an abrupt onset (v5)
    rhythm_long_min: bool = False  # its two long ratios become their minimum (v7)
    on_time_gate: float | None = None  # an on-time beat is V or F only with at least this probability (v6)
    s_target_sensitivity: float | None = None  # with inner folds: S offset for this S Se (else best mean F1)
    real_noise: float = 0.0  # share of training beats given real NSTDB noise (bw, ma) on the beat channel
    real_noise_snr_db: tuple[float, float] = (6.0, 24.0)  # its SNR range (NSTDB definition, QRS ptp^2 / 8)
    stretch: float = 0.0  # time-scale beat and template together by 1 ± up to this around the R-peak
    jitter: float = 0.0  # shift the beat channel against its template by up to this many samples
    shift: float = 0.0  # shift beat and template together by up to this many samples
    jitter_normal_only: bool = False  # the jitter applies to N beats only

    def to_dict(self) -> dict:
        """Plain dict for reports."""
        return asdict(self)


def _augment(beat: torch.Tensor, rng: torch.Generator) -> torch.Tensor:
    b = beat.shape[0]
    scale = 1.0 + 0.15 * torch.randn(b, 1, 1, generator=rng)
    offset = 0.05 * torch.randn(b, 1, 1, generator=rng)
    slope = 0.05 * torch.randn(b, 1, 1, generator=rng) * torch.linspace(-1, 1, beat.shape[2])
    noise = 0.02 * torch.randn(beat.shape, generator=rng)
    return beat * scale + offset + slope + noise


def _warp(beat: torch.Tensor, r_index: int, cfg: TrainConfig, rng: torch.Generator,
          jittered: torch.Tensor | None = None) -> torch.Tensor:
    """Resamples each beat on a stretched, shifted time axis around `r_index` (both channels) and
    shifts the beat channel against its template, linear interpolation, edges held."""
    b, c, length = beat.shape
    t = torch.arange(length, dtype=torch.float32) - r_index
    scale = 1.0 + cfg.stretch * (2.0 * torch.rand(b, 1, 1, generator=rng) - 1.0)
    shift = torch.zeros(b, c, 1)
    if cfg.shift > 0:
        shift += cfg.shift * (2.0 * torch.rand(b, 1, 1, generator=rng) - 1.0)
    jitter = cfg.jitter * (2.0 * torch.rand(b, 1, 1, generator=rng) - 1.0)
    shift[:, :1] += jitter if jittered is None else jitter * jittered.view(b, 1, 1)
    pos = torch.clamp(r_index + t * scale + shift, 0.0, length - 1.0)
    lo = torch.clamp(pos.floor().long(), max=length - 2)
    frac = pos - lo
    return torch.gather(beat, 2, lo) * (1.0 - frac) + torch.gather(beat, 2, lo + 1) * frac


def _add_real_noise(beat: torch.Tensor, bank: NoiseBank, cfg: TrainConfig, rng: np.random.Generator) -> torch.Tensor:
    """Adds a noise window to the beat channel of a `cfg.real_noise` share of the batch, at an SNR
    drawn from `cfg.real_noise_snr_db` relative to the template's (else the beat's) peak-to-peak."""
    n, length = beat.shape[0], beat.shape[2]
    hit = np.flatnonzero(rng.random(n) < cfg.real_noise)
    if len(hit) == 0:
        return beat
    reference = beat[hit, -1].numpy()
    ptp = reference.max(1) - reference.min(1)
    snr_db = rng.uniform(*cfg.real_noise_snr_db, len(hit))
    scale = ptp / np.sqrt(8.0) / 10.0 ** (snr_db / 20.0)
    noise = bank.segments(len(hit), length, rng) * scale[:, None].astype(np.float32)
    beat = beat.clone()
    beat[hit, 0] += torch.from_numpy(noise)
    return beat


def fit(data: BeatSet, cfg: TrainConfig, seed: int = 0, log=None) -> BeatNet:
    """Trains a BeatNet on `data` (all normalisation from `data` only)."""
    torch.manual_seed(seed)
    np_rng = np.random.default_rng(seed)
    t_rng = torch.Generator().manual_seed(seed)
    model = BeatNet(data.length, cfg.cnn_rr_features or data.rr.shape[1], cfg.width, cfg.hidden, cfg.dropout, cfg.beat_scale,
                    cfg.global_pool, cfg.additive, data.beats.shape[1], cfg.rhythm_stage, cfg.rhythm_regular_only,
                    cfg.rhythm_onset_below, cfg.on_time_gate, cfg.rhythm_long_min)
    model.set_normalisation(data.beats, data.rr)
    counts = np.bincount(data.labels, minlength=5).astype(np.float64)
    normal = np.flatnonzero(data.labels == 0)
    others = np.flatnonzero(data.labels != 0)
    n_normal = min(cfg.n_per_epoch, len(normal))
    sampled = counts.copy()
    sampled[0] = n_normal
    weight = (sampled.sum() / np.maximum(sampled, cfg.weight_floor)) ** cfg.class_weight_power
    weight = weight / weight.mean()
    loss_fn = nn.CrossEntropyLoss(weight=torch.tensor(weight, dtype=torch.float32))
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    steps = cfg.epochs * int(np.ceil((n_normal + len(others)) / cfg.batch))
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=cfg.lr, total_steps=steps)
    beats = torch.from_numpy(data.beats)
    rr = torch.from_numpy(data.rr)
    labels = torch.from_numpy(data.labels)
    noise_bank = NoiseBank(data.meta["sampling_rate_hz"]) if cfg.real_noise > 0 else None
    for epoch in range(cfg.epochs):
        model.train()
        idx = np.concatenate([np_rng.choice(normal, n_normal, replace=False), others])
        np_rng.shuffle(idx)
        total = 0.0
        for start in range(0, len(idx), cfg.batch):
            sel = torch.from_numpy(idx[start:start + cfg.batch])
            beat = beats[sel]
            if noise_bank is not None:
                beat = _add_real_noise(beat, noise_bank, cfg, np_rng)
            if cfg.stretch > 0 or cfg.jitter > 0 or cfg.shift > 0:
                beat = _warp(beat, data.meta["beat"]["pre"], cfg, t_rng,
                             (labels[sel] == 0).float() if cfg.jitter_normal_only else None)
            if cfg.augment:
                beat = _augment(beat, t_rng)
            loss = loss_fn(model.logits(beat, rr[sel]), labels[sel])
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            total += float(loss) * len(sel)
        if log:
            log(f"epoch {epoch + 1}/{cfg.epochs} loss {total / len(idx):.4f}")
    model.eval()
    if cfg.rhythm_stage:
        fit_rhythm_stage(model, data, cfg)
    return model


def fit_rhythm_stage(model: BeatNet, data: BeatSet, cfg: TrainConfig) -> None:
    """Fits the rhythm stage: S vs N among the N and S beats of `data` (reference labels), logistic
    regression on `rhythm_features`, the same class weighting as the network's loss."""
    names = list(data.meta.get("beat", {}).get("rr_features", RR_COLUMNS))
    if names != RR_COLUMNS:
        raise ValueError(f"rhythm stage needs RR columns {RR_COLUMNS}, the data has {names}")
    x = rhythm_features(torch.from_numpy(data.rr), cfg.rhythm_regular_only, cfg.rhythm_onset_below,
                        cfg.rhythm_long_min).numpy()
    reg = fit_rhythm_regression(x, data.labels, cfg)
    model.rhythm_weight.copy_(torch.from_numpy(reg.coef_[0].astype(np.float32)))
    model.rhythm_bias.fill_(float(reg.intercept_[0]))


def fit_rhythm_regression(x: np.ndarray, labels: np.ndarray, cfg: TrainConfig) -> LogisticRegression:
    """The rhythm stage's regression: S vs N on the rows of `x` whose label is N or S."""
    keep = labels <= 1
    is_s = (labels[keep] == 1).astype(np.int64)
    counts = np.bincount(is_s, minlength=2).astype(np.float64)
    weight = (1.0 / np.maximum(counts, cfg.weight_floor)[is_s]) ** cfg.class_weight_power
    return LogisticRegression(C=cfg.rhythm_c, max_iter=2000).fit(x[keep], is_s, sample_weight=weight / weight.mean())


def fit_ensemble(data: BeatSet, cfg: TrainConfig, seeds: list[int], log=None) -> nn.Module:
    """One BeatNet per seed, averaged (`Ensemble`); a single seed gives the plain BeatNet."""
    members = [fit(data, cfg, seed=s, log=log) for s in seeds]
    return members[0] if len(members) == 1 else Ensemble(members)


@torch.no_grad()
def predict_probabilities(model: BeatNet, data: BeatSet, batch: int = 4096) -> np.ndarray:
    """Calibrated probabilities (offsets and rhythm stage included) for every row."""
    model.eval()
    out = [model(torch.from_numpy(data.beats[i:i + batch]), torch.from_numpy(data.rr[i:i + batch]))
           for i in range(0, len(data.labels), batch)]
    return torch.cat(out).numpy()


@torch.no_grad()
def predict_logits(model: BeatNet, data: BeatSet, batch: int = 4096) -> np.ndarray:
    """Uncalibrated logits for every row."""
    model.eval()
    out = [model.logits(torch.from_numpy(data.beats[i:i + batch]), torch.from_numpy(data.rr[i:i + batch]))
           for i in range(0, len(data.labels), batch)]
    return torch.cat(out).numpy()
