#!/usr/bin/env bash
# Reproduces the stress model: LOSO comparison, final model, compression variants, latency, tables.
# Usage (from the repository root, venv active, dataset exported by `stressbeat dataset stress`):
#   DATA=/tmp/stress-dataset WORK=/tmp/stress-work bash models/training/reproduce_stress.sh
# Optional: STRESSBEAT=target/release/stressbeat (tract latency via `stressbeat bench-model`).
set -euo pipefail
DATA=${DATA:?export the dataset first: stressbeat dataset stress --data ../shared/data/eegmat --out DIR}
WORK=${WORK:-/tmp/stress-work}
CHANNELS=${CHANNELS:-tachogram}          # the image channels chosen by LOSO (see models/stress.md)
IMG_SINGLE=${IMG_SINGLE:-"img:beat img:beat_overlay img:tachogram img:poincare"}
REPORTS=$(pwd)/models/reports
mkdir -p "$WORK" "$REPORTS"
cd models/training

# 1. LOSO comparison table (classical baselines, image models, fusion; per-fold nets kept)
python loso.py --data "$DATA" --out "$REPORTS/stress_loso.json" --methods hr_rule,hrv_lr,hrv_fallback,features_mlp
python loso.py --data "$DATA" --out "$REPORTS/stress_loso.json" \
  --methods "$(echo $IMG_SINGLE | tr ' ' ','),img:beat+beat_overlay+tachogram+poincare"
python loso.py --data "$DATA" --out "$REPORTS/stress_loso.json" --methods "img:$CHANNELS,fusion:$CHANNELS" \
  --save-nets "$WORK/fold-nets"
python loso.py --data "$DATA" --out "$REPORTS/stress_loso.json" --methods beat_cnn

# 2. final model on all subjects (int8 weights, float activations) + its float twin
python train_final.py --data "$DATA" --report "$REPORTS/stress_loso.json" --method "fusion:$CHANNELS" \
  --out-dir .. --float-out "$WORK/stress_float.onnx" --save-state "$WORK/stress_final.pt"

# 3. compression variants, each LOSO-evaluated; the final model's variants for benchmarking
python compress.py --data "$DATA" --report "$REPORTS/stress_loso.json" --method "fusion:$CHANNELS" \
  --nets "$WORK/fold-nets" --final-float "$WORK/stress_final.pt" --variants-dir "$WORK/variants" \
  --out "$REPORTS/stress_compression.json"

# 4. latency: onnxruntime here, tract through the CLI when available
python bench_onnxruntime.py "$WORK"/variants/*.onnx --json "$REPORTS/stress_latency_onnxruntime.json"
if [ -n "${STRESSBEAT:-}" ]; then
  python bench_tract.py --stressbeat "$STRESSBEAT" "$WORK"/variants/*.onnx --json "$REPORTS/stress_latency_tract.json"
fi

# 5. tables for the model card
python report.py --loso "$REPORTS/stress_loso.json" --compression "$REPORTS/stress_compression.json" \
  --ort "$REPORTS/stress_latency_onnxruntime.json" \
  $( [ -f "$REPORTS/stress_latency_tract.json" ] && echo --tract "$REPORTS/stress_latency_tract.json" ) \
  --out "$REPORTS/stress_tables.md"
