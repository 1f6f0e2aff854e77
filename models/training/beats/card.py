"""Markdown tables for the model card from the JSON reports (so no figure is copied by hand).

python -m beats.card --cv ../reports/beat-type-cv.json --final ../reports/beat-type-final.json \
    --kaggle ../reports/beat-type-kaggle.json [--latency ../reports/beat-type-latency.json]
"""

import argparse
import json
from pathlib import Path

import numpy as np

from .data import LABELS


def pct(v) -> str:
    """A fraction as a percentage, '-' when undefined."""
    return "-" if v is None else f"{100 * v:.1f}"


def metrics_table(cv: dict) -> str:
    """Pooled Se / +P per class with record-bootstrap CIs, float and int8."""
    rows = ["| class | beats | Se % (95 % CI) | +P % (95 % CI) | float Se / +P % |", "|---|---|---|---|---|"]
    q, f = cv["onnx_int8"], cv["onnx_float"]
    ci = q["ci95_record_bootstrap"]
    for k, name in enumerate(LABELS):
        def cell(key):
            lo_hi = ci.get(key)
            tail = f" ({pct(lo_hi[0])}-{pct(lo_hi[1])})" if lo_hi else ""
            return pct(q["pooled"][key]) + tail
        rows.append(f"| {name} | {cv['class_counts'][k]} | {cell(f'{name}_se')} | {cell(f'{name}_ppv')} | "
                    f"{pct(f['pooled'][f'{name}_se'])} / {pct(f['pooled'][f'{name}_ppv'])} |")
    rows.append(f"| all (accuracy) | {sum(cv['class_counts'])} | {cell('accuracy')} | | "
                f"{pct(f['pooled']['accuracy'])} |")
    return "\n".join(rows)


def ec57_table(cv: dict) -> str:
    """V and S as `bxb` (EC57) counts them, against the labelled-beat figures above (int8)."""
    q = cv["onnx_int8"]
    e, ci = q["ec57"]["pooled"], q["ec57"]["ci95_record_bootstrap"]
    keys = ["V_se", "V_ppv", "S_se", "S_ppv"]
    rows = ["| counting | V Se % | V +P % | S Se % | S +P % |", "|---|---|---|---|---|",
            "| labelled beats; F or Q called V (S) counted as errors (table above) | "
            + " | ".join(pct(q["pooled"][k]) for k in keys) + " |",
            "| EC57 (`bxb`): every reference beat and detection | "
            + " | ".join(f"{pct(e[k])} ({pct(ci[k][0])}-{pct(ci[k][1])})" for k in keys) + " |"]
    counts = q["ec57"]["confusion"]
    rows += ["", "| reference \\ predicted | " + " | ".join(counts["cols"]) + " |", "|---" * 7 + "|"]
    rows += [f"| {name} | " + " | ".join(str(v) for v in row[:len(counts['cols'])]) + " |"
             for name, row in zip(counts["rows"], counts["counts"])]
    return "\n".join(rows)


def confusion_table(cv: dict) -> str:
    """Pooled confusion matrix of the int8 model."""
    cm = cv["onnx_int8"]["confusion"]["rows_reference_cols_predicted"]
    rows = ["| reference \\ predicted | " + " | ".join(LABELS) + " |", "|---" * 6 + "|"]
    rows += [f"| {LABELS[i]} | " + " | ".join(str(v) for v in row) + " |" for i, row in enumerate(cm)]
    return "\n".join(rows)


def per_record_table(cv: dict) -> str:
    """V and S per record (int8 model)."""
    rows = ["| record | beats | V ref | V pred | V TP | V Se % | V +P % | S ref | S pred | S TP | S Se % | S +P % |",
            "|---" * 12 + "|"]
    for r in cv["onnx_int8"]["per_record"]:
        rows.append(f"| {r['record']} | {r['beats']} | {r['V_true']} | {r['V_pred']} | {r['V_tp']} | "
                    f"{pct(r['V_se'])} | {pct(r['V_ppv'])} | {r['S_true']} | {r['S_pred']} | {r['S_tp']} | "
                    f"{pct(r['S_se'])} | {pct(r['S_ppv'])} |")
    return "\n".join(rows)


def compare_table(rows: list[tuple[str, dict]]) -> str:
    """Pooled int8 Se / +P (95 % CI) of N, S, V and accuracy, one row per (name, CV report)."""
    keys = ["N_se", "N_ppv", "S_se", "S_ppv", "V_se", "V_ppv", "accuracy"]
    out = ["| model | " + " | ".join(k.replace("_se", " Se").replace("_ppv", " +P") for k in keys) + " |",
           "|---" * (len(keys) + 1) + "|"]
    for name, cv in rows:
        q = cv["onnx_int8"]
        ci = q["ci95_record_bootstrap"]
        out.append(f"| {name} | " + " | ".join(
            f"{pct(q['pooled'][k])} ({pct(ci[k][0])}-{pct(ci[k][1])})" for k in keys) + " |")
    return "\n".join(out)


