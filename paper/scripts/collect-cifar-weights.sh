#!/usr/bin/env bash
# Copies the finished models of the `cifar` preset (scripts/train-cifar.sh) into the repository:
# results/cifar/weights/<strategy>.ckpt for the six strategies, table3-<arch>.ckpt for Table 3,
# the IAT ablations and PGD-AT from scratch, table2-<strategy>.ckpt for Table 2 (Tiny ImageNet),
# and each run's run.json / history.json beside them. Only complete runs are copied (a model's
# weights.ckpt is written when its last epoch ends).
#
# With --snapshot, an unfinished run's last epoch checkpoint (model and optimizer state) and its
# history are copied to results/cifar/in-progress/<run dir>/ as well, for a session that ends
# before the run does on a machine whose run cache may not survive: restore-cifar-runs.sh puts
# it back and the run resumes from that epoch. A snapshot is removed once its run is collected.
# Meant for the end of a session only (each snapshot is a few MB in git).
set -euo pipefail
snapshot=0
[[ "${1:-}" == --snapshot ]] && snapshot=1
cd "$(dirname "$0")/.."
models="${ADVCAL_RUNS:-$HOME/.cache/advcal/runs/cifar}/models"
out=results/cifar/weights
mkdir -p "$out"
# Algorithm 1 run folders from before their `-alg1` names: renamed first (once).
ADVCAL_RUNS="${ADVCAL_RUNS:-$HOME/.cache/advcal/runs/cifar}" bash scripts/migrate-alg1-runs.sh
put() { cp "$1" "$2.tmp" && mv "$2.tmp" "$2"; }
progress=results/cifar/in-progress
copy() { # <model dir> <name>
  local dir="$models/$1"
  if [[ -f "$dir/weights.ckpt" ]]; then
    rm -rf "${progress:?}/$1"
    # Each file through a temporary and a rename: an interrupted copy leaves no torn file.
    put "$dir/weights.ckpt" "$out/$2.ckpt"
    [[ -f "$dir/run.json" ]] && put "$dir/run.json" "$out/$2.run.json"
    put "$dir/history.json" "$out/$2.history.json"
    echo "collected $2"
  elif [[ "$snapshot" == 1 && -f "$dir/last.ckpt" ]]; then
    mkdir -p "$progress/$1"
    put "$dir/last.ckpt" "$progress/$1/last.ckpt"
    for f in history.json history.csv; do
      [[ -f "$dir/$f" ]] && put "$dir/$f" "$progress/$1/$f"
    done
    echo "snapshot of unfinished $1 -> $progress/$1"
  else
    echo "not finished: $1"
  fi
}
# One list (scripts/cifar-runs.txt) names the runs for this script and restore-cifar-runs.sh.
while read -r dir name; do
  [[ -z "$dir" || "$dir" == \#* ]] || copy "$dir" "$name"
done < scripts/cifar-runs.txt
