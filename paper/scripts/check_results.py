#!/usr/bin/env python3
"""Check the JSON written by the `paper` binary against the result schema and its invariants.

    python3 scripts/check_results.py results/smoke [--require table2] [--min-n N] [--legacy]
                                     [--full-grid] [--allow-missing] [--seeds 0,1,2]
                                     [--page docs/results.md]

`--legacy` accepts records without `ci95` (results/cpu was written before intervals existed);
`--min-n` sets the smallest acceptable number of images per record (2000 for the cifar preset;
Fig. 8's gallery records are exempt); `--full-grid` requires the spec's nine radii
0.02, 0.03, ..., 0.10 in Figs. 4-7; `--allow-missing` lists experiments whose JSON does not exist
yet instead of failing on them (for a results directory that training is still filling).

`models` (clean records of every trained model), Table 2 (Tiny ImageNet) and the experiments beyond the paper (`iat-ablation`,
`finetune-vs-scratch`: one clean, PGD and IAA record per model) are checked whenever their JSON
exists, and required with `--require <name>` (repeatable).

The calibration experiments (`iat-eq2`, `baselines`, `robustness-apgd`, `two-sided`,
paper/src/calibration.rs) are checked whenever their JSON exists (check_calibration: NLL
and Brier on every record, the training seed, one record per model, seed and attack, the
temperature of the `+ TS` models and only theirs, AT+IAT's PGD weight in the two-sided sweep and
no weight elsewhere, the two-sided bound where it is a theorem, the APGD worst case never weaker
than PGD-10 beyond the intervals). Their JSON is rewritten after every model, so a file may hold
only some models; `--require <name>` requires the file and every model, and `--seeds 0,1,2`
requires iat-eq2.json to hold exactly these training seeds, each with every model.

Independent of the Rust code on purpose: it re-derives every invariant from the written
numbers. Besides each record's schema (n, `max_linf` ≤ ε, `ci95` pairs containing the estimate,
MCS = CONF − ACC, ECE ≥ |MCS|, CONF | correct in (0, 1]) it checks completeness: every curve of
Figs. 4-7 at every radius of its file (the spec's nine with `--full-grid`), Fig. 4's five λ, one
clean record per model of each sweep, every IAA outside Fig. 4 at λ = 5, Tables 1-3 at one
radius, Table 1/2's clean, IAA and UCA record per model, Table 3's nine cells (crafting models =
targets), and Fig. 8's gallery (fig8_images.json: one complete entry per image, ‖δ‖∞ ≤ ε, as
many images as the records' n). IAA records are the paper's Algorithm 1 (`iaa`); an experiment
may also hold Eq. 2's IAA (`iaa-eq2`, not Fig. 8), and then every `iaa` record has exactly one
`iaa-eq2` twin of the same model, source, ε, λ and n (and the other way round), no white-box
`iaa-eq2` record is less accurate than its model's clean record on the same images, and the plot
has its `<experiment>-eq2.svg` twin; the other checks count Algorithm 1's records. Exits non-zero
with a list of problems.

`--page PATH` also checks a results page (docs/results.md, written by
scripts/render_results.py) against the JSON of the results directory: every number on the page
written with a decimal point (e.g. 0.591, +0.023, −0.406, 6542.6; a leading +, - or − is part of
the number) must equal, at the number of decimals it is printed with, some numeric value found in
the JSON: the experiment files (`<dir>/*.json`, including fig8_images.json, and numbers written
inside their strings, e.g. a model named "IAT + clean CE (w = 0.5)"), the training runs
(`<dir>/weights/*.run.json`, `<dir>/models/*/run.json`) and `<dir>/derived.json`. Every entry of
derived.json is verified first: the computed kinds are recomputed (y_G = (1 + λ/K)/(1 + λ),
mcs_floor = y_G − 1, hours = train_seconds / 3600 of the named run.json), and the constant kinds
(paper, preset, anchor) must name their source. Scope: numbers without a decimal point
(integers such as figure numbers, epochs, n, λ, 8/255) are not checked, nor is anything inside
fenced code blocks, inline code or link targets, nor dotted version strings such as 2.9.0.
"""
import json
import math
import re
import sys
from pathlib import Path

REQUIRED = {"model": str, "attack": str, "epsilon": (int, float), "accuracy": (int, float),
            "confidence": (int, float), "ece": (int, float), "mcs": (int, float), "n": int}
