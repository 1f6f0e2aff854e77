"""Median onnxruntime latency of one inference (batch 1, one thread) for each ONNX file.

    python bench_onnxruntime.py FILE.onnx [...] [--runs 2000] [--json OUT]
"""
from __future__ import annotations

import argparse
import json
import time

import numpy as np

import onnx_export


def feed_for(sess) -> dict:
    """A batch-1 input for every graph input (image in [0,1], features positive)."""
    rng = np.random.default_rng(0)
    feed = {}
    for i in sess.get_inputs():
        shape = [1 if not isinstance(d, int) or d < 0 else d for d in i.shape]
        feed[i.name] = rng.random(shape, dtype=np.float32) * (1.0 if i.name in ("image", "has_baseline") else 50.0)
    return feed


def bench(path: str, runs: int, warmup: int = 100) -> dict:
    sess = onnx_export.ort_session(path, threads=1)
    feed = feed_for(sess)
    for _ in range(warmup):
        sess.run(None, feed)
    t = []
    for _ in range(runs):
        t0 = time.perf_counter_ns()
        sess.run(None, feed)
        t.append(time.perf_counter_ns() - t0)
    t = np.array(t) / 1000.0
    return {"median_us": float(np.median(t)), "p10_us": float(np.percentile(t, 10)),
            "p90_us": float(np.percentile(t, 90)), "runs": runs}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("files", nargs="+")
    ap.add_argument("--runs", type=int, default=2000)
    ap.add_argument("--json", default="")
    args = ap.parse_args()
    out = {}
    for f in args.files:
        out[f] = bench(f, args.runs)
        print(f"{f}: median {out[f]['median_us']:.1f} us (p10 {out[f]['p10_us']:.1f}, p90 {out[f]['p90_us']:.1f})")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(out, fh, indent=1)


if __name__ == "__main__":
    main()
