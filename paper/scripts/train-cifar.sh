#!/usr/bin/env bash
# The long CIFAR-10 training runs of the `cifar` preset (issue: credible-scale reproduction), in
# the background, at low priority, resumable: run it again after an interruption and every
# model continues from its last completed epoch, and every finished stage is skipped.
#
#   mkdir -p ~/.cache/advcal/runs && nohup bash scripts/train-cifar.sh > ~/.cache/advcal/runs/cifar.log 2>&1 &
#
# In-progress state (checkpoints, histories, run.json) lives under $ADVCAL_RUNS (default
# ~/.cache/advcal/runs/cifar), outside the repository. `scripts/collect-cifar-weights.sh` copies
# finished weights into results/cifar/weights/; `scripts/restore-cifar-runs.sh` (run first here)
# copies them back into an empty cache, so a new machine trains only what is not committed.
set -euo pipefail
cd "$(dirname "$0")/.."
runs="${ADVCAL_RUNS:-$HOME/.cache/advcal/runs/cifar}"
data="${ADVCAL_CIFAR10_DIR:-$(pwd)/../../shared/data/cifar-10-batches-bin}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/advcal/target}"
eval "$(bash ../scripts/setup-libtorch.sh --print-env)"
mkdir -p "$runs"
# A fresh machine (no run cache): start from the finished models committed in the repository.
ADVCAL_RUNS="$runs" bash scripts/restore-cifar-runs.sh

# Build once, then run the binary directly (a rebuild beside a run would compete for the cores).
cargo build --release -p advcal-paper --features tch
# A private copy: CI and other builds share the target directory and may replace the original
# (with other features) while the stages below are still to run.
bin="$runs/paper-bin"
cp "$CARGO_TARGET_DIR/release/paper" "$bin.tmp"
mv "$bin.tmp" "$bin"
# Every record committed in results/cifar/ (and its journal of a run still under way) is a
# measurement of the committed models: it is taken, not measured again (`paper --reuse`).
run() { nice -n 19 "$bin" "$@" --preset cifar --backend tch --data-dir "$data" \
    --models-dir "$runs/models" --out "$runs/out" --reuse "$(pwd)/results/cifar"; }
# An experiment whose committed records are complete: its JSON holds Eq. 2's IAA (`iaa-eq2`)
# beside Algorithm 1's (Fig. 8: a gallery of each), or it has no IAA (models, fig7).
committed() {
    local f="results/cifar/$1.json"
    [ -f "$f" ] && { [ "$1" = models ] || [ "$1" = fig7 ] || grep -q '"iaa-eq2"' "$f"; }
}
# A stage whose experiment is committed complete is marked done (a fresh machine).
mark_committed() {
    if committed "$2" && [ ! -f "$runs/stages/$1.done" ]; then
        touch "$runs/stages/$1.done"
        echo "train-cifar: results/cifar/$2.json is committed; stage $1 marked done"
    fi
}
# A finished stage leaves $runs/stages/<name>.done and is skipped on the next start (training
# resumes by itself, but an evaluation stage would run again from its beginning). Delete the
# marker to run a stage again.
mkdir -p "$runs/stages"
stage() {
    local name=$1
    shift
    if [ -f "$runs/stages/$name.done" ]; then
        echo "train-cifar: stage $name already done ($runs/stages/$name.done); skipped"
        return 0
    fi
    run "$@" || return $?  # explicit: `set -e` does not apply inside `stage ... || ...`
    touch "$runs/stages/$name.done"
}

# Table 2 (issue "Table 2 on Tiny ImageNet"): five strategies on the 20,000 Tiny ImageNet-200
# training images, the same preset's budget. First since its network got a stride-2 stem
# (about 2 hours instead of 11, ../docs/performance.md): it finishes a whole issue early.
tiny="${ADVCAL_TINY_IMAGENET_DIR:-$(pwd)/../../shared/data/tiny-imagenet-200}"
if [ -f "$tiny/wnids.txt" ]; then
    # A failure here must not keep the CIFAR-10 stages below from running.
    mark_committed table2-eq2 table2
    stage table2-eq2 table2 --tiny-imagenet-dir "$tiny" \
        || echo "train-cifar: table2 failed (exit $?); continuing"
else
    echo "train-cifar: no Tiny ImageNet-200 at $tiny; table2 skipped"
fi
# The plain base model, then the six strategies fine-tuned from it (PT first).
stage train train
# Every evaluation of the six trained models (no training): the clean summary on all 10,000 test
# images, Figs. 4-8 and Table 1. Their JSON/SVG land in $runs/out; copy them to results/cifar/.
# One stage per experiment, so an interrupted evaluation resumes at the experiment it stopped in
# (Fig. 4 alone takes about 25 minutes with Algorithm 1's IAA, 50 more with Eq. 2's). Each
# experiment seeds itself from --seed, so the records are the same as from one call running them
# all, and every finished record is journalled (`$runs/out/journal.jsonl`): an interrupted
# experiment measures only what it lacks. The cheap experiments first; Fig. 5 and Table 1 measure
# records that Fig. 4 and Fig. 6 then reuse. The markers are `-eq2` since Eq. 2's IAA joined.
evaluation() {
    for experiment in "$@"; do
        mark_committed "evaluation-$experiment-eq2" "$experiment"
        stage "evaluation-$experiment-eq2" "$experiment"
    done
}
evaluation models fig5 table1 fig7 fig8
# Table 3's other two architectures (plain, from scratch), trained by the table itself.
mark_committed table3-eq2 table3
stage table3-eq2 table3
# The fine-tuning shortcut measured: PGD-AT from scratch (the base model's 30 epochs).
mark_committed finetune-vs-scratch-eq2 finetune-vs-scratch
stage finetune-vs-scratch-eq2 finetune-vs-scratch
# The IAT ablations (four IAT variants fine-tuned like IAT), trained and evaluated.
mark_committed iat-ablation-eq2 iat-ablation
stage iat-ablation-eq2 iat-ablation
# The long sweeps last.
evaluation fig6 fig4
# Beyond the paper (issue "Does IAT calibrate when it trains on true IAEs?"), most decisive first:
# IAT and AT+IAT on Eq. 2's IAEs (one seed), the calibration baselines (temperature scaling, label
# smoothing), robustness under APGD, the seeds 1 and 2, then AT+IAT's weight sweep. Each
# experiment rewrites its JSON after every model; finished models are restored from the
# repository and committed records reused, so these stages need no committed-marker.
stage iat-eq2-seed0 iat-eq2 --train-seeds 0
stage baselines baselines
stage robustness-apgd robustness-apgd
stage iat-eq2-seeds iat-eq2 --train-seeds 0,1,2
stage two-sided two-sided
echo "train-cifar: all runs complete"
