#!/usr/bin/env bash
# advcal (Burn + LibTorch, criterion bench benches/attack_step.rs) side by side with the same work
# written in PyTorch (scripts/bench-pytorch.py), on the CPU with the same thread count.
#
#   bash scripts/bench-vs-pytorch.sh [--rounds 3] [--models resnet18] [--batches 32] \
#        [--rows lower_bound_fwd_bwd,pgd_t10,iaa_t10,train_pt] [--threads 2] [--seconds 5] \
#        [--measurement-time 10] [--warm-up-time 3] [--sample-size 10] [--pytorch-fold-bn] \
#        [--out FILE]
#
# Builds the criterion bench once (cargo bench --features tch --bench attack_step --no-run, in
# CARGO_TARGET_DIR, default ~/.cache/advcal/target, against the LibTorch of
# scripts/setup-libtorch.sh), then for each round runs the PyTorch script and then the bench
# binary filtered to the matching rows, and reads criterion's median estimates
# (<CRITERION_HOME>/<group>/<row>/new/estimates.json; a fresh CRITERION_HOME per round). Prints a
# table per round and overall (the median over rounds of each side's median) with the ratio
# advcal ÷ PyTorch (< 1: advcal faster), and writes a JSON summary to --out (default
# $CARGO_TARGET_DIR/bench-vs-pytorch.json; per-round logs next to it, in bench-vs-pytorch/).
#
# Row pairs (advcal criterion row -> PyTorch rows): lower_bound_fwd_bwd -> fwd_bwd_input;
# pgd_t10 -> pgd_t10_loop, pgd_t10_torchattacks; iaa_t10 -> iaa_t10_loop; apgd_ce_t10,
# apgd_dlr_t10, square_q100 -> <row>_torchattacks; train_pt -> train_pt;
# and the profile rows train_pt_fwd_bwd (no optimiser step) and train_pt_no_bn (BatchNorm folded
# away, by ablation) -> the PyTorch rows of the same names.
# Models: resnet18 (the bench's ResNet-18 has width 64, fixed; the PyTorch side uses the same)
# and small_cnn (width 16). Threads: OMP_NUM_THREADS = MKL_NUM_THREADS = --threads for both
# sides (burn-tch sets no thread count: LibTorch takes its intra-op pool size from
# OMP_NUM_THREADS) and torch.set_num_threads(--threads) in the PyTorch script.
# --pytorch-fold-bn folds eval BatchNorm into the convolutions on the PyTorch side (as advcal's
# attacks do on their frozen copy when the model supports it); default: PyTorch as users write it.
# The PyTorch interpreter is $ADVCAL_PYTHON, or the venv of scripts/setup-pytorch.sh.
# Needs a release build of the bench (minutes, two cores' worth): run it on an otherwise idle
# machine. Results and their reading: docs/performance.md.
set -euo pipefail

rounds=3
models=resnet18
batches=32
rows=lower_bound_fwd_bwd,pgd_t10,iaa_t10,train_pt
threads=2
seconds=5
measurement_time=10
warm_up_time=3
sample_size=10
out=
fold_bn=()

usage() { sed -n '2,30p' "$0"; }
while [[ $# -gt 0 ]]; do
    case "$1" in
    --rounds) rounds=$2; shift 2 ;;
    --models) models=$2; shift 2 ;;
    --batches) batches=$2; shift 2 ;;
    --rows) rows=$2; shift 2 ;;
    --threads) threads=$2; shift 2 ;;
    --seconds) seconds=$2; shift 2 ;;
    --measurement-time) measurement_time=$2; shift 2 ;;
    --warm-up-time) warm_up_time=$2; shift 2 ;;
    --sample-size) sample_size=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    --pytorch-fold-bn) fold_bn=(--fold-bn); shift ;;
    -h | --help) usage; exit 0 ;;
    *) echo "unknown argument: $1" >&2; usage >&2; exit 2 ;;
    esac
done

root=$(cd "$(dirname "$0")/.." && pwd)
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/advcal/target}

log() { echo "[bench-vs-pytorch] $*" >&2; }

