#!/usr/bin/env bash
# The inverse of scripts/collect-cifar-weights.sh, for a machine whose run cache is gone: seeds
# $ADVCAL_RUNS/models/<run>/ (default ~/.cache/advcal/runs/cifar) with the finished weights
# committed in results/cifar/weights/, so that scripts/train-cifar.sh reuses them (a run whose
# last.ckpt holds all its epochs is loaded, its schedule checked, and not trained again) instead
# of training them again. Only runs without a last.ckpt are seeded; an unfinished run in the
# cache is never overwritten. Table 2's stage is marked done when its records and all six of its
# models are committed. Safe to run again; scripts/train-cifar.sh runs it first.
set -euo pipefail
cd "$(dirname "$0")/.."
runs="${ADVCAL_RUNS:-$HOME/.cache/advcal/runs/cifar}"
weights=results/cifar/weights
mkdir -p "$runs/models" "$runs/stages"
seed() { # <model dir> <name>
  local dir="$runs/models/$1" src="$weights/$2"
  [[ -f "$src.ckpt" ]] || return 0
  if [[ -f "$dir/last.ckpt" ]]; then
    return 0
  fi
  mkdir -p "$dir"
  for f in run.json history.json; do
    [[ -f "$src.$f" ]] && cp "$src.$f" "$dir/$f.tmp" && mv "$dir/$f.tmp" "$dir/$f"
  done
  cp "$src.ckpt" "$dir/weights.ckpt.tmp" && mv "$dir/weights.ckpt.tmp" "$dir/weights.ckpt"
  # last.ckpt last: its presence is what marks the run finished.
  cp "$src.ckpt" "$dir/last.ckpt.tmp" && mv "$dir/last.ckpt.tmp" "$dir/last.ckpt"
  echo "restored $2 -> $dir"
}
# The run directories and weights names: scripts/cifar-runs.txt (shared with collect-cifar-weights.sh).
while read -r dir name; do
  [[ -z "$dir" || "$dir" == \#* ]] || seed "$dir" "$name"
done < scripts/cifar-runs.txt
table2_done=results/cifar/table2.json
for s in base pt pgd-at ace-at iat at-iat; do
  [[ -f "$weights/table2-$s.ckpt" ]] || table2_done=
done
if [[ -n "$table2_done" && -f "$table2_done" && ! -f "$runs/stages/table2.done" ]]; then
  touch "$runs/stages/table2.done"
  echo "table2: records and models committed; stage marked done"
fi
