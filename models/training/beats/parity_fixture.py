"""Parity fixture for the core's `classified_n` ring: one record's detections (labelled and extra,
in R-peak order) classified beat by beat by a beat-type ONNX file through onnxruntime, each
template from the beats the model called N (`beats.feedback_template.feedback_loop`, the rule of
the model's metadata). The Rust core, fed the same record, should call the same classes.

python -m beats.parity_fixture --data /tmp/beats --model ../beat-type.onnx --record 119 --out parity-119.json
"""

import argparse
import json
from pathlib import Path

import numpy as np

from .data import LABELS
from .feedback_template import Detections, feedback_loop, ort_classify, rule_of_metadata
from .onnx_io import sha256


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", required=True, help="directory written by `stressbeat dataset beats`")
    ap.add_argument("--model", required=True, help="beat-type ONNX file, its metadata JSON beside it")
    ap.add_argument("--record", required=True, help="record name, e.g. 119")
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    meta = json.loads(Path(args.model).with_suffix(".json").read_text())
    rule = rule_of_metadata(meta)
    if rule is None:
        raise ValueError(f"{args.model}: its metadata names no classified_n template rule")
    every = Detections.load(args.data)
    ids = [int(r.get("record_id", r["record"])) for r in every.labelled.meta["records"]
           if str(r["record"]) == args.record]
    if len(ids) != 1:
        raise ValueError(f"record {args.record!r} is not in {args.data}")
    det = every.of_records(ids)
    prob, extra_prob = feedback_loop(det, rule, ort_classify(args.model))
    order = det.in_order(ids[0])
    peaks = [int((det.peaks if src is det.labelled else det.extra_peaks)[i]) for src, i in order]
    p = np.stack([(prob if src is det.labelled else extra_prob)[i] for src, i in order])
    fixture = {"record": args.record, "model_version": meta["version"], "onnx_sha256": sha256(args.model),
               "peaks_130hz": peaks, "classes": [LABELS[k] for k in p.argmax(1)],
               "probabilities_v": [round(float(v), 4) for v in p[:, LABELS.index("V")]]}
    Path(args.out).write_text(json.dumps(fixture) + "\n")
    print(f"record {args.record}: {len(peaks)} detections ({len(det.labelled.labels)} labelled), calls "
          + ", ".join(f"{c} {fixture['classes'].count(c)}" for c in LABELS))


if __name__ == "__main__":
    main()
