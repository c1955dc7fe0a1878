#!/usr/bin/env bash
# The shipped model's scores (README: "The demo model", models/README.md): held-out videos from
# seeds never used in pretraining, first-frame mask prompts; then the memory-policy table on
# videos where every object vanishes and comes back. 96 videos per set: a 24-video J&F moves by
# ~0.05 between seeds (README: "The shipped model, measured"); the first 24 are the earlier sets.
#   bash benchmarks/shipped_model.sh [OUT_DIR] [CHECKPOINT]
set -euo pipefail
out=${1:-bench_shipped}
checkpoint=${2:-models/tiny_demo_synthetic.pt}
bin=$(dirname "$0")/../.venv/bin
mkdir -p "$out"

synth() { [[ -d $out/$1 ]] || "$bin/sam2-data" synth --out "$out/$1" --train-videos 1 "${@:2}"; }
synth pretrain_heldout --style pretrain --seed 2000 --val-videos 96 --frames 24
synth basic_heldout --seed 2001 --val-videos 96
synth reappear --reappear --seed 100 --val-videos 96 --frames 32

evaluate() {  # data, name, extra sam2-eval arguments
  rm -rf "$out/eval_$2"
  "$bin/sam2-eval" run --config demo --checkpoint "$checkpoint" --data "$out/$1" \
    --videos "$out/$1/ImageSets/val.txt" --processes 2 --out "$out/eval_$2" "${@:3}" |
    grep -E "videos,|object score"
}
echo "== held-out, pretraining style (DAVIS J&F)"
evaluate pretrain_heldout pretrain_heldout
echo "== held-out, basic style (the old demo's set)"
evaluate basic_heldout basic_heldout
for policy in none rcms quality_gate; do
  echo "== reappear, memory policy $policy (MOSEv2 scores)"
  evaluate reappear "reappear_$policy" --mode mosev2 --memory-policy "$policy"
done
"$bin/sam2-eval" compare "none=$out/eval_reappear_none" "rcms=$out/eval_reappear_rcms" \
  "quality_gate=$out/eval_reappear_quality_gate" --metric 'J&Fdot' --out "$out/policies.png"
