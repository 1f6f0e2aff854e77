"""External test of a beat-type model on other patients' annotated records (never trained on):
the QT Database's excerpts of other databases, exported with `stressbeat dataset beats --records
qtdb-other`. Leads are mostly not MLII (a harder test than DS2, closer to a chest strap).

python -m beats.external --data /tmp/qtdb-other --model ../beat-type.onnx \
    --out ../reports/beat-type-external-qtdb.json
"""

import argparse
import json
from pathlib import Path

import numpy as np

from .data import load_beats, load_extra, missed_references
from .metrics import class_metrics, confusion, fmt, summary
from .onnx_io import ort_probabilities, sha256

# QT Database record names by source database (Laguna et al. 1997)
SOURCES = {
    "MIT-BIH Supraventricular Arrhythmia": lambda n: n.startswith("sel8"),
    "MIT-BIH ST Change (exercise tests)": lambda n: n.startswith("sel3"),
    "European ST-T": lambda n: n.startswith("sele"),
    "MIT-BIH Long-Term": lambda n: n.startswith(("sel14", "sel15")),
    "MIT-BIH Normal Sinus Rhythm": lambda n: n.startswith(("sel16", "sel17")),
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", required=True, help="`stressbeat dataset beats --records qtdb-other` output")
    ap.add_argument("--model", required=True, help="beat-type ONNX file")
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    data = load_beats(args.data, "all")
    extra = load_extra(args.data, "all")
    missed = missed_references(data.meta)
    prob = ort_probabilities(args.model, data)
    pred = prob.argmax(1)
    extra_pred = ort_probabilities(args.model, extra).argmax(1) if extra is not None and len(extra.labels) else \
        np.zeros(0, np.int64)
    names = {int(r["record_id"]): r["record"] for r in data.meta["records"]}
    report = {
        "data": args.data,
        "model": args.model,
        "model_sha256": sha256(args.model),
        "records": len(names),
        "channels": sorted({r["channel"] for r in data.meta["records"]}),
        "class_counts": np.bincount(data.labels, minlength=5).tolist(),
        "all": summary(data.labels, pred, data.records, extra_pred=extra_pred,
                       extra_records=np.zeros(0, np.int64) if extra is None else extra.records, missed=missed),
        "by_source": {},
    }
    for source, member in SOURCES.items():
        ids = [i for i, n in names.items() if member(n)]
        keep = np.isin(data.records, ids)
        cm = confusion(data.labels[keep], pred[keep])
        report["by_source"][source] = {
            "records": len(ids), "beats": int(keep.sum()),
            "class_counts": np.bincount(data.labels[keep], minlength=5).tolist(),
            "calls": np.bincount(pred[keep], minlength=5).tolist(),
            "pooled": class_metrics(cm), "confusion": cm.tolist()}
    for row in report["all"]["per_record"]:
        row["name"] = names[row["record"]]
    Path(args.out).write_text(json.dumps(report, indent=1))
    print("all     ", fmt(report["all"]["pooled"]))
    if "ec57" in report["all"]:
        print("EC57    ", " ".join(f"{k} {100 * v:.1f}" for k, v in report["all"]["ec57"]["pooled"].items()))
    for source, r in report["by_source"].items():
        print(f"{source[:24]:24s} beats {r['beats']:6d} refs {r['class_counts']} calls {r['calls']}")


if __name__ == "__main__":
    main()
