#!/usr/bin/env bash
# Why VGG-19/4 collapsed (issue "Credible-scale reproduction", Table 3): VGG-19 with a quarter of
# the channels trained for 3 epochs on 10,000 CIFAR-10 images at lr 0.1, with 0 and 1 linear
# warm-up epochs, by advcal (LibTorch backend) and by PyTorch (scripts/vgg_warmup_pytorch.py) on
# the same recipe. Writes results/cifar/vgg19-warmup.json (per-epoch train loss and accuracy of
# the four runs), which scripts/render_results.py shows under Table 3. About 5 minutes.
set -euo pipefail
cd "$(dirname "$0")/.."
out="${1:-results/cifar/vgg19-warmup.json}"
data="${ADVCAL_CIFAR10_DIR:-../../shared/data/cifar-10-batches-bin}"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/advcal/target}"
eval "$(bash ../scripts/setup-libtorch.sh --print-env)"
cargo build --release -p advcal --features tch --example train
for w in 0 1; do
    "$CARGO_TARGET_DIR/release/examples/train" --backend tch --strategy pt --model vgg19 \
        --width-divisor 4 --preset cpu --data-dir "$data" --train-limit 10000 --epochs 3 \
        --lr 0.1 --warmup-epochs "$w" --eval-limit 500 --eval-attack noise:0.01 \
        --eval-attack-steps 1 --out "$tmp/advcal-w$w"
done
eval "$(bash ../scripts/setup-pytorch.sh --print-env)"
for w in 0 1; do
    "$ADVCAL_PYTHON" scripts/vgg_warmup_pytorch.py --data "$data/data_batch_1.bin" --lr 0.1 \
        --warmup-epochs "$w" --out "$tmp/pytorch-w$w.json"
done
python3 scripts/vgg_warmup_collect.py "$tmp" "$out"
