#!/usr/bin/env bash
# Every experiment on the `default` preset with 3 seeds, one run folder each, then their tables
# (about 35 min on 2 cores; depth alone took 21.5 min with its three pre-training rates).
# Usage: bash packages/onelayer_theory/scripts/default_suite.sh [OUT_ROOT]   (default runs/onelayer)
set -euo pipefail
out=${1:-runs/onelayer}
for exp in coverage multiplicity universe lora lr-schedule depth; do
  start=$(date +%s)
  uv run --package onelayer_theory onelayer run --experiment "$exp" --preset default --seeds 3 --out "$out/$exp"
  echo "$exp: $(( $(date +%s) - start )) s" >&2
done
uv run --package onelayer_theory onelayer report "$out"
