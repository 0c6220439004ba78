#!/usr/bin/env python3
"""Check the JSON written by `examples/paper` against the result schema and its invariants.

    python3 scripts/check_results.py results/smoke [--require table2] [--min-n N] [--legacy]

`--legacy` accepts records without `ci95` (results/cpu was written before intervals existed);
`--min-n` sets the smallest acceptable number of images per record (2000 for the cifar preset).

Table 2 (Tiny ImageNet) and the experiments beyond the paper (`iat-ablation`,
`finetune-vs-scratch`: one clean, PGD and IAA record per model) are checked whenever their JSON
exists, and required with `--require <name>` (repeatable).

Independent of the Rust code on purpose: it re-derives every invariant from the written
numbers. Exits non-zero with a list of problems.
"""
import json
import math
import sys
from pathlib import Path

REQUIRED = {"model": str, "attack": str, "epsilon": (int, float), "accuracy": (int, float),
            "confidence": (int, float), "ece": (int, float), "mcs": (int, float), "n": int}
EXPERIMENTS = ["fig4", "fig5", "fig6", "fig7", "table1", "table3", "fig8"]
SIX = {"PT", "PGD-AT", "ACE-AT", "CCAT", "IAT", "AT+IAT"}
MIN_N = [1]
# `--legacy`: records written before intervals existed (results/cpu) are checked without `ci95`.
LEGACY = [False]
# Experiments beyond the paper (tables only), and how many models each compares: every model
# has one clean, one PGD and one IAA record at the same epsilon.
BEYOND = ("iat-ablation", "finetune-vs-scratch")
BEYOND_MODELS = {"iat-ablation": 5, "finetune-vs-scratch": 2}
# The paper's Table 2 rows (no CCAT).
FIVE = SIX - {"CCAT"}


def check_record(name, i, r, problems):
    where = f"{name}[{i}]"
    for key, kind in REQUIRED.items():
        if key not in r:
            problems.append(f"{where}: missing `{key}`")
            return
        if not isinstance(r[key], kind) or isinstance(r[key], bool):
            problems.append(f"{where}: `{key}` has type {type(r[key]).__name__}")
            return
    if "lambda" not in r:
        problems.append(f"{where}: missing `lambda` (null where it does not apply)")
    for key in ("accuracy", "confidence", "ece", "mcs", "epsilon"):
        if not math.isfinite(r[key]):
            problems.append(f"{where}: `{key}` is not finite")
    if not (0 <= r["accuracy"] <= 1 and 0 <= r["confidence"] <= 1 and 0 <= r["ece"] <= 1):
        problems.append(f"{where}: a rate is outside [0, 1]")
    if abs(r["mcs"] - (r["confidence"] - r["accuracy"])) > 1e-6:
        problems.append(f"{where}: MCS != CONF - ACC")
    if r["ece"] + 1e-9 < abs(r["mcs"]):
        problems.append(f"{where}: ECE < |MCS|")
    if r["n"] < MIN_N[0]:
        problems.append(f"{where}: n = {r['n']} (at least {MIN_N[0]} required)")
    if "max_linf" not in r:
        problems.append(f"{where}: missing `max_linf`")
    ci = r.get("ci95")
    if ci is None and LEGACY[0]:
        pass
    elif not isinstance(ci, dict):
        problems.append(f"{where}: missing `ci95`")
    else:
        for key in ("accuracy", "confidence", "ece", "mcs"):
            pair = ci.get(key)
            if not (isinstance(pair, list) and len(pair) == 2
                    and all(isinstance(v, (int, float)) and math.isfinite(v) for v in pair)):
                problems.append(f"{where}: ci95.{key} is not a [lo, hi] pair")
                continue
            lo, hi = pair
            # ECE's bootstrap is biased upwards, so its interval need not contain the estimate.
            if lo > hi or (key != "ece" and not lo - 1e-9 <= r[key] <= hi + 1e-9):
                problems.append(f"{where}: {key} {r[key]} outside ci95 [{lo}, {hi}]")
    if r.get("max_linf", 0.0) > r["epsilon"] + 1e-6:
        problems.append(f"{where}: max |delta| {r['max_linf']} exceeds epsilon {r['epsilon']}")
    if r["attack"] == "clean" and r["epsilon"] != 0:
        problems.append(f"{where}: clean record with epsilon {r['epsilon']}")
    if r["attack"] == "iaa" and r["lambda"] is None:
        problems.append(f"{where}: IAA record without lambda")


