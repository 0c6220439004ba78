#!/usr/bin/env python3
"""Cost of a calibration-leaderboard entry per architecture, from criterion's estimates.

Reads `target/criterion/<model>_<backend>_b<batch>/{forward,apgd_ce_t10}/new/estimates.json`
(written by `cargo bench --bench attack_step` with ADVCAL_BENCH_MODELS naming the published
architectures) and the peak resident memory of each bench process (`--rss model=KiB`, from
`/usr/bin/time -v`), and writes one JSON file with, per model, the seconds per image of one
inference pass and of one APGD-CE gradient step, and the estimated CPU hours per 1,000 images
of the leaderboard protocol of docs/leaderboard.md:

    clean pass + APGD-CE (T = 100) + APGD-DLR (T = 100) + IAA, Eq. 2 (T = 20)
    = 1 forward + 220 gradient steps (APGD-DLR's step costs as APGD-CE's; the IAA's as well)

    python3 scripts/published_cost.py --criterion $CARGO_TARGET_DIR/criterion --backend tch \
        --batch 8 --models wrn28_10,preact_resnet18,resnet50,vgg19_bn \
        --rss wrn28_10=123456 ... --out results/bench/published-cost-DATE.json
"""

import argparse
import json
import platform
from pathlib import Path

GRADIENT_STEPS = 100 + 100 + 20


def estimate(path: Path) -> float:
    """Criterion's mean point estimate, in seconds."""
    data = json.loads(path.read_text())
    return data["mean"]["point_estimate"] / 1e9


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--criterion", type=Path, required=True)
    ap.add_argument("--backend", required=True)
    ap.add_argument("--batch", type=int, required=True)
    ap.add_argument("--models", required=True)
    ap.add_argument("--rss", action="append", default=[], help="model=peak KiB")
    ap.add_argument("--note", default="")
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args()
    rss = dict(item.split("=", 1) for item in args.rss)
    rows = []
    for model in args.models.split(","):
        # criterion writes the group `<model>/<backend>/b<batch>` as one directory, `/` → `_`.
        group = args.criterion / f"{model}_{args.backend}_b{args.batch}"
        forward = estimate(group / "forward" / "new" / "estimates.json") / args.batch
        apgd = estimate(group / "apgd_ce_t10" / "new" / "estimates.json") / args.batch
        step = apgd / 10
        hours = 1000 * (forward + GRADIENT_STEPS * step) / 3600
        rows.append(
            {
                "model": model,
                "forward_s_per_image": forward,
                "apgd_step_s_per_image": step,
                "protocol_cpu_hours_per_1000_images": hours,
                "peak_rss_mib": int(rss[model]) / 1024 if model in rss else None,
            }
        )
    result = {
        "backend": args.backend,
        "batch": args.batch,
        "gradient_steps_per_image": GRADIENT_STEPS,
        "machine": f"{platform.machine()}, {platform.processor() or 'cpu'}",
        "note": args.note,
        "rows": rows,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    tmp = args.out.with_suffix(".tmp")
    tmp.write_text(json.dumps(result, indent=2) + "\n")
    tmp.replace(args.out)
    print("| model | forward (s/image) | gradient step (s/image) | protocol, CPU h / 1,000 images | peak memory (MiB) |")
    print("|---|---:|---:|---:|---:|")
    for r in rows:
        mem = "—" if r["peak_rss_mib"] is None else f"{r['peak_rss_mib']:.0f}"
        print(
            f"| {r['model']} | {r['forward_s_per_image']:.4f} | {r['apgd_step_s_per_image']:.4f} "
            f"| {r['protocol_cpu_hours_per_1000_images']:.1f} | {mem} |"
        )


if __name__ == "__main__":
    main()
