"""Markdown tables for the model card from the JSON reports.

    python report.py --loso ../reports/stress_loso.json --compression ../reports/stress_compression.json \
        --ort ../reports/stress_latency_onnxruntime.json --tract ../reports/stress_latency_tract.json \
        --out ../reports/stress_tables.md
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

LABELS = {
    "hr_rule": "(a) trivial rule: HR above rest HR",
    "hrv_lr": "(b) HRV logistic regression (one per setting)",
    "hrv_fallback": "(b') HRV logistic regression, shipped fallback (one model, both settings)",
    "features_mlp": "HRV MLP (the fusion without its image branch)",
    "beat_cnn": "(c) single-beat 128x128 image CNN (paper), mean per window",
    "img": "(d) window image CNN",
    "fusion": "(e) fusion: image branch + HRV + baseline",
    "feature_lr_amp_unnested_ba": "(g') feature LR incl. R/T amplitudes, best candidate by outer LOSO BA (un-nested, optimistic)",
    "feature_lr_amp_unnested_auc": "(g'') feature LR incl. R/T amplitudes, best candidate by outer LOSO AUC (un-nested, optimistic)",
    "feature_lr_amp_nested_best_auc": "(g0) feature LR incl. R/T amplitudes, nested, rule: best inner AUC (declared first)",
    "feature_lr_amp_nested": "(g) feature LR incl. R/T amplitudes, nested, rule: simplest within 1 SE of the best inner AUC",
    "feature_lr_unnested_ba": "(f') feature LR, HR/HRV only, best candidate by outer LOSO BA (un-nested, optimistic)",
    "feature_lr_unnested_auc": "(f'') feature LR, HR/HRV only, best candidate by outer LOSO AUC (un-nested, optimistic)",
    "feature_lr_nested_best_auc": "(f0) feature LR, HR/HRV only, nested, rule: best inner AUC",
    "feature_lr_v2_nested": "(f v2.0) the same without the HR z-score candidates (shipped in v2.0)",
    "feature_lr_nested": "(f) feature LR, HR/HRV only, nested, rule: simplest within 1 SE of the best inner AUC (shipped)",
}


def label(key: str) -> str:
    kind, _, ch = key.partition(":")
    base = LABELS.get(kind, kind)
    return f"{base} [{ch.replace('+', ', ')}]" if ch else base


def pct(x: float) -> str:
    return f"{100 * x:.1f}"


def cell(r: dict) -> tuple[str, str]:
    ba, bci = r["balanced_accuracy"], r["balanced_accuracy_ci95"]
    au, aci = r["auc"], r["auc_ci95"]
    return (f"{pct(ba)} [{pct(bci[0])}, {pct(bci[1])}]", f"{au:.3f} [{aci[0]:.3f}, {aci[1]:.3f}]")


def spread(r: dict) -> str:
    p = r["per_subject_balanced_accuracy"]
    return f"{pct(p['median'])} ({pct(p['min'])}–{pct(p['max'])})"


def comparison_table(loso: dict, order: list[str] | None = None) -> str:
    m = loso["methods"]
    keys = order or list(m)
    lines = ["| model | without baseline: BA % [95 % CI] | AUC [95 % CI] | per-subject BA median (min–max) "
             "| with baseline: BA % [95 % CI] | AUC [95 % CI] | per-subject BA median (min–max) |",
             "|---|---|---|---|---|---|---|"]
    for k in keys:
        if k not in m:
            continue
        w0, w1 = m[k]["without_baseline"], m[k]["with_baseline"]
        a0, c0 = cell(w0)
        a1, c1 = cell(w1)
        lines.append(f"| {label(k)} | {a0} | {c0} | {spread(w0)} | {a1} | {c1} | {spread(w1)} |")
    any_m = m[keys[0]]
    w = any_m["without_baseline"]
    lines.append("")
    lines.append(f"Scored windows: {w['windows']} ({w['stress_windows']} stress) from {w['subjects']} subjects; "
                 f"{any_m['unscored_windows']} of {any_m['candidate_windows']} candidate windows not scored "
                 f"(usable fraction below {loso['protocol']['min_usable_fraction']} or a feature not computable).")
    return "\n".join(lines)


def compression_table(comp: dict, ort: dict, tract: dict) -> str:
    lines = ["| variant | file size (bytes) | without baseline: BA % / AUC | with baseline: BA % / AUC "
             "| tract median µs (1 thread) | onnxruntime median µs (1 thread) |",
             "|---|---|---|---|---|---|"]
    for v, r in comp["variants"].items():
        f = r.get("file", "")
        t = next((x for k, x in tract.items() if Path(k).name == f), None)
        o = next((x for k, x in ort.items() if Path(k).name == f), None)
        t_s = (f"{t['median_us']:.0f}" if isinstance(t, dict) and "median_us" in t
               else ("fails to load (see report)" if isinstance(t, str) else "not measured"))
        o_s = f"{o['median_us']:.0f}" if o else "not measured"
        w0, w1 = r["without_baseline"], r["with_baseline"]
        lines.append(f"| {v} | {r.get('size_bytes', '-')} | {pct(w0['balanced_accuracy'])} / {w0['auc']:.3f} "
                     f"| {pct(w1['balanced_accuracy'])} / {w1['auc']:.3f} | {t_s} | {o_s} |")
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--loso", required=True, action="append", help="LOSO report(s); several are merged")
    ap.add_argument("--merged-out", default="", help="write the merged LOSO report here")
    ap.add_argument("--order", default="", help="comma-separated method keys (table order)")
    ap.add_argument("--compression", action="append", default=[], help="compression report(s)")
    ap.add_argument("--ort", action="append", default=[], help="onnxruntime latencies, one per --compression")
    ap.add_argument("--tract", action="append", default=[], help="tract latencies, one per --compression")
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    loso = {"methods": {}}
    for p in args.loso:
        r = json.loads(Path(p).read_text())
        loso["protocol"] = r["protocol"]
        loso["methods"].update(r["methods"])
    if args.merged_out:
        Path(args.merged_out).write_text(json.dumps(loso, indent=1))
    order = [k for k in args.order.split(",") if k] or None
    parts = ["## Comparison (LOSO, 26 subjects, window level)", "", comparison_table(loso, order)]
    for i, c in enumerate(args.compression):
        comp = json.loads(Path(c).read_text())
        ort = json.loads(Path(args.ort[i]).read_text()) if i < len(args.ort) else {}
        tract = json.loads(Path(args.tract[i]).read_text()) if i < len(args.tract) else {}
        parts += ["", f"## Compression ({comp['method']}, LOSO per variant)", "", compression_table(comp, ort, tract)]
    Path(args.out).write_text("\n".join(parts) + "\n")
    print("\n".join(parts))


if __name__ == "__main__":
    main()