# advcal row -> PyTorch rows.
py_rows=()
IFS=, read -r -a advcal_rows <<<"$rows"
for row in "${advcal_rows[@]}"; do
    case "$row" in
    lower_bound_fwd_bwd) py_rows+=(fwd_bwd_input) ;;
    pgd_t10) py_rows+=(pgd_t10_loop pgd_t10_torchattacks) ;;
    iaa_t10) py_rows+=(iaa_t10_loop) ;;
    apgd_ce_t10 | apgd_dlr_t10 | square_q100) py_rows+=("${row}_torchattacks") ;;
    train_pt | train_pt_fwd_bwd | train_pt_no_bn) py_rows+=("$row") ;;
    *) echo "unknown row $row (lower_bound_fwd_bwd, pgd_t10, iaa_t10, apgd_ce_t10, apgd_dlr_t10, square_q100, train_pt, train_pt_fwd_bwd, train_pt_no_bn)" >&2; exit 2 ;;
    esac
done
py_rows_csv=$(IFS=,; echo "${py_rows[*]}")
for m in ${models//,/ }; do
    case "$m" in resnet18 | small_cnn) ;; *) echo "unknown model $m (resnet18, small_cnn)" >&2; exit 2 ;; esac
done
# Criterion ids are <model>/tch/b<batch>/<row>; the positional filter is a regex.
filter="^(${models//,/|})/tch/b(${batches//,/|})/(${rows//,/|})\$"

out=${out:-$CARGO_TARGET_DIR/bench-vs-pytorch.json}
mkdir -p "$(dirname "$out")"
out=$(cd "$(dirname "$out")" && pwd)/$(basename "$out")
work=${out%.json}
mkdir -p "$work"

# Environments: LibTorch for the bench, the PyTorch venv for the script (and the bookkeeping).
eval "$(bash "$root/scripts/setup-libtorch.sh" --print-env)"
if [[ -z "${ADVCAL_PYTHON:-}" ]]; then
    eval "$(bash "$root/scripts/setup-pytorch.sh" --print-env)"
fi
py=$ADVCAL_PYTHON
export OMP_NUM_THREADS=$threads MKL_NUM_THREADS=$threads
export ADVCAL_BENCH_BACKENDS=tch ADVCAL_BENCH_MODELS=$models ADVCAL_BENCH_BATCHES=$batches

