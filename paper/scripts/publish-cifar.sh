#!/usr/bin/env bash
# Brings the finished results of the `cifar` preset into the repository and regenerates the
# results page: the records, tables and plots of every experiment scripts/train-cifar.sh has
# finished ($ADVCAL_RUNS/out), the weights of every finished run (collect-cifar-weights.sh),
# docs/results.md (render_results.py), then the checks CI runs on them. Safe to run while the
# training is still going: an experiment's files appear only when it has finished. At the end of
# a session, `--snapshot` also copies the unfinished runs' last epoch checkpoints into the repository
# (collect-cifar-weights.sh --snapshot), so that a new machine resumes them.
set -euo pipefail
cd "$(dirname "$0")/.."
runs="${ADVCAL_RUNS:-$HOME/.cache/advcal/runs/cifar}"
mkdir -p results/cifar
shopt -s nullglob
for f in "$runs"/out/*.json "$runs"/out/*.md "$runs"/out/*.svg "$runs"/out/*.png; do
    cp "$f" results/cifar/
done
# The journal of every record measured so far (both datasets' contexts), so that a fresh machine
# resumes an unfinished experiment (train-cifar.sh passes --reuse results/cifar): the committed
# journal and the run cache's, merged (a fresh machine's cache journals only what it measured
# itself), each record once.
cat results/cifar/journal.jsonl "$runs"/out/journal.jsonl "$runs"/out/folder/journal.jsonl \
    2>/dev/null | awk '!seen[$0]++' > results/cifar/journal.jsonl.tmp || true
if [ -s results/cifar/journal.jsonl.tmp ]; then
    mv results/cifar/journal.jsonl.tmp results/cifar/journal.jsonl
else
    rm -f results/cifar/journal.jsonl.tmp
fi
bash scripts/collect-cifar-weights.sh "$@"
python3 scripts/render_results.py
python3 scripts/check_results.py results/cifar --min-n 2000 --full-grid --allow-missing \
    --require models --page docs/results.md
