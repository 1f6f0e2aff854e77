"""Beat-type network: a small 1D CNN on the beat and an MLP on the RR features, then (v3, v4) a
rhythm stage that splits the network's N + S probability into N and S from rhythm features alone.

Standardisation constants, the decision offsets and the rhythm stage's weights are buffers, so the
exported graph takes raw inputs and returns calibrated softmax probabilities.
"""

import numpy as np
import torch
from torch import nn

CLIP = 8.0
# Columns of the exported `rr` input (`RR_FEATURE_NAMES` in rust-core/src/model_input/beat.rs).
RR_COLUMNS = ["pre_rr_s", "post_rr_s", "local_rr_s", "pre_local_ratio", "post_pre_ratio", "pre_long_ratio",
              "pre_longer_ratio", "rr_irregularity", "onset_ratio"]
RHYTHM_FEATURES = ["log_pre_local_ratio", "log_post_pre_ratio", "log_pre_long_ratio", "log_pre_longer_ratio",
                   "log_pre_long_ratio_if_regular", "log_pre_longer_ratio_if_regular", "irregularity_capped"]
# v4: every ratio counts only in a regular rhythm
RHYTHM_FEATURES_REGULAR_ONLY = ["log_pre_local_ratio_if_regular", "log_post_pre_ratio_if_regular",
                                "log_pre_long_ratio_if_regular", "log_pre_longer_ratio_if_regular",
                                "irregularity_capped"]
# v7: the two long references as one, the one the run has not caught up with (the smaller ratio)
RHYTHM_FEATURES_LONG_MIN = ["log_pre_local_ratio_if_regular", "log_post_pre_ratio_if_regular",
                            "log_min_long_ratio_if_regular", "irregularity_capped"]
REGULAR_BELOW = 0.1  # rr_irregularity under this counts as a regular rhythm
ON_TIME_ABOVE = 0.92  # pre_local_ratio above this: the beat is not premature (v6 gate)
IRREGULARITY_CAP = 0.5


def rhythm_feature_names(regular_only: bool = False, long_min: bool = False) -> list[str]:
    """Names of `rhythm_features`' columns."""
    if long_min:
        return RHYTHM_FEATURES_LONG_MIN
    return RHYTHM_FEATURES_REGULAR_ONLY if regular_only else RHYTHM_FEATURES


def rhythm_features(rr: torch.Tensor, regular_only: bool = False, onset_below: float | None = None,
                    long_min: bool = False, regular_below: float = REGULAR_BELOW) -> torch.Tensor:
    """[B, len(RR_COLUMNS)] raw RR features -> [B, len(rhythm_feature_names(...))]: prematurity against the
    local, long and longer references and the pause after (logs of the ratios), prematurity again
    counted only in a regular rhythm (in atrial fibrillation an early beat is not an S beat), and
    the rhythm's irregularity. `regular_only` (v4, RHYTHM_FEATURES_REGULAR_ONLY): the four ratios
    count only in a regular rhythm, so an irregular rhythm's beats share one S probability, set by
    the irregularity. `onset_below` (v5): the two long ratios count only after an abrupt onset
    (`onset_ratio` below it), so a sinus rate rising with stress or exercise is not a run of S beats.
    `long_min` (v7, needs `regular_only`): the two long ratios become their minimum, the prematurity
    against whichever reference a run of S beats has not yet filled (RHYTHM_FEATURES_LONG_MIN).
    `regular_below`: the irregularity under which a rhythm counts as regular (screens only).
    Few graph nodes on purpose: tract's cost at batch 1 is per node."""
    first = RR_COLUMNS.index("pre_local_ratio")
    ratios = RR_COLUMNS[first:first + 4]
    assert ratios == ["pre_local_ratio", "post_pre_ratio", "pre_long_ratio", "pre_longer_ratio"], ratios
    logs = torch.log(torch.clamp(rr[:, first:first + 4], min=1e-3))
    if onset_below is not None:
        k = RR_COLUMNS.index("onset_ratio")
        abrupt = (rr[:, k:k + 1] < onset_below).to(rr.dtype)
        logs = torch.cat([logs[:, :2], logs[:, 2:4] * abrupt], dim=1)
    k = RR_COLUMNS.index("rr_irregularity")
    irregularity = rr[:, k:k + 1]
    regular = (irregularity < regular_below).to(rr.dtype)
    capped = torch.clamp(irregularity, max=IRREGULARITY_CAP)
    if long_min:
        if not regular_only:
            raise ValueError("long_min needs regular_only")
        logs = torch.cat([logs[:, :2], torch.minimum(logs[:, 2:3], logs[:, 3:4])], dim=1)
    if regular_only:
        return torch.cat([logs * regular, capped], dim=1)
    return torch.cat([logs, logs[:, 2:4] * regular, capped], dim=1)