def main(out, required=()):
    out = Path(out)
    problems = []
    data = {}
    optional = [n for n in ("table2",) + BEYOND
                if n in required or (out / f"{n}.json").is_file()]
    for name in EXPERIMENTS + optional:
        path = out / f"{name}.json"
        if not path.is_file():
            problems.append(f"{name}: {path} missing")
            continue
        records = json.loads(path.read_text())
        if not isinstance(records, list) or not records:
            problems.append(f"{name}: not a non-empty list")
            continue
        data[name] = records
        for i, r in enumerate(records):
            check_record(name, i, r, problems)
        plot = out / (f"{name}.png" if name == "fig8" else f"{name}.svg")
        if name not in BEYOND and (not plot.is_file() or plot.stat().st_size == 0):
            problems.append(f"{name}: plot {plot} missing")
    # Completeness: every curve has every epsilon, every table every model.
    if "fig4" in data:
        lambdas = {r["lambda"] for r in data["fig4"] if r["attack"] == "iaa"}
        if lambdas != {1, 3, 5, 7, 10}:
            problems.append(f"fig4: lambdas {sorted(lambdas)}")
        eps = {r["epsilon"] for r in data["fig4"] if r["attack"] == "iaa"}
        for lam in lambdas:
            got = {r["epsilon"] for r in data["fig4"] if r["attack"] == "iaa" and r["lambda"] == lam}
            if got != eps:
                problems.append(f"fig4: lambda {lam} misses epsilons {sorted(eps - got)}")
        if not any(r["attack"] == "clean" for r in data["fig4"]):
            problems.append("fig4: no clean record")
    for name, attacks in (("fig5", {"noise", "pgd", "iaa"}), ("fig6", {"iaa"}), ("fig7", {"pgd"})):
        if name not in data:
            continue
        eps = {r["epsilon"] for r in data[name] if r["attack"] != "clean"}
        seen = {(r["model"], r["attack"]) for r in data[name] if r["attack"] != "clean"}
        for model, attack in seen:
            got = {r["epsilon"] for r in data[name] if r["model"] == model and r["attack"] == attack}
            if got != eps:
                problems.append(f"{name}: {model}/{attack} misses epsilons {sorted(eps - got)}")
        if {a for _, a in seen} != attacks:
            problems.append(f"{name}: attacks {sorted({a for _, a in seen})}")
    for name in ("fig6", "fig7", "table1"):
        if name in data and {r["model"] for r in data[name]} != SIX:
            problems.append(f"{name}: models {sorted({r['model'] for r in data[name]})}")
    for name in BEYOND:
        if name not in data:
            continue
        models = {r["model"] for r in data[name]}
        if len(models) != BEYOND_MODELS[name]:
            problems.append(f"{name}: {len(models)} models instead of {BEYOND_MODELS[name]}")
        for model in models:
            attacks = sorted(r["attack"] for r in data[name] if r["model"] == model)
            if attacks != ["clean", "iaa", "pgd"]:
                problems.append(f"{name}: {model} has {attacks}")
        if len({r["epsilon"] for r in data[name] if r["attack"] != "clean"}) != 1:
            problems.append(f"{name}: attacks at more than one epsilon")
    if "table2" in data and {r["model"] for r in data["table2"]} != FIVE:
        problems.append(f"table2: models {sorted({r['model'] for r in data['table2']})}")
    for name, models in (("table1", SIX), ("table2", FIVE)):
        if name not in data:
            continue
        for model in models:
            rows = {r["attack"]: r for r in data[name] if r["model"] == model}
            if set(rows) != {"clean", "iaa", "uca"}:
                problems.append(f"{name}: {model} has {sorted(rows)}")
            elif rows["uca"]["accuracy"] != rows["clean"]["accuracy"]:
                problems.append(f"{name}: {model}: UCA accuracy differs from clean")
    if "table3" in data:
        cells = {(r.get("source"), r["model"]) for r in data["table3"]}
        if len(cells) != 9 or len({s for s, _ in cells}) != 3 or len(data["table3"]) != 9:
            problems.append(f"table3: {len(cells)} distinct cells in {len(data['table3'])} records instead of 9")
    if "fig8" in data:
        attacks = sorted(r["attack"] for r in data["fig8"])
        if attacks != ["clean", "iaa"]:
            problems.append(f"fig8: records {attacks} instead of clean and iaa")
        if not (out / "fig8_images.json").is_file():
            problems.append("fig8: fig8_images.json missing")
    if problems:
        print("\n".join(problems), file=sys.stderr)
        return 1
    total = sum(len(v) for v in data.values())
    print(f"check_results: {total} records in {len(data)} files OK ({out})")
    return 0


if __name__ == "__main__":
    args = sys.argv[1:]
    required = []
    while "--require" in args:
        i = args.index("--require")
        required.append(args[i + 1])
        del args[i:i + 2]
    if "--legacy" in args:
        LEGACY[0] = True
        args.remove("--legacy")
    if "--min-n" in args:
        i = args.index("--min-n")
        MIN_N[0] = int(args[i + 1])
        del args[i:i + 2]
    sys.exit(main(args[0] if args else "results", required))