def s_offset_table(npz_path: str, offsets=(-1.0, 0.0, 1.0, 2.0, 3.0)) -> str:
    """Operating curve: pooled out-of-fold CV probabilities (float) with `offset` added to log P(S)."""
    cv = np.load(npz_path)
    labels = cv["labels"]
    log_p = np.log(np.maximum(cv["probabilities"], 1e-12))
    rows = ["| log P(S) offset | S Se % | S +P % | V Se % | V +P % | N Se % |", "|---|---|---|---|---|---|"]
    for offset in offsets:
        pred = (log_p + np.array([0.0, offset, 0.0, 0.0, 0.0])).argmax(1)

        def se_ppv(k):
            tp = int(((pred == k) & (labels == k)).sum())
            return pct(tp / max(1, int((labels == k).sum()))), pct(tp / max(1, int((pred == k).sum())))
        (s_se, s_ppv), (v_se, v_ppv), (n_se, _) = se_ppv(1), se_ppv(2), se_ppv(0)
        rows.append(f"| {offset:g}{' (shipped)' if offset == 0 else ''} | {s_se} | {s_ppv} | {v_se} | {v_ppv} | {n_se} |")
    return "\n".join(rows)


def size_table(final: dict, latency: dict | None) -> str:
    """File size and latency, float vs int8 weights."""
    ort_lat = final["onnxruntime_latency_us_median_1_thread"]
    rows = ["| variant | size (bytes) | onnxruntime µs, batch 1 | onnxruntime µs, batch 64 |"
            + (" tract µs (median, 1 thread) |" if latency else ""),
            "|---|---|---|---|" + ("---|" if latency else "")]
    for kind in ("float", "int8_weights"):
        row = (f"| {kind} | {final['size_bytes'][kind]} | {ort_lat[f'{kind}_batch1']} | "
               f"{ort_lat[f'{kind}_batch64']} |")
        if latency:
            row += f" {latency.get(kind, '-')} |"
        rows.append(row)
    return "\n".join(rows)


def main() -> None:
    """Prints the tables."""
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--cv", required=True)
    ap.add_argument("--final", required=True)
    ap.add_argument("--kaggle")
    ap.add_argument("--latency")
    ap.add_argument("--previous", nargs="*", default=[], metavar="NAME=REPORT",
                    help="CV reports of earlier models, e.g. 'v1 without template=../reports/beat-type-cv-v1.json'")
    args = ap.parse_args()
    cv = json.loads(Path(args.cv).read_text())
    final = json.loads(Path(args.final).read_text())
    latency = json.loads(Path(args.latency).read_text()) if args.latency else None
    print("### Patient-wise CV (int8 model as shipped; float for comparison)\n\n" + metrics_table(cv))
    if args.previous:
        earlier = [(name, json.loads(Path(path).read_text()))
                   for name, path in (item.split("=", 1) for item in args.previous)]
        print("\n### Against earlier versions, int8, patient-wise CV\n\n"
              + compare_table(earlier + [("this model", cv)]))
    print("\nint8 minus float, points: " + ", ".join(
        f"{k} {v:+.2f}" for k, v in cv["int8_vs_float_points"].items() if v is not None))
    print(f"\nfloat/int8 prediction agreement: {100 * cv['int8_float_prediction_agreement']:.2f} %")
    print("\n### Confusion matrix (pooled over folds, int8)\n\n" + confusion_table(cv))
    if "ec57" in cv["onnx_int8"]:
        print("\n### Scored as EC57 / `bxb` (int8)\n\n" + ec57_table(cv))
    print("\n### Per record, V and S (int8)\n\n" + per_record_table(cv))
    npz = Path(args.cv).with_suffix(".logits.npz")
    if npz.exists():
        print("\n### S operating curve (float, pooled out-of-fold)\n\n" + s_offset_table(str(npz)))
    print("\n### Size and latency\n\n" + size_table(final, latency))
    if args.kaggle:
        k = json.loads(Path(args.kaggle).read_text())
        print(f"\n### Kaggle-style comparison (LEAKY random beat split)\n\naccuracy {pct(k['accuracy'])} % on "
              f"{k['data']}; {k['split']}; per class: "
              + ", ".join(f"{n} Se {pct(k['per_class'][f'{n}_se'])}" for n in LABELS))


if __name__ == "__main__":
    main()
