#!/usr/bin/env bash
# Copies the finished models of the `cifar` preset (scripts/train-cifar.sh) into the repository:
# results/cifar/weights/<strategy>.ckpt for the six strategies, table3-<arch>.ckpt for Table 3,
# the IAT ablations and PGD-AT from scratch, table2-<strategy>.ckpt for Table 2 (Tiny ImageNet),
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
# Beyond the paper: the IAT ablations and PGD-AT trained from scratch.
for s in iat-correct-only iat-clean0.5 iat-train-bn; do copy "cifar-$s-ft-resnet18" "$s"; done
copy cifar-pgd-at-scratch-resnet18 pgd-at-scratch
# Table 2 (Tiny ImageNet-200, 64x64, 200 classes): its base model and the five strategies.
copy folder/cifar-pt-resnet18 table2-base
for s in pt pgd-at ace-at iat at-iat; do copy "folder/cifar-$s-ft-resnet18" "table2-$s"; done
