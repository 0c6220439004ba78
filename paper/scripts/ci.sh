#!/usr/bin/env bash
# CI of the reproduction (called by the repository's .ci/run after the library's checks, with its
# environment: CARGO_TARGET_DIR, ADVCAL_CIFAR10_DIR, ADVCAL_TORCH_ORACLE_DIR, LibTorch's variables,
# and ADVCAL_CI_FOLDER, a small image folder of Tiny ImageNet-200 training images). Runs from
# paper/: the experiments at smoke scale with their JSON checked, the results page generator and
# its tests, the committed results and their page, `replot`, `--reuse`, the ImageNet figures.
# Its Rust tests (tests/committed_weights.rs) run in .ci/run's LibTorch test build, which they share.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(cd .. && pwd)
feat=interop,data-tests
published="$ADVCAL_TORCH_ORACLE_DIR/published"
folder="$ADVCAL_CI_FOLDER"
step() { echo; echo "== paper: $* ($(date +%H:%M:%S))"; }

step "paper experiments (smoke preset) and their JSON invariants"
rm -rf "$CARGO_TARGET_DIR/ci-paper"
cargo run -p advcal-paper --features "$feat" -- all --preset smoke --backend flex --out "$CARGO_TARGET_DIR/ci-paper" \
    --tiny-imagenet-dir "${ADVCAL_TINY_IMAGENET_DIR:-$root/../shared/data/tiny-imagenet-200}"
python3 scripts/check_results.py "$CARGO_TARGET_DIR/ci-paper" --require table2 --require models \
    --require iat-ablation --require finetune-vs-scratch --require iat-eq2 --require baselines \
    --require robustness-apgd --require two-sided
# The results page generator on complete (smoke) records, its page check, and its own tests
# (which include a page with one number changed that the check must reject).
python3 scripts/render_results.py --dir "$CARGO_TARGET_DIR/ci-paper" \
    --out "$CARGO_TARGET_DIR/ci-paper/page.md"
python3 scripts/check_results.py "$CARGO_TARGET_DIR/ci-paper" --require table2 --require models \
    --require iat-ablation --require finetune-vs-scratch --require iat-eq2 --require baselines \
    --require robustness-apgd --require two-sided --page "$CARGO_TARGET_DIR/ci-paper/page.md"
python3 scripts/test_render_results.py "$CARGO_TARGET_DIR/ci-paper"
# The committed results: docs/results.md is exactly what results/cifar's JSON gives, every
# number on it is in that JSON, every experiment is there (no --allow-missing: the cifar run is
# complete) and every record holds the cifar preset's invariants.
python3 scripts/render_results.py --check
python3 scripts/check_results.py results/cifar --min-n 2000 --full-grid --require models \
    --page docs/results.md
python3 scripts/check_results.py results/cpu --legacy --full-grid
# `paper replot` must redraw every plot from the JSON alone, identical to what the runs drew.
rm -rf "$CARGO_TARGET_DIR/ci-replot"
mkdir -p "$CARGO_TARGET_DIR/ci-replot"
cp "$CARGO_TARGET_DIR"/ci-paper/*.json "$CARGO_TARGET_DIR/ci-replot/"
cargo run -p advcal-paper --features "$feat" -- replot --out "$CARGO_TARGET_DIR/ci-replot"
for svg in "$CARGO_TARGET_DIR"/ci-paper/*.svg; do
    cmp "$svg" "$CARGO_TARGET_DIR/ci-replot/$(basename "$svg")"
done
# A record is measured once: run again on the same models with the first run's records
# (`--reuse`), the experiments measure nothing and write the same JSON.
rm -rf "$CARGO_TARGET_DIR/ci-reuse"
cargo run -p advcal-paper --features "$feat" -- fig4,fig5,table1,table3,iat-eq2,baselines,robustness-apgd,two-sided \
    --preset smoke --backend flex \
    --out "$CARGO_TARGET_DIR/ci-reuse" --models-dir "$CARGO_TARGET_DIR/ci-paper/models" \
    --reuse "$CARGO_TARGET_DIR/ci-paper" 2> "$CARGO_TARGET_DIR/ci-reuse.log"
grep -q "^records: 0 measured" "$CARGO_TARGET_DIR/ci-reuse.log" \
    || { cat "$CARGO_TARGET_DIR/ci-reuse.log"; exit 1; }
for f in fig4 fig5 table1 table3 iat-eq2 baselines robustness-apgd two-sided; do
    cmp "$CARGO_TARGET_DIR/ci-paper/$f.json" "$CARGO_TARGET_DIR/ci-reuse/$f.json"
done

# The paper's ImageNet figures as commands, end to end on the published oracle's random
# torchvision ResNet (one bottleneck per stage, 10 classes) and the image folder built above.
rm -rf "$CARGO_TARGET_DIR/ci-imagenet"
for fig in fig1 fig8; do
  cargo run -p advcal-paper --features "$feat" -- "$fig-imagenet" --imagenet-weights "$published/resnet_tv_small.pth" \
      --imagenet-arch resnet50 --imagenet-layers 1,1,1,1 --imagenet-classes 10 --images "$folder" \
      --backend flex --out "$CARGO_TARGET_DIR/ci-imagenet"
done
python3 - "$CARGO_TARGET_DIR/ci-imagenet" <<'PY'
import json, sys
from pathlib import Path
out = Path(sys.argv[1])
for fig in ("fig1", "fig8"):
    assert (out / f"{fig}_imagenet.png").stat().st_size > 1000, fig
rows = json.loads((out / "fig1_imagenet.json").read_text())
assert len(rows) == 3 and all(len(r["panels"]) == 3 for r in rows), rows
gallery = json.loads((out / "fig8_imagenet.json").read_text())
assert gallery["images"] == 4 and gallery["corrected_by_iaa"] <= gallery["misclassified"] <= 4, gallery
assert len(gallery["shown"]) == min(8, gallery["corrected_by_iaa"]), gallery
print("imagenet figures:", len(rows), "Fig. 1 rows;", gallery)
PY

echo
echo "paper CI passed"
