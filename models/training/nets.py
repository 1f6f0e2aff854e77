"""Small PyTorch models for stress and their training loop.

`StressNet` has the shipped graph's four inputs (image u8/255, raw features, raw baseline,
has_baseline) and outputs softmax probabilities [calm, stress]; standardisation is inside the
graph. Image-only and feature-only variants use the same class with a branch switched off.
"""
from __future__ import annotations

import copy

import numpy as np
import torch
from torch import nn
import torch.nn.functional as F

FEATURE_CLIP = 6.0
IMAGE_SIDE = 128


class ImageBranch(nn.Module):
    """Average-pool the 128x128 input by `pool`, then three 3x3 conv blocks and global pooling."""

    def __init__(self, channels: int, widths: tuple[int, int, int] = (8, 16, 16), pool: int = 4,
                 grid: int = 1):
        super().__init__()
        self.pool, self.grid = pool, grid
        w1, w2, w3 = widths
        side = IMAGE_SIDE // pool // 4
        # grid > 1 keeps where things are (a tachogram's height is the heart rate): the last
        # feature map is average-pooled to grid x grid cells instead of one global average
        self.convs = nn.Sequential(
            nn.Conv2d(channels, w1, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(w1, w2, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(w2, w3, 3, padding=1), nn.ReLU(),
            nn.AvgPool2d(side // grid), nn.Flatten())
        self.out_dim = w3 * grid * grid

    def conv_layers(self) -> list[nn.Conv2d]:
        return [m for m in self.convs if isinstance(m, nn.Conv2d)]

    def forward(self, image: torch.Tensor, prepooled: bool = False) -> torch.Tensor:
        if not prepooled and self.pool > 1:
            image = F.avg_pool2d(image, self.pool)
        return self.convs(image)


class StressNet(nn.Module):
    """Image branch and/or HRV-feature branch (with the personal or population baseline)."""

    def __init__(self, channels: int, n_features: int, use_image: bool = True,
                 use_features: bool = True, width: int = 8, pool: int = 4, hidden: int = 16,
                 dropout: float = 0.2, widths: tuple[int, int, int] | None = None, skip: bool = False,
                 grid: int = 1, gate: bool = False):
        super().__init__()
        self.use_image, self.use_features = use_image, use_features
        widths = widths or (width, 2 * width, 2 * width)
        self.image = ImageBranch(channels, widths, pool, grid) if use_image else None
        dim = self.image.out_dim if use_image else 0
        self.register_buffer("mu", torch.zeros(n_features))
        self.register_buffer("sd", torch.ones(n_features))
        self.register_buffer("sd_rel", torch.ones(n_features))
        # operating point per setting (without, with baseline), subtracted from the stress logit
        # so that the shipped threshold 0.5 is the chosen one in both settings
        self.register_buffer("offset", torch.zeros(2))
        self.skip, self.gate = use_features and skip, gate
        if use_features:
            self.feat = nn.Sequential(nn.Linear(2 * n_features + 1, hidden), nn.ReLU())
            dim += hidden + (2 * n_features + 1 if skip else 0)
        self.head = nn.Sequential(nn.Dropout(dropout), nn.Linear(dim, 2))

    def set_standardisation(self, mu, sd, sd_rel):
        self.mu.copy_(torch.as_tensor(mu, dtype=torch.float32))
        self.sd.copy_(torch.as_tensor(sd, dtype=torch.float32))
        self.sd_rel.copy_(torch.as_tensor(sd_rel, dtype=torch.float32))

    def logits(self, image, features, baseline, has_baseline, prepooled: bool = False):
        parts = []
        if self.use_image:
            parts.append(self.image(image, prepooled))
        if self.use_features:
            z = torch.clamp((features - self.mu) / self.sd, -FEATURE_CLIP, FEATURE_CLIP)
            r = torch.clamp((features - baseline) / self.sd_rel, -FEATURE_CLIP, FEATURE_CLIP)
            if self.gate:  # with a baseline only the changes from it count, absolute values without
                z = z * (1 - has_baseline)
            v = torch.cat([z, r * has_baseline, has_baseline], 1)
            parts.append(self.feat(v))
            if self.skip:  # linear path from the standardised features (a logistic regression inside)
                parts.append(v)
        lg = self.head(torch.cat(parts, 1))
        if self.use_features:
            off = self.offset[0] + (self.offset[1] - self.offset[0]) * has_baseline
            lg = lg - torch.cat([torch.zeros_like(off), off], 1)
        return lg

    def forward(self, image, features, baseline, has_baseline):
        return torch.softmax(self.logits(image, features, baseline, has_baseline), 1)


def pool_images(images_u8: np.ndarray, pool: int) -> torch.Tensor:
    """u8 [n,C,128,128] -> float [n,C,128/pool,128/pool] (u8/255, average-pooled), in chunks."""
    out = []
    for i in range(0, len(images_u8), 512):
        x = torch.from_numpy(images_u8[i:i + 512].astype(np.float32) / 255.0)
        out.append(F.avg_pool2d(x, pool) if pool > 1 else x)
    return torch.cat(out)


def train(net: StressNet, batch_fn, n_train: int, val_fn, epochs: int = 20, lr: float = 3e-3,
          batch: int = 64, patience: int = 4, seed: int = 0, class_weight=None,
          weight_decay: float = 1e-4, min_epochs: int = 1) -> tuple[StressNet, dict]:
    """Adam with early stopping on the validation loss (training subjects only).

    batch_fn(idx, rng) -> (image, features, baseline, has_baseline, y) for training rows idx;
    val_fn() -> the same for the whole validation set (None: no early stopping).
    """
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    opt = torch.optim.Adam(net.parameters(), lr=lr, weight_decay=weight_decay)
    w = None if class_weight is None else torch.as_tensor(class_weight, dtype=torch.float32)
    best, best_loss, bad, hist, best_epoch = copy.deepcopy(net.state_dict()), np.inf, 0, [], epochs
    val = val_fn() if val_fn is not None else None
    for ep in range(epochs):
        net.train()
        perm = rng.permutation(n_train)
        for i in range(0, n_train, batch):
            im, f, b, h, y = batch_fn(perm[i:i + batch], rng)
            loss = F.cross_entropy(net.logits(im, f, b, h, prepooled=True), y, weight=w)
            opt.zero_grad()
            loss.backward()
            opt.step()
        if val is None:
            continue
        net.eval()
        with torch.no_grad():
            vl = F.cross_entropy(net.logits(*val[:4], prepooled=True), val[4], weight=w).item()
        hist.append(vl)
        if ep + 1 < min_epochs:  # too early to trust a noisy validation loss
            continue
        if vl < best_loss - 1e-4:
            best, best_loss, bad, best_epoch = copy.deepcopy(net.state_dict()), vl, 0, ep + 1
        else:
            bad += 1
            if bad >= patience:
                break
    if val is not None:
        net.load_state_dict(best)
    net.eval()
    return net, {"best_epoch": best_epoch, "val_loss": hist}


def predict_logit(net: StressNet, image, features, baseline, has_baseline, batch: int = 512) -> np.ndarray:
    """Stress-minus-calm logit for every row (prepooled images)."""
    out = []
    net.eval()
    with torch.no_grad():
        for i in range(0, len(features), batch):
            s = slice(i, i + batch)
            lg = net.logits(image[s] if image is not None else None, features[s], baseline[s],
                            has_baseline[s], prepooled=True)
            out.append((lg[:, 1] - lg[:, 0]).numpy())
    return np.concatenate(out) if out else np.zeros(0)


def count_params(net: nn.Module) -> int:
    return sum(p.numel() for p in net.parameters())
