#!/usr/bin/env bash
# What Burn's kernel fusion and autotune bring to the attack step on a CubeCL backend (WGPU, or
# CUDA on a GPU machine): builds the attack_step bench once per combination of the two features,
# then runs one attack step's benches with each, every run from its own empty directory so that
# CubeCL's autotune cache (<dir>/target/autotune) starts cold; a `warm` rerun reuses the first
# run's cache to separate tuning from kernel compilation. Results: docs/performance.md.
#
#   bash scripts/bench-fusion-autotune.sh            # wgpu (lavapipe on a CPU-only machine)
#   bash scripts/bench-fusion-autotune.sh cuda       # cuda, on a machine with an NVIDIA GPU
#
# Environment: ADVCAL_BENCH_MODELS / ADVCAL_BENCH_BATCHES as for the bench (default small_cnn /
# 32), OUT (default ./fusion-autotune-results). Each run's full criterion output is kept in
# $OUT/<configuration>/out.txt; this script prints the warm-up step and the three timings.
set -euo pipefail

backend=${1:-wgpu}
case "$backend" in
wgpu | cuda) ;;
*)
    echo "usage: $0 [wgpu|cuda]" >&2
    exit 2
    ;;
esac
root=$(cd "$(dirname "$0")/.." && pwd)
out=$(mkdir -p "${OUT:-fusion-autotune-results}" && cd "${OUT:-fusion-autotune-results}" && pwd)
export ADVCAL_BENCH_BACKENDS=$backend
export ADVCAL_BENCH_MODELS=${ADVCAL_BENCH_MODELS:-small_cnn}
export ADVCAL_BENCH_BATCHES=${ADVCAL_BENCH_BATCHES:-32}
steps='lower_bound_fwd_bwd|step_update_only|pgd_step'

# name:features. `$backend` alone is fusion + autotune; `$backend-plain` is neither.
configs=(
    "fused_autotune:$backend"
    "plain:$backend-plain"
    "fusion_only:$backend-plain,burn/fusion"
    "autotune_only:$backend-plain,burn/autotune"
)
declare -A binary
for config in "${configs[@]}"; do
    name=${config%%:*}
    features=${config#*:}
    echo "== building $name (--features $features)" >&2
    # --no-default-features: the CPU backends are not benched here and would only lengthen the build.
    # JSON on stdout (to find the binary), cargo's progress and errors on stderr as usual.
    listing=$(cd "$root" && cargo bench --no-run --no-default-features --features "$features" \
        --bench attack_step --message-format=json)
    binary[$name]=$(printf '%s\n' "$listing" | python3 -c '
import json, sys
for line in sys.stdin:
    msg = json.loads(line)
    if msg.get("reason") == "compiler-artifact" and msg.get("executable") and msg["target"]["name"] == "attack_step":
        print(msg["executable"])')
    # The next build overwrites nothing of this one (features change the file name), but keep a
    # copy named after the configuration for reruns.
    cp "${binary[$name]}" "$out/attack_step-$name"
    binary[$name]=$out/attack_step-$name
done

run() { # name binary [VAR=value ...]
    local name=$1 bin=$2
    shift 2
    local dir=$out/$name
    rm -rf "$dir" && mkdir -p "$dir" && touch "$dir/Cargo.toml"
    if [[ $name == *_warm ]]; then
        mkdir -p "$dir/target"
        cp -r "$out/${name%_warm}/target/autotune" "$dir/target/" 2>/dev/null || true
    fi
    echo "== $name $(date +%T)"
    (cd "$dir" && env "$@" CRITERION_HOME="$dir/target/criterion" "$bin" --bench "$steps") \
        >"$dir/out.txt" 2>&1
    grep -E "warm-up step|^[a-z0-9_]+/.*|time: " "$dir/out.txt" | grep -v "^Benchmarking" || true
}

run fused_autotune "${binary[fused_autotune]}"
run fused_autotune_warm "${binary[fused_autotune]}"
run plain "${binary[plain]}"
run fusion_only "${binary[fusion_only]}"
run autotune_only "${binary[autotune_only]}"
run fused_at_minimal "${binary[fused_autotune]}" CUBECL_AUTOTUNE_LEVEL=minimal
run fused_at_extensive "${binary[fused_autotune]}" CUBECL_AUTOTUNE_LEVEL=extensive
