#!/usr/bin/env bash
# The long CIFAR-10 training runs of the `cifar` preset (issue: credible-scale reproduction), in
# the background, at low priority, resumable: run it again after an interruption and every
# model continues from its last completed epoch.
#
#   nohup bash scripts/train-cifar.sh > ~/.cache/advcal/runs/cifar.log 2>&1 &
#
# In-progress state (checkpoints, histories, run.json) lives under $ADVCAL_RUNS (default
# ~/.cache/advcal/runs/cifar), outside the repository. `scripts/collect-cifar-weights.sh` copies
# finished weights into results/cifar/weights/.
set -euo pipefail
cd "$(dirname "$0")/.."
runs="${ADVCAL_RUNS:-$HOME/.cache/advcal/runs/cifar}"
data="${ADVCAL_CIFAR10_DIR:-$(pwd)/../shared/data/cifar-10-batches-bin}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/advcal/target}"
eval "$(bash scripts/setup-libtorch.sh --print-env)"
mkdir -p "$runs"

# Build once, then run the binary directly (a rebuild beside a run would compete for the cores).
cargo build --release --features tch --example paper
bin="$CARGO_TARGET_DIR/release/examples/paper"
run() { nice -n 19 "$bin" "$@" --preset cifar --backend tch --data-dir "$data" \
    --models-dir "$runs/models" --out "$runs/out"; }

# The plain base model, then the six strategies fine-tuned from it (PT first).
run train
# Table 3's other two architectures (plain, from scratch), trained by the table itself.
run table3
echo "train-cifar: all runs complete"