EXPERIMENTS = ["fig4", "fig5", "fig6", "fig7", "table1", "table3", "fig8"]
SIX = {"PT", "PGD-AT", "ACE-AT", "CCAT", "IAT", "AT+IAT"}
MIN_N = [1]
# `--full-grid`: Figs. 4-7 must cover the spec's nine radii (the smoke preset runs three).
FULL_GRID = [False]
SPEC_GRID = [round(i / 100, 6) for i in range(2, 11)]
# `--allow-missing`: experiments not run yet are listed, not failed (a results directory that
# is being filled, e.g. results/cifar while its training runs).
ALLOW_MISSING = [False]
# `--legacy`: records written before intervals existed (results/cpu) are checked without `ci95`.
LEGACY = [False]
# Experiments beyond the paper (tables only), and how many models each compares: every model
# has one clean, one PGD and one IAA record at the same epsilon.
BEYOND = ("iat-ablation", "finetune-vs-scratch")
# How many models each compares: iat-ablation PT, IAT and four variants (the sixth, the
# drop-misclassified variant, checked by name); finetune-vs-scratch PGD-AT both ways.
BEYOND_MODELS = {"iat-ablation": 6, "finetune-vs-scratch": 2}
# The paper's Table 2 rows (no CCAT).
FIVE = SIX - {"CCAT"}
# The IAAs of the IAA figures and tables: the paper's Algorithm 1 (`iaa`) and Eq. 2's best
# feasible iterate (`iaa-eq2`), which an experiment holds beside Algorithm 1's or not at all.
EQ2 = "iaa-eq2"
IAAS = ("iaa", EQ2)
# Experiments whose plot the paper binary draws (and, with Eq. 2 records, its `-eq2.svg` twin).
PLOTTED = {"fig4", "fig5", "fig6", "fig7", "table1", "table2", "table3"}
# The calibration experiments beyond the paper (paper/src/calibration.rs): tables only,
# checked whenever their JSON exists, complete (every model, and every seed of `--seeds`) only
# with `--require <name>`. Their JSON is rewritten after every model, so a run that is still
# going leaves a file that holds only some models.
CALIBRATION = ("iat-eq2", "baselines", "robustness-apgd", "two-sided")
APGD = "apgd-ce+apgd-dlr"   # per image the worse of APGD-CE and APGD-DLR
# Per image the worse of PGD and Eq. 2's IAA: `pgd+iaa-eq2` (each part named like the
# reproduction's records), `pgd+iaa` in records written before that name.
WORST, WORST_BEFORE = "pgd+iaa-eq2", "pgd+iaa"
TS = " + TS"                # the label suffix of a temperature-scaled model
IAT_EQ2_MODELS = ["IAT (Eq. 2)", "AT+IAT (Eq. 2)", "PT", "IAT (Alg. 1)"]
ALG1_AT_IAT = "AT+IAT (Alg. 1)"   # in iat-eq2.json at one training seed only
BASELINE_MODELS = (["LS (α = 0.1)", "PGD-AT"] + IAT_EQ2_MODELS + [ALG1_AT_IAT])
BASELINE_MODELS = BASELINE_MODELS + [m + TS for m in BASELINE_MODELS if not m.startswith("LS")]
APGD_MODELS = sorted(SIX) + ["AT+IAT (Eq. 2)"]
# AT+IAT (Eq. 2)'s PGD weight sweep in two-sided.json: each model's `weight`.
SWEEP = {"AT+IAT (Eq. 2, w = 0)": 0.0, "AT+IAT (Eq. 2, w = 0.25)": 0.25, "AT+IAT (Eq. 2)": 0.5,
         "AT+IAT (Eq. 2, w = 0.75)": 0.75, "AT+IAT (Eq. 2, w = 1)": 1.0}
TWO_SIDED_MODELS = sorted(SIX) + ["IAT (Eq. 2)"] + list(SWEEP)
# Each model's (and seed's) records: one per attack.
CALIBRATION_ATTACKS = {"iat-eq2": ["clean", "iaa", EQ2, "pgd"],
                       "baselines": ["clean", "iaa", EQ2, "pgd"],
                       "two-sided": ["clean", EQ2, "pgd", WORST]}
