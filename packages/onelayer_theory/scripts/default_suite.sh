#!/usr/bin/env bash
# Every experiment on the `default` preset with 3 seeds, one run folder each, then their tables
# (about 36 min on 2 cores as last measured; depth, with its pre-training-rate pilot and
# fine-tuning-rate grid, takes about 17 min of that).
# Usage: bash packages/onelayer_theory/scripts/default_suite.sh [OUT_ROOT]   (default runs/onelayer)
set -euo pipefail
out=${1:-runs/onelayer}
for exp in coverage multiplicity universe lora lr-schedule depth; do
  start=$(date +%s)
  uv run --package onelayer_theory onelayer run --experiment "$exp" --preset default --seeds 3 --out "$out/$exp"
  echo "$exp: $(( $(date +%s) - start )) s" >&2
done
uv run --package onelayer_theory onelayer report "$out"
