"""Paired comparison of two nested feature-model runs on the same windows.

Both reports' per-fold choices and offsets are replayed (`feature_models.replay_nested`: every
fold's models refit on its training subjects, folded into the graph's weights) and the new
minus the old is bootstrapped over subjects, per setting.

python compare_nested.py --data DATA --old ../reports/stress_feature_models_v2.json \
    --new ../reports/stress_feature_models.json --out ../reports/stress_feature_models_vs_v2.json
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

import feature_models as fm
import metrics
import stress_data


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", required=True, help="directory written by `stressbeat dataset stress`")
    ap.add_argument("--old", required=True)
    ap.add_argument("--new", required=True)
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    data = stress_data.load(args.data)
    design = fm.Design(data)
    base_rows = data.baseline_rows(data.personal_baselines())
    old, new = (json.loads(Path(p).read_text()) for p in (args.old, args.new))
    rows, *old_scores = fm.replay_nested(data, design, base_rows, old, False)
    rows_new, *new_scores = fm.replay_nested(data, design, base_rows, new, False)
    assert np.array_equal(rows, rows_new), "the two runs scored different windows"
    y, subj = data.label[rows], data.subject[rows]
    out = {"old": Path(args.old).name, "new": Path(args.new).name, "windows": int(len(y)),
           "subjects": int(len(np.unique(subj)))}
    for setting, s_old, s_new in zip(("without_baseline", "with_baseline"), old_scores, new_scores):
        out[setting] = {
            "old": {"balanced_accuracy": metrics.balanced_accuracy(y, s_old > 0), "auc": metrics.auc(y, s_old)},
            "new": {"balanced_accuracy": metrics.balanced_accuracy(y, s_new > 0), "auc": metrics.auc(y, s_new)},
            "new_minus_old": fm.paired_difference(y, subj, s_new, (s_new > 0).astype(int), s_old,
                                                  (s_old > 0).astype(int))}
        d = out[setting]["new_minus_old"]
        print(f"{setting}: BA {d['balanced_accuracy'] * 100:+.1f} points "
              f"[{d['balanced_accuracy_ci95'][0] * 100:+.1f}, {d['balanced_accuracy_ci95'][1] * 100:+.1f}], "
              f"AUC {d['auc']:+.3f} [{d['auc_ci95'][0]:+.3f}, {d['auc_ci95'][1]:+.3f}]")
    Path(args.out).write_text(json.dumps(out, indent=1) + "\n")


if __name__ == "__main__":
    main()
