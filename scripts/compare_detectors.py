#!/usr/bin/env python3
"""Compare StressBeat's R-peak detector with NeuroKit2 and py-ecg-detectors on the same records.

In one run, over the same records and channel (MLII / default ECG channel):
  * NeuroKit2 `ecg_peaks` (its default method, which includes its own cleaning);
  * the fastest detector of py-ecg-detectors (chosen in this run by timing all of them on the
    first 60 s of the first record; slow pure-Python ones are then not run on everything);
  * ours, through `rust-core/examples/peaks_json.rs` (built in release mode).
All are scored with the same rule as `rust-core/src/eval.rs` (WFDB bxb style: beat annotations,
+-150 ms, each reference matched once, VF episodes '['..']' excluded; gross totals) and timed
on detection only (file loading excluded; ours reports its own in-process time).

The Python packages are installed on first use into a virtual environment under build/
(versions pinned in scripts/requirements-compare.txt). Not needed by CI.

Usage:  python3 scripts/compare_detectors.py [--db mitdb] [--records 100,101] [--max-records N]
"""

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENV = ROOT / "build" / "compare-venv"
REQS = ROOT / "scripts" / "requirements-compare.txt"


def ensure_venv():
    """Re-run this script inside build/compare-venv, creating it when needed."""
    py = VENV / "bin" / "python"
    if Path(sys.prefix).resolve() == VENV.resolve():
        return
    if not py.exists():
        print(f"creating {VENV} and installing {REQS.name} ...", file=sys.stderr)
        subprocess.check_call([sys.executable, "-m", "venv", str(VENV)])
        subprocess.check_call([str(py), "-m", "pip", "install", "-q", "-r", str(REQS)])
    os.execv(str(py), [str(py), *sys.argv])


# ---------------------------------------------------------------- scoring (same rule as eval.rs)

def score(ann_samples, ann_symbols, fs, detections, tol_s=0.15):
    beat = set("N L R B A a J S V r F e j n E / f Q ?".split())
    spans, open_ = [], None
    for s, sym in zip(ann_samples, ann_symbols):
        if sym == "[" and open_ is None:
            open_ = s
        elif sym == "]" and open_ is not None:
            spans.append((open_, s + 1))
            open_ = None
    if open_ is not None:
        spans.append((open_, 1 << 62))

    def keep(t):
        return not any(a <= t < b for a, b in spans)

    refs = sorted(int(s) for s, sym in zip(ann_samples, ann_symbols) if sym in beat and keep(s))
    dets = sorted(int(d) for d in detections if keep(int(d)))
    tol = round(tol_s * fs)
    used = [False] * len(dets)
    tp = fn = 0
    errs = []
    lo = 0
    for i, r in enumerate(refs):
        while lo < len(dets) and dets[lo] < r - tol:
            lo += 1
        nxt = refs[i + 1] if i + 1 < len(refs) else None
        best = None
        j = lo
        while j < len(dets) and dets[j] <= r + tol:
            if not used[j]:
                d = abs(dets[j] - r)
                closer_next = nxt is not None and abs(dets[j] - nxt) < d
                if not closer_next and (best is None or d < abs(dets[best] - r)):
                    best = j
            j += 1
        if best is None:
            fn += 1
        else:
            used[best] = True
            tp += 1
            errs.append((dets[best] - r) * 1000.0 / fs)
    fp = used.count(False)
    return {"tp": tp, "fn": fn, "fp": fp, "errs": errs}


def summary(name, parts, seconds, n_samples):
    import numpy as np

    tp = sum(p["tp"] for p in parts)
    fn = sum(p["fn"] for p in parts)
    fp = sum(p["fp"] for p in parts)
    errs = np.abs(np.concatenate([np.asarray(p["errs"], dtype=float) for p in parts])) if parts else np.zeros(0)

    def q(x):
        if errs.size == 0:
            return float("nan")
        s = np.sort(errs)
        return float(s[max(int(np.ceil(x * s.size)), 1) - 1])

    se = tp / max(tp + fn, 1)
    ppv = tp / max(tp + fp, 1)
    f1 = 2 * tp / max(2 * tp + fp + fn, 1)
    return {
        "name": name, "tp": tp, "fn": fn, "fp": fp, "se": se, "ppv": ppv, "f1": f1,
        "median_ms": q(0.5), "p95_ms": q(0.95), "seconds": seconds,
        "samples_per_s": n_samples / seconds if seconds > 0 else float("inf"),
    }


# ---------------------------------------------------------------- detectors

def build_ours():
    subprocess.check_call(
        ["cargo", "build", "--release", "-q", "-p", "stressbeat-core", "--example", "peaks_json"], cwd=ROOT
    )
    return ROOT / "target" / "release" / "examples" / "peaks_json"


def run_ours(exe, hea):
    out = subprocess.run([str(exe), str(hea)], capture_output=True, text=True, check=True).stdout
    j = json.loads(out)
    return j["peaks"], j["seconds"], j["channel"]


