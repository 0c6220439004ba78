#!/usr/bin/env bash
# Copies the finished models of the `cifar` preset (scripts/train-cifar.sh) into the repository:
# results/cifar/weights/<strategy>.ckpt for the six strategies, table3-<arch>.ckpt for Table 3,
# and each run's run.json / history.json beside them. Only complete runs are copied (a model's
# weights.ckpt is written when its last epoch ends).
set -euo pipefail
cd "$(dirname "$0")/.."
models="${ADVCAL_RUNS:-$HOME/.cache/advcal/runs/cifar}/models"
out=results/cifar/weights
mkdir -p "$out"
copy() { # <model dir> <name>
  local dir="$models/$1"
  if [[ -f "$dir/weights.ckpt" ]]; then
    cp "$dir/weights.ckpt" "$out/$2.ckpt"
    cp "$dir/run.json" "$out/$2.run.json" 2>/dev/null || true
    cp "$dir/history.json" "$out/$2.history.json"
    echo "collected $2"
  else
    echo "not finished: $1"
  fi
}
for s in pt pgd-at ace-at ccat iat at-iat; do copy "cifar-$s-ft-resnet18" "$s"; done
copy cifar-pt-resnet18 table3-resnet18
copy cifar-pt-mobilenet_v2 table3-mobilenet_v2
copy cifar-pt-vgg19 table3-vgg19
