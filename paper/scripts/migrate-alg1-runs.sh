#!/usr/bin/env bash
# One-time rename of the run folders of the `cifar` preset trained before IAT's and AT+IAT's
# strategy names marked Algorithm 1 (`iat-alg1…`, `at-iat-alg1…`): every `cifar-iat-*` and
# `cifar-at-iat-*` folder (and `folder/…`, Table 2) without `-alg1` that exists when this first
# runs was trained with Algorithm 1's IAA (the reproduction never trained another before), and
# gets `-alg1` inserted, so that the Eq. 2 models, which now own the plain names, are never
# confused with them. Where the new name exists already (restored from the repository), the old
# folder is moved aside to `$ADVCAL_RUNS/models-pre-alg1/`. A marker
# (`$ADVCAL_RUNS/.alg1-migrated`) makes later runs no-ops; run by restore-cifar-runs.sh and
# collect-cifar-weights.sh before they read the cache. Refuses while a training run is live.
set -euo pipefail
runs="${ADVCAL_RUNS:-$HOME/.cache/advcal/runs/cifar}"
marker="$runs/.alg1-migrated"
[ -f "$marker" ] && exit 0
mkdir -p "$runs/models"
if pgrep -f "$runs/paper-bin" > /dev/null; then
    echo "migrate-alg1-runs: a run of $runs/paper-bin is live; stop it first" >&2
    exit 1
fi
shopt -s nullglob
for from in "$runs"/models/cifar-iat-* "$runs"/models/cifar-at-iat-* \
    "$runs"/models/folder/cifar-iat-* "$runs"/models/folder/cifar-at-iat-*; do
    name=$(basename "$from")
    case "$name" in *-alg1-*) continue ;; esac
    to="$(dirname "$from")/$(echo "$name" | sed -E 's/^cifar-(at-)?iat-/cifar-\1iat-alg1-/')"
    if [ -e "$to" ]; then
        aside="$runs/models-pre-alg1/${from#"$runs"/models/}"
        mkdir -p "$(dirname "$aside")"
        mv "$from" "$aside"
        echo "migrate-alg1-runs: $to exists; moved $from aside to $aside"
    else
        mv "$from" "$to"
        echo "migrate-alg1-runs: renamed $from -> $to"
    fi
done
touch "$marker"