# `--seeds 0,1,2`: the training seeds iat-eq2.json must hold, each with every model.
SEEDS = [None]
# The calibration experiments with a plot: drawn once every model is measured, so required
# only with `--require` (a run that is still going has the JSON without it).
CALIBRATION_PLOTTED = ("robustness-apgd", "two-sided")


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
    # Fig. 8's records describe its handful of gallery images: `--min-n` does not apply.
    if r["n"] < MIN_N[0] and name != "fig8":
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
    cc = r.get("correct_confidence")
    if cc is not None:
        # CONF over the correct images: a mean of top-class probabilities, at least 1/K > 0.
        if not (isinstance(cc, (int, float)) and not isinstance(cc, bool) and 0 < cc <= 1):
            problems.append(f"{where}: correct_confidence {cc} outside (0, 1]")
        else:
            pair = ci.get("correct_confidence") if isinstance(ci, dict) else None
            if pair is not None and not (
                    isinstance(pair, list) and len(pair) == 2
                    and all(isinstance(v, (int, float)) and math.isfinite(v) for v in pair)):
                problems.append(f"{where}: ci95.correct_confidence is not a [lo, hi] pair")
            elif pair is not None and not pair[0] - 1e-9 <= cc <= pair[1] + 1e-9:
                problems.append(f"{where}: correct_confidence {cc} outside ci95 {pair}")
    elif r["accuracy"] > 0 and "correct_confidence" in r:
        problems.append(f"{where}: correct_confidence is null although ACC > 0")
    # NLL and Brier intervals (records measured since they exist): a pair holding the estimate.
    for key in ("nll", "brier"):
        pair = ci.get(key) if isinstance(ci, dict) else None
        if pair is None:
            continue
        if not (isinstance(pair, list) and len(pair) == 2
                and all(isinstance(v, (int, float)) and math.isfinite(v) for v in pair)):
            problems.append(f"{where}: ci95.{key} is not a [lo, hi] pair")
        elif pair[0] > pair[1]:
            problems.append(f"{where}: ci95.{key} {pair} is not ordered")
        elif not is_number(r.get(key)):
            problems.append(f"{where}: ci95.{key} without the estimate `{key}`")
        elif not pair[0] - 1e-9 <= r[key] <= pair[1] + 1e-9:
            problems.append(f"{where}: {key} {r[key]} outside ci95 {pair}")
    linf = r.get("max_linf", 0.0)
    if not isinstance(linf, (int, float)) or isinstance(linf, bool) or not math.isfinite(linf):
        if "max_linf" in r:
            problems.append(f"{where}: `max_linf` is {linf!r}, not a number")
    elif linf > r["epsilon"] + 1e-6:
        problems.append(f"{where}: max |delta| {linf} exceeds epsilon {r['epsilon']}")
    if r["attack"] == "clean" and r["epsilon"] != 0:
        problems.append(f"{where}: clean record with epsilon {r['epsilon']}")
    if r["attack"] in IAAS and r["lambda"] is None:
        problems.append(f"{where}: IAA record without lambda")
    # Every IAA outside Fig. 4's λ sweep runs at the paper's λ = 5.
    if (r["attack"] in IAAS and name != "fig4" and isinstance(r.get("lambda"), (int, float))
            and abs(r["lambda"] - 5) > 1e-9):
        problems.append(f"{where}: IAA at lambda {r['lambda']} instead of 5")


GALLERY_FIELDS = {"test_index": int, "label": str, "clean_prediction": str,
                  "clean_confidence": (int, float), "iae_prediction": str,
                  "iae_confidence": (int, float), "max_linf": (int, float)}


def check_gallery(images, records):
    """Problems of fig8_images.json: one entry per gallery image, every field, ‖δ‖∞ ≤ ε, and as
    many images as the fig8 records' n."""
    problems = []
    if not isinstance(images, list) or not images:
        return ["fig8_images.json: not a non-empty list"]
    iaa = [r for r in records if r["attack"] == "iaa"]
    eps = iaa[0]["epsilon"] if iaa else None
    for i, im in enumerate(images):
        where = f"fig8_images.json[{i}]"
        if not isinstance(im, dict):
            problems.append(f"{where}: not an object")
            continue
        for key, kind in GALLERY_FIELDS.items():
            if not isinstance(im.get(key), kind) or isinstance(im.get(key), bool):
                problems.append(f"{where}: missing or mistyped `{key}`")
        for key in ("clean_confidence", "iae_confidence"):
            v = im.get(key)
            if isinstance(v, (int, float)) and not 0 < v <= 1:
                problems.append(f"{where}: {key} {v} outside (0, 1]")
        v = im.get("max_linf")
        if isinstance(v, (int, float)) and eps is not None and v > eps + 1e-6:
            problems.append(f"{where}: max |delta| {v} exceeds epsilon {eps}")
    for r in records:
        if r.get("n") != len(images):
            problems.append(f"fig8: {r['attack']} record has n = {r.get('n')} but "
                            f"fig8_images.json lists {len(images)} images")
    return problems


def twin_key(r):
    """What an IAA record measures besides its IAA: its Eq. 2 twin measures the same."""
    lam = r.get("lambda")
    return (r["model"], r.get("seed"), r.get("source"), round(r["epsilon"], 6),
            round(lam, 6) if isinstance(lam, (int, float)) else lam, r["n"])


