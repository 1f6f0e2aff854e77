#!/usr/bin/env python3
"""Reference HRV values from NeuroKit2 for the Rust tests (tests/tests/hrv_neurokit2.rs).

Writes tests/fixtures/hrv_neurokit2.json: a few RR series (ms) derived from the MIT-BIH reference
beat annotations (../shared/data/mitdb/*.atr, read with `wfdb`) plus synthetic ones, and what
NeuroKit2 computes for them. Only derived numbers go into the fixture, never raw signal.

    python3.11 -m venv build/venv-hrv
    build/venv-hrv/bin/pip install -r scripts/hrv_reference/requirements.txt
    build/venv-hrv/bin/python scripts/hrv_reference/make_fixture.py [--data ../shared/data]
"""

import argparse
import json
import pathlib

import neurokit2 as nk
import numpy as np
import scipy
import wfdb

ROOT = pathlib.Path(__file__).resolve().parents[2]
BEATS = set("NLRBAaJSVrFejnE/fQ?")


def beats(data, record):
    ann = wfdb.rdann(str(data / "mitdb" / record), "atr")
    keep = [(s, y) for s, y in zip(ann.sample, ann.symbol) if y in BEATS]
    return np.array([s for s, _ in keep]), [y for _, y in keep], ann.fs


def pure_segment(samples, symbols, fs, allowed, dur_s=300.0, step_s=10.0):
    """Beat samples of the first `dur_s` window holding only `allowed` beat symbols."""
    start = samples[0]
    while start + dur_s * fs < samples[-1]:
        idx = np.where((samples >= start) & (samples < start + dur_s * fs))[0]
        if all(symbols[i] in allowed for i in idx):
            return samples[idx], start / fs
        start += step_s * fs
    raise SystemExit(f"no pure {allowed} window")


def nk_reference(peaks, fs):
    """NeuroKit2 values for R-peaks `peaks` (samples at `fs`)."""
    t = nk.hrv_time(peaks, sampling_rate=fs)
    nl = nk.hrv_nonlinear(peaks, sampling_rate=fs)
    out = {k: float(t[f"HRV_{k}"].iloc[0]) for k in ["MeanNN", "SDNN", "RMSSD", "pNN50"]}
    out.update({k: float(nl[f"HRV_{k}"].iloc[0]) for k in ["SD1", "SD2"]})
    # Frequency domain, for information: default Welch on RR interpolated at 100 Hz, and Lomb on the
    # uneven series (interpolation_rate=None); normalize=False keeps absolute PSD units.
    for name, kw in [("welch", {"psd_method": "welch"}),
                     ("lomb", {"psd_method": "lomb", "interpolation_rate": None})]:
        try:
            f = nk.hrv_frequency(peaks, sampling_rate=fs, normalize=False, **kw)
            for k in ["LF", "HF", "LFHF"]:
                out[f"{k}_{name}"] = float(f[f"HRV_{k}"].iloc[0])
        except Exception as e:  # noqa: BLE001 - report, keep the other values
            out[f"error_{name}"] = repr(e)
    rr = np.diff(peaks) / fs * 1000.0
    # NeuroKit2's hrv_time has no mean HR; reference = mean of instantaneous rates (Kubios definition)
    out["MeanHR_numpy"] = float(np.mean(60000.0 / rr))
    return rr, out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default=str(ROOT.parent / "shared" / "data"))
    ap.add_argument("--out", default=str(ROOT / "tests" / "fixtures" / "hrv_neurokit2.json"))
    a = ap.parse_args()
    data = pathlib.Path(a.data)

    series = []
    # 118 (right bundle branch block) has at most ~96 s without A/V beats: 90 s there.
    for rec, allowed, dur in [("101", {"N"}, 300.0), ("118", {"R"}, 90.0), ("122", {"N"}, 300.0)]:
        s, y, fs = beats(data, rec)
        peaks, start = pure_segment(s, y, fs, allowed, dur_s=dur)
        rr, ref = nk_reference(peaks, fs)
        series.append({"name": f"mitdb{rec}_{int(dur)}s", "source": f"mitdb/{rec}.atr, {dur:.0f} s from {start:.1f} s, "
                       f"only {''.join(sorted(allowed))} beats", "rr_ms": rr.tolist(), "nk": ref})

    rng = np.random.default_rng(20190401)
    n = 360
    i = np.arange(n)
    rr_syn = np.round(850 + 40 * np.sin(2 * np.pi * 0.1 * i * 0.85) + 25 * np.sin(2 * np.pi * 0.25 * i * 0.85)
                      + rng.normal(0, 10, n))
    peaks = np.concatenate([[0], np.cumsum(rr_syn)]).astype(int)
    rr, ref = nk_reference(peaks, 1000)
    series.append({"name": "synthetic_lf_hf", "source": "850 ms + 40 ms @0.1 Hz + 25 ms @0.25 Hz + N(0,10), "
                   "integer ms, seed 20190401", "rr_ms": rr.tolist(), "nk": ref})

    # Artefact correction: NeuroKit2 signal_fixpeaks(method="Kubios") on beat times in ms.
    fix = []
    base = rr_syn.copy()
    art = list(base[:100]) + [base[100] + base[101]]            # missed beat
    art += list(base[102:150]) + [0.4 * base[150], 0.6 * base[150]]  # extra beat
    art += list(base[151:200]) + [0.7 * base[200], base[201] + 0.3 * base[200]]  # ectopic beat
    art += list(base[202:])
    peaks_art = np.concatenate([[0], np.cumsum(np.round(art))]).astype(int)
    s106, y106, fs106 = beats(data, "106")
    seg = s106[(s106 >= 0) & (s106 < 300 * fs106)]
    peaks_106 = np.round((seg - seg[0]) * 1000.0 / fs106).astype(int)
    for name, pk in [("synthetic_artefacts", peaks_art), ("mitdb106_5min_all_beats", peaks_106)]:
        for iterative in [False, True]:
            arts, clean = nk.signal_fixpeaks(pk, sampling_rate=1000, method="Kubios", iterative=iterative)
            fix.append({"name": name, "iterative": iterative, "peaks_ms": pk.tolist(),
                        "artifacts": {k: [int(v) for v in arts[k]] for k in ["ectopic", "missed", "extra", "longshort"]},
                        "peaks_clean_ms": [int(p) for p in clean]})

    out = {"generator": "scripts/hrv_reference/make_fixture.py",
           "versions": {"neurokit2": nk.__version__, "numpy": np.__version__, "scipy": scipy.__version__,
                        "wfdb": wfdb.__version__},
           "series": series, "fixpeaks": fix}
    pathlib.Path(a.out).write_text(json.dumps(out, indent=1))
    for s in series:
        print(s["name"], len(s["rr_ms"]), {k: round(v, 4) if isinstance(v, float) else v for k, v in s["nk"].items()})
    for f in fix:
        print(f["name"], "iterative" if f["iterative"] else "one pass", {k: v for k, v in f["artifacts"].items()})


if __name__ == "__main__":
    main()
