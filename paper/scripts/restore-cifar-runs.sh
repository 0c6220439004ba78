#!/usr/bin/env bash
# The inverse of scripts/collect-cifar-weights.sh, for a machine whose run cache is gone: seeds
# $ADVCAL_RUNS/models/<run>/ (default ~/.cache/advcal/runs/cifar) with the finished weights
# committed in results/cifar/weights/, so that scripts/train-cifar.sh reuses them (a run whose
# last.ckpt holds all its epochs is loaded, its schedule checked, and not trained again) instead
# of training them again. Only runs without a last.ckpt are seeded; an unfinished run in the
# cache is never overwritten. Safe to run again; scripts/train-cifar.sh runs it first (and marks
# the stages of committed experiments done).
set -euo pipefail
cd "$(dirname "$0")/.."
runs="${ADVCAL_RUNS:-$HOME/.cache/advcal/runs/cifar}"
weights=results/cifar/weights
mkdir -p "$runs/models" "$runs/stages"
# Algorithm 1 run folders from before their `-alg1` names: renamed first (once).
ADVCAL_RUNS="$runs" bash scripts/migrate-alg1-runs.sh
# Each file through a temporary and a rename: an interrupted copy leaves no torn file.
put() { cp "$1" "$2.tmp" && mv "$2.tmp" "$2"; }
seed() { # <model dir> <name>
  local dir="$runs/models/$1" src="$weights/$2" snap="results/cifar/in-progress/$1"
  if [[ -f "$dir/last.ckpt" ]]; then
    return 0
  fi
  # An unfinished run committed at the end of a session (collect-cifar-weights.sh --snapshot):
  # its last epoch checkpoint and history, from which the run resumes.
  if [[ ! -f "$src.ckpt" && -f "$snap/last.ckpt" ]]; then
    mkdir -p "$dir"
    for f in history.json history.csv; do
      [[ -f "$snap/$f" ]] && put "$snap/$f" "$dir/$f"
    done
    put "$snap/last.ckpt" "$dir/last.ckpt"
    echo "restored the unfinished $1 from $snap (resumes)"
    return 0
  fi
  [[ -f "$src.ckpt" ]] || return 0
  mkdir -p "$dir"
  for f in run.json history.json; do
    [[ -f "$src.$f" ]] && put "$src.$f" "$dir/$f"
  done
  put "$src.ckpt" "$dir/weights.ckpt"
  # last.ckpt last: its presence is what marks the run finished.
  put "$src.ckpt" "$dir/last.ckpt"
  echo "restored $2 -> $dir"
}
# The run directories and weights names: scripts/cifar-runs.txt (shared with collect-cifar-weights.sh).
while read -r dir name; do
  [[ -z "$dir" || "$dir" == \#* ]] || seed "$dir" "$name"
done < scripts/cifar-runs.txt