def pick_fastest_py_ecg_detector(sig, fs):
    from ecgdetectors import Detectors

    d = Detectors(fs)
    cands = {
        "two_average": d.two_average_detector,
        "pan_tompkins": d.pan_tompkins_detector,
        "hamilton": d.hamilton_detector,
        "christov": d.christov_detector,
        "engzee": d.engzee_detector,
        "swt": d.swt_detector,
        "wqrs": d.wqrs_detector,
    }
    seg = sig[: int(60 * fs)]
    times = {}
    for name, f in cands.items():
        t = time.perf_counter()
        try:
            f(seg)
        except Exception as e:  # a detector failing on this record is just not a candidate
            print(f"  py-ecg-detectors {name}: failed ({e})", file=sys.stderr)
            continue
        times[name] = time.perf_counter() - t
    fastest = min(times, key=times.get)
    print("py-ecg-detectors times on 60 s: " + ", ".join(f"{k} {v*1000:.1f} ms" for k, v in sorted(times.items(), key=lambda kv: kv[1])))
    return fastest


def main():
    ensure_venv()
    import numpy as np
    import wfdb
    import neurokit2 as nk
    from ecgdetectors import Detectors

    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default=str(ROOT.parent / "shared" / "data"))
    ap.add_argument("--db", default="mitdb")
    ap.add_argument("--records", default="")
    ap.add_argument("--max-records", type=int, default=0)
    ap.add_argument("--json", help="write the totals here as JSON")
    a = ap.parse_args()

    db = Path(a.data) / a.db
    recs = [r for r in a.records.split(",") if r] or sorted(
        p.stem for p in db.glob("*.hea") if p.with_suffix(".atr").exists()
    )
    if a.max_records:
        recs = recs[: a.max_records]
    if not recs:
        sys.exit(f"no annotated records in {db}")

    exe = build_ours()
    results = {"ours": [], "neurokit2": [], "py-ecg-detectors": []}
    secs = {k: 0.0 for k in results}
    n_total = 0
    fastest = None
    for rec in recs:
        hea = db / f"{rec}.hea"
        peaks, t_ours, ch = run_ours(exe, hea)
        record = wfdb.rdrecord(str(db / rec), channels=[ch])
        sig = record.p_signal[:, 0].astype(float)
        sig = np.nan_to_num(sig)
        fs = float(record.fs)
        ann = wfdb.rdann(str(db / rec), "atr")
        n_total += sig.size

        results["ours"].append(score(ann.sample, ann.symbol, fs, peaks))
        secs["ours"] += t_ours

        t = time.perf_counter()
        _, info = nk.ecg_peaks(sig, sampling_rate=int(round(fs)))
        secs["neurokit2"] += time.perf_counter() - t
        results["neurokit2"].append(score(ann.sample, ann.symbol, fs, info["ECG_R_Peaks"]))

        if fastest is None:
            fastest = pick_fastest_py_ecg_detector(sig, fs)
        det = getattr(Detectors(fs), f"{fastest}_detector")
        t = time.perf_counter()
        r = det(sig)
        secs["py-ecg-detectors"] += time.perf_counter() - t
        results["py-ecg-detectors"].append(score(ann.sample, ann.symbol, fs, r))
        s = {k: results[k][-1] for k in results}
        print(f"{rec:>8}: " + "  ".join(f"{k} TP {v['tp']} FN {v['fn']} FP {v['fp']}" for k, v in s.items()), flush=True)

    rows = [
        summary("ours (stressbeat, streaming)", results["ours"], secs["ours"], n_total),
        summary("neurokit2 ecg_peaks", results["neurokit2"], secs["neurokit2"], n_total),
        summary(f"py-ecg-detectors {fastest}", results["py-ecg-detectors"], secs["py-ecg-detectors"], n_total),
    ]
    print(f"\n{a.db}: {len(recs)} records, {n_total} samples; gross totals, +-150 ms, VF excluded")
    print(f"{'detector':<34}{'Se %':>8}{'+P %':>8}{'F1 %':>8}{'med ms':>8}{'p95 ms':>8}{'time s':>9}{'Msamp/s':>9}{'ours x':>8}")
    for r in rows:
        ratio = r["seconds"] / rows[0]["seconds"] if rows[0]["seconds"] > 0 else float("nan")
        print(f"{r['name']:<34}{100*r['se']:>8.3f}{100*r['ppv']:>8.3f}{100*r['f1']:>8.3f}{r['median_ms']:>8.1f}"
              f"{r['p95_ms']:>8.1f}{r['seconds']:>9.3f}{r['samples_per_s']/1e6:>9.2f}{ratio:>8.1f}")
    print("(ours x = that detector's time / ours; ours is timed in-process on detection only)")
    if a.json:
        Path(a.json).write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