def is_number(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def check_calibration(name, records, required, out=None):
    """Problems of a calibration experiment's records beyond check_record: NLL and Brier score
    on every record, the training seed where the experiment trains (every record of iat-eq2,
    baselines and two-sided; one seed in baselines and two-sided), the known models, one record
    per attack and model (and seed), the attacks at one radius (iat-eq2, baselines, two-sided) or
    over one grid (robustness-apgd: PGD and the APGD worst case at the same radii; the spec's
    nine with --full-grid), a `temperature` on every `+ TS` record and only there (one per
    model, and the scaled model's clean accuracy equal to its model's: scaling changes no
    prediction), the PGD weight of the sweep's models and no weight elsewhere (two-sided), PGD
    and IAA on the same images and the bound |MCS_PGD| + |MCS_IAA| ≥ ACC_IAA − ACC_PGD where it
    is a theorem (CONF_PGD ≥ CONF_IAA; two-sided), and the APGD worst case never weaker than
    PGD-10 beyond the intervals (robustness-apgd). With `required`, every model (and every seed
    of --seeds) and the plot."""
    if not all(set(REQUIRED) <= set(r) for r in records):
        return []  # records that check_record has already refused
    records = [dict(r, attack=WORST) if r["attack"] == WORST_BEFORE else r for r in records]
    problems = []
    for i, r in enumerate(records):
        for key in ("nll", "brier"):
            if not is_number(r.get(key)):
                problems.append(f"{name}[{i}]: missing or non-numeric `{key}`")
        if is_number(r.get("nll")) and r["nll"] < 0:
            problems.append(f"{name}[{i}]: nll {r['nll']} < 0")
        if is_number(r.get("brier")) and not 0 <= r["brier"] <= 2:
            problems.append(f"{name}[{i}]: brier {r['brier']} outside [0, 2]")
    # The training seed: on every record of the models these experiments train (two-sided's six
    # models are the paper's, whose records carry none).
    seeded = name != "robustness-apgd"
    if seeded:
        for i, r in enumerate(records):
            seed = r.get("seed")
            if name == "two-sided" and r["model"] in SIX and seed is None:
                continue
            if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
                problems.append(f"{name}[{i}]: missing training `seed`")
        if problems:
            return problems
    seeds = sorted({r.get("seed") for r in records if r.get("seed") is not None}, key=str)
    if name in ("baselines", "two-sided") and len(seeds) != 1:
        problems.append(f"{name}: training seeds {seeds} instead of one")
    known = {"iat-eq2": IAT_EQ2_MODELS + [ALG1_AT_IAT], "baselines": BASELINE_MODELS,
             "robustness-apgd": APGD_MODELS, "two-sided": TWO_SIDED_MODELS}[name]
    models = sorted({r["model"] for r in records})
    for m in models:
        if m not in known:
            problems.append(f"{name}: unknown model {m!r}")
    groups = {}
    for r in records:
        groups.setdefault((r["model"], r.get("seed")), []).append(r)
    for (m, seed), rs in sorted(groups.items(), key=str):
        who = f"{name}: {m}" + (f" (seed {seed})" if seed is not None else "")
        attacks = sorted(r["attack"] for r in rs)
        if name in CALIBRATION_ATTACKS:
            if attacks != CALIBRATION_ATTACKS[name]:
                problems.append(f"{who} has {attacks} instead of "
                                f"{CALIBRATION_ATTACKS[name]}")
        else:
            if attacks.count("clean") != 1:
                problems.append(f"{who} has {attacks.count('clean')} clean records")
            eps = {a: sorted(round(r["epsilon"], 6) for r in rs if r["attack"] == a)
                   for a in ("pgd", APGD)}
            if set(attacks) - {"clean", "pgd", APGD}:
                problems.append(f"{who} has attacks {sorted(set(attacks))}")
            if eps["pgd"] != eps[APGD] or len(set(eps["pgd"])) != len(eps["pgd"]):
                problems.append(f"{who}: PGD at {eps['pgd']}, APGD at {eps[APGD]}")
            if FULL_GRID[0] and eps["pgd"] != SPEC_GRID:
                problems.append(f"{who}: epsilon grid {eps['pgd']} instead of the spec's "
                                f"{SPEC_GRID}")
    if name in CALIBRATION_ATTACKS:
        radii = sorted({round(r["epsilon"], 6) for r in records if r["attack"] != "clean"})
        if len(radii) > 1:
            problems.append(f"{name}: attacks at more than one epsilon {radii}")
    if name == "iat-eq2":
        alg1 = sorted({r["seed"] for r in records if r["model"] == ALG1_AT_IAT})
        if len(alg1) > 1:
            problems.append(f"{name}: {ALG1_AT_IAT} at seeds {alg1} (one seed only)")
    # Temperature scaling: the `+ TS` models and only they carry a temperature, one per model,
    # and leave the clean accuracy as it was.
    if name == "baselines":
        for m in models:
            ts = m.endswith(TS)
            temps = {r.get("temperature") for r in records if r["model"] == m}
            if ts and (len(temps) != 1 or not all(is_number(t) and t > 0 for t in temps)):
                problems.append(f"{name}: {m}: temperatures {sorted(temps, key=str)} instead "
                                f"of one positive value")
            if not ts and temps != {None}:
                problems.append(f"{name}: {m} is not temperature-scaled but has a "
                                f"`temperature`")
            if ts:
                c = [r for r in records if r["model"] == m and r["attack"] == "clean"]
                b = [r for r in records if r["model"] == m[:-len(TS)] and r["attack"] == "clean"]
                if (len(c) == 1 and len(b) == 1 and c[0]["n"] == b[0]["n"]
                        and abs(c[0]["accuracy"] - b[0]["accuracy"]) > 1e-9):
                    problems.append(f"{name}: {m}: clean accuracy {c[0]['accuracy']} differs "
                                    f"from {m[:-len(TS)]}'s {b[0]['accuracy']}")
    elif any(r.get("temperature") is not None for r in records):
        problems.append(f"{name}: records with a `temperature` (only baselines' `+ TS` models "
                        f"have one)")
    if name == "two-sided":
        for m in models:
            weights = {r.get("weight") for r in records if r["model"] == m}
            if m in SWEEP:
                if len(weights) != 1 or not all(is_number(w) and abs(w - SWEEP[m]) < 1e-6
                                                for w in weights):
                    problems.append(f"{name}: {m}: weight {sorted(weights, key=str)} instead "
                                    f"of {SWEEP[m]}")
            elif weights != {None}:
                problems.append(f"{name}: {m} is not AT+IAT but has a `weight` "
                                f"{sorted(weights, key=str)}")
        for (m, seed), rs in sorted(groups.items(), key=str):
            p = [r for r in rs if r["attack"] == "pgd"]
            q = [r for r in rs if r["attack"] == EQ2]
            w = [r for r in rs if r["attack"] == WORST]
            if len(p) != 1 or len(q) != 1:
                continue
            p, q = p[0], q[0]
            if p["n"] != q["n"] or any(x["n"] != p["n"] for x in w):
                problems.append(f"{name}: {m}: PGD, IAA and worst case on different images "
                                f"(n = {p['n']}, {q['n']}, {[x['n'] for x in w]})")
                continue
            total = abs(p["mcs"]) + abs(q["mcs"])
            gap = q["accuracy"] - p["accuracy"]
            if p["confidence"] >= q["confidence"] and total < gap - 1e-6:
                problems.append(f"{name}: {m}: bound violated: |MCS_PGD| + |MCS_IAA| = "
                                f"{total:.6f} < ACC_IAA - ACC_PGD = {gap:.6f} although "
                                f"CONF_PGD >= CONF_IAA")
    if name == "robustness-apgd":
        for r in records:
            if r["attack"] != APGD:
                continue
            p = [x for x in records if x["model"] == r["model"] and x["attack"] == "pgd"
                 and abs(x["epsilon"] - r["epsilon"]) < 1e-6]
            if len(p) != 1:
                continue
            p = p[0]
            a, b = (r.get("ci95") or {}).get("accuracy"), (p.get("ci95") or {}).get("accuracy")
            weaker = (a[0] > b[1] if isinstance(a, list) and isinstance(b, list)
                      else r["accuracy"] > p["accuracy"] + 1e-9)
            if weaker:
                problems.append(f"{name}: {r['model']} at epsilon {r['epsilon']}: the APGD worst "
                                f"case (accuracy {r['accuracy']}) is weaker than PGD "
                                f"({p['accuracy']}) beyond the intervals")
    if required and name in CALIBRATION_PLOTTED and out is not None:
        plot = Path(out) / f"{name}.svg"
        if not plot.is_file() or plot.stat().st_size == 0:
            problems.append(f"{name}: plot {plot} missing")
    if required or (name == "iat-eq2" and SEEDS[0] is not None):
        if name == "iat-eq2":
            want = SEEDS[0] if SEEDS[0] is not None else sorted(set(seeds))
            if sorted(set(seeds)) != sorted(want):
                problems.append(f"{name}: training seeds {seeds} instead of {sorted(want)}")
            for seed in want:
                got = sorted({r["model"] for r in records if r["seed"] == seed})
                need = sorted(IAT_EQ2_MODELS + ([ALG1_AT_IAT] if seed == min(want) else []))
                if got != need:
                    problems.append(f"{name}: seed {seed} has models {got} instead of {need}")
        else:
            missing = [m for m in known if m not in models]
            if missing:
                problems.append(f"{name}: models missing: {missing}")
    return problems


def check_eq2(name, records, out):
    """Problems of an experiment's Eq. 2 IAA records: none at all is fine (not measured yet);
    otherwise every Algorithm 1 IAA record has exactly one Eq. 2 twin measuring the same (model,
    source, ε, λ, n) and the other way round, a white-box Eq. 2 record is at least as accurate
    as the clean record of its model and images (the clean image is one of the points Eq. 2's
    selection may keep), and the plot has its `-eq2.svg` twin."""
    eq2 = [r for r in records if r.get("attack") == EQ2]
    if not eq2 or not all(set(REQUIRED) <= set(r) for r in records):
        return []  # no Eq. 2 records, or records that check_record has already refused
    problems = []
    keys = {a: [twin_key(r) for r in records if r["attack"] == a] for a in IAAS}
    for a, b in (IAAS, IAAS[::-1]):
        for k in sorted(set(keys[a]), key=str):
            if keys[a].count(k) != 1 or keys[b].count(k) != 1:
                problems.append(f"{name}: {a} {k} has {keys[b].count(k)} {b} twins "
                                f"({keys[a].count(k)} {a} records)")
    for r in eq2:
        if r.get("source") not in (None, r["model"]):
            continue
        clean = [c for c in records if c["attack"] == "clean" and c["model"] == r["model"]
                 and c.get("seed") == r.get("seed") and c["n"] == r["n"]]
        if len(clean) == 1 and r["accuracy"] < clean[0]["accuracy"] - 1e-9:
            problems.append(f"{name}: {r['model']} {EQ2} at epsilon {r['epsilon']}: accuracy "
                            f"{r['accuracy']} below the clean {clean[0]['accuracy']}")
    plot = out / f"{name}-eq2.svg"
    if name in PLOTTED and (not plot.is_file() or plot.stat().st_size == 0):
        problems.append(f"{name}: plot {plot} missing")
    return problems


def main(out, required=(), page=None):
    out = Path(out)
    problems = []
    pending = []
    data = {}
    optional = [n for n in ("models", "table2") + BEYOND + CALIBRATION
                if n in required or (out / f"{n}.json").is_file()
                or (n == "iat-eq2" and SEEDS[0] is not None)]
    for name in EXPERIMENTS + optional:
        path = out / f"{name}.json"
        if not path.is_file():
            if ALLOW_MISSING[0]:
                pending.append(name)
            else:
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
        if (name not in BEYOND + CALIBRATION + ("models",)
                and (not plot.is_file() or plot.stat().st_size == 0)):
            problems.append(f"{name}: plot {plot} missing")
        # two-sided measures Eq. 2's IAA only (no Algorithm 1 twins, by design).
        if name != "two-sided":
            problems.extend(check_eq2(name, records, out))
        if name in CALIBRATION:
            problems.extend(check_calibration(name, records, name in required, out))
    # Completeness: every curve has every epsilon, every table every model.
    if FULL_GRID[0]:
        for name in ("fig4", "fig5", "fig6", "fig7"):
            if name not in data:
                continue
            got = sorted({round(r["epsilon"], 6) for r in data[name] if r["attack"] != "clean"})
            if got != SPEC_GRID:
                problems.append(f"{name}: epsilon grid {got} instead of the spec's {SPEC_GRID}")
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
        if {a for _, a in seen} - {EQ2} != attacks:
            problems.append(f"{name}: attacks {sorted({a for _, a in seen})}")
    for name in ("fig6", "fig7", "table1"):
        if name in data and {r["model"] for r in data[name]} != SIX:
            problems.append(f"{name}: models {sorted({r['model'] for r in data[name]})}")
    # Every sweep has the clean record(s) its page section compares with.
    for name in ("fig4", "fig5", "fig6", "fig7"):
        if name not in data:
            continue
        for model in sorted({r["model"] for r in data[name]}):
            if sum(1 for r in data[name] if r["model"] == model and r["attack"] == "clean") != 1:
                problems.append(f"{name}: {model} has no single clean record")
    # Tables at one radius.
    for name in ("table1", "table2", "table3"):
        if name in data and len({round(r["epsilon"], 6) for r in data[name]
                                 if r["attack"] != "clean"}) != 1:
            problems.append(f"{name}: attacks at more than one epsilon")
    for name in BEYOND:
        if name not in data:
            continue
        models = {r["model"] for r in data[name]}
        if len(models) != BEYOND_MODELS[name]:
            problems.append(f"{name}: {len(models)} models instead of {BEYOND_MODELS[name]}")
        if name == "iat-ablation" and not any(str(m).startswith("IAT drop-misclassified")
                                              for m in models):
            problems.append(f"{name}: no IAT drop-misclassified model among "
                            f"{sorted(map(str, models))}")
        for model in models:
            attacks = sorted(r["attack"] for r in data[name] if r["model"] == model
                             and r["attack"] != EQ2)
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
            rows = {r["attack"]: r for r in data[name] if r["model"] == model
                    and r["attack"] != EQ2}
            if set(rows) != {"clean", "iaa", "uca"}:
                problems.append(f"{name}: {model} has {sorted(rows)}")
            elif rows["uca"]["accuracy"] != rows["clean"]["accuracy"]:
                problems.append(f"{name}: {model}: UCA accuracy differs from clean")
    if "table3" in data:
        # Nine IAA cells (crafted on x evaluated on), and one clean record per model (records
        # written before the clean rows existed, results/cpu, have none: `--legacy`). Eq. 2's
        # cells, where present, are the twins of these (check_eq2).
        iaa = [r for r in data["table3"] if r["attack"] not in ("clean", EQ2)]
        clean = [r for r in data["table3"] if r["attack"] == "clean"]
        cells = {(r.get("source"), r["model"]) for r in iaa}
        sources = {s for s, _ in cells}
        targets = {t for _, t in cells}
        if len(cells) != 9 or len(sources) != 3 or len(iaa) != 9:
            problems.append(f"table3: {len(cells)} distinct cells in {len(iaa)} records instead of 9")
        elif sources != targets:
            problems.append(f"table3: crafting models {sorted(map(str, sources))} differ from "
                            f"targets {sorted(targets)}")
        if any(r["attack"] != "iaa" for r in iaa):
            problems.append("table3: a cell that is not an IAA record")
        if clean or not LEGACY[0]:
            models = sorted(r["model"] for r in clean)
            if models != sorted(targets) or any(r.get("source") for r in clean):
                problems.append(f"table3: clean records of {models} instead of one per model "
                                f"{sorted(targets)}")
    if "fig8" in data:
        attacks = sorted(r["attack"] for r in data["fig8"])
        if attacks not in (["clean", "iaa"], ["clean", "iaa", EQ2]):
            problems.append(f"fig8: records {attacks} instead of clean, iaa (and {EQ2})")
        # One gallery per IAA: fig8.png + fig8_images.json, fig8-eq2.png + fig8-eq2_images.json.
        for stem, attack in (("fig8", "iaa"), ("fig8-eq2", EQ2)):
            if attack not in attacks:
                continue
            images_path = out / f"{stem}_images.json"
            if not images_path.is_file():
                problems.append(f"fig8: {images_path.name} missing")
                continue
            recs = [r for r in data["fig8"] if r["attack"] in ("clean", attack)]
            recs = [dict(r, attack="iaa") if r["attack"] == EQ2 else r for r in recs]
            found = check_gallery(json.loads(images_path.read_text()), recs)
            problems.extend(p.replace("fig8_images.json", images_path.name) for p in found)
            png = out / f"{stem}.png"
            if stem != "fig8" and (not png.is_file() or png.stat().st_size == 0):
                problems.append(f"fig8: {png.name} missing")
    if page is not None:
        problems.extend(check_page(out, page))
    if problems:
        print("\n".join(problems), file=sys.stderr)
        return 1
    total = sum(len(v) for v in data.values())
    print(f"check_results: {total} records in {len(data)} files OK ({out})"
          + (f"; every number on {page} is in the JSON" if page is not None else "")
          + (f"; not run yet: {', '.join(pending)}" if pending else ""))
    return 0


# A number with a decimal point, with an optional sign, not part of a word or a dotted version.
PAGE_NUMBER = re.compile(r"(?<![\w.])([+\-\u2212]?)(\d+\.\d+)(?!\.?\d)")
DERIVED_COMPUTED = {"y_G", "mcs_floor", "hours", "history", "records"}
DERIVED_CONSTANT = {"paper", "preset", "anchor"}


def page_numbers(text):
    """[(line number, token)] for every number with a decimal point outside fenced code blocks,
    inline code and link targets."""
    out = []
    fenced = False
    for no, line in enumerate(text.splitlines(), 1):
        if line.lstrip().startswith("```"):
            fenced = not fenced
            continue
        if fenced:
            continue
        line = re.sub(r"`[^`]*`", " ", line)
        line = re.sub(r"\]\([^)]*\)", "]", line)
        for m in PAGE_NUMBER.finditer(line):
            out.append((no, m.group(0)))
    return out


def _canonical(sign, digits):
    """'-0.406' / '0.023': the sign is dropped for + and for a zero."""
    negative = sign in ("-", "\u2212") and float(digits) != 0
    return ("-" if negative else "") + digits


def _numbers(doc, strings):
    """Every number in a JSON document; with strings=True also the numbers written in strings."""
    if isinstance(doc, bool) or doc is None:
        return
    if isinstance(doc, (int, float)):
        if math.isfinite(doc):
            yield doc
    elif isinstance(doc, str):
        if strings:
            for m in PAGE_NUMBER.finditer(doc):
                yield float(m.group(0).replace("\u2212", "-"))
    elif isinstance(doc, list):
        for v in doc:
            yield from _numbers(v, strings)
    elif isinstance(doc, dict):
        for v in doc.values():
            yield from _numbers(v, strings)


def evaluate(expr, record, const):
    """A derived.json expression of kind `records`: a number, {"rec": [experiment, index,
    field]}, {"const": key}, {"abs": e}, {"neg": e}, {"mul": [k, e]}, {"sum": [e, ...]} or
    {"max": [e, ...]} (written by scripts/render_results.py, evaluated here independently)."""
    if isinstance(expr, (int, float)) and not isinstance(expr, bool):
        return float(expr)
    if not isinstance(expr, dict) or len(expr) != 1:
        raise ValueError(f"not an expression: {expr!r}")
    (op, arg), = expr.items()
    ev = lambda e: evaluate(e, record, const)
    if op == "rec":
        name, index, field = arg
        return record(name, index, field)
    if op == "const":
        return const(arg)
    if op == "abs":
        return abs(ev(arg))
    if op == "neg":
        return -ev(arg)
    if op == "mul":
        return arg[0] * ev(arg[1])
    if op == "sum":
        return sum(ev(e) for e in arg)
    if op == "max":
        return max(ev(e) for e in arg)
    raise ValueError(f"unknown operation {op!r}")


def derived_values(out, problems):
    """The verified values of <out>/derived.json."""
    path = out / "derived.json"
    if not path.is_file():
        return []
    try:
        entries = json.loads(path.read_text()).get("values", {})
    except (ValueError, AttributeError):
        problems.append(f"derived.json: not a JSON object with `values`")
        return []
    values = []
    for key, e in entries.items():
        value, kind = e.get("value"), e.get("kind")
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            problems.append(f"derived.json {key}: no numeric `value`")
            continue
        if kind in ("y_G", "mcs_floor"):
            lam, k = e.get("lambda"), e.get("K")
            expect = (1 + lam / k) / (1 + lam) - (1 if kind == "mcs_floor" else 0)
            if abs(value - expect) > 1e-12:
                problems.append(f"derived.json {key}: {value} != {expect}")
                continue
        elif kind == "hours":
            run = out / str(e.get("run"))
            try:
                expect = json.loads(run.read_text())["train_seconds"] / 3600
            except (OSError, ValueError, KeyError, TypeError):
                problems.append(f"derived.json {key}: cannot read train_seconds of {run}")
                continue
            if abs(value - expect) > 1e-9:
                problems.append(f"derived.json {key}: {value} != {expect}")
                continue
        elif kind == "history":
            run = out / str(e.get("run"))
            try:
                record = json.loads(run.read_text())[e.get("epoch", -1)]
                field = str(e.get("field"))
                expect = (dict(record["stats"])[field[len("stats."):]]
                          if field.startswith("stats.") else record[field])
            except (OSError, ValueError, LookupError, TypeError):
                problems.append(f"derived.json {key}: cannot read {e.get('field')} of epoch "
                                f"{e.get('epoch', -1)} of {run}")
                continue
            if not isinstance(expect, (int, float)) or abs(value - expect) > 1e-12:
                problems.append(f"derived.json {key}: {value} != {expect}")
                continue
        elif kind == "records":
            files = {}

            def record(name, index, field):
                if name not in files:
                    files[name] = json.loads((out / f"{name}.json").read_text())
                v = files[name][index][field]
                if not isinstance(v, (int, float)) or isinstance(v, bool):
                    raise TypeError(f"{name}[{index}].{field} is not a number")
                return v

            def const(k):
                v = entries[k]["value"]
                if entries[k].get("kind") not in DERIVED_CONSTANT:
                    raise ValueError(f"{k} is not a documented constant")
                return v
            try:
                expect = evaluate(e.get("expr"), record, const)
            except (OSError, ValueError, LookupError, TypeError) as err:
                problems.append(f"derived.json {key}: cannot evaluate its expression ({err})")
                continue
            if abs(value - expect) > 1e-12:
                problems.append(f"derived.json {key}: {value} != {expect}")
                continue
        elif kind in DERIVED_CONSTANT:
            if not str(e.get("source", "")).strip():
                problems.append(f"derived.json {key}: constant without a `source`")
                continue
        else:
            problems.append(f"derived.json {key}: unknown kind {kind!r}")
            continue
        values.append(value)
    return values


def check_page(out, page):
    """Problems of a results page: numbers with a decimal point that no JSON value gives."""
    out, page = Path(out), Path(page)
    problems = []
    values = []
    for path in sorted(out.glob("*.json")):
        if path.name == "derived.json":
            continue
        values.extend(_numbers(json.loads(path.read_text()), strings=True))
    for path in sorted(out.glob("weights/*.run.json")) + sorted(out.glob("models/*/run.json")):
        values.extend(_numbers(json.loads(path.read_text()), strings=True))
    values.extend(derived_values(out, problems))
    allowed = {}
    for v in values:
        for d in range(1, 7):
            s = f"{v:.{d}f}"
            allowed.setdefault(d, set()).add(_canonical(s[0], s[1:]) if s[0] == "-" else s)
    for no, token in page_numbers(page.read_text()):
        sign = token[0] if token[0] in "+-\u2212" else ""
        digits = token[len(sign):]
        d = len(digits.split(".")[1])
        if _canonical(sign, digits) not in allowed.get(d, set()):
            problems.append(f"page {page}:{no}: {token} is not a value of the JSON in {out}")
    return problems


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
    page = None
    if "--page" in args:
        i = args.index("--page")
        page = args[i + 1]
        del args[i:i + 2]
    for flag, box in (("--full-grid", FULL_GRID), ("--allow-missing", ALLOW_MISSING)):
        if flag in args:
            box[0] = True
            args.remove(flag)
    if "--min-n" in args:
        i = args.index("--min-n")
        MIN_N[0] = int(args[i + 1])
        del args[i:i + 2]
    if "--seeds" in args:
        i = args.index("--seeds")
        SEEDS[0] = [int(x) for x in args[i + 1].split(",") if x.strip()]
        del args[i:i + 2]
    sys.exit(main(args[0] if args else "results", required, page))