def split_n_or_s(p: torch.Tensor, s_given_n_or_s: torch.Tensor) -> torch.Tensor:
    """The rhythm stage's split: the network's N + S probability of `p` [B, 5] shared between N
    and S by P(S | N or S) [B, 1]; V, F and Q unchanged."""
    n_or_s = p[:, :2].sum(dim=1, keepdim=True)
    return torch.cat([n_or_s * (1 - s_given_n_or_s), n_or_s * s_given_n_or_s, p[:, 2:]], dim=1)


def gate_on_time(p: torch.Tensor, rr: torch.Tensor, threshold: float) -> torch.Tensor:
    """v6: a beat that is not premature (`pre_local_ratio` > ON_TIME_ABOVE) and whose most probable
    class is V or F with a probability below `threshold` is an N beat: that class's probability
    moves to N (which then leads). `p` [B, 5] probabilities, `rr` [B, len(RR_COLUMNS)] raw."""
    k = RR_COLUMNS.index("pre_local_ratio")
    on_time = (rr[:, k:k + 1] > ON_TIME_ABOVE).to(p.dtype)
    v_f = p[:, 2:4]
    leads = (v_f >= torch.amax(p, dim=1, keepdim=True)).to(p.dtype)
    weak = (v_f < threshold).to(p.dtype)
    moved = v_f * leads * weak * on_time
    return torch.cat([p[:, :1] + moved.sum(dim=1, keepdim=True), p[:, 1:2], v_f - moved, p[:, 4:]], dim=1)


