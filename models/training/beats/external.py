"""External test of a beat-type model on other patients' annotated records (never trained on):
the QT Database's excerpts of other databases, exported with `stressbeat dataset beats --records
qtdb-other`. Leads are mostly not MLII (a harder test than DS2, closer to a chest strap).

The model's metadata (`<model>.json` beside it, where there is one) names its template rule: for
`classified_n` (v9 on; the shipped v10) every detection of a record, labelled or not, is classified beat by beat in
R-peak order through onnxruntime, the template from the beats the model called N, as the core
does (`beats.feedback_template.feedback_loop`); else all rows at once with the export's template.

python -m beats.external --data /tmp/qtdb-other --model ../beat-type.onnx \
    --out ../reports/beat-type-external-qtdb.json
"""

import argparse
import json
from pathlib import Path

import numpy as np

from .data import load_beats, load_extra, missed_references
from .feedback_template import Detections, feedback_loop, ort_classify, rule_of_metadata
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
    meta_path = Path(args.model).with_suffix(".json")
    model_meta = json.loads(meta_path.read_text()) if meta_path.exists() else {}
    if not model_meta:
        print(f"no metadata at {meta_path}: the plain template (the previous beats, models up to 8.x)")
    rule = rule_of_metadata(model_meta)
    if rule is None:
        data = load_beats(args.data, "all")
        extra = load_extra(args.data, "all")
        prob = ort_probabilities(args.model, data)
        extra_pred = ort_probabilities(args.model, extra).argmax(1) if extra is not None and len(extra.labels) \
            else np.zeros(0, np.int64)
    else:
        det = Detections.load(args.data)
        data, extra = det.labelled, det.extra
        prob, extra_prob = feedback_loop(det, rule, ort_classify(args.model))
        extra_pred = extra_prob.argmax(1)
    pred = prob.argmax(1)
    missed = missed_references(data.meta)
    names = {int(r["record_id"]): r["record"] for r in data.meta["records"]}
    report = {
        "data": args.data,
        "model": args.model,
        "model_sha256": sha256(args.model),
        "model_version": model_meta.get("version"),
        "template": model_meta.get("beat", {}).get("template", {"rule": "previous"}),
        "inputs_revision": {"model": model_meta.get("beat", {}).get("inputs_revision"),
                            "data": data.meta["beat"].get("inputs_revision")},
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
        print("EC57    ", " ".join(f"{k} {'-' if v is None else f'{100 * v:.1f}'}"
                                    for k, v in report["all"]["ec57"]["pooled"].items()))
    for source, r in report["by_source"].items():
        print(f"{source[:24]:24s} beats {r['beats']:6d} refs {r['class_counts']} calls {r['calls']}")


if __name__ == "__main__":
    main()
