#!/usr/bin/env bash
# Reproduces the stress model: LOSO comparison (image and fusion nets included), the fusion's
# compression variants, the shipped feature-only model (nested LOSO selection), latency, tables.
# Usage (from the repository root, venv active, dataset exported by `stressbeat dataset stress`):
#   DATA=/tmp/stress-dataset WORK=/tmp/stress-work bash models/training/reproduce_stress.sh
# Optional: STRESSBEAT=target/release/stressbeat (tract latency via `stressbeat bench-model`).
set -euo pipefail
DATA=${DATA:?export the dataset first: stressbeat dataset stress --data ../shared/data/eegmat --out DIR}
WORK=${WORK:-/tmp/stress-work}
CHANNELS=${CHANNELS:-tachogram}          # the shipped model's image channels (chosen by LOSO, models/stress.md)
# hyper-parameters: every net (grid head, linear feature path, early stopping after 6 epochs) ...
CFG='{"grid": 4, "skip": true, "min_epochs": 6, "patience": 5, "epochs": 30}'
# ... and the shipped fusion (smaller, more dropout, per-setting operating points)
CFG_SHIP='{"grid": 4, "skip": true, "min_epochs": 6, "patience": 5, "epochs": 30, "width": 4, "hidden": 8, "dropout": 0.5, "calibrate": true}'
REPORTS=$(pwd)/models/reports
# the scripts run from models/training: a relative path given here must still find the CLI
if [ -n "${STRESSBEAT:-}" ]; then STRESSBEAT=$(realpath "$STRESSBEAT"); fi
mkdir -p "$WORK" "$REPORTS"
cd models/training
LOSO="$REPORTS/stress_loso.json"

# 1. LOSO comparison table (classical baselines, image models, fusions; per-fold fusion nets kept)
python loso.py --data "$DATA" --out "$LOSO" --cfg "$CFG" --methods hr_rule,hrv_lr,hrv_fallback,features_mlp
python loso.py --data "$DATA" --out "$LOSO" --cfg "$CFG" \
  --methods img:tachogram,img:poincare,img:beat_overlay,img:beat,img:tachogram+poincare,img:beat+beat_overlay+tachogram+poincare,beat_cnn
python loso.py --data "$DATA" --out "$LOSO" --cfg "$CFG" --methods fusion:tachogram+poincare --save-nets "$WORK/fold-nets"
python loso.py --data "$DATA" --out "$LOSO" --cfg "$CFG_SHIP" --methods "fusion:$CHANNELS" --save-nets "$WORK/fold-nets"

# 2. the fusion (no longer shipped, kept for the comparison) on all subjects, into $WORK/fusion
mkdir -p "$WORK/fusion"
python train_final.py --data "$DATA" --report "$LOSO" --method "fusion:$CHANNELS" \
  --out-dir "$WORK/fusion" --float-out "$WORK/stress_float.onnx" --save-state "$WORK/stress_final.pt"

# 3. compression variants, each LOSO-evaluated; the final model's variants for benchmarking
python compress.py --data "$DATA" --report "$LOSO" --method "fusion:$CHANNELS" \
  --nets "$WORK/fold-nets" --final-float "$WORK/stress_final.pt" --variants-dir "$WORK/variants" \
  --out "$REPORTS/stress_compression.json"

# the fusion's stress.json also records the compression metrics (same ONNX, no retraining)
python train_final.py --data "$DATA" --report "$LOSO" --method "fusion:$CHANNELS" --out-dir "$WORK/fusion" \
  --from-state "$WORK/stress_final.pt" --compression "$REPORTS/stress_compression.json"

# 4. latency: onnxruntime here, tract through the CLI when available
python bench_onnxruntime.py "$WORK"/variants/*.onnx --json "$REPORTS/stress_latency_onnxruntime.json"
if [ -n "${STRESSBEAT:-}" ]; then
  python bench_tract.py --stressbeat "$STRESSBEAT" "$WORK"/variants/*.onnx --json "$REPORTS/stress_latency_tract.json"
fi

# 5. feature-only logistic regressions chosen by nested LOSO (5-fold grouped inner CV, rule
#    "simplest within one SE of the best inner AUC"); rows appended to the LOSO report. First all
#    features (rows g, report only), then the shipped family without the R/T amplitudes (rows f),
#    trained on all subjects → models/stress.{onnx,json} (float graph)
python feature_models.py --data "$DATA" --out "$REPORTS/stress_feature_models_with_amplitudes.json" \
  --inner-folds 5 --selection auc_1se --loso "$LOSO" --loso-prefix feature_lr_amp --workers 2
# the v2.0 families (no HR z-score candidates; reports and one table row only)
python feature_models.py --data "$DATA" --out "$REPORTS/stress_feature_models_with_amplitudes_v2.json" \
  --inner-folds 5 --selection auc_1se --no-z --workers 2
python feature_models.py --data "$DATA" --out "$REPORTS/stress_feature_models_v2.json" --inner-folds 5 \
  --selection auc_1se --exclude r_amp_mv,t_amp_mv --no-z --loso "$LOSO" --loso-prefix feature_lr_v2 \
  --loso-nested-only --workers 2
python feature_models.py --data "$DATA" --out "$REPORTS/stress_feature_models.json" --inner-folds 5 \
  --selection auc_1se --exclude r_amp_mv,t_amp_mv --loso "$LOSO" --loso-prefix feature_lr \
  --export-dir .. --work "$WORK/feature-variants" --variant float --workers 2
# the paired v2.1 - v2.0 comparison on the same windows
python compare_nested.py --data "$DATA" --old "$REPORTS/stress_feature_models_v2.json" \
  --new "$REPORTS/stress_feature_models.json" --out "$REPORTS/stress_feature_models_vs_v2.json"
# sensitivity (report only, ~5x slower): the same with a leave-one-subject-out inner CV
python feature_models.py --data "$DATA" --out "$REPORTS/stress_feature_models_inner_loso.json" --inner-folds 0 \
  --selection auc_1se --exclude r_amp_mv,t_amp_mv --workers 2
python bench_onnxruntime.py "$WORK"/feature-variants/*.onnx --runs 3000 \
  --json "$REPORTS/stress_feature_latency_onnxruntime.json"
if [ -n "${STRESSBEAT:-}" ]; then
  python bench_tract.py --stressbeat "$STRESSBEAT" "$WORK"/feature-variants/*.onnx --iterations 3000 \
    --json "$REPORTS/stress_feature_latency_tract.json"
fi

# 6. tables for the model card
python report.py --loso "$LOSO" --compression "$REPORTS/stress_compression.json" \
  --ort "$REPORTS/stress_latency_onnxruntime.json" \
  $( [ -f "$REPORTS/stress_latency_tract.json" ] && echo --tract "$REPORTS/stress_latency_tract.json" ) \
  --compression "$REPORTS/stress_feature_compression.json" --ort "$REPORTS/stress_feature_latency_onnxruntime.json" \
  $( [ -f "$REPORTS/stress_feature_latency_tract.json" ] && echo --tract "$REPORTS/stress_feature_latency_tract.json" ) \
  --out "$REPORTS/stress_tables.md"

# 7. screen (report only): do respiration-related RR features add to HR?
python stress_spectral_check.py --data "$DATA" --out "$REPORTS/stress_spectral_check.json"

# 8. screen (report only, declared before it was run): the HR rise scaled per person
python stress_baseline_scale_check.py --data "$DATA" --out "$REPORTS/stress_baseline_scale_check.json"