log "building the bench (release, --features tch) in $CARGO_TARGET_DIR"
listing=$(cd "$root" && cargo bench --features tch --bench attack_step --no-run --message-format=json)
bench_bin=$(printf '%s\n' "$listing" | "$py" -c '
import json, sys
for line in sys.stdin:
    try:
        msg = json.loads(line)
    except ValueError:
        continue
    if msg.get("reason") == "compiler-artifact" and msg.get("executable") and msg["target"]["name"] == "attack_step":
        print(msg["executable"])' | tail -n1)
[[ -x "$bench_bin" ]] || { log "bench binary not found in cargo's output"; exit 1; }
log "bench binary: $bench_bin"
log "filter: $filter; PyTorch rows: $py_rows_csv; threads: $threads"

# Tables and the JSON summary: summarize.py WORK ROUNDS MODELS BATCHES ROWS THREADS round
# (the table of round ROUNDS) or ... all OUT BIN (every round, overall, JSON summary).
cat >"$work/summarize.py" <<'PY'
import json, os, statistics, sys

work, rounds, models, batches, rows, threads, mode = sys.argv[1:8]
rounds = int(rounds)
pairs = {
    "lower_bound_fwd_bwd": ["fwd_bwd_input"],
    "pgd_t10": ["pgd_t10_loop", "pgd_t10_torchattacks"],
    "iaa_t10": ["iaa_t10_loop"],
    "apgd_ce_t10": ["apgd_ce_t10_torchattacks"],
    "apgd_dlr_t10": ["apgd_dlr_t10_torchattacks"],
    "square_q100": ["square_q100_torchattacks"],
    "train_pt": ["train_pt"],
    "train_pt_fwd_bwd": ["train_pt_fwd_bwd"],
    "train_pt_no_bn": ["train_pt_no_bn"],
}

def safe(s):  # criterion's make_filename_safe
    for c in '?"/\\*<>:|^':
        s = s.replace(c, "_")
    return s

def load_round(r):
    d = os.path.join(work, f"round{r}")
    py = {}
    with open(os.path.join(d, "pytorch.jsonl")) as f:
        for line in f:
            try:
                rec = json.loads(line)
            except ValueError:
                continue
            if "row" in rec:
                py[(rec["model"], rec["batch"], rec["row"])] = rec
    out_rows = []
    for model in models.split(","):
        for batch in (int(b) for b in batches.split(",")):
            for arow in rows.split(","):
                est = os.path.join(d, "criterion", safe(f"{model}/tch/b{batch}"), arow, "new", "estimates.json")
                advcal_ms = None
                if os.path.exists(est):
                    with open(est) as f:
                        advcal_ms = json.load(f)["median"]["point_estimate"] / 1e6
                for prow in pairs[arow]:
                    p = py.get((model, batch, prow))
                    pms = p["median_ms"] if p else None
                    out_rows.append({
                        "model": model, "batch": batch, "advcal_row": arow, "pytorch_row": prow,
                        "width": p["width"] if p else None,
                        "pytorch_ms": pms, "pytorch_mad_ms": p["mad_ms"] if p else None,
                        "advcal_ms": advcal_ms,
                        "ratio": advcal_ms / pms if advcal_ms and pms else None,
                    })
    return out_rows

def fmt(v, spec):
    return format(v, spec) if v is not None else "-".rjust(int(spec.split(".")[0]))

def table(title, recs):
    print(f"\n== {title} (threads {threads})")
    print(f"{'model':<10} {'batch':>5}  {'advcal row':<20} {'PyTorch row':<22} {'PyTorch ms':>11} {'advcal ms':>11} {'advcal/PyTorch':>15}")
    for x in recs:
        print(f"{x['model']:<10} {x['batch']:>5}  {x['advcal_row']:<20} {x['pytorch_row']:<22} "
              f"{fmt(x['pytorch_ms'], '11.1f')} {fmt(x['advcal_ms'], '11.1f')} {fmt(x['ratio'], '15.3f')}")

if mode == "round":
    table(f"round {rounds}", load_round(rounds))
    sys.exit(0)
out, bench_bin = sys.argv[8:10]
per_round = [load_round(r) for r in range(1, rounds + 1)]
for r, recs in enumerate(per_round, 1):
    table(f"round {r}", recs)

overall = []
for i, base in enumerate(per_round[0]):
    p = [rr[i]["pytorch_ms"] for rr in per_round if rr[i]["pytorch_ms"] is not None]
    a = [rr[i]["advcal_ms"] for rr in per_round if rr[i]["advcal_ms"] is not None]
    ratios = [rr[i]["ratio"] for rr in per_round if rr[i]["ratio"] is not None]
    pm = statistics.median(p) if p else None
    am = statistics.median(a) if a else None
    overall.append({
        "model": base["model"], "batch": base["batch"], "width": base["width"],
        "advcal_row": base["advcal_row"], "pytorch_row": base["pytorch_row"],
        "pytorch_ms": pm, "advcal_ms": am, "ratio": am / pm if am and pm else None,
        "ratio_min": min(ratios) if ratios else None, "ratio_max": max(ratios) if ratios else None,
    })
table(f"overall: median over {rounds} rounds", overall)
summary = {
    "threads": int(threads), "rounds": rounds, "models": models, "batches": batches,
    "bench_binary": bench_bin, "pytorch_fold_bn": os.environ.get("BVP_FOLD_BN") == "1",
    "omp_num_threads": os.environ.get("OMP_NUM_THREADS"),
    "overall": overall, "per_round": per_round,
}
with open(out, "w") as f:
    json.dump(summary, f, indent=1)
print(f"\nsummary: {out}")
PY

for ((r = 1; r <= rounds; r++)); do
    dir=$work/round$r
    rm -rf "$dir"
    mkdir -p "$dir/criterion"
    log "round $r/$rounds: PyTorch"
    "$py" "$root/scripts/bench-pytorch.py" --models "$models" --batches "$batches" \
        --rows "$py_rows_csv" --threads "$threads" --seconds "$seconds" "${fold_bn[@]}" \
        >"$dir/pytorch.jsonl" 2> >(tee "$dir/pytorch.log" >&2)
    log "round $r/$rounds: advcal (criterion)"
    (cd "$root" && CRITERION_HOME=$dir/criterion "$bench_bin" --bench "$filter" \
        --measurement-time "$measurement_time" --warm-up-time "$warm_up_time" \
        --sample-size "$sample_size" --noplot) 2>&1 | tee "$dir/criterion.log" >&2
    "$py" "$work/summarize.py" "$work" "$r" "$models" "$batches" "$rows" "$threads" round
done
BVP_FOLD_BN=$((${#fold_bn[@]} > 0)) "$py" "$work/summarize.py" "$work" "$rounds" "$models" "$batches" "$rows" "$threads" all "$out" "$bench_bin"