def _conv(c_in: int, c_out: int, k: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv1d(c_in, c_out, k, padding=k // 2), nn.BatchNorm1d(c_out),
                         nn.ReLU(), nn.MaxPool1d(2))


class BeatNet(nn.Module):
    """beat [B,C,L] + rr [B,R] (raw) -> class probabilities [B,5] (N,S,V,F,Q).

    C = 2 (shipped): the beat and its running template; the CNN sees the beat and beat - template.
    The CNN and its RR MLP see the first `n_rr` columns of `rr`; with `rhythm_stage` the rhythm
    stage (`fit_rhythm_stage` in train.py) sees
    `rhythm_features(rr, rhythm_regular_only, rhythm_onset_below, rhythm_long_min)` of all `RR_COLUMNS`.
    """

    def __init__(self, length: int, n_rr: int, width: int = 16, hidden: int = 32, dropout: float = 0.3,
                 beat_scale: bool = False, global_pool: bool = False, additive: bool = False,
                 channels: int = 1, rhythm_stage: bool = False, rhythm_regular_only: bool = False,
                 rhythm_onset_below: float | None = None, on_time_gate: float | None = None,
                 rhythm_long_min: bool = False):
        super().__init__()
        self.on_time_gate = on_time_gate
        self.beat_scale = beat_scale
        self.n_rr = n_rr
        self.rhythm_stage = rhythm_stage
        self.rhythm_regular_only = rhythm_regular_only
        self.rhythm_onset_below = rhythm_onset_below
        self.rhythm_long_min = rhythm_long_min
        n_rhythm = len(rhythm_feature_names(rhythm_regular_only, rhythm_long_min))
        self.register_buffer("rhythm_weight", torch.zeros(n_rhythm))
        self.register_buffer("rhythm_bias", torch.zeros(1))
        self.register_buffer("beat_mean", torch.zeros(1))
        self.register_buffer("beat_std", torch.ones(1))
        self.register_buffer("rr_mean", torch.zeros(n_rr))
        self.register_buffer("rr_std", torch.ones(n_rr))
        self.register_buffer("logit_offset", torch.zeros(5))
        self.channels = channels  # 2: beat and the running template of the same person
        self.cnn = nn.Sequential(_conv(channels, width, 7), _conv(width, 2 * width, 5), _conv(2 * width, 2 * width, 5))
        if global_pool:  # position-free summary: fewer weights, less room to memorise patients
            self.beat_fc = nn.Sequential(nn.AdaptiveAvgPool1d(1), nn.Flatten(), nn.Linear(2 * width, hidden), nn.ReLU())
        else:
            flat = 2 * width * (length // 8)
            self.beat_fc = nn.Sequential(nn.Flatten(), nn.Dropout(dropout), nn.Linear(flat, hidden), nn.ReLU())
        self.rr_mlp = nn.Sequential(nn.Linear(n_rr + int(beat_scale), 16), nn.ReLU(), nn.Linear(16, 16), nn.ReLU())
        self.additive = additive
        # additive: logits = f(beat) + g(rr), no interaction, so RR evidence is never ignored
        self.beat_head = nn.Linear(hidden, 5) if additive else None
        self.rr_head = nn.Linear(16, 5) if additive else None
        self.head = None if additive else nn.Sequential(nn.Dropout(dropout), nn.Linear(hidden + 16, hidden), nn.ReLU(),
                                  nn.Linear(hidden, 5))

    def set_normalisation(self, beats: np.ndarray, rr: np.ndarray) -> None:
        """Fits the input standardisation on training data only."""
        self.beat_mean.fill_(float(beats.mean()))
        self.beat_std.fill_(float(beats.std()) + 1e-6)
        self.rr_mean.copy_(torch.from_numpy(rr[:, :self.n_rr].mean(axis=0)))
        self.rr_std.copy_(torch.from_numpy(rr[:, :self.n_rr].std(axis=0) + 1e-6))

    def logits(self, beat: torch.Tensor, rr: torch.Tensor) -> torch.Tensor:
        """Uncalibrated logits (training)."""
        r = torch.clamp((rr[:, :self.n_rr] - self.rr_mean) / self.rr_std, -CLIP, CLIP)
        if self.beat_scale:
            amplitude = torch.amax(torch.abs(beat[:, :1]), dim=2) + 0.05  # [B,1], mV, of the beat channel
            x = beat / amplitude.unsqueeze(2)
            r = torch.cat([r, torch.log(amplitude)], dim=1)
        else:
            x = (beat - self.beat_mean) / self.beat_std
        if self.channels >= 2:  # beat and beat minus each template
            x = torch.cat([x[:, :1], x[:, :1] - x[:, 1:]], dim=1)
        beat_features, rr_features = self.beat_fc(self.cnn(x)), self.rr_mlp(r)
        if self.additive:
            return self.beat_head(beat_features) + self.rr_head(rr_features)
        return self.head(torch.cat([beat_features, rr_features], dim=1))

    def s_given_n_or_s(self, rr: torch.Tensor) -> torch.Tensor:
        """The rhythm stage's P(S | N or S) [B, 1]."""
        x = rhythm_features(rr, self.rhythm_regular_only, self.rhythm_onset_below, self.rhythm_long_min)
        return torch.sigmoid(x @ self.rhythm_weight.unsqueeze(1) + self.rhythm_bias)

    def forward(self, beat: torch.Tensor, rr: torch.Tensor) -> torch.Tensor:
        """Calibrated probabilities (inference, export), then the on-time gate if configured."""
        p = self.calibrated(beat, rr)
        return p if self.on_time_gate is None else gate_on_time(p, rr, self.on_time_gate)

    def calibrated(self, beat: torch.Tensor, rr: torch.Tensor) -> torch.Tensor:
        """Probabilities with the rhythm stage and the decision offsets. The offsets act last, as
        softmax(log p + offset), so with the rhythm stage they shift its output too."""
        if not self.rhythm_stage:
            return torch.softmax(self.logits(beat, rr) + self.logit_offset, dim=1)
        p = split_n_or_s(torch.softmax(self.logits(beat, rr), dim=1), self.s_given_n_or_s(rr))
        if not torch.any(self.logit_offset != 0):
            return p
        p = p * torch.exp(self.logit_offset)
        return p / p.sum(dim=1, keepdim=True)


class Ensemble(nn.Module):
    """Several BeatNets trained alike with other seeds: their calibrated probabilities averaged,
    then the on-time gate applied once, to the average. Same inputs and output as one BeatNet."""

    def __init__(self, members: list[BeatNet]):
        super().__init__()
        if len({(m.channels, m.on_time_gate) for m in members}) != 1:
            raise ValueError("ensemble members differ in their channels or on-time gate")
        self.members = nn.ModuleList(members)
        self.channels = members[0].channels
        self.on_time_gate = members[0].on_time_gate

    def calibrated(self, beat: torch.Tensor, rr: torch.Tensor) -> torch.Tensor:
        """The members' calibrated probabilities, averaged."""
        return torch.stack([m.calibrated(beat, rr) for m in self.members]).mean(dim=0)

    def logits(self, beat: torch.Tensor, rr: torch.Tensor) -> torch.Tensor:
        """Log of the averaged probabilities (an ensemble has no single set of raw logits)."""
        return torch.log(self.calibrated(beat, rr).clamp_min(1e-12))

    def forward(self, beat: torch.Tensor, rr: torch.Tensor) -> torch.Tensor:
        p = self.calibrated(beat, rr)
        return p if self.on_time_gate is None else gate_on_time(p, rr, self.on_time_gate)


def stage_parameters(model: nn.Module) -> tuple[list, list]:
    """Decision offsets and rhythm stage (weights, then bias) of a BeatNet, or per member of an
    Ensemble, for the reports."""
    nets = list(model.members) if isinstance(model, Ensemble) else [model]
    offsets = [m.logit_offset.tolist() for m in nets]
    rhythm = [m.rhythm_weight.tolist() + m.rhythm_bias.tolist() for m in nets]
    return (offsets, rhythm) if len(nets) > 1 else (offsets[0], rhythm[0])


def parse_seeds(text: str) -> list[int]:
    """`--seeds 0,100,200` → [0, 100, 200]: one model per seed, averaged (`Ensemble`)."""
    seeds = [int(s) for s in text.split(",") if s.strip()]
    if not seeds or len(set(seeds)) != len(seeds):
        raise ValueError(f"--seeds {text!r}: give distinct integers, e.g. 0,100,200")
    return seeds
