"""Recorded noise for training augmentation: the MIT-BIH Noise Stress Test
Database's baseline wander (`bw`) and muscle artefact (`ma`) records, resampled to the beat rate.

They are recordings of noise alone (no ECG of any MIT-BIH patient), so adding them to DS1 beats
leaks nothing across the patient-wise folds.
"""

from pathlib import Path

import numpy as np
from scipy.signal import resample_poly

DEFAULT_DIR = Path(__file__).resolve().parents[4] / "shared" / "data" / "nstdb"
RECORDS = ("bw", "ma")


def read_212(path: Path, n_signals: int) -> np.ndarray:
    """WFDB format 212 samples, [frames, n_signals] int (12-bit two's complement, two per 3 bytes)."""
    raw = np.fromfile(path, dtype=np.uint8)
    raw = raw[: len(raw) // 3 * 3].reshape(-1, 3).astype(np.int32)
    first = raw[:, 0] | ((raw[:, 1] & 0x0F) << 8)
    second = raw[:, 2] | ((raw[:, 1] & 0xF0) << 4)
    samples = np.stack([first, second], 1).reshape(-1)
    samples = np.where(samples >= 2048, samples - 4096, samples)
    return samples[: len(samples) // n_signals * n_signals].reshape(-1, n_signals)


class NoiseBank:
    """Unit-RMS noise channels at `rate_hz`; `segments` draws random windows of them."""

    def __init__(self, rate_hz: float, directory: Path = DEFAULT_DIR):
        channels = []
        for name in RECORDS:
            header = (directory / f"{name}.hea").read_text().split("\n")[0].split()
            n_signals, fs = int(header[1]), float(header[2])
            x = read_212(directory / f"{name}.dat", n_signals).astype(np.float64)
            up, down = int(round(rate_hz)), int(round(fs))
            for c in range(n_signals):
                y = resample_poly(x[:, c] - np.median(x[:, c]), up, down)
                channels.append((y / np.sqrt(np.mean(y ** 2))).astype(np.float32))
        self.channels = channels

    def segments(self, n: int, length: int, rng: np.random.Generator) -> np.ndarray:
        """[n, length] random windows (random channel, random start), each minus its median."""
        out = np.empty((n, length), np.float32)
        which = rng.integers(0, len(self.channels), n)
        for i, c in enumerate(which):
            ch = self.channels[c]
            s = rng.integers(0, len(ch) - length)
            out[i] = ch[s:s + length]
        return out - np.median(out, axis=1, keepdims=True)
