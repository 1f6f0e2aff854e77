"""Median tract latency (batch 1, one thread) of each ONNX file, through `stressbeat bench-model`.

    python bench_tract.py --stressbeat target/release/stressbeat FILE.onnx [...] --json OUT
"""
from __future__ import annotations

import argparse
import json
import subprocess


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("files", nargs="+")
    ap.add_argument("--stressbeat", required=True, help="the stressbeat CLI (release build)")
    ap.add_argument("--iterations", type=int, default=2000)
    ap.add_argument("--json", default="")
    args = ap.parse_args()
    out = {}
    for f in args.files:
        p = subprocess.run([args.stressbeat, "bench-model", f, "--json", "--no-metadata",
                            "--iterations", str(args.iterations)], capture_output=True, text=True)
        if p.returncode != 0:
            out[f] = f"failed: {p.stderr.strip()[:200]}"
            print(f"{f}: {out[f]}")
            continue
        r = json.loads(p.stdout)
        out[f] = {"median_us": r["median_us_per_inference"], "p95_us": r["p95_us_per_inference"],
                  "load_ms": r["load_ms"], "iterations": r["iterations"], "threads": r["threads"]}
        print(f"{f}: median {out[f]['median_us']:.1f} us, load {out[f]['load_ms']:.1f} ms")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(out, fh, indent=1)


if __name__ == "__main__":
    main()
