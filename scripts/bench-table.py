#!/usr/bin/env python3
"""Markdown table of one or more `scripts/bench-vs-pytorch.sh` summaries (their `overall` rows).

    python3 scripts/bench-table.py LABEL=results/bench/a.json [LABEL=results/bench/b.json ...]

One line per (summary, advcal row, PyTorch row): PyTorch ms, advcal ms, the ratio advcal ÷ PyTorch
(median over rounds) and its range over rounds. Used to write docs/performance.md from the JSON.
"""
import json
import sys


def main(args):
    if not args:
        sys.exit(__doc__)
    print("| build | advcal row | PyTorch row | PyTorch ms | advcal ms | advcal ÷ PyTorch (range) |")
    print("|---|---|---|---:|---:|---|")
    for arg in args:
        label, _, path = arg.rpartition("=")
        with open(path) as f:
            summary = json.load(f)
        for r in summary["overall"]:
            print(
                f"| {label or path} | `{r['advcal_row']}` | `{r['pytorch_row']}` | "
                f"{r['pytorch_ms']:.0f} | {r['advcal_ms']:.0f} | "
                f"**{r['ratio']:.2f}** ({r['ratio_min']:.2f}–{r['ratio_max']:.2f}) |"
            )


if __name__ == "__main__":
    main(sys.argv[1:])
