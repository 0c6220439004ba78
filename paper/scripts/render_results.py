#!/usr/bin/env python3
"""Generate the results page (docs/results.md) from the JSON records of one results directory.

    python3 scripts/render_results.py                         # results/cifar -> docs/results.md
    python3 scripts/render_results.py --dir D --out PAGE.md   # any results directory
    python3 scripts/render_results.py --check                 # exit 1 if the page is not current
    ... --weights-dir W   where the training runs' run.json files are (default: D/weights/
                          <name>.run.json, else D/models/<run>/run.json, the layout of a run
                          without --models-dir)

No number on the page is typed by hand. Every measured number is read from a JSON record and
rounded exactly once: 3 decimals for rates and MCS (Unicode minus, explicit + on MCS), the same
for the ends of the 95 % intervals, 1 decimal for wall times and memory. The few numbers that are
not measurements (the analytic IAA optimum y_G(λ) = (1 + λ/K)/(1 + λ), wall times in hours, the
paper's reported values, the preset's learning rates, the literature anchors of some
threshold claims and the tolerances of the approximate-equality claims) are written to
`<dir>/derived.json`, each with how it was computed or where it comes from, so that
`scripts/check_results.py --page` can verify every number on the page.

A section whose JSON is missing says that it has not been run yet, names the command that
produces it, and prints no numbers. The verdict rules are implemented once, in the `v_*`
functions below, and stated on the page in `verdict_rules()`.

IAA records (`iaa`) are the paper's printed Algorithm 1, and every claim of the sections asks
them. An IAA experiment may also hold Eq. 2's IAA (`iaa-eq2`, the library's default): its
section then shows the two side by side (and embeds `<experiment>-eq2.svg`), and *The claims
under Eq. 2's IAA* asks the same section functions' IAA claims again of the records as the Eq. 2
plots draw them (`iaa` dropped, `iaa-eq2` renamed `iaa`; `Results.eq2`). Experiments without
Eq. 2 records say so in one line; a page without any says nothing of Eq. 2 at all.

The calibration experiments beyond the paper (`iat-eq2`, `baselines`, `robustness-apgd`,
`two-sided`) are the sections of scripts/render_calibration.py, which uses this module's helpers
and rules. Numbers they compute from records (means over seeds, differences, sums, distances to
a target) go to derived.json with their expression (kind `records`).

Standard library only.
"""
import argparse
import copy
import json
import math
import os
import re
import sys
from pathlib import Path

# ------------------------------------------------------------------------------------------------
# What exists, and how it is made
# ------------------------------------------------------------------------------------------------

# The experiments the earlier small-scale page (docs/results-cpu.md) has a section for.
IN_RESULTS_CPU = {"fig4", "fig5", "fig6", "fig7", "table1", "table3", "fig8"}
# The calibration experiments beyond the paper (scripts/render_calibration.py): checked when
# present, required only with `check_results.py --require <name>`.
CALIBRATION = ["iat-eq2", "baselines", "robustness-apgd", "two-sided"]
# Every experiment file the page reads, in page order (Table 2, a separate data set, last).
EXPERIMENTS = ["models", "fig4", "fig5", "fig6", "fig7", "table1", "table3", "fig8",
               "iat-ablation", "finetune-vs-scratch"] + CALIBRATION + ["table2"]
PLOTS = {"fig4": "fig4.svg", "fig5": "fig5.svg", "fig6": "fig6.svg", "fig7": "fig7.svg",
         "table1": "table1.svg", "table2": "table2.svg", "table3": "table3.svg",
         "fig8": "fig8.png", "robustness-apgd": "robustness-apgd.svg",
         "two-sided": "two-sided.svg"}
SIX = ["PT", "PGD-AT", "ACE-AT", "CCAT", "IAT", "AT+IAT"]
FIVE = ["PT", "PGD-AT", "ACE-AT", "IAT", "AT+IAT"]  # the paper's Table 2 rows (no CCAT)
TABLE3_ARCHS = ["resnet18", "mobilenet_v2", "vgg19"]
ARCH_NAMES = {"resnet18": "ResNet-18", "mobilenet_v2": "MobileNetV2", "vgg19": "VGG-19",
              "small_cnn": "SmallCnn"}
# The radii shown in the main tables (the full grid is in a collapsed block under each).
MAIN_EPS = (0.02, 0.03, 0.05, 0.10)
MIN_N = 2000    # test images per point the issue asks for (deliverable 4)
K_CIFAR = 10    # CIFAR-10 classes
K_TINY = 200    # Tiny ImageNet-200 classes
# The training runs that scripts/collect-cifar-weights.sh copies to <dir>/weights/, in page order,
# with what each one is: the same names, in the same order, as scripts/cifar-runs.txt (the list
# the collect and restore scripts read; test_render_results.py checks that they agree).
RUNS = [
    ("table3-resnet18", "plain ResNet-18 from random initialisation: the base of the six, and "
                        "Table 3's ResNet-18"),
    ("pt", "PT, fine-tuned from the base"),
    ("pgd-at", "PGD-AT, fine-tuned from the base"),
    ("ace-at", "ACE-AT, fine-tuned from the base"),
    ("ccat", "CCAT, fine-tuned from the base"),
    ("iat", "IAT, fine-tuned from the base"),
    ("at-iat", "AT+IAT, fine-tuned from the base"),
    ("table3-mobilenet_v2", "plain MobileNetV2 (Table 3)"),
    ("table3-vgg19", "plain VGG-19 (Table 3)"),
    ("iat-correct-only", "IAT ablation: IAA examples of correctly classified images only, "
                         "fine-tuned from the base"),
    ("iat-drop-misclassified", "IAT ablation: IAA examples of correctly classified images "
                               "only, misclassified images left out, fine-tuned from the base"),
    ("iat-clean0.5", "IAT ablation: clean CE term beside the IAA term (w = 0.5), fine-tuned "
                     "from the base"),
    ("iat-train-bn", "IAT ablation: IAA generated with train-mode BatchNorm, fine-tuned from "
                     "the base"),
    ("pgd-at-scratch", "PGD-AT from random initialisation, the base's epochs and lr "
                       "(fine-tuning versus training from scratch)"),
    ("iat-eq2", "IAT on Eq. 2's inverse adversarial examples (T = 3 sign steps, best feasible "
                "iterate), fine-tuned from the base"),
    ("at-iat-eq2", "AT+IAT on PGD and Eq. 2's inverse adversarial examples (PGD weight "
                   "w = 0.5), fine-tuned from the base"),
    ("ls0.1", "label smoothing (α = 0.1), fine-tuned from the base like PT"),
    ("pt-seed1", "PT, training seed 1 (the same base, another data order)"),
    ("iat-seed1", "IAT (Algorithm 1), training seed 1"),
    ("iat-eq2-seed1", "IAT (Eq. 2), training seed 1"),
    ("at-iat-eq2-seed1", "AT+IAT (Eq. 2), training seed 1"),
    ("pt-seed2", "PT, training seed 2 (the same base, another data order)"),
    ("iat-seed2", "IAT (Algorithm 1), training seed 2"),
    ("iat-eq2-seed2", "IAT (Eq. 2), training seed 2"),
    ("at-iat-eq2-seed2", "AT+IAT (Eq. 2), training seed 2"),
    ("at-iat-eq2-w0", "AT+IAT (Eq. 2) with PGD weight w = 0 (IAA term only)"),
    ("at-iat-eq2-w0.25", "AT+IAT (Eq. 2) with PGD weight w = 0.25"),
    ("at-iat-eq2-w0.75", "AT+IAT (Eq. 2) with PGD weight w = 0.75"),
    ("at-iat-eq2-w1", "AT+IAT (Eq. 2) with PGD weight w = 1 (PGD term only)"),
    ("table2-base", "Tiny ImageNet-200: plain ResNet-18 (stride-2 stem) from random "
                    "initialisation, the base of Table 2's five"),
    ("table2-pt", "Tiny ImageNet-200: PT, fine-tuned from its base"),
    ("table2-pgd-at", "Tiny ImageNet-200: PGD-AT, fine-tuned from its base"),
    ("table2-ace-at", "Tiny ImageNet-200: ACE-AT, fine-tuned from its base"),
    ("table2-iat", "Tiny ImageNet-200: IAT, fine-tuned from its base"),
    ("table2-at-iat", "Tiny ImageNet-200: AT+IAT, fine-tuned from its base"),
]

PAPER_CMD = ("cargo run --release -p advcal-paper --features tch -- {exp} --preset cifar "
             "--backend tch --data-dir ../../shared/data/cifar-10-batches-bin "
             "--models-dir ~/.cache/advcal/runs/cifar/models --out results/cifar")
TINY_ARG = " --tiny-imagenet-dir ../../shared/data/tiny-imagenet-200"
# Extra arguments of some experiments' commands (scripts/train-cifar.sh runs them so).
EXTRA_ARGS = {"table2": TINY_ARG, "iat-eq2": " --train-seeds 0,1,2"}

MINUS = "\u2212"

# Constants that are not computed from the records. Each goes to derived.json with its source;
# `kind` is one of paper (the paper's reported values), preset (paper/src/presets.rs and
# src/train/optim.rs) or anchor (a threshold chosen for a claim, with why).
PAPER = "arXiv:2504.06358"
SPEC = "../../shared/docs/algorithms.md (section 8, table of the seed's figures)"
CONSTANTS = {
    "paper.fig5.pgd_mcs": (0.85, "paper", f"{PAPER} Fig. 5: PGD MCS of PT ~ +0.85 at eps = 0.02 "
                                          f"(read off the figure; {SPEC})"),
    "paper.fig5.pgd_eps": (0.02, "paper", f"{PAPER} Fig. 5: the radius of the +0.85 reading"),
    "paper.fig6.eps_limit": (0.08, "paper", f"{PAPER} Fig. 6 text: AT+IAT better than IAT for "
                                            "eps < 0.08"),
    "paper.grid.lo": (0.02, "paper", f"{PAPER}: the eps grid runs 'from 0.02 to 0.1'"),
    "paper.grid.hi": (0.1, "paper", f"{PAPER}: the eps grid runs 'from 0.02 to 0.1'"),
    "paper.table2.y_g": (0.1675, "paper", f"{PAPER}: stated IAA optimum for K = 200; the formula "
                                          "gives 0.170833 (0.1675 is the K = 1000 value; "
                                          "algorithms.md section 3.2)"),
    "preset.lr": (0.1, "preset", "paper/src/presets.rs, cifar preset: lr of the base model"),
    "preset.finetune_lr": (0.02, "preset", "paper/src/presets.rs, cifar preset: "
                                           "Finetune { epochs: 10, lr: 0.02 }"),
    "preset.momentum": (0.9, "preset", "src/train/optim.rs paper_sgd: SGD momentum 0.9"),
    "anchor.pt_clean_acc": (0.85, "anchor", "issue 'Credible-scale reproduction on CIFAR-10', "
                                            "deliverable 1: the PT model must reach >= 85 % "
                                            "clean accuracy on the 10,000 test images"),
    "anchor.pgdat_pgd_acc": (0.35, "anchor", "issue 'Credible-scale reproduction on CIFAR-10', "
                                             "deliverable 1: literature anchor, a PGD-AT model "
                                             "keeps >= 35 % accuracy under PGD-10 at "
                                             "eps = 8/255"),
    "anchor.table3_clean_acc": (0.80, "anchor", "issue 'Credible-scale reproduction on "
                                                "CIFAR-10', deliverable 2: Table 3's three "
                                                "models each >= 80 % clean"),
    "anchor.chance_loss": (2.2, "anchor", "threshold of 'stays at chance' in the VGG-19/4 "
                                          "warm-up check: a train loss above it in every epoch "
                                          "(chance is ln 10 = 2.303)"),
    "anchor.escape_loss": (2.1, "anchor", "threshold of 'leaves chance' in the VGG-19/4 warm-up "
                                          "check: a last-epoch train loss below it"),
    "anchor.ln10": (math.log(10), "anchor", "ln 10: the cross-entropy of a uniform prediction "
                                            "over 10 classes"),
    "anchor.approx_margin": (0.05, "anchor", "tolerance of the paper's approximate-equality "
                                             "claims ('MCS ~ 0', 'PGD MCS ~ +0.85', 'comparable', "
                                             "'about as robust'): two rates or MCS values on the "
                                             "0-1 scale count as equal when they differ by at "
                                             "most 0.05, about the precision with which a value "
                                             "can be read off the paper's figures"),
    "anchor.acc_drop": (0.05, "anchor", "'accuracy not much lower' in the IAT ablation (issue "
                                        "deliverable 5): a variant's clean accuracy may be at "
                                        "most 0.05 below PT's"),
    "anchor.table2_train_acc": (0.15, "anchor", "criterion of 'did not train' for Table 2's "
                                                "models: a last-epoch training accuracy (on the "
                                                "examples the strategy trains on, history.json) "
                                                "below it; 30 times chance (1/200), chosen with "
                                                "the committed runs in view: it separates "
                                                "PGD-AT's and ACE-AT's 0.101 from the other "
                                                "runs' 0.341 or more"),
    "anchor.ln200": (math.log(200), "anchor", "ln 200: the cross-entropy of a uniform "
                                              "prediction over 200 classes"),
    "anchor.table2_chance_loss": (0.9 * math.log(200), "anchor",
                                  "criterion of 'did not train' for Table 2's models: a "
                                  "last-epoch training loss above 0.9 x ln 200 (within 10 % of "
                                  "the loss of a uniform prediction)"),
    "anchor.two_sided_clean_ece": (0.03, "anchor", "target of the two-sided calibration "
                                                   "experiment (issue 'Does IAT calibrate when "
                                                   "it trains on true IAEs?'): clean ECE at "
                                                   "most 0.03"),
    "anchor.two_sided_worst_ece": (0.15, "anchor", "target of the two-sided calibration "
                                                   "experiment (same issue): worst-case ECE "
                                                   "(per image the worse of PGD and Eq. 2's "
                                                   "IAA) at most 0.15"),
    "preset.pgd_train_ratio": (2.5, "preset", "src/train/registry.rs StrategyKind::inner_pgd: "
                                              "the training PGD's step is 2.5 x eps / steps "
                                              "(Madry et al.'s ratio)"),
    "preset.ccat_epsilon": (0.03, "preset", "src/train/ccat.rs CcatConfig: default epsilon "
                                            "(the CCAT paper's CIFAR-10 radius)"),
    "preset.ccat_momentum": (0.9, "preset", "src/train/ccat.rs CcatConfig: default momentum "
                                            "of the normalised gradient"),
}
# The paper's Table 3 (rows: the model the IAEs were crafted on; columns: the model evaluated),
# as transcribed in algorithms.md section 8 (see its orientation note).
PAPER_TABLE3 = {
    ("resnet18", "resnet18"): -0.6887, ("resnet18", "mobilenet_v2"): 0.0234,
    ("resnet18", "vgg19"): 0.0313,
    ("mobilenet_v2", "resnet18"): 0.0703, ("mobilenet_v2", "mobilenet_v2"): -0.7192,
    ("mobilenet_v2", "vgg19"): 0.0415,
    ("vgg19", "resnet18"): 0.0664, ("vgg19", "mobilenet_v2"): 0.0153,
    ("vgg19", "vgg19"): -0.2395,
}
for (_s, _t), _v in PAPER_TABLE3.items():
    CONSTANTS[f"paper.table3.{_s}.{_t}"] = (
        _v, "paper", f"{PAPER} Table 3, IAEs crafted on {_s}, evaluated on {_t} ({SPEC})")


# ------------------------------------------------------------------------------------------------
# Formatting: every number is rounded here, once
# ------------------------------------------------------------------------------------------------

def _minus(s):
    s = s.replace("-", MINUS)
    return "0" + s[2:] if s.startswith(MINUS + "0") and float(s[1:]) == 0 else s


def f3(x):
    """A rate (ACC, CONF, ECE, GT-CONF): 3 decimals."""
    return "—" if x is None else _minus(f"{x:.3f}")


def s3(x):
    """An MCS: 3 decimals with an explicit sign (0.000 unsigned)."""
    if x is None:
        return "—"
    s = f"{x:+.3f}"
    return "0.000" if s in ("+0.000", "-0.000") else _minus(s)


def f1(x):
    return "—" if x is None else _minus(f"{x:.1f}")


def fk(x, k):
    """A constant at the precision its source gives it (k decimals), signed like an MCS."""
    s = f"{x:+.{k}f}" if x < 0 else f"{x:.{k}f}"
    return _minus(s)


def eps_str(e):
    """A radius as the JSON has it: 8/255 as a fraction (with its 3-decimal value), grid radii
    at 2 decimals."""
    if e is None:
        return "—"
    if abs(e * 100 - round(e * 100)) < 1e-6:
        return f"{e:.2f}"
    if abs(e * 255 - round(e * 255)) < 1e-4:
        return f"{round(e * 255)}/255 ({e:.3f})"
    return f"{e:.3f}"


def lr_str(x):
    return "—" if x is None else f"{x:g}"


def lam_str(x):
    return "—" if x is None else f"{x:g}"


def metric(r, key):
    """`0.591 [0.560, 0.620]`: a record's value and its 95 % interval."""
    if r is None or r.get(key) is None:
        return "—"
    fmt = s3 if key == "mcs" else f3
    pair = (r.get("ci95") or {}).get(key)
    if not pair:
        return fmt(r.get(key))
    return f"{fmt(r.get(key))} [{fmt(pair[0])}, {fmt(pair[1])}]"


def md_table(header, rows):
    """A Markdown table; a `|` inside a cell (e.g. "CONF | correct") is escaped so that it does
    not split the cell."""
    cell = lambda c: str(c).replace("|", "\\|")
    lines = ["| " + " | ".join(cell(h) for h in header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(cell(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def number_word(n):
    """Small counts in words ("five"), larger ones in digits."""
    words = ["no", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
    return words[n] if 0 <= n < len(words) else str(n)


def join_words(items):
    items = list(items)
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


def arch_name(a):
    return ARCH_NAMES.get(a, a)


# ------------------------------------------------------------------------------------------------
# Verdicts: the rules, once (stated on the page by `verdict_rules`)
# ------------------------------------------------------------------------------------------------

R, N, I = "reproduced", "not reproduced", "inconclusive"
# Questions beyond the paper ("does A differ from B?", "does A lower B?") are answered
# yes / no / not shown by the same interval rules.
YES, NO, NOT_SHOWN = "yes", "no", "not shown"


def answer(verdict):
    """A directional question beyond the paper, answered from a claim's verdict."""
    return {R: YES, N: NO}.get(verdict, NOT_SHOWN)


def v_threshold(iv, op, t):
    """One quantity against a threshold, claim `x op t` (op: >, >=, <, <=): reproduced when the
    whole interval is on the claimed side, not reproduced when it is wholly on the other side."""
    if iv is None:
        return I
    lo, hi = iv
    claimed = {">": lo > t, ">=": lo >= t, "<": hi < t, "<=": hi <= t}[op]
    other = {">": hi <= t, ">=": hi < t, "<": lo >= t, "<=": lo > t}[op]
    return R if claimed else N if other else I


def v_less(a, b):
    """Claim A < B: reproduced when A's interval lies wholly below B's, not reproduced when it
    lies wholly above."""
    if a is None or b is None:
        return I
    return R if a[1] < b[0] else N if b[1] < a[0] else I


def v_greater(a, b):
    return v_less(b, a)


def v_smallest(a, others):
    """Claim A is the smallest: reproduced when A's interval lies below every other's, not
    reproduced when some other's interval lies wholly below A's."""
    others = [o for o in others if o is not None]
    if a is None or not others:
        return I
    if all(a[1] < o[0] for o in others):
        return R
    return N if any(o[1] < a[0] for o in others) else I


def v_largest(a, others):
    neg = lambda iv: None if iv is None else (-iv[1], -iv[0])
    return v_smallest(neg(a), [neg(o) for o in others])


def v_approx(a, b, margin):
    """Claim A ≈ B within `margin` (B an interval or a number), from the conservative interval
    of A − B implied by the two marginal intervals, [a_lo − b_hi, a_hi − b_lo]: reproduced when
    it lies within [−margin, margin] (every pair of values the intervals allow differs by at
    most `margin`), not reproduced when it lies wholly outside (the intervals are more than
    `margin` apart), inconclusive otherwise. Equality can only be shown up to a tolerance,
    hence the margin."""
    if a is None or b is None:
        return I
    b = (b, b) if isinstance(b, (int, float)) else b
    if max(a[1] - b[0], b[1] - a[0]) <= margin + 1e-12:
        return R
    return N if max(a[0] - b[1], b[0] - a[1]) > margin + 1e-12 else I


def v_not_much_lower(a, b, margin):
    """Claim A ≥ B − margin ("A is not much lower than B"), from the conservative interval of
    A − B implied by the two marginal intervals, [a_lo − b_hi, a_hi − b_lo]: reproduced when
    its lower end is ≥ −margin, not reproduced when its upper end is below −margin."""
    if a is None or b is None:
        return I
    return v_threshold((a[0] - b[1], a[1] - b[0]), ">=", -margin)


def v_differs(a, b):
    """Question "does A differ from B?" (beyond the paper): yes when the intervals are disjoint,
    otherwise not shown."""
    if a is None or b is None:
        return NOT_SHOWN
    return YES if a[1] < b[0] or b[1] < a[0] else NOT_SHOWN


def v_all(verdicts):
    """A claim made of several parts: not reproduced if any part is, reproduced if all are."""
    verdicts = list(verdicts)
    if any(v == N for v in verdicts):
        return N
    return R if verdicts and all(v == R for v in verdicts) else I


def abs_iv(iv):
    """The interval of |x| implied by the interval of x (for "closest to 0" claims)."""
    if iv is None:
        return None
    lo, hi = iv
    if lo <= 0 <= hi:
        return (0.0, max(-lo, hi))
    return (min(abs(lo), abs(hi)), max(abs(lo), abs(hi)))


def position(iv, t):
    """Where an interval lies relative to a value."""
    if iv is None:
        return "no interval"
    return "above" if iv[0] > t else "below" if iv[1] < t else "contains"


NO_CC = "no CONF | correct"


def optimum_position(r, y_g):
    """Where a record's CONF | correct interval lies relative to the IAA optimum y_G. Only
    CONF | correct is compared: y_G is the true-class probability at IAA's minimum, where the
    true class is still the top class, so it predicts the confidence of the images left
    correct, not CONF over all images (which mixes in the misclassified ones). A record without
    CONF | correct (written before it existed, or with no correct image) gets no comparison."""
    if r is None:
        return "no record"
    cc = iv(r, "correct_confidence")
    if r.get("correct_confidence") is None or cc is None:
        return NO_CC
    return position(cc, y_g)


def position_label(p):
    return {"above": "above y_G", "below": "below y_G", "contains": "contains y_G"}.get(p, p)


OPTIMUM_COLUMN = "CONF | correct interval vs y_G"
OPTIMUM_NOTE = ("Only CONF | correct is compared with y_G; a record without it (written before "
                "it existed) gets no comparison.")


VERDICT_ORDER = [R, N, I, YES, NO, NOT_SHOWN]


def _runs(indices):
    """Consecutive runs of indices: [[0, 1, 2], [5]]."""
    out = []
    for i in indices:
        if out and out[-1][-1] == i - 1:
            out[-1].append(i)
        else:
            out.append([i])
    return out


def summarize(pairs, key_fmt=lambda k: eps_str(k), prefix="at ε = ", every="at every ε",
              label=lambda v: f"*{v}*", ranges=True):
    """`*reproduced* at ε = 0.03–0.09, *inconclusive* at 0.02 and 0.10` from [(key, verdict)],
    keys in their natural order. With ranges=False (models), keys are listed, not spanned."""
    if not pairs:
        return "*inconclusive* (no records)"
    keys = [k for k, _ in pairs]
    groups = {}
    for i, (_, v) in enumerate(pairs):
        groups.setdefault(v, []).append(i)
    if len(groups) == 1:
        (v,) = groups
        if not ranges:
            return f"{label(v)} {prefix}{join_words(key_fmt(k) for k in keys)}"
        span = (f" ({key_fmt(keys[0])}–{key_fmt(keys[-1])})" if ranges and len(keys) > 1
                else f" ({join_words(key_fmt(k) for k in keys)})" if len(keys) > 1 else "")
        if len(keys) == 1:
            return f"{label(v)} {prefix}{key_fmt(keys[0])}"
        return f"{label(v)} {every}{span}"
    # Verdicts in the order reproduced, not reproduced, inconclusive; other labels as they come.
    order = sorted(groups, key=lambda v: (VERDICT_ORDER.index(v) if v in VERDICT_ORDER
                                          else len(VERDICT_ORDER), groups[v][0]))
    parts = []
    for n, v in enumerate(order):
        items = []
        for run in (_runs(groups[v]) if ranges else [[i] for i in groups[v]]):
            if len(run) >= 3:
                items.append(f"{key_fmt(keys[run[0]])}–{key_fmt(keys[run[-1]])}")
            else:
                items.extend(key_fmt(keys[i]) for i in run)
        parts.append(f"{label(v)} {prefix if n == 0 else prefix.split(' ')[0] + ' '}"
                     f"{join_words(items)}")
    return ", ".join(parts)


def summarize_models(pairs, label=lambda v: f"*{v}*"):
    return summarize(pairs, key_fmt=str, prefix="for ", every="for", ranges=False, label=label)


# ------------------------------------------------------------------------------------------------
# Records
# ------------------------------------------------------------------------------------------------

def same_eps(a, b):
    return a is not None and b is not None and abs(a - b) < 1e-6


def pick(recs, model=None, attack=None, eps=None, lam=None, source=None):
    """The one record matching every given field, or None."""
    out = [r for r in recs or []
           if (model is None or r.get("model") == model)
           and (attack is None or r.get("attack") == attack)
           and (eps is None or same_eps(r.get("epsilon"), eps))
           and (lam is None or (r.get("lambda") is not None and abs(r["lambda"] - lam) < 1e-9))
           and (source is None or r.get("source") == source)]
    return out[0] if len(out) == 1 else None


def iv(r, key):
    """A record's 95 % interval of `key`, or None."""
    if r is None:
        return None
    pair = (r.get("ci95") or {}).get(key)
    return tuple(pair) if pair else None


def grid(recs, attack=None):
    """The attacked radii of some records, ascending."""
    return sorted({r["epsilon"] for r in recs or [] if r.get("attack") != "clean"
                   and isinstance(r.get("epsilon"), (int, float))
                   and (attack is None or r.get("attack") == attack)})


def main_eps(eps_list):
    shown = [e for e in eps_list if any(same_eps(e, m) for m in MAIN_EPS)]
    return shown or eps_list


# The two IAAs of the IAA figures and tables: the paper's printed Algorithm 1 (records `iaa`,
# every claim, table and plot of the page) and Eq. 2's best feasible iterate (records `iaa-eq2`,
# the library's default IAA), in the order the page shows them.
EQ2 = "iaa-eq2"
VARIANTS = (("Algorithm 1", "iaa"), ("Eq. 2", EQ2))


def has_eq2(recs):
    return any(r.get("attack") == EQ2 for r in recs or [])


def eq2_view(recs):
    """The records as the Eq. 2 plots (`<experiment>-eq2.svg`) draw them: Algorithm 1's IAA
    records dropped, Eq. 2's renamed `iaa`, so that the page's claim logic asks its questions of
    Eq. 2's IAA."""
    return [dict(r, attack="iaa") if r.get("attack") == EQ2 else r
            for r in recs or [] if r.get("attack") != "iaa"]


def near(eps_list, e):
    """The radius of a list closest to `e` (None for an empty list)."""
    return min(eps_list, key=lambda x: abs(x - e)) if eps_list else None


def models_in(recs):
    seen = []
    for r in recs or []:
        if r.get("model") not in seen:
            seen.append(r.get("model"))
    return seen


def evaluate(expr, record, const):
    """The value of a derived.json expression (kind `records`): a number, {"rec": [experiment,
    index, field]} (a field of a record), {"const": key} (another entry), {"abs": e},
    {"neg": e}, {"mul": [k, e]}, {"sum": [e, ...]} or {"max": [e, ...]}. `record(experiment,
    index, field)` and `const(key)` look values up. scripts/check_results.py evaluates the same
    expressions independently."""
    if isinstance(expr, (int, float)) and not isinstance(expr, bool):
        return expr
    (op, arg), = expr.items()
    if op == "rec":
        return record(*arg)
    if op == "const":
        return const(arg)
    if op == "abs":
        return abs(evaluate(arg, record, const))
    if op == "neg":
        return -evaluate(arg, record, const)
    if op == "mul":
        return arg[0] * evaluate(arg[1], record, const)
    if op == "sum":
        return sum(evaluate(e, record, const) for e in arg)
    if op == "max":
        return max(evaluate(e, record, const) for e in arg)
    raise ValueError(f"unknown derived operation {op!r}")


def epoch_field(record, field):
    """`field` of one epoch record of a history.json: a top-level key, or `stats.<name>` for a
    strategy's logged statistic (the epoch's `stats` is a list of `[name, value]` pairs)."""
    if field.startswith("stats."):
        return dict(record["stats"])[field[len("stats."):]]
    return record[field]


class Derived:
    """The non-measured numbers the page prints, written to derived.json for the page check."""

    def __init__(self, data=None, directory=None):
        self.entries = {k: {"value": v, "kind": kind, "source": src}
                        for k, (v, kind, src) in CONSTANTS.items()}
        self.data = data or {}
        self.dir = Path(directory) if directory else None

    def rec(self, name, r, field):
        """The expression of one field of a record (found by identity in its experiment)."""
        index = next(i for i, x in enumerate(self.data[name]) if x is r)
        return {"rec": [name, index, field]}

    def expr(self, key, expr, source):
        """A number computed from records (differences, sums, means): its value, with the
        expression that gives it written to derived.json (kind `records`)."""
        value = evaluate(expr, lambda name, i, field: self.data[name][i][field], self.const)
        self.entries[key] = {"value": value, "kind": "records", "expr": expr, "source": source}
        return value

    def history(self, path, field, epoch=-1):
        """`field` of one epoch (Python index; the last by default) of a training run's
        history.json (kind `history`), or None when the file, the epoch or the field is
        missing."""
        try:
            value = epoch_field(json.loads(Path(path).read_text())[epoch], field)
        except (OSError, ValueError, LookupError, TypeError):
            return None
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            return None
        run = Path(os.path.relpath(path, self.dir)).as_posix() if self.dir else str(path)
        entry = {"value": value, "kind": "history", "run": run, "field": field,
                 "source": "the last epoch's `field` in the history.json named in `run`"}
        key = f"history.{run}.{field}"
        if epoch != -1:
            entry["epoch"] = epoch
            entry["source"] = ("`field` of the epoch at Python index `epoch` in the "
                               "history.json named in `run`")
            key += f".epoch{epoch}"
        self.entries[key] = entry
        return value

    def const(self, key):
        return self.entries[key]["value"]

    def y_g(self, lam, k):
        value = (1 + lam / k) / (1 + lam)
        self.entries[f"y_G.lambda={lam:g}.K={k}"] = {
            "value": value, "kind": "y_G", "lambda": lam, "K": k,
            "source": "analytic optimum of IAA, (1 + lambda/K) / (1 + lambda)"}
        return value

    def mcs_floor(self, lam, k):
        value = (1 + lam / k) / (1 + lam) - 1
        self.entries[f"mcs_floor.lambda={lam:g}.K={k}"] = {
            "value": value, "kind": "mcs_floor", "lambda": lam, "K": k,
            "source": "MCS when every image sits at the IAA optimum: y_G - 1"}
        return value

    def hours(self, run_file, seconds):
        value = seconds / 3600
        self.entries[f"hours.{run_file}"] = {
            "value": value, "kind": "hours", "run": run_file,
            "source": "train_seconds / 3600 of the run.json named in `run`"}
        return value

    def dumps(self):
        doc = {"note": "Numbers on the results page that are not measurements, written by "
                       "scripts/render_results.py: each is computed from the other JSON of "
                       "this directory (kinds y_G, mcs_floor, hours, history, records; "
                       "scripts/check_results.py recomputes them) or is a documented constant "
                       "(kinds paper, preset, anchor; `source` says where it comes from).",
               "values": {k: self.entries[k] for k in sorted(self.entries)}}
        return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"


class Results:
    def __init__(self, directory, weights_dir=None, out=None):
        self.dir = Path(directory)
        self.shown_dir = str(directory).rstrip("/")
        self.out_dir = Path(out).parent if out else Path("docs")
        self.link = Path(os.path.relpath(self.dir, self.out_dir)).as_posix()
        self.data = {}
        for name in EXPERIMENTS:
            path = self.dir / f"{name}.json"
            if path.is_file():
                records = json.loads(path.read_text())
                if isinstance(records, list) and records:
                    self.data[name] = records
        path = self.dir / "fig8_images.json"
        self.images = json.loads(path.read_text()) if path.is_file() else None
        path = self.dir / "fig8-eq2_images.json"
        self.images_eq2 = json.loads(path.read_text()) if path.is_file() else None
        self.runs = self._find_runs(weights_dir)
        self.derived = Derived(self.data, self.dir)

    def _find_runs(self, weights_dir):
        """[(name, run.json path, checkpoint path or None)] in page order."""
        found = {}
        candidates = [Path(weights_dir)] if weights_dir else [self.dir / "weights",
                                                              self.dir / "models"]
        for base in candidates:
            if not base.is_dir():
                continue
            for p in sorted(base.glob("*.run.json")):
                name = p.name[:-len(".run.json")]
                found[name] = (p, base / f"{name}.ckpt")
            for p in sorted(base.glob("*/run.json")):
                found[p.parent.name] = (p, p.parent / "weights.ckpt")
            if found:
                break
        known = [n for n, _ in RUNS if n in found]
        rest = sorted(n for n in found if n not in known)
        out = []
        for name in known + rest:
            p, ckpt = found[name]
            try:
                info = json.loads(p.read_text())
            except (OSError, ValueError):
                continue
            if not isinstance(info, dict):
                continue
            out.append((name, p, info, ckpt if ckpt.is_file() else None))
        return out

    def train_images(self, run):
        """The number of training images per epoch of a collected run, read off its
        history.json (an epoch's wall time times its images per second), or None."""
        for name, path, _, _ in self.runs:
            if name != run:
                continue
            hist = path.parent / (path.name[:-len("run.json")] + "history.json")
            try:
                first = json.loads(hist.read_text())[0]
                return round(first["seconds"] * first["images_per_second"])
            except (OSError, ValueError, LookupError, TypeError):
                return None
        return None

    def has(self, name):
        return name in self.data

    def eq2_any(self):
        """Whether any experiment of the paper holds Eq. 2's IAA records (the page's Eq. 2
        parts appear only then; the calibration experiments hold them by design)."""
        return any(has_eq2(recs) for name, recs in self.data.items() if name not in CALIBRATION)

    def calibration_any(self):
        """Whether any calibration experiment beyond the paper has records."""
        return any(self.has(name) for name in CALIBRATION)

    def eq2(self):
        """The same results with every experiment that has Eq. 2's IAA records seen through
        eq2_view, and the experiments without them left out (not measured under Eq. 2)."""
        view = copy.copy(self)
        view.data = {name: eq2_view(recs) for name, recs in self.data.items() if has_eq2(recs)}
        return view

    def rel(self, path):
        """A file as the page links it (relative to the page's folder)."""
        return Path(os.path.relpath(path, self.out_dir)).as_posix()

    def plot(self, name, title):
        f = PLOTS.get(name)
        if f and (self.dir / f).is_file():
            return f"![{title}]({self.link}/{f})\n"
        return f"(No plot `{f}` in the results directory.)\n" if f else ""

    def plot_eq2(self, name, title):
        """The Eq. 2 twin of an experiment's plot (`<experiment>-eq2.svg`), where it exists."""
        f = f"{name}-eq2.svg"
        return f"![{title} (Eq. 2)]({self.link}/{f})\n" if (self.dir / f).is_file() else ""

    def pending(self, name, what):
        cmd = command(name)
        earlier = (f"\n\nUntil then, see the earlier small-scale run in "
                   f"[results-cpu.md](results-cpu.md).") if name in IN_RESULTS_CPU else ""
        return (f"**Not run yet**: `{self.shown_dir}/{name}.json` is missing. {what} It is "
                f"produced by `bash scripts/train-cifar.sh` (with every other experiment) or "
                f"on its own by\n\n```sh\n{cmd}\n```{earlier}\n")


def command(name):
    """The command that writes one experiment's records."""
    return PAPER_CMD.format(exp=name) + EXTRA_ARGS.get(name, "")


# ------------------------------------------------------------------------------------------------
# Building blocks of the sections
# ------------------------------------------------------------------------------------------------

# Every claim built for the page, (text, ref, verdict), in the order the sections build them
# (render() puts them in page order): the rows of *Verdicts at a glance*. render() empties it
# before each page.
CLAIMS = []
# The (text, ref) of the claims that no IAA record enters (noise, PGD, clean records): left out of
# *The claims under Eq. 2's IAA*, where their verdicts would repeat Algorithm 1's.
IAA_FREE = set()


def claim_prefix(text, ref):
    """How a claim's line starts on the page; render() finds each claim by it."""
    return f"* **{text}** ({ref}): "


def claim(text, ref, verdict, how=None, iaa=True):
    """A claim's line; `iaa=False` for a claim that asks no IAA record."""
    CLAIMS.append((text, ref, verdict))
    if not iaa:
        IAA_FREE.add((text, ref))
    line = f"{claim_prefix(text, ref)}{verdict}."
    return line + (f" {how}" if how else "")


def records_table(recs, with_model=True, with_source=False):
    """Every record of a list, one row each, with intervals."""
    header = (["model"] if with_model else []) + (["crafted on"] if with_source else []) + \
        ["attack", "ε", "λ", "ACC [95 %]", "CONF [95 %]", "ECE [95 %]", "MCS [95 %]",
         "GT-CONF [95 %]", "n"]
    rows = []
    for r in recs:
        rows.append(([r.get("model")] if with_model else [])
                    + ([r.get("source")] if with_source else [])
                    + [r.get("attack"), eps_str(r.get("epsilon")), lam_str(r.get("lambda")),
                       metric(r, "accuracy"), metric(r, "confidence"), metric(r, "ece"),
                       metric(r, "mcs"), metric(r, "gt_confidence"), r.get("n")])
    return md_table(header, rows)


def details(summary, body):
    return f"<details><summary>{summary}</summary>\n\n{body}\n\n</details>\n"


def sweep_table(recs, row_keys, row_label, key, eps_list, find):
    """Rows (models or λ) × radii of one metric, each cell with its interval."""
    header = [row_label] + [f"ε = {eps_str(e)}" for e in eps_list]
    rows = [[label] + [metric(find(k, e), key) for e in eps_list] for k, label in row_keys]
    return md_table(header, rows)


def n_of(recs):
    ns = sorted({r.get("n") for r in recs or [] if isinstance(r.get("n"), int)})
    return ", ".join(str(n) for n in ns) if ns else "—"


def clean_line(r):
    if r is None:
        return "No clean record."
    return (f"Clean: ACC {metric(r, 'accuracy')}, CONF {metric(r, 'confidence')}, "
            f"ECE {metric(r, 'ece')}, MCS {metric(r, 'mcs')}; n = {r.get('n')}.")


def variants_table(recs, key_header, points):
    """Algorithm 1 beside Eq. 2: for each IAA point, given as (key cells, pick's fields), one
    row per IAA with ACC, CONF, CONF | correct and MCS and their intervals."""
    header = key_header + ["IAA", "ACC [95 %]", "CONF [95 %]", "CONF | correct [95 %]",
                           "MCS [95 %]"]
    rows = []
    for cells, where in points:
        for label, attack in VARIANTS:
            r = pick(recs, attack=attack, **where)
            rows.append(cells + [label] + [metric(r, k) for k in ("accuracy", "confidence",
                                                                   "correct_confidence", "mcs")])
    return md_table(header, rows)


EQ2_TITLE = "The claims under Eq. 2's IAA"


def eq2_block(res, name, title, key_header, points, where="", extra=""):
    """The Eq. 2 part of an IAA section: its `-eq2.svg` plot (where it exists), Algorithm 1
    beside Eq. 2 for the points given (see variants_table) and `extra`; a one-line note when
    the experiment has no Eq. 2 records yet; nothing when no experiment has any (the page then
    reads as before Eq. 2 was measured)."""
    if not res.eq2_any():
        return ""
    recs = res.data.get(name)
    if not has_eq2(recs):
        return (f"\n**IAA by Eq. 2:** not yet measured for this experiment (no `{EQ2}` records "
                f"in `{name}.json`).\n")
    return f"""
**IAA by Algorithm 1 and by Eq. 2** (records `iaa` and `{EQ2}`: the same models, images, ε and
λ){where}. Eq. 2's verdicts on this section's IAA claims are in
[{EQ2_TITLE}](#{slug(EQ2_TITLE)}).

{res.plot_eq2(name, title)}
{variants_table(recs, key_header, points)}

{extra}"""


APPROX_HOW = ("reproduced when every pair of values the intervals allow is that close, not "
              "reproduced when the intervals are further apart than that.")


ECE_NOTE = ("ECE's bootstrap interval is biased upwards (a resample duplicates images, which "
            "inflates the binned gaps), so it may not contain the estimate; the comparison "
            "uses the intervals as they are.")


# ------------------------------------------------------------------------------------------------
# Sections
# ------------------------------------------------------------------------------------------------

def header(res):
    present = [e for e in EXPERIMENTS if res.has(e)]
    missing = [e for e in EXPERIMENTS if not res.has(e)]
    collected = [n for n, _ in RUNS if any(r[0] == n for r in res.runs)]
    status = (f"{len(present)} of {len(EXPERIMENTS)} experiments present"
              + (f" ({', '.join(f'`{e}`' for e in present)})" if present else "")
              + (f"; pending: {', '.join(f'`{e}`' for e in missing)}" if missing else "")
              + f". Training runs found: {len(res.runs)}"
              + (f" ({len(collected)} of the {len(RUNS)} that "
                 f"`scripts/collect-cifar-weights.sh` collects)" if res.runs else "") + ".")
    # While experiments are pending the check needs --allow-missing (as CI runs it); the
    # calibration experiments are checked only when present (or required), so their absence
    # needs no flag.
    allow_missing = " --allow-missing" if [e for e in missing if e not in CALIBRATION] else ""
    return f"""# Results: the paper's experiments at the `cifar` scale

<!-- Generated by scripts/render_results.py from {res.shown_dir}; do not edit by hand. -->

This page reproduces the experiments of *Towards Calibration Enhanced Network by Inverse
Adversarial Attack* (`{PAPER}`) with the `cifar` preset: ResNet-18 with a quarter of the
channels, trained on 40,000 CIFAR-10 images, evaluated on at least 2,000 test images per point
with a 95 % bootstrap interval on every record (the preset's design; what the records hold is
stated next). The earlier small-scale run (`cpu` preset: a small CNN, 500 test images per
point, no intervals) is described in [results-cpu.md](results-cpu.md).

**Status.** {status} {record_status(res)}

**How this page is produced.** From the reproduction's folder `paper/` (where every path and
command of this page is relative to), `python3 scripts/render_results.py` generates it from the JSON
records in [`{res.shown_dir}/`]({res.link}/) (`<experiment>.json`, the same as a Markdown table in
`<experiment>.md`, and the plot); no number on it is typed by hand. Each number is read from
the JSON and rounded once: rates and MCS to 3 decimals (MCS with its sign), intervals as
`[lo, hi]` at the same precision, wall times and memory to 1 decimal. The few numbers that are
not measurements (the analytic IAA optimum y_G, wall times in hours, the paper's reported
values, the preset's learning rates, the anchors and tolerances of some claims) are written with
their source to `{res.shown_dir}/derived.json`. `python3 scripts/render_results.py --check` fails when
this page differs from what the records give, and
`python3 scripts/check_results.py {res.shown_dir} --min-n 2000 --full-grid --require models
--page docs/results.md{allow_missing}` checks the records' invariants (n, intervals, ‖δ‖∞, complete ε and λ
grids, complete tables) and that every number on this page with a decimal point occurs in them.
"""


def record_status(res):
    """What the records hold: n against the preset's 2,000, and intervals on every record."""
    recs = [r for name, rs in res.data.items() if name != "fig8" for r in rs]
    if not recs:
        return ""
    small = sum(1 for r in recs if not isinstance(r.get("n"), int) or r["n"] < MIN_N)
    no_ci = sum(1 for r in recs if not all(iv(r, k) for k in ("accuracy", "confidence", "ece",
                                                               "mcs")))
    parts = [f"{len(recs)} records (Fig. 8's gallery aside): "
             + (f"every one with n ≥ {MIN_N:,}" if not small
                else f"**{small} with n below {MIN_N:,}**, too few for the verdicts to carry "
                     f"weight")
             + ("; every one with 95 % intervals of ACC, CONF, ECE and MCS" if not no_ci
                else f"; **{no_ci} without a complete set of 95 % intervals**") + "."]
    return parts[0]


def verdict_rules(res):
    levels = sorted({(r.get("ci95") or {}).get("level") for recs in res.data.values()
                     for r in recs} - {None})
    resamples = sorted({(r.get("ci95") or {}).get("resamples") for recs in res.data.values()
                        for r in recs} - {None})
    if resamples:
        boot = (f"Every record carries {join_words(f'{round(l * 100)} %' for l in levels)} "
                f"nonparametric percentile-bootstrap intervals of ACC, CONF, ECE, MCS and "
                f"GT-CONF over its test images ({join_words(str(b) for b in resamples)} "
                f"resamples).")
    else:
        boot = "Every record will carry 95 % percentile-bootstrap intervals (none present yet)."
    margin = res.derived.const("anchor.approx_margin")
    drop = res.derived.const("anchor.acc_drop")
    return f"""## How to read the verdicts

{boot} All runs use `--seed 0` (the default): model initialisation, data order and
augmentation, the attacks' random starts and the bootstrap resamples. {trained_once(res)}

Each of the paper's claims gets one verdict per radius (or per model), from the intervals only:

* **A claim about one quantity against a threshold** (e.g. MCS > 0): *reproduced* if the whole
  95 % interval is on the claimed side, *not reproduced* if the whole interval is on the other
  side, *inconclusive* otherwise.
* **A claim comparing two records** (A < B): *reproduced* when the two intervals are disjoint in
  the claimed direction, *not reproduced* when they are disjoint in the opposite direction,
  *inconclusive* otherwise. "A is the smallest of several": *reproduced* when A's interval lies
  entirely below every other's, *not reproduced* when some other's interval lies entirely below
  A's. "Closest to 0" compares the intervals of |MCS| implied by the MCS intervals.
* **A claim of approximate equality** (A ≈ B, "comparable", "about as robust"): equality can
  only be shown up to a tolerance, so each such claim is judged with a margin of
  ±{fk(margin, 2)} (`derived.json`, `anchor.approx_margin`), on the conservative interval of
  A − B implied by the two marginal intervals, [lo_A − hi_B, hi_A − lo_B]: *reproduced* when it
  lies within ± the margin (every pair of values the intervals allow differs by at most the
  margin), *not reproduced* when the intervals are further apart than the margin,
  *inconclusive* otherwise.
* **"A is at most m below B"** (the IAT ablation's accuracy condition, m = {fk(drop, 2)},
  `anchor.acc_drop`): judged on the conservative interval of B − A implied by the two marginal
  intervals, [lo_B − hi_A, hi_B − lo_A]: *reproduced* when its upper end is at most m, *not
  reproduced* when its lower end exceeds m, *inconclusive* otherwise.
* **A claim with several parts** is *not reproduced* if any part is, *reproduced* if all are.
* **Questions beyond the paper** are answered by the same rules with other words: "does A
  differ from B?" *yes* when the intervals are disjoint, *not shown* otherwise; "does A lower
  B?" *yes* / *no* when the intervals are disjoint in / against that direction, *not shown*
  otherwise.
* A claim over the ε grid is judged at each radius and summarised, e.g. "*reproduced* at
  ε = a–b, *inconclusive* at c and d".

Disjoint 95 % intervals are a conservative test: two records whose intervals overlap can still
differ significantly, all the more because records on the same test images are correlated and
these marginal intervals ignore that. *Inconclusive* therefore means "not shown at this sample
size", not "no effect". ECE's bootstrap interval is biased upwards (it need not contain the
estimate); that matters wherever ECE is compared.
"""


def trained_once(res):
    """How many times the models were trained (several training seeds only in `iat-eq2`)."""
    seeds = render_calibration.train_seeds(res)
    if len(seeds) < 2:
        return ("Each model was trained\nonce, so the intervals measure how much a number would "
                "move on another draw of test images,\nnot how much it would move with another "
                "training seed.")
    return ("Each model was trained\nonce, except those of *IAT on Eq. 2's inverse adversarial "
            f"examples*, trained with the seeds {join_words(map(str, seeds))}\n(`--train-seeds`: "
            "the same base, other data orders); the intervals measure how much a number would "
            "move\non another draw of test images, not how much it would move with another "
            "training seed, which\nonly those models' spread across seeds shows.")


def commands(res):
    return f"""## How the results are produced

```sh
# 1. Train and evaluate everything, in the background, at low priority; resumable (run it
#    again after an interruption). State: ~/.cache/advcal/runs/cifar (models, out/). On a
#    machine without that state it first restores the models committed in
#    results/cifar/weights/ (scripts/restore-cifar-runs.sh) and trains only the others.
mkdir -p ~/.cache/advcal/runs && nohup bash scripts/train-cifar.sh > ~/.cache/advcal/runs/cifar.log 2>&1 &
# 2. Copy the finished records, plots and weights into the repository, regenerate this page
#    and check it (any time: only finished experiments and runs are copied).
bash scripts/publish-cifar.sh
# 3. Once every run has finished, the complete check:
python3 scripts/check_results.py results/cifar --min-n 2000 --full-grid --require models \\
    --require table2 --require iat-ablation --require finetune-vs-scratch \\
    --require iat-eq2 --require baselines --require robustness-apgd --require two-sided \\
    --seeds 0,1,2 --page docs/results.md
# One experiment on its own (models, fig4 ... fig8, table1, table3, iat-ablation,
# finetune-vs-scratch, iat-eq2 (add --train-seeds 0,1,2), baselines, robustness-apgd,
# two-sided; table2 also needs --tiny-imagenet-dir ../../shared/data/tiny-imagenet-200):
{PAPER_CMD.format(exp="<experiment>")}
```

LibTorch is set up by `eval "$(bash ../scripts/setup-libtorch.sh --print-env)"`
(`scripts/train-cifar.sh` does it itself).
"""


def n_summary(res):
    by_n = {}
    for name, recs in res.data.items():
        for n in sorted({r.get("n") for r in recs if isinstance(r.get("n"), int)}):
            by_n.setdefault(n, []).append(name)
    if not by_n:
        return "no records yet"
    return "; ".join(f"n = {n} in {join_words(f'`{e}`' for e in names)}"
                     for n, names in sorted(by_n.items(), reverse=True))


def setup(res):
    d = res.derived
    g = sorted({e for name in ("fig4", "fig5", "fig6", "fig7") for e in grid(res.data.get(name))})
    grid_txt = (f"{join_words(eps_str(e) for e in g)} ({len(g)} radii, from the records)"
                if g else "the spec's nine radii (no sweep records yet)")
    paper_grid = f"\"{fk(d.const('paper.grid.lo'), 2)} to {fk(d.const('paper.grid.hi'), 1)}\""
    rows = [
        ["data", "CIFAR-10, 50,000 train / 10,000 test images",
         "40,000 real CIFAR-10 training images (`data_batch_1`, `_3`, `_4`, `_5`; "
         "`data_batch_2` is not in the shared data: it is held back for independent "
         "evaluation, and `load_cifar10` reads whichever batches are present); test images "
         "per point: "
         + n_summary(res)],
        ["model (Figs. 4–8, Tables 1–2)", "ResNet-18",
         "ResNet-18 with every channel count divided by 4 (16/32/64/128 channels)"],
        ["Table 3 models", "ResNet-18, MobileNet, VGG-19",
         "ResNet-18, MobileNetV2, VGG-19, every channel count divided by 4, plain training"],
        ["training", "not stated",
         f"SGD, momentum {fk(d.const('preset.momentum'), 1)}, weight decay 5e-4, cosine "
         f"schedule, batch 128, random crop + flip. Base: plain training for 30 epochs at lr "
         f"{lr_str(d.const('preset.lr'))} from random initialisation. Every strategy, PT "
         f"included, is fine-tuned from the base for 10 epochs at lr "
         f"{lr_str(d.const('preset.finetune_lr'))}; the inner attacks below"],
        ["inner attacks in training", "not stated", training_attacks(res)],
        ["evaluation attacks", "PGD (steps not stated), IAA (λ = 5, T not stated)",
         "PGD T = 10, α = ε/4, random start; IAA λ = 5, T = 10, α = ε/T; UCA T = 10; "
         "uniform noise"
         + ("; beside Algorithm 1's IAA, Eq. 2's (records `iaa-eq2`): λ = 5, APGD schedule, "
            "twice the steps, best feasible iterate" if res.eq2_any() or res.calibration_any()
            else "")
         + ("; APGD-CE and APGD-DLR, 20 steps each, the worse of the two per image (records "
            "`apgd-ce+apgd-dlr`)" if res.has("robustness-apgd") else "")
         + ("; per image the worse of PGD and Eq. 2's IAA by |CONF − 1[correct]| (records "
            "`pgd+iaa-eq2`)" if res.has("two-sided") else "")],
        ["ε grid", paper_grid, grid_txt],
        ["uncertainty", "none reported", "95 % bootstrap interval on every record"],
    ]
    return f"""## Setup and how it differs from the paper

{md_table(["", "paper", "`cifar` preset (this page)"], rows)}

**The fine-tuning shortcut.** To fit six ResNet-18 models into the CPU budget of this 2-core
machine, the base plain model is trained once from random initialisation and every strategy,
PT included, is fine-tuned from it with the same budget. All six models
therefore share their first epochs, and the adversarial strategies see far fewer adversarial
epochs than in the paper. The measured effect of this shortcut on one strategy is the section
*Fine-tuning versus training from scratch* below (PGD-AT both ways). Scale is a further
difference from the paper, untested here: the network is a quarter as wide and trained on four
fifths of the data for far fewer epochs.
"""


def training_attacks(res):
    """The inner attack of each training strategy, as src/train/registry.rs
    (`StrategyKind::visit_with_iaa`) builds it at the preset's T = 3."""
    d = res.derived
    text = (
        "PT: none. PGD-AT and ACE-AT: PGD, T = 3 steps of α = "
        f"{fk(d.const('preset.pgd_train_ratio'), 1)}·ε/T, ε = 8/255, random start (ACE-AT adds "
        f"its entropy term). CCAT: its own attack (`CcatConfig`), 12 steps (4 × T) at its own "
        f"radius ε = {fk(d.const('preset.ccat_epsilon'), 2)}, momentum "
        f"{fk(d.const('preset.ccat_momentum'), 1)}, half of each batch clean. IAT: Algorithm 1's "
        "IAA (`IaaConfig::alg1`), T = 3 sign steps of α = ε/T with a growing radius from a "
        "random start, λ = 5, ε = 8/255, the last iterate. AT+IAT: that PGD and that IAA, each "
        "on the whole batch, loss ½·CE(PGD) + ½·CE(IAA) (`AtIatMix::Both`).")
    if res.eq2_any() or res.calibration_any():
        text += (" IAT (Eq. 2) and AT+IAT (Eq. 2), trained for the calibration experiments: the "
                 "same sign steps at the same budget, returning Eq. 2's best feasible iterate "
                 "(the least confident correctly classified point) instead of the last; the "
                 "IAT and AT+IAT of the paper's figures and tables are Algorithm 1's.")
    return text


def training(res):
    title = "## Training runs\n\n"
    if not res.runs:
        return title + (
            "**Not run yet**: no `run.json` of a finished training run was found (expected "
            f"under `{res.shown_dir}/weights/`). `bash scripts/train-cifar.sh` trains the "
            "models; `bash scripts/collect-cifar-weights.sh` copies the finished ones, with "
            "their `run.json` and `history.json`, to that folder. The earlier small-scale "
            "runs are described in [results-cpu.md](results-cpu.md).\n")
    rows = []
    for name, path, info, ckpt in res.runs:
        secs = info.get("train_seconds")
        hours = f1(res.derived.hours(Path(os.path.relpath(path, res.dir)).as_posix(), secs)) \
            if isinstance(secs, (int, float)) else "—"
        what = dict(RUNS).get(name, "")
        rows.append([f"`{name}`", what or "—", info.get("strategy", "—"),
                     arch_name(info.get("architecture", "—")), info.get("epochs", "—"),
                     info.get("warmup_epochs", "—"), lr_str(info.get("learning_rate")),
                     f1(secs), hours,
                     f1(info.get("peak_rss_mib")), f3(info.get("final_train_loss")),
                     f3(info.get("final_eval_accuracy")),
                     f"[`{ckpt.name}`]({res.rel(ckpt)})" if ckpt else "not collected"])
    missing = [n for n, _ in RUNS if all(r[0] != n for r in res.runs)]
    miss = (f"\n\nNot collected yet: {join_words(f'`{m}`' for m in missing)}."
            if missing and (res.dir / "weights").is_dir() else "")
    return title + f"""One row per finished run found in the results directory (`run.json`, written
by the `paper` binary beside each checkpoint; `history.json` beside it has every epoch). *Train time* sums the epochs' wall
times over every session of the run (resumes included); *peak RSS* is the peak resident
memory of the last session only; *final eval ACC* is measured on the sweeps' test images after
the last epoch; *warm-up epochs* are the linear learning-rate warm-up before the cosine schedule
(— where the run.json predates that field). Wall times are those of a shared 2-core machine and
are upper bounds. The committed weights give back the recorded evaluation: `cargo test -p advcal-paper
--features tch,data-tests` loads each checkpoint with `load_any_model` and evaluates it again on the same images
(`tests/committed_weights.rs`: on LibTorch, ACC to one image and CONF to 1e-4 of the last
epoch's record; the PT model also on Flex, another backend than the one that trained it).

{md_table(["run", "what", "strategy", "architecture", "epochs", "warm-up epochs", "lr",
           "train time (s)",
           "train time (h)", "peak RSS (MiB)", "final train loss", "final eval ACC",
           "weights"], rows)}{miss}
"""


# The sources of the clean-calibration claims: the paper reports no clean ECE or MCS of its
# models, so these claims are the page's reading of what it concludes.
READING_MOTIVATION = ("the page's reading of the paper's motivation, not a measurement the "
                      "paper reports")
READING_CONCLUSION = ("the page's reading of the paper's conclusion, not a measurement the "
                      "paper reports")
READING_ABSTRACT = ("the page's reading of the paper's abstract (AT+IAT 'excels in both "
                    "robustness and calibration'), not a measurement the paper reports")
# A verdict on records of a model that did not train (Table 2's criterion, table2_training):
# shown, not counted in *Verdicts at a glance*.
UNINFORMATIVE = "uninformative"
# A claim whose records are still to come (an experiment that is still running): listed, not
# counted in *Verdicts at a glance*.
PENDING = "not judged yet"


def flag_untrained(verdict, involved):
    """A claim's verdict, or, when it compares a model that did not train, *uninformative* with
    the interval verdict kept in parentheses (left out of the glance tally)."""
    if not involved:
        return verdict
    return (f"*{UNINFORMATIVE}* ({join_words(involved)} did not train; the intervals alone "
            f"give {verdict})")


def pt_overconfident(pt):
    """"PT is overconfident on clean data": its clean MCS interval above 0."""
    return v_threshold(iv(pt, "mcs"), ">", 0)


def better_calibrated(r, ref):
    """"r is better calibrated than ref on clean data": (verdict, [smaller |MCS|, smaller
    ECE]), both parts by disjoint intervals."""
    parts = [v_less(abs_iv(iv(r, "mcs")), abs_iv(iv(ref, "mcs"))),
             v_less(iv(r, "ece"), iv(ref, "ece"))]
    return v_all(parts), parts


def clean_calibration_claims(recs, untrained=()):
    """The paper's clean-calibration claims as this page reads them, asked of the clean records
    of a list (the six CIFAR-10 models, or Table 2's five): PT overconfident, IAT and AT+IAT
    better calibrated than PT, AT+IAT the best calibrated of the adversarially trained models
    present. A claim that compares a model of `untrained` is flagged *uninformative*."""
    involved = lambda ms: [m for m in ms if m in untrained]
    pt = pick(recs, model="PT", attack="clean")
    lines = [
        claim("PT is overconfident on clean data (MCS > 0)", READING_MOTIVATION,
              flag_untrained(f"*{pt_overconfident(pt)}*", involved(["PT"])), iaa=False),
    ]
    for m in ("IAT", "AT+IAT"):
        verdict, parts = better_calibrated(pick(recs, model=m, attack="clean"), pt)
        lines.append(claim(
            f"{m} is better calibrated than PT on clean data (|MCS| and ECE below PT's)",
            READING_CONCLUSION,
            flag_untrained(f"*{verdict}* (smaller |MCS|: *{parts[0]}*; smaller ECE: "
                           f"*{parts[1]}*)", involved([m, "PT"])),
            iaa=False))
    # "... combining adversarial and inverse adversarial training, we can develop a model that
    # excels in both robustness and calibration" (abstract): calibration part, among the
    # adversarially trained models; robustness is Fig. 7's "AT+IAT about as robust as PGD-AT".
    adv = [m for m in ("PGD-AT", "ACE-AT", "CCAT", "IAT") if pick(recs, model=m, attack="clean")]
    at_iat = pick(recs, model="AT+IAT", attack="clean")
    get = lambda m, k: iv(pick(recs, model=m, attack="clean"), k)
    parts = [v_smallest(abs_iv(iv(at_iat, "mcs")), [abs_iv(get(m, "mcs")) for m in adv]),
             v_smallest(iv(at_iat, "ece"), [get(m, "ece") for m in adv])]
    lines.append(claim(
        f"AT+IAT is the best calibrated of the adversarially trained models on clean data "
        f"(|MCS| and ECE below those of {join_words(adv) or 'the others'})",
        READING_ABSTRACT,
        flag_untrained(f"*{v_all(parts)}* (smallest |MCS|: *{parts[0]}*; smallest ECE: "
                       f"*{parts[1]}*)", involved(["AT+IAT"] + adv)),
        iaa=False))
    return lines


def clean_models(res):
    title = "## Clean calibration of the trained models\n\n"
    if not res.has("models"):
        return title + res.pending("models", "It holds the clean ACC, CONF, ECE and MCS of the "
                                             "six models (and the base) on all test images.")
    recs = res.data["models"]
    rows = [[r.get("model"), metric(r, "accuracy"), metric(r, "confidence"), metric(r, "ece"),
             metric(r, "mcs"), r.get("n")] for r in recs]
    d = res.derived
    anchor = d.const("anchor.pt_clean_acc")
    lines = clean_calibration_claims(recs)
    plain = [m for m in ("PT (base)", "PT") if pick(recs, model=m, attack="clean")]
    lines.append(claim(
        f"A plain model at this scale reaches a clean accuracy ≥ {fk(anchor, 2)}",
        "literature anchor, not a claim of the paper",
        summarize_models([(m, v_threshold(iv(pick(recs, model=m, attack="clean"), "accuracy"),
                                          ">=", anchor)) for m in plain]),
        "The anchor is a sanity check of the training, not of the paper."))
    return title + f"""Clean ACC, CONF, ECE and MCS of every trained model (`models.json`);
MCS = CONF − ACC, > 0 means overconfident.

{md_table(["model", "ACC [95 %]", "CONF [95 %]", "ECE [95 %]", "MCS [95 %]", "n"], rows)}

{chr(10).join(lines)}

{ECE_NOTE}
"""


def fig4(res):
    title = "## Fig. 4 — IAA for λ ∈ {1, 3, 5, 7, 10} against PT\n\n"
    what = ("IAA at five values of λ against the PT model, at every radius of the grid: how λ "
            "trades the accuracy term against the uniform-confidence term.")
    if not res.has("fig4"):
        return title + res.pending("fig4", what)
    recs = res.data["fig4"]
    d = res.derived
    lams = sorted({r["lambda"] for r in recs if r.get("attack") == "iaa"
                   and isinstance(r.get("lambda"), (int, float))})
    eps = grid(recs, "iaa")
    show = main_eps(eps)
    find = lambda lam, e: pick(recs, attack="iaa", eps=e, lam=lam)
    keys = [(lam, lam_str(lam)) for lam in lams]
    tables = "\n\n".join(
        f"{label}\n\n" + sweep_table(recs, keys, "λ", key, show, find)
        for key, label in (("accuracy", "IAA ACC:"), ("confidence", "IAA CONF:"),
                           ("mcs", "IAA MCS:")))
    # The analytic optimum, compared with IAA's confidence.
    at = min(eps, key=lambda e: abs(e - 0.03)) if eps else None
    yrows = []
    for lam in lams:
        yg = d.y_g(lam, K_CIFAR)
        floor = d.mcs_floor(lam, K_CIFAR)
        pos = summarize([(e, optimum_position(find(lam, e), yg)) for e in eps],
                        label=position_label)
        yrows.append([lam_str(lam), f"{yg:.4f}", s3(floor), metric(find(lam, at), "confidence"),
                      metric(find(lam, at), "correct_confidence"),
                      metric(find(lam, at), "gt_confidence"), pos])
    ytable = md_table(["λ", "y_G = (1+λ/K)/(1+λ)", "MCS floor y_G − 1",
                       f"CONF at ε = {eps_str(at)}", f"CONF | correct at ε = {eps_str(at)}",
                       f"GT-CONF at ε = {eps_str(at)}", OPTIMUM_COLUMN], yrows)
    claims = []
    for key, text in (("accuracy", "ACC falls as λ grows"),
                      ("confidence", "CONF falls as λ grows")):
        per = [(e, v_all(v_greater(iv(find(lams[i], e), key), iv(find(lams[i + 1], e), key))
                         for i in range(len(lams) - 1))) for e in eps]
        claims.append(claim(text, "Fig. 4", summarize(per),
                            "Tested at each ε as every step λ → next λ lowering the value "
                            "(disjoint intervals)."))
    if any(abs(lam - 5) < 1e-9 for lam in lams) and lams[0] < 5 < lams[-1]:
        lo, hi = lams[0], lams[-1]
        per = [(e, v_all([v_less(iv(find(5.0, e), "confidence"), iv(find(lo, e), "confidence")),
                          v_greater(iv(find(5.0, e), "accuracy"), iv(find(hi, e), "accuracy"))]))
               for e in eps]
        claims.append(claim(
            f"λ = 5 trades accuracy against confidence: a lower CONF than λ = {lam_str(lo)} and "
            f"a higher ACC than λ = {lam_str(hi)}",
            "Fig. 4 and the paper's text: λ = 5 chosen as a trade-off between ACC and CONF",
            summarize(per),
            f"The paper prints no numbers for this choice. Read here as: at each ε, IAA at "
            f"λ = 5 lowers the confidence further than the smallest λ tested ({lam_str(lo)}) "
            f"while keeping more accuracy than the largest ({lam_str(hi)}), both by disjoint "
            f"intervals; *not reproduced* where either comparison is shown the other way "
            f"round. Which λ gives the most negative MCS is not something the paper states, "
            f"and is not judged."))
    clean = pick(recs, attack="clean")
    return title + f"""{what} K = {K_CIFAR} classes. {clean_line(clean)}

{res.plot("fig4", "Fig. 4")}
{tables}

**The analytic optimum.** IAA minimises CE(z, y) + λ·CE(z, u); at its minimum the true class has
probability y_G = (1 + λ/K)/(1 + λ) and is still the top class, so CONF → y_G and
MCS → y_G − 1 if every image reached it. y_G is computed, not measured (`derived.json`).
CONF | correct is the mean confidence over the images still classified correctly (the images an
attack pushes past a wrong class lower ACC instead), the quantity y_G predicts; GT-CONF is the
mean probability of the true class. {OPTIMUM_NOTE}

{ytable}

{details("Fig. 4: every record (full ε grid)", records_table(recs, with_model=False))}
**Paper's claims and our verdicts** (n = {n_of(recs)} per point):

{chr(10).join(claims)}
""" + eq2_block(res, "fig4", "Fig. 4", ["λ"],
                [([lam_str(lam)], {"lam": lam, "eps": at}) for lam in lams],
                where=f", at ε = {eps_str(at)} (every radius is in the records above)")


def fig5(res):
    title = "## Fig. 5 — uniform noise, PGD and IAA against PT\n\n"
    what = ("Uniform noise, PGD and IAA (λ = 5) against the PT model at every radius: only IAA is "
            "meant to make the model underconfident.")
    if not res.has("fig5"):
        return title + res.pending("fig5", what)
    recs = res.data["fig5"]
    d = res.derived
    eps = grid(recs)
    show = main_eps(eps)
    find = lambda a, e: pick(recs, attack=a, eps=e)
    rows = [[eps_str(e), metric(find("noise", e), "mcs"), metric(find("pgd", e), "accuracy"),
             metric(find("pgd", e), "mcs"), metric(find("iaa", e), "accuracy"),
             metric(find("iaa", e), "mcs")] for e in show]
    table = md_table(["ε", "noise MCS", "PGD ACC", "PGD MCS", "IAA ACC", "IAA MCS"], rows)
    m = lambda a, e: iv(find(a, e), "mcs")
    claims = [
        claim("Uniform noise gives a positive MCS", "Fig. 5",
              summarize([(e, v_threshold(m("noise", e), ">", 0)) for e in eps]), iaa=False),
        claim("Noise MCS rises with ε", "Fig. 5",
              (f"*{v_greater(m('noise', eps[-1]), m('noise', eps[0]))}*" if len(eps) > 1
               else "*inconclusive* (one radius)"),
              f"Tested between the smallest and the largest radius "
              f"(ε = {eps_str(eps[0]) if eps else '—'} and "
              f"{eps_str(eps[-1]) if eps else '—'}).", iaa=False),
        claim("Noise MCS is small (below PGD's)", "Fig. 5",
              summarize([(e, v_less(m("noise", e), m("pgd", e))) for e in eps]), iaa=False),
    ]
    pe, pv = d.const("paper.fig5.pgd_eps"), d.const("paper.fig5.pgd_mcs")
    margin = d.const("anchor.approx_margin")
    r = find("pgd", pe)
    claims.append(claim(
        f"PGD MCS ≈ +{fk(pv, 2)} at ε = {fk(pe, 2)}", "Fig. 5, read off the figure",
        (f"*{v_approx(iv(r, 'mcs'), pv, margin)}* (our interval {position(iv(r, 'mcs'), pv)} "
         f"+{fk(pv, 2)}: {metric(r, 'mcs')})" if r else "*inconclusive* (no record at this ε)"),
        f"Equal within ±{fk(margin, 2)}: {APPROX_HOW}", iaa=False))
    claims.append(claim(
        "Only IAA gives a negative MCS", "Fig. 5",
        summarize([(e, v_all([v_threshold(m("iaa", e), "<", 0),
                              v_threshold(m("noise", e), ">=", 0),
                              v_threshold(m("pgd", e), ">=", 0)])) for e in eps]),
        "Tested as IAA MCS < 0, noise MCS ≥ 0 and PGD MCS ≥ 0 at each ε."))
    claims.append(claim(
        "|MCS| under PGD exceeds |MCS| under IAA at every ε", "Fig. 5",
        summarize([(e, v_greater(abs_iv(m("pgd", e)), abs_iv(m("iaa", e)))) for e in eps])))
    return title + f"""{what} {clean_line(pick(recs, attack="clean"))}

{res.plot("fig5", "Fig. 5")}
{table}

{details("Fig. 5: every record (full ε grid)", records_table(recs, with_model=False))}
**Paper's claims and our verdicts** (n = {n_of(recs)} per point):

{chr(10).join(claims)}
""" + eq2_block(res, "fig5", "Fig. 5", ["ε"], [([eps_str(e)], {"eps": e}) for e in show])


def six_clean_table(recs):
    rows = [[m] + [metric(pick(recs, model=m, attack="clean"), k)
                   for k in ("accuracy", "confidence", "ece", "mcs")] for m in SIX]
    return md_table(["model", "clean ACC", "clean CONF", "clean ECE", "clean MCS"], rows)


def fig6(res):
    title = "## Fig. 6 — IAA against the six training strategies\n\n"
    what = ("IAA (λ = 5) against the six models at every radius: which training makes a model "
            "resist being made underconfident.")
    if not res.has("fig6"):
        return title + res.pending("fig6", what)
    recs = res.data["fig6"]
    d = res.derived
    eps = grid(recs)
    show = main_eps(eps)
    find = lambda m, e: pick(recs, model=m, attack="iaa", eps=e)
    keys = [(m, m) for m in SIX]
    mcs = lambda m, e: iv(find(m, e), "mcs")
    others = lambda e, *ex: [mcs(o, e) for o in SIX if o not in ex]
    limit = d.const("paper.fig6.eps_limit")
    below = [e for e in eps if e < limit - 1e-9]
    above = [e for e in eps if e >= limit - 1e-9]
    margin = d.const("anchor.approx_margin")
    rest = ["PT", "PGD-AT", "IAT", "AT+IAT"]
    claims = [
        claim("CCAT and ACE-AT are the most sensitive: each has an MCS below those of PT, "
              "PGD-AT, IAT and AT+IAT", "Fig. 6",
              summarize([(e, v_all([v_smallest(mcs(m, e), [mcs(o, e) for o in rest])
                                    for m in ("CCAT", "ACE-AT")])) for e in eps]),
              "Tested as each of the two lying below the four others; the paper does not "
              "order CCAT and ACE-AT, and neither does this test."),
        claim("PGD-AT resists partially: MCS above CCAT's and ACE-AT's", "Fig. 6",
              summarize([(e, v_all([v_greater(mcs("PGD-AT", e), mcs("CCAT", e)),
                                    v_greater(mcs("PGD-AT", e), mcs("ACE-AT", e))]))
                         for e in eps])),
        claim("IAT is best: MCS closest to 0 of the six", "Fig. 6",
              summarize([(e, v_smallest(abs_iv(mcs("IAT", e)),
                                        [abs_iv(x) for x in others(e, "IAT")])) for e in eps])),
        claim(f"AT+IAT is better than IAT (|MCS| smaller) for ε < {fk(limit, 2)}", "Fig. 6",
              summarize([(e, v_less(abs_iv(mcs("AT+IAT", e)), abs_iv(mcs("IAT", e))))
                         for e in below]) if below else "*inconclusive* (no radius in range)"),
        claim(f"AT+IAT is comparable to IAT (MCS ≈) for ε ≥ {fk(limit, 2)}", "Fig. 6",
              summarize([(e, v_approx(mcs("AT+IAT", e), mcs("IAT", e), margin)) for e in above])
              if above else "*inconclusive* (no radius in range)",
              f"Equal within ±{fk(margin, 2)}: {APPROX_HOW}"),
    ]
    return title + f"""{what}

{res.plot("fig6", "Fig. 6")}
Clean records of the six models (the same test images as the sweep):

{six_clean_table(recs)}

IAA MCS:

{sweep_table(recs, keys, "model", "mcs", show, find)}

IAA CONF:

{sweep_table(recs, keys, "model", "confidence", show, find)}

{details("Fig. 6: every record (full ε grid)", records_table(recs))}
**Paper's claims and our verdicts** (n = {n_of(recs)} per point):

{chr(10).join(claims)}
{iaa_accuracy_reading(recs, eps)}""" + fig6_eq2(res, recs, eps)


def fig6_eq2(res, recs, eps):
    """Fig. 6's Eq. 2 part: the six models at the radius nearest 0.03, and Eq. 2's IAA MCS over
    the main radii (beside Algorithm 1's table above)."""
    at = near(eps, 0.03)
    find = lambda m, e: pick(recs, model=m, attack=EQ2, eps=e)
    sweep = (f"IAA MCS, Eq. 2:\n\n"
             f"{sweep_table(recs, [(m, m) for m in SIX], 'model', 'mcs', main_eps(eps), find)}\n")
    return eq2_block(res, "fig6", "Fig. 6", ["model"],
                     [([m], {"model": m, "eps": at}) for m in SIX],
                     where=f", at ε = {eps_str(at)}", extra=sweep)


def iaa_accuracy_reading(recs, eps):
    """MCS under IAA moves with accuracy too: which models IAA's images push past a wrong class
    at the largest radius (accuracy below clean, disjoint intervals), whether their MCS then
    moves back towards 0 with the confidence still below clean, and which models IAA makes more
    accurate at every radius. Empty when none of this happens."""
    if not eps:
        return ""
    top = eps[-1]
    clean = lambda m: pick(recs, model=m, attack="clean")
    at = lambda m, e: pick(recs, model=m, attack="iaa", eps=e)
    acc = lambda r: iv(r, "accuracy")
    present = [m for m in SIX if clean(m) and all(at(m, e) for e in eps)]
    lowered = [m for m in present if v_less(acc(at(m, top)), acc(clean(m))) == R]
    raised = [m for m in present
              if all(v_greater(acc(at(m, e)), acc(clean(m))) == R for e in eps)]
    if not lowered and not raised:
        return ""
    parts = ["\nReading the MCS under IAA: MCS = CONF − ACC moves with the accuracy as well as "
             "with the confidence, and IAA changes both."]
    if lowered:
        m = lowered[0]
        r = at(m, top)
        parts.append(
            f"At ε = {eps_str(top)} IAA lowers the accuracy of {join_words(lowered)} below "
            f"the clean value ({m}: {f3(clean(m)['accuracy'])} → {f3(r['accuracy'])}): images "
            f"pushed past a wrong class.")
        for m in lowered:
            up = [e for e in eps if v_greater(acc(at(m, e)), acc(clean(m))) == R]
            if up:
                parts.append(f"At the smaller radii it raises {m}'s accuracy instead "
                             f"(ε = {join_words(eps_str(e) for e in up)}).")
        # The MCS moving back towards 0: the top radius's MCS above the most negative one (disjoint
        # intervals) while the confidence stays below its clean value.
        back = []
        for m in lowered:
            low = min(eps, key=lambda e: at(m, e)["mcs"])
            if (low != top and v_greater(iv(at(m, top), "mcs"), iv(at(m, low), "mcs")) == R
                    and v_less(iv(at(m, top), "confidence"), iv(clean(m), "confidence")) == R):
                back.append((m, low))
        if back:
            m, low = back[0]
            parts.append(
                f"The MCS of {join_words(b for b, _ in back)} moves back towards 0 at the "
                f"largest radius ({m}: {s3(at(m, low)['mcs'])} at ε = {eps_str(low)}, "
                f"{s3(at(m, top)['mcs'])} at {eps_str(top)}, CONF {f3(at(m, top)['confidence'])} "
                f"against {f3(clean(m)['confidence'])} clean) while the confidence stays low: a "
                f"|MCS| near 0 there is no sign of resisting IAA.")
    if raised:
        parts.append(
            f"IAA raises the accuracy of {join_words(raised)} above the clean value at every "
            f"radius: by the design of its objective, its cross-entropy term pulls misclassified "
            f"images towards their true class, and the accuracy gained makes the MCS more "
            f"negative than the lost confidence alone would.")
    return " ".join(parts) + "\n"


def fig7(res):
    title = "## Fig. 7 — PGD against the six training strategies\n\n"
    what = ("PGD (T = 10, α = ε/4, random start) against the six models at every radius: "
            "robustness and calibration under a standard attack.")
    if not res.has("fig7"):
        return title + res.pending("fig7", what)
    recs = res.data["fig7"]
    eps = grid(recs)
    show = main_eps(eps)
    find = lambda m, e: pick(recs, model=m, attack="pgd", eps=e)
    keys = [(m, m) for m in SIX]
    margin = res.derived.const("anchor.approx_margin")
    rows = fig7_verdicts(recs, eps, margin)
    claims = [claim(text, "Fig. 7", summarize(per), how) for text, per, how in rows]
    ccat_zero = next(per for text, per, _ in rows if text == "CCAT's MCS ≈ 0")
    reading = ccat_under_pgd([find("CCAT", e) for e in eps],
                             bool(ccat_zero) and all(v == N for _, v in ccat_zero))
    return title + f"""{what}

{res.plot("fig7", "Fig. 7")}
PGD ACC:

{sweep_table(recs, keys, "model", "accuracy", show, find)}

PGD MCS:

{sweep_table(recs, keys, "model", "mcs", show, find)}

{details("Fig. 7: every record (full ε grid)", records_table(recs))}
**Paper's claims and our verdicts** (n = {n_of(recs)} per point):

{chr(10).join(claims)}
{reading}"""


def fig7_verdicts(recs, eps, margin, attack="pgd"):
    """Fig. 7's claims asked of the records of `attack` (PGD-10 in Fig. 7; the APGD worst case
    in *Robustness under APGD*): [(claim, [(ε, verdict)], how)]."""
    find = lambda m, e: pick(recs, model=m, attack=attack, eps=e)
    acc = lambda m, e: iv(find(m, e), "accuracy")
    mcs = lambda m, e: iv(find(m, e), "mcs")
    rest = ["PT", "CCAT", "IAT", "AT+IAT"]
    approx = f"Equal within ±{fk(margin, 2)}: {APPROX_HOW}"
    return [
        ("PGD-AT and ACE-AT have the highest accuracy under PGD",
         [(e, v_all([v_largest(acc(m, e), [acc(o, e) for o in rest])
                     for m in ("PGD-AT", "ACE-AT")])) for e in eps],
         "Tested as each of the two lying above the four others."),
        ("IAT is partially robust: accuracy under PGD above PT's",
         [(e, v_greater(acc("IAT", e), acc("PT", e))) for e in eps], None),
        ("CCAT's MCS ≈ 0", [(e, v_approx(mcs("CCAT", e), 0.0, margin)) for e in eps], approx),
        ("ACE-AT is underconfident (MCS < 0)",
         [(e, v_threshold(mcs("ACE-AT", e), "<", 0)) for e in eps], None),
        ("AT+IAT is about as robust as PGD-AT (ACC ≈)",
         [(e, v_approx(acc("AT+IAT", e), acc("PGD-AT", e), margin)) for e in eps], approx),
    ]


def ccat_under_pgd(recs, not_reproduced):
    """Why CCAT's MCS under PGD sits near +1/K when CCAT rejects rather than resists: printed
    only when the "CCAT's MCS ≈ 0" verdict is *not reproduced* at every radius, a CCAT record
    exists at every radius, its accuracy is gone (every upper bound below 5 %) and its
    confidence at most 0.03 above 1/K (a top-class probability is never below 1/K). Empty
    otherwise."""
    if not not_reproduced or not recs or any(r is None for r in recs):
        return ""
    acc = [iv(r, "accuracy") for r in recs]
    conf = [r.get("confidence") for r in recs]
    if any(a is None for a in acc) or any(c is None for c in conf):
        return ""
    if max(a[1] for a in acc) >= 0.05 or any(c - 1 / K_CIFAR > 0.03 for c in conf):
        return ""
    accs = sorted(r["accuracy"] for r in recs)
    return (f"\nReading CCAT's verdict: under PGD its accuracy is {f3(accs[0])}–{f3(accs[-1])} "
            f"and its confidence {f3(min(conf))}–{f3(max(conf))} at every radius. CCAT answers "
            f"an attack with a near-uniform prediction (confidence near 1/K, K = {K_CIFAR}) "
            f"instead of the right class (the rejection the method is built for), so its "
            f"MCS = CONF − ACC sits near +1/K, not at 0.\n")


def iaa_vs_uca_claims(recs, models, untrained=()):
    """The paper's comparison of IAA with UCA, per model; a model of `untrained` gets the
    label *uninformative* instead of its verdict."""
    get = lambda m, a, k: iv(pick(recs, model=m, attack=a), k)
    flag = lambda m, v: UNINFORMATIVE if m in untrained else v
    present = [m for m in models if pick(recs, model=m, attack="clean")]
    acc = lambda m, a: (pick(recs, model=m, attack=a) or {}).get("accuracy")
    same = sum(1 for m in present
               if acc(m, "uca") is not None and acc(m, "uca") == acc(m, "clean"))
    paper = [m for m in present if m in FIVE]
    extra = [m for m in present if m not in FIVE]
    lines = [
        claim("IAA gives a more negative MCS than UCA", "the paper's comparison with UCA",
              summarize_models([(m, flag(m, v_less(get(m, "iaa", "mcs"), get(m, "uca", "mcs"))))
                                for m in paper])),
        claim("IAA lowers the confidence more than UCA (CONF_IAA < CONF_UCA)",
              "the paper's comparison with UCA",
              summarize_models([(m, flag(m, v_less(get(m, "iaa", "confidence"),
                                                   get(m, "uca", "confidence"))))
                                for m in paper])),
    ]
    for m in extra:
        lower_mcs = answer(v_less(get(m, "iaa", "mcs"), get(m, "uca", "mcs")))
        lower_conf = answer(v_less(get(m, "iaa", "confidence"), get(m, "uca", "confidence")))
        lines.append(f"* {m} is not a row of the paper's table (beyond the paper): IAA MCS below "
                     f"UCA's *{lower_mcs}*; IAA CONF below UCA's *{lower_conf}*.")
    lines.append(
        f"* UCA never changes a prediction: its ACC equals the clean ACC exactly for {same} of "
        f"{len(present)} models (also checked by `scripts/check_results.py`). IAA's CE term "
        f"pulls misclassified images towards their true class, so its ACC can rise as well as "
        f"fall.")
    return lines


def table1(res):
    title = "## Table 1 — IAA versus UCA (the paper's table is empty)\n\n"
    what = ("IAA (λ = 5) and the underconfidence attack UCA against the six models at one "
            "radius; UCA lowers confidence without changing a prediction.")
    if not res.has("table1"):
        return title + res.pending("table1", what)
    recs = res.data["table1"]
    eps = grid(recs)
    return title + f"""{what} Radius: ε = {join_words(eps_str(e) for e in eps)}.

{res.plot("table1", "Table 1")}
{records_table(recs)}

The paper prints no numbers in this table, so there is nothing to match numerically; its text
says IAA lowers confidence where UCA does not change predictions. Our verdicts (n = {n_of(recs)}):

{chr(10).join(iaa_vs_uca_claims(recs, SIX))}
""" + eq2_block(res, "table1", "Table 1", ["model"], [([m], {"model": m}) for m in SIX])


def table3(res):
    title = "## Table 3 — white-box and transfer IAA\n\n"
    what = ("IAA examples crafted on one plain model (rows: threat) and evaluated on each of "
            "three (columns: target); the diagonal is white-box.")
    if not res.has("table3"):
        return title + res.pending("table3", what)
    clean_recs = [r for r in res.data["table3"] if r.get("attack") == "clean"]
    recs = [r for r in res.data["table3"] if r.get("attack") != "clean"]
    d = res.derived
    archs = [a for a in TABLE3_ARCHS if any(r.get("source") == a for r in recs)] or \
        sorted({r.get("source") for r in recs})
    cell = lambda s, t: pick(recs, attack="iaa", source=s, model=t)
    ours = md_table(["threat (crafted on) \\ target"] + [arch_name(a) for a in archs],
                    [[arch_name(s)] + [metric(cell(s, t), "mcs") for t in archs] for s in archs])
    acc_conf = md_table(["threat \\ target"] + [arch_name(a) for a in archs],
                        [[arch_name(s)] + [f"{metric(cell(s, t), 'accuracy')} / "
                                           f"{metric(cell(s, t), 'confidence')}" for t in archs]
                         for s in archs])
    paper = md_table(["threat \\ target"] + [arch_name(a) for a in archs],
                     [[arch_name(s)] + [s3v for s3v in
                                        (fk(d.const(f"paper.table3.{s}.{t}"), 4)
                                         if f"paper.table3.{s}.{t}" in d.entries else "—"
                                         for t in archs)] for s in archs])
    mcs = lambda s, t: iv(cell(s, t), "mcs")
    floor = d.mcs_floor(5.0, K_CIFAR)
    claims = [
        claim("White-box IAA makes each model underconfident (diagonal MCS < 0)", "Table 3",
              summarize_models([(arch_name(a), v_threshold(mcs(a, a), "<", 0)) for a in archs])),
        claim("IAEs do not transfer: for each target, the white-box cell is below every "
              "transfer cell", "Table 3",
              summarize_models([(arch_name(t), v_smallest(mcs(t, t), [mcs(s, t) for s in archs
                                                                      if s != t]))
                                for t in archs])),
        claim("Transfer cells stay positive (the paper's off-diagonal MCS are all > 0)",
              "Table 3",
              summarize_models([(f"{arch_name(s)} → {arch_name(t)}",
                                 v_threshold(mcs(s, t), ">", 0))
                                for s in archs for t in archs if s != t])),
        claim("VGG-19 has the weakest white-box cell (the largest diagonal MCS)", "Table 3",
              f"*{v_largest(mcs('vgg19', 'vgg19'), [mcs(a, a) for a in archs if a != 'vgg19'])}*"
              if "vgg19" in archs else "*inconclusive* (no VGG-19 cell)"),
    ]
    radii = join_words(eps_str(e) for e in grid(recs))
    if clean_recs:
        bound = d.const("anchor.table3_clean_acc")
        clean_block = ("The three models on clean test images:\n\n"
                       + records_table(clean_recs) + "\n\n"
                       + claim(f"Each of the three reaches a clean accuracy ≥ {fk(bound, 2)}",
                               "the issue's bar for Table 3, not a claim of the paper",
                               summarize_models([(arch_name(r["model"]),
                                                  v_threshold(iv(r, "accuracy"), ">=", bound))
                                                 for r in clean_recs]), iaa=False) + "\n")
    else:
        clean_block = ("`table3.json` holds no clean records of these three models (written "
                       "before they existed); their training runs are listed above.\n")
    return title + f"""{what} The nine IAA cells are at ε = {radii}, λ = 5. With every image at
the IAA optimum the MCS would be y_G − 1 = {s3(floor)} (K = {K_CIFAR}, λ = 5).

{clean_block}

{res.plot("table3", "Table 3")}
Ours, MCS [95 %] (n = {n_of(recs)} per cell):

{ours}

Ours, ACC / CONF [95 %]:

{acc_conf}

The paper's MCS (full-size models trained on all of CIFAR-10; rows are the crafting model, see
the orientation note in `../../shared/docs/algorithms.md`):

{paper}

{chr(10).join(claims)}
""" + eq2_block(res, "table3", "Table 3", ["threat (crafted on)", "target"],
                [([arch_name(s), arch_name(t)], {"source": s, "model": t})
                 for s in archs for t in archs])


def vgg_warmup(res):
    """Why VGG-19/4 collapsed in the first run, from vgg19-warmup.json (scripts/vgg-warmup.sh).
    Every statement about the runs is conditional on what the JSON shows."""
    title = "### VGG-19/4: does it train without a learning-rate warm-up?\n\n"
    path = res.dir / "vgg19-warmup.json"
    if not path.is_file():
        return ""
    try:
        doc = json.loads(path.read_text())
    except ValueError:
        return title + "`vgg19-warmup.json` is not valid JSON.\n"
    runs = [r for r in doc.get("runs") or [] if isinstance(r, dict)]
    losses = lambda r: [e.get("train_loss") for e in r.get("epochs") or []
                        if isinstance(e.get("train_loss"), (int, float))]
    rows = []
    for run in runs:
        for e in run.get("epochs") or []:
            rows.append([run.get("implementation", "—"), run.get("warmup_epochs", "—"),
                         e.get("epoch", "—"), f3(e.get("train_loss")),
                         f3(e.get("train_accuracy"))])
    d = res.derived
    chance, escape = d.const("anchor.chance_loss"), d.const("anchor.escape_loss")
    cold = [r for r in runs if r.get("warmup_epochs") == 0 and losses(r)]
    warm = [r for r in runs if isinstance(r.get("warmup_epochs"), int)
            and r["warmup_epochs"] > 0 and losses(r)]
    stalled = [r for r in cold if all(x > chance for x in losses(r))]
    escaped = [r for r in warm if losses(r)[-1] < escape]
    verdict = (f"{len(stalled)} of {len(cold)} runs without warm-up stay at chance (train loss "
               f"above {fk(chance, 1)} in every epoch; chance is ln 10 = "
               f"{d.const('anchor.ln10'):.3f}); {len(escaped)} of {len(warm)} runs with warm-up "
               f"leave it (last-epoch loss below {fk(escape, 1)}).")
    impls = lambda rs: {str(r.get("implementation", "")).split(" ")[0].lower() for r in rs}
    if cold and len(stalled) == len(cold) and {"advcal", "pytorch"} <= impls(cold):
        verdict += (" Both implementations stall the same way on the same recipe, so the stall "
                    "is the recipe's, not advcal's.")
    lrs = sorted({r.get("lr") for r in runs if isinstance(r.get("lr"), (int, float))})
    if warm and len(escaped) == len(warm) and len(stalled) == len(cold) and cold:
        verdict += (f" A linear warm-up is enough for this network (a plain 16-layer network "
                    f"without residual connections) to leave chance at lr "
                    f"{join_words(lr_str(x) for x in lrs)}; He et al. (2016) warmed ResNet-110 "
                    f"up for the same reason.")
    # What the warm-up gave the cifar preset's VGG-19/4: its clean record in Table 3 and its
    # run's warm-up (weights/table3-vgg19.run.json), if any.
    vgg = pick([r for r in res.data.get("table3") or [] if r.get("attack") == "clean"
                and arch_name(r.get("model")) == "VGG-19"])
    if vgg is not None:
        try:
            run = json.loads((res.dir / "weights" / "table3-vgg19.run.json").read_text())
        except (OSError, ValueError):
            run = {}
        w = run.get("warmup_epochs") if isinstance(run, dict) else None
        trained = (f"trained with a {w}-epoch warm-up" if isinstance(w, int) and w > 0 else
                   "trained without a warm-up" if w == 0 else "whose warm-up is not recorded")
        verdict += (f" Table 3's VGG-19/4 ({trained}) reaches a clean accuracy of "
                    f"{metric(vgg, 'accuracy')} on {vgg.get('n')} test images.")
    return title + f"""The first CPU-scale run's VGG-19/4 was the weakest Table 3 model
([results-cpu.md](results-cpu.md)). {doc.get("what", "")}; `{doc.get("command", "")}`, raw numbers
in [`vgg19-warmup.json`]({res.link}/vgg19-warmup.json):

{md_table(["implementation", "warm-up epochs", "epoch", "train loss", "train ACC"], rows)}

{verdict} The `cifar` preset trains VGG-19/4 with a 2-epoch warm-up
(`Preset::vgg_warmup_epochs`; the training runs above list each run's warm-up); the residual
networks (ResNet-18, MobileNetV2) train without one.
"""


def gallery_counts(images):
    """What IAA did to each gallery image's prediction, counted from fig8_images.json."""
    known = [im for im in images if im.get("label") is not None
             and im.get("clean_prediction") is not None and im.get("iae_prediction") is not None]
    right = [im for im in known if im["clean_prediction"] == im["label"]]
    wrong = [im for im in known if im["clean_prediction"] != im["label"]]
    flipped = [im for im in right if im["iae_prediction"] != im["label"]]
    fixed = [im for im in wrong if im["iae_prediction"] == im["label"]]
    out = [f"Of the {len(right)} images classified correctly on clean input, "
           f"{len(right) - len(flipped)} stay correct under IAA"
           + (f" and {len(flipped)} flip ("
              + ", ".join(f"test image {im.get('test_index')}: {im['label']} → "
                          f"{im['iae_prediction']}" for im in flipped) + ")"
              if flipped else "") + "."]
    if wrong:
        out.append(f"Of the {len(wrong)} misclassified on clean input, {len(fixed)} become "
                   f"correct under IAA.")
    if len(known) < len(images):
        out.append(f"{len(images) - len(known)} images lack a label or a prediction.")
    return " ".join(out)


def gallery_images(images, name):
    """The per-image table of a gallery listing and what its IAA did to the predictions."""
    rows = [[im.get("test_index"), im.get("label"), im.get("clean_prediction"),
             f3(im.get("clean_confidence")), im.get("iae_prediction"),
             f3(im.get("iae_confidence")), f3(im.get("max_linf"))] for im in images]
    return (f"\nPer image (`{name}`):\n\n"
            + md_table(["test image", "label", "clean prediction", "clean CONF",
                        "IAE prediction", "IAE CONF", "‖δ‖∞"], rows)
            + "\n\n" + gallery_counts(images) + "\n")


def fig8(res):
    title = "## Fig. 8 — gallery of IAEs\n\n"
    what = ("A few clean test images of the PT model, their IAEs (λ = 5) and the perturbation: "
            "an illustration, not a measurement.")
    if not res.has("fig8"):
        return title + res.pending("fig8", what)
    recs = res.data["fig8"]
    clean, iaa = pick(recs, attack="clean"), pick(recs, attack="iaa")
    body = f"{what}\n\n{res.plot('fig8', 'Fig. 8')}\n{records_table(recs, with_model=False)}\n"
    if res.images:
        body += gallery_images(res.images, "fig8_images.json")
    if has_eq2(recs) and res.images_eq2:
        body += (f"\n**The same images under Eq. 2's IAA** (records `{EQ2}`, "
                 f"`fig8-eq2.png`):\n\n![Fig. 8 (Eq. 2)]({res.link}/fig8-eq2.png)\n"
                 + gallery_images(res.images_eq2, "fig8-eq2_images.json"))
    body += "\n" + claim("IAA lowers the confidence of the gallery images",
                         "Fig. 8",
                         f"lower CONF: *{v_less(iv(iaa, 'confidence'), iv(clean, 'confidence'))}*",
                         f"With n = {clean.get('n') if clean else '—'} images the interval is "
                         f"wide; the paper's gallery uses an ImageNet VGG-19, so only the "
                         f"qualitative behaviour compares.") + "\n"
    return title + body


# The IAT variants of iat-ablation.json, by the start of their model label (the clean-CE label
# carries its weight, e.g. "IAT + clean CE (w = 0.5)").
CORRECT_ONLY, CLEAN_CE, TRAIN_BN = "IAT correct-only", "IAT + clean CE", "IAT train-mode BN"
DROP = "IAT drop-misclassified"
# How each variant is configured in the library (src/train/iat.rs, src/attack).
ABLATION_OPTIONS = [(CORRECT_ONLY, "IatConfig::with_correct_only(true)"),
                    (DROP, "IatConfig::with_drop_misclassified(true)"),
                    (CLEAN_CE, "IatConfig::with_clean_weight(w)"),
                    (TRAIN_BN, "IatConfig::with_attack(IaaConfig::new().with_mode(Mode::Train))")]


def drop_reading(lowered, co, dm, mcs, shown, acc_conf, get, value):
    """What the drop-misclassified variant says about the label leak. It trains on the same IAA
    examples as the correct-only variant, each weighted as there, and leaves the misclassified
    images out instead of training them clean: the pair differs in those clean inputs (and
    therefore in BatchNorm's batch statistics), and both train on other images than IAT. Every
    sentence follows the interval answers; empty without drop-misclassified records."""
    a = lowered.get(DROP)
    if dm is None or a is None:
        return ""
    co_yes = lowered.get(CORRECT_ONLY) == YES
    values = (f"{shown(['IAT', dm, co], 'clean')}; clean ACC / CONF: "
              f"{acc_conf(['IAT', dm, co])}")
    out = [(f"{dm} separates the two: it" if co_yes else f"{dm}")
           + f" trains on the same IAA examples as {co}, each weighted as there, and leaves "
             f"the misclassified images out, with no clean input; unlike IAT it trains on fewer "
             f"images per step (the misclassified ones left out)."]
    if a == YES:
        out.append(f"It lowers IAT's clean MCS ({values}) without any clean input: consistent "
                   f"with the label leak (the IAA examples of misclassified images raise IAT's "
                   f"clean MCS), though leaving the hardest images out also changes what the "
                   f"network trains on.")
        if lowered.get(CORRECT_ONLY) == NO:
            out.append(f"{co} raises it, so the two tests of the leak disagree.")
        elif not co_yes:
            out.append(f"{co} is not shown to lower it.")
    elif a == NO:
        if co_yes and lowered.get(CLEAN_CE) == YES:
            out.append(f"It raises IAT's clean MCS ({values}): leaving the label-leaking examples "
                       f"out without clean inputs does not lower it, while both variants that "
                       f"add clean inputs do, so on their face the records favour the missing "
                       f"clean inputs over the label leak.")
        else:
            out.append(f"It raises IAT's clean MCS ({values}): leaving the label-leaking "
                       f"examples out without clean inputs does not lower it.")
    else:
        out.append(f"It is not shown to lower IAT's clean MCS ({values}; the intervals "
                   f"overlap): at this sample size, leaving the label-leaking examples out "
                   f"without clean inputs is not shown to reproduce the effect.")
    # The confound of leaving images out: the network no longer learns the misclassified ones.
    if v_less(get(dm, "clean", "accuracy"), get("IAT", "clean", "accuracy")) == R:
        (dm_acc, iat_acc), (dm_conf, iat_conf) = [
            (value(dm, "clean", k), value("IAT", "clean", k)) for k in ("accuracy", "confidence")]
        out.append(
            f"Its clean accuracy is also lower than IAT's (ACC {f3(dm_acc)} vs {f3(iat_acc)}, "
            f"CONF {f3(dm_conf)} vs {f3(iat_conf)})"
            + (": more of its MCS difference from IAT comes from lost accuracy than from "
               "changed confidence" if a == NO and iat_acc - dm_acc > abs(dm_conf - iat_conf)
               else "")
            + ". Left out of training, the misclassified images are not learned, so this test "
              "of the leak is confounded with the accuracy it costs.")
    than_co = answer(v_greater(mcs(dm), mcs(co)))
    if than_co == YES:
        out.append(f"Its clean MCS is above that of {co}, which adds the misclassified images' "
                   f"clean inputs.")
    elif than_co == NO:
        out.append(f"Its clean MCS is below that of {co}.")
    else:
        out.append(f"Its clean MCS is not shown to differ from that of {co} (the intervals "
                   f"overlap).")
    return " ".join(out)


def ablation_reading(lowered, label, get, absm, value):
    """What the variants that change IAT's training data say together, from their answers:
    whether both the correct-only and the clean-CE variant lower IAT's clean MCS (then the
    correct-only test does not single the label leak out), what the drop-misclassified variant
    adds (drop_reading), whether their clean MCS is shown above PT's, and how their MCS under
    IAA and under PGD compares with IAT's. When the correct-only variant does not lower IAT's
    clean MCS, only the drop-misclassified reading (empty without its records). `get` gives a
    record's interval, `value` its estimate."""
    co, cc, dm = label(CORRECT_ONLY), label(CLEAN_CE), label(DROP)
    mcs = lambda m, a="clean": get(m, a, "mcs")
    shown = lambda ms, a: ", ".join(f"{m} {s3(value(m, a, 'mcs'))}" for m in ms)
    acc_conf = lambda ms: ", ".join(f"{m} {f3(value(m, 'clean', 'accuracy'))} / "
                                    f"{f3(value(m, 'clean', 'confidence'))}" for m in ms)
    separated = drop_reading(lowered, co, dm, mcs, shown, acc_conf, get, value)
    tail = ("Each model is one training run (seed 0): the intervals cover the test images, "
            "not run-to-run variation.")
    if lowered.get(CORRECT_ONLY) != YES:
        return f"\n**Reading.** {separated} {tail}\n" if separated else ""
    both = lowered.get(CLEAN_CE) == YES
    fixed = [co] + ([cc] if both else []) + ([dm] if lowered.get(DROP) == YES else [])
    parts = ["**Reading.**"]
    if both:
        parts.append(
            f"Both changes lower IAT's clean MCS ({shown(['IAT', co, cc, 'PT'], 'clean')}), so "
            f"the correct-only test does not single out the leak. {co} trains its misclassified "
            f"training images on clean inputs instead of their IAA examples; {cc} keeps every "
            f"IAA example, the label-leaking ones included, weights the IAA term 1 − w and adds "
            f"a clean term. Both put clean images into training (and into the train-mode "
            f"BatchNorm batch) and both weaken the leak, so the records fit the reading that IAT "
            f"is overconfident because it never trains on clean inputs as well as they fit the "
            f"label leak.")
        if separated:
            parts.append(separated)
    elif cc is not None and lowered.get(CLEAN_CE) is not None:
        if lowered.get(DROP) == NO:
            parts.append(f"{cc}, which keeps the label-leaking examples and adds clean inputs, "
                         f"is not shown to lower IAT's clean MCS either.")
        else:
            parts.append(f"{cc}, which keeps the label-leaking examples and adds clean inputs, "
                         f"is not shown to lower IAT's clean MCS: the records favour the label "
                         f"leak over a missing clean term.")
        if separated:
            parts.append(separated)
    elif separated:
        parts.append(separated)
    above = [m for m in fixed if answer(v_greater(mcs(m), mcs("PT"))) == YES]
    overlap = [m for m in fixed if m not in above]
    if overlap:
        parts.append(f"The clean MCS of {join_words(overlap)} is not shown to be above PT's "
                     f"(the intervals overlap).")
    if above:
        parts.append(f"The clean MCS of {join_words(above)} stays above PT's.")
    further = [m for m in fixed if answer(v_less(absm(m, "iaa"), absm("IAT", "iaa"))) == NO]
    if further:
        parts.append(
            f"Under IAA, the MCS of {join_words(further)} is further from 0 than IAT's "
            f"({shown(further + ['IAT'], 'iaa')}).")
    for word, v in (("more", v_greater), ("less", v_less)):
        under_pgd = [m for m in fixed if answer(v(mcs(m, "pgd"), mcs("IAT", "pgd"))) == YES]
        if under_pgd:
            parts.append(f"Under PGD, {join_words(under_pgd)} "
                         f"{'is' if len(under_pgd) == 1 else 'are'} {word} overconfident than "
                         f"IAT ({shown(under_pgd + ['IAT'], 'pgd')}).")
    parts.append(tail)
    return "\n" + " ".join(parts) + "\n"


def ablation(res):
    title = "### IAT ablation: is IAT overconfident on clean data, and why?\n\n"
    recs = res.data.get("iat-ablation") or []
    what = ("Four IAT variants, fine-tuned exactly like IAT, beside PT and IAT: IAA examples "
            "only from correctly classified training images (the others are trained on clean); "
            "the same IAA examples with the misclassified images left out of training (no clean "
            "input); a clean cross-entropy term beside the IAA term; IAA generated with "
            "train-mode BatchNorm. Each model has a clean, a PGD and an IAA (λ = 5) record at "
            "ε = 8/255.")
    if not res.has("iat-ablation"):
        return title + res.pending("iat-ablation", what)
    d = res.derived
    yg = d.y_g(5.0, K_CIFAR)
    drop = d.const("anchor.acc_drop")
    models = models_in(recs)
    label = lambda prefix: next((m for m in models if isinstance(m, str)
                                 and m.startswith(prefix)), None)
    get = lambda m, a, k: iv(pick(recs, model=m, attack=a), k) if m else None
    absm = lambda m, a: abs_iv(get(m, a, "mcs"))
    has = lambda m: m is not None and pick(recs, model=m, attack="clean") is not None

    def q(text, verdict, how=""):
        return f"* **{text}** *{verdict}*." + (f" {how}" if how else "")

    lines = [
        q("Is IAT overconfident on clean data (clean MCS > 0)?",
          answer(v_threshold(get("IAT", "clean", "mcs"), ">", 0))),
        q("Is IAT more overconfident than PT on clean data (clean MCS above PT's)?",
          answer(v_greater(get("IAT", "clean", "mcs"), get("PT", "clean", "mcs")))),
    ]
    lowered = {}
    for prefix, change in ((CORRECT_ONLY, "restricting the IAA examples to correctly "
                                          "classified images"),
                           (DROP, "leaving the misclassified images out without a clean "
                                  "input"),
                           (CLEAN_CE, "a clean CE term")):
        v = label(prefix)
        if not has(v):
            lines.append(f"* **Does {change} lower IAT's clean MCS?** *not tested* "
                         f"(no `{prefix}` records).")
            continue
        lowered[prefix] = answer(v_less(get(v, "clean", "mcs"), get("IAT", "clean", "mcs")))
        lines.append(q(f"Does {change} ({v}) lower IAT's clean MCS?", lowered[prefix],
                       f"Closer to 0 (smaller clean |MCS|): "
                       f"*{answer(v_less(absm(v, 'clean'), absm('IAT', 'clean')))}*; lower "
                       f"clean ECE: "
                       f"*{answer(v_less(get(v, 'clean', 'ece'), get('IAT', 'clean', 'ece')))}*; "
                       f"IAA MCS closer to 0: "
                       f"*{answer(v_less(absm(v, 'iaa'), absm('IAT', 'iaa')))}*."))
    v = label(TRAIN_BN)
    if has(v):
        diffs = [f"{a} {name}" for a in ("clean", "pgd", "iaa")
                 for name, k in (("ACC", "accuracy"), ("CONF", "confidence"), ("MCS", "mcs"))
                 if v_differs(get(v, a, k), get("IAT", a, k)) == YES]
        lines.append(q(f"Does generating the IAA examples with train-mode BatchNorm ({v}) change "
                       f"anything?", YES if diffs else NOT_SHOWN,
                       f"Differs from IAT in: {join_words(diffs)}." if diffs else
                       "No ACC, CONF or MCS of its clean, PGD and IAA records differs from "
                       "IAT's beyond the intervals."))
    else:
        lines.append(f"* **Does train-mode BatchNorm change anything?** *not tested* "
                     f"(no `{TRAIN_BN}` records).")
    hyp = lowered.get(CORRECT_ONLY)
    hyp_drop = lowered.get(DROP)
    value = lambda m, a, k: pick(recs, model=m, attack=a)[k]
    reading = ablation_reading(lowered, label, get, absm, value) if has("PT") and has("IAT") \
        else ""
    # Leaving the misclassified images out without clean inputs (drop) is the decisive test of
    # the leak; correct-only, which adds their clean inputs, qualifies it.
    dm, co = label(DROP) or DROP, label(CORRECT_ONLY) or CORRECT_ONLY
    does = lambda m, a: ({YES: f"{m} lowers it", NO: f"{m} raises it"}.get(
        a, f"{m} is not shown to lower it") if a else f"no `{m}` records")
    both = f"{does(dm, hyp_drop)}; {does(co, hyp)}"
    hyp_line = ("**The label-leak hypothesis** predicts that removing the label-leaking examples "
                f"lowers IAT's clean MCS, with clean inputs in their place ({co}) and without "
                f"({dm}): " + (
                    "*supported* (both do)" if hyp_drop == YES and hyp == YES else
                    f"*mixed* ({both})" if hyp_drop == YES and hyp == NO else
                    f"*supported* by {dm} alone ({both})" if hyp_drop == YES else
                    f"*contradicted* ({both})" if NO in (hyp_drop, hyp) else
                    f"*not tested* ({both})" if hyp_drop is None else
                    f"*not shown* at this sample size, the intervals overlap ({both})") + ".")
    # What the paper promises of IAT, asked of IAT and of each variant.
    candidates = [m for m in ["IAT"] + [label(p) for p in (CORRECT_ONLY, DROP, CLEAN_CE,
                                                           TRAIN_BN)]
                  if has(m)]
    rows, delivers = [], []
    for m in candidates:
        clean_cal = v_all([v_less(absm(m, "clean"), absm("PT", "clean")),
                           v_less(get(m, "clean", "ece"), get("PT", "clean", "ece"))])
        iaa_cal = v_all([v_less(absm(m, "iaa"), absm("PT", "iaa")),
                         v_less(get(m, "iaa", "ece"), get("PT", "iaa", "ece"))])
        acc = v_not_much_lower(get(m, "clean", "accuracy"), get("PT", "clean", "accuracy"), drop)
        overall = v_all([clean_cal, iaa_cal, acc])
        rows.append([m, f"*{answer(clean_cal)}*", f"*{answer(iaa_cal)}*", f"*{answer(acc)}*",
                     f"**{answer(overall)}**"])
        delivers.append((m, answer(overall)))
    yes = [m for m, a in delivers if a == YES]
    no = [m for m, a in delivers if a == NO]
    if not candidates or not has("PT"):
        summary = "Not answered: the PT or IAT records are missing."
    elif yes:
        options = [f"{m}: `{opt}`" for prefix, opt in ABLATION_OPTIONS
                   for m in yes if m.startswith(prefix)]
        summary = (f"Delivers what the paper promises: {join_words(yes)}."
                   + (f" The variants are options of `Iat`, documented as going beyond the "
                      f"paper ({'; '.join(options)})." if options else ""))
    else:
        summary = ("No model is shown to deliver what the paper promises"
                   + (f"; shown not to: {join_words(no)}" if no else "") + ".")
    promise = md_table(["model", "clean: |MCS| and ECE below PT's",
                        "IAA: |MCS| and ECE below PT's",
                        f"clean ACC at most {fk(drop, 2)} below PT's", "delivers"], rows)
    return title + f"""{what}

**The hypothesis tested** (from the issue, not the paper). IAT (Eq. 12) trains on IAA examples
only, with no clean term. IAA's minimum puts the true class on top with probability
y_G = (1 + λ/K)/(1 + λ) = {yg:.4f} (K = {K_CIFAR}, λ = 5): on a training image whose
true-class probability is below y_G IAA raises it, and on a misclassified image it moves the
prediction to the true label wherever the ε-ball allows. For those images the IAA example is a
label-leaking, helpful perturbation, so IAT may fit an easier input distribution that carries
the label and end up overconfident on clean inputs. If so, training on IAA examples of correctly
classified images only should lower IAT's clean MCS, and a clean CE term should too.
Both of these also add clean inputs, so the drop-misclassified variant removes the
label-leaking examples without adding any: if the leak is the cause, it should lower IAT's clean
MCS as well.
Train-mode BatchNorm during generation is an independent change.

{records_table(recs)}

Answers (n = {n_of(recs)}; beyond the paper, so *yes* / *no* / *not shown* by the interval
rules above):

{chr(10).join(lines)}

{hyp_line}
{reading}
**Does any variant deliver what the paper promises?** Better calibrated than PT on clean data
and under IAA (|MCS| and ECE both below PT's, disjoint intervals), with a clean accuracy at most
{fk(drop, 2)} below PT's (judged on the conservative interval of the difference, as stated
above). *yes* needs every part, *no* follows from any part contradicted:

{promise}

{summary} {ECE_NOTE}
""" + eq2_block(res, "iat-ablation", "IAT ablation", ["model"],
                [([m], {"model": m}) for m in models])


def finetune(res):
    title = "### Fine-tuning versus training from scratch\n\n"
    what = ("PGD-AT fine-tuned from the base plain model (the shortcut every strategy on this "
            "page uses) against PGD-AT trained from scratch for the base model's epochs: "
            "clean, PGD and IAA records at ε = 8/255.")
    if not res.has("finetune-vs-scratch"):
        return title + res.pending("finetune-vs-scratch", what)
    recs = res.data["finetune-vs-scratch"]
    # The fine-tuned model first, the one from scratch (labelled "PGD-AT (scratch, N epochs)"
    # by the paper binary) second, whatever the records' order.
    models = sorted(models_in(recs), key=lambda m: str(m).startswith("PGD-AT (scratch"))
    d = res.derived
    lines = []
    if len(models) == 2:
        ft, sc = models
        for attack in ("clean", "pgd", "iaa"):
            a, b = pick(recs, model=ft, attack=attack), pick(recs, model=sc, attack=attack)
            parts = [f"{k} *{v_differs(iv(a, key), iv(b, key))}*"
                     for k, key in (("ACC", "accuracy"), ("CONF", "confidence"),
                                    ("ECE", "ece"), ("MCS", "mcs"))]
            lines.append(f"* **The shortcut changes the result, {attack}**: "
                         + "; ".join(parts) + ".")
        lines.append(f"* Models compared: first *{ft}*, then *{sc}*.")
    anchor = d.const("anchor.pgdat_pgd_acc")
    for m in models:
        r = pick(recs, model=m, attack="pgd")
        lines.append(claim(f"{m} keeps ≥ {fk(anchor, 2)} accuracy under PGD-10 at ε = 8/255",
                           "literature anchor, not a claim of the paper",
                           f"*{v_threshold(iv(r, 'accuracy'), '>=', anchor)}*", iaa=False))
    reading = finetune_reading(recs, *models) if len(models) == 2 else ""
    return title + f"""{what}

{records_table(recs)}

Verdicts (n = {n_of(recs)}; "changes" is answered *yes* when the two intervals are disjoint):

{chr(10).join(lines)}
{reading}
{ECE_NOTE}
""" + eq2_block(res, "finetune-vs-scratch", "Fine-tuning versus training from scratch",
                ["model"], [([m], {"model": m}) for m in models])


def finetune_reading(recs, ft, sc):
    """What the shortcut does to PGD-AT, from the records of the fine-tuned model `ft` and the
    one trained from scratch `sc`: how its clean and PGD accuracy compare (interval rules),
    whether the MCS keeps its sign in each record (both intervals on one side of 0), flips it
    (on opposite sides) or is not shown to have one, and how far from 0 the MCS under IAA is.
    Empty when a record or an interval is missing."""
    attacks = ("clean", "pgd", "iaa")
    get = lambda m, a: pick(recs, model=m, attack=a)
    if any(iv(get(m, a), k) is None or get(m, a).get(k) is None for m in (ft, sc)
           for a in attacks for k in ("accuracy", "mcs")):
        return ""

    def compare(a):
        x, y = iv(get(ft, a), "accuracy"), iv(get(sc, a), "accuracy")
        word = {R: "lower", N: "higher"}.get(v_less(x, y), "not shown to differ")
        return word, (f"{word} ({f3(get(ft, a)['accuracy'])} vs "
                      f"{f3(get(sc, a)['accuracy'])})")

    def side(m, a):
        lo, hi = iv(get(m, a), "mcs")
        return "+" if lo > 0 else "−" if hi < 0 else None

    def records(items):
        return f"{join_words(items)} record{'s' if len(items) != 1 else ''}"

    # Per record: the MCS sign of (ft, sc), None where an interval includes 0.
    sides = {a: (side(ft, a), side(sc, a)) for a in attacks}
    unshown = [a for a in attacks if None in sides[a]]
    kept = [a for a in attacks if a not in unshown and sides[a][0] == sides[a][1]]
    flipped = [a for a in attacks if a not in unshown + kept]
    if len(kept) == len(attacks):
        signs = ("The MCS has the same sign for both in all three records, each interval "
                 "excluding 0: at ε = 8/255, whether PGD-AT reads as over- or underconfident "
                 "does not depend on the shortcut.")
    else:
        signs = " ".join(
            [f"The MCS keeps its sign (each interval excluding 0) in the {records(kept)}."
             if kept else "The MCS keeps its sign in no record."]
            + ([f"It flips sign in the {records(flipped)}: there the shortcut decides whether "
                f"PGD-AT reads as over- or underconfident."] if flipped else [])
            + ([f"In the {records(unshown)} an interval includes 0."] if unshown else []))
    iaa = {R: "closer to 0", N: "further from 0"}.get(
        v_less(abs_iv(iv(get(ft, "iaa"), "mcs")), abs_iv(iv(get(sc, "iaa"), "mcs"))),
        "not shown to differ in distance from 0")
    clean_word, clean = compare("clean")
    pgd_word, pgd = compare("pgd")
    lowered = [what for what, word in (("clean accuracy", clean_word),
                                       ("accuracy under PGD", pgd_word)) if word == "lower"]
    cost = (f" The adversarial strategies of Figs. 4–8 and Table 1 are fine-tuned the same way, "
            f"so their {join_words(lowered)} may well be below what training from scratch "
            f"would give, as PGD-AT's {'are' if len(lowered) > 1 else 'is'}."
            if lowered else "")
    return (f"\n**Reading.** Against {sc}, the clean accuracy of {ft} is {clean} and its "
            f"accuracy under PGD {pgd}. {signs} Under IAA its MCS is {iaa} "
            f"({s3(get(ft, 'iaa')['mcs'])} vs {s3(get(sc, 'iaa')['mcs'])}).{cost} One training "
            f"run per model (seed 0): the intervals cover the test images, not run-to-run "
            f"variation.\n")


def beyond(res):
    return ("## Beyond the paper\n\nTwo experiments the paper does not contain: one asks why "
            "IAT behaves as it does, the other measures this page's training shortcut.\n\n"
            + ablation(res) + "\n" + finetune(res))


def table2(res):
    title = "## Table 2 — IAA versus UCA on Tiny ImageNet (the paper's table is empty)\n\n"
    n_train = res.train_images("table2-base")
    count = f"{n_train:,} " if n_train else ""
    what = (f"The five strategies of the paper's Table 2 (no CCAT) trained on the {count}Tiny "
            "ImageNet-200 training images available here, IAA (λ = 5) and UCA at one radius, "
            "K = 200 classes. In the `cifar` preset the network is the quarter-width ResNet-18 "
            "of the CIFAR-10 experiments with a stride-2 stem (`stem_stride = 2`, the preset's "
            "`stem_stride_64`): on 64×64 images its four stages see the 32×32 network's "
            "feature maps, so a Tiny ImageNet image costs what a CIFAR-10 image does, a "
            "quarter of the stride-1 network's compute. The `paper` preset keeps stride 1.")
    if not res.has("table2"):
        return title + res.pending("table2", what)
    recs = res.data["table2"]
    d = res.derived
    trained_text, untrained = table2_training(res)
    yg = d.y_g(5.0, K_TINY)
    stated = d.const("paper.table2.y_g")
    iaa = {m: pick(recs, model=m, attack="iaa") for m in FIVE}
    pos = summarize_models([(m, optimum_position(r, yg)) for m, r in iaa.items() if r],
                           label=position_label)
    cc = md_table(["model", "IAA CONF", "IAA CONF | correct", "IAA ACC"],
                  [[m, metric(r, "confidence"), metric(r, "correct_confidence"),
                    metric(r, "accuracy")] for m, r in iaa.items() if r])
    uca = {m: pick(recs, model=m, attack="uca") for m in FIVE}
    side = md_table(["model", "MCS under IAA (ours)", "MCS under UCA (ours)",
                     "the paper's Table 2"],
                    [[m, metric(iaa[m], "mcs") if iaa[m] else "—",
                      metric(uca[m], "mcs") if uca[m] else "—", "empty"]
                     for m in FIVE if iaa[m] or uca[m]])
    return title + f"""{what} Radius: ε = {join_words(eps_str(e) for e in grid(recs))}.
The training runs' CPU wall times and peak memory are the `table2-*` rows of *Training runs*.

{res.plot("table2", "Table 2")}
{records_table(recs)}

{table2_caveat(recs, n_train)}

{trained_text}

Ours beside the paper's Table 2, which holds no numbers:

{side}

The paper's Table 2 is empty, so there is nothing to match numerically. The IAA optimum for
K = {K_TINY} and λ = 5 is y_G = (1 + λ/K)/(1 + λ) = {yg:.4f} (the paper states {stated:.4f},
which is the value for K = 1000). IAA's confidence over the images it leaves correctly
classified (CONF | correct, the quantity y_G predicts) beside its confidence over all images:

{cc}

{OPTIMUM_COLUMN}: {pos}. {OPTIMUM_NOTE} {OPTIMUM_INPUT_SPACE}

Our verdicts (n = {n_of(recs)}):

{chr(10).join(iaa_vs_uca_claims(recs, FIVE, untrained))}

The paper's other claims, asked of the same records on Tiny ImageNet (beyond its Table 2, which
states none of them):

{chr(10).join(table2_beyond(recs, untrained))}
""" + eq2_block(res, "table2", "Table 2", ["model"],
                [([m], {"model": m}) for m in FIVE if pick(recs, model=m, attack="clean")])


# What Eq. 2's IAA is, and why the page shows it beside Algorithm 1 (*The claims under Eq. 2's
# IAA*).
EQ2_ABOUT = (
    "**Two IAAs.** Every claim of *Verdicts at a glance* and of the sections, and every table "
    "and plot not marked Eq. 2, uses the paper's printed Algorithm 1 (records `iaa`): it "
    "returns the last of its sign steps, and nothing keeps that point correctly classified, so "
    "some images end up misclassified and IAA's MCS then moves with the accuracy as well as "
    "with the confidence. The paper's Eq. 2 asks for the least confident point that the model "
    f"still classifies correctly. The library's default IAA (records `{EQ2}`) selects it per "
    "image: among the points it evaluates, the clean image included, it keeps the least "
    "confident one predicted as the true class (so its accuracy is never below the clean "
    "accuracy), with an APGD step schedule and twice Algorithm 1's steps "
    "(`../../shared/docs/algorithms.md`, *Eq. 2's constraint: best feasible iterate*). Only the "
    "evaluation changes: the models are the same, and those trained on IAA examples (IAT, "
    "AT+IAT and the ablation's variants) were all trained with Algorithm 1's IAA.")


# Why IAA's CONF | correct can miss y_G: one paragraph, shared by the sections that compare them.
OPTIMUM_INPUT_SPACE = (
    "y_G is where the loss L = CE(p, y) + λ·CE(p, uniform) is smallest over probability "
    "vectors: its derivative in the true-class logit, (1 + λ)·p_y − 1 − λ/K, vanishes there "
    "whatever the other classes' shares. IAA moves the image, not the logits, and only inside "
    "the ε-ball, for a fixed number of steps. The simplest reason CONF | correct can end below "
    "y_G: an image that IAA turned from wrong to right started with p_y below y_G, counts as "
    "correct as soon as p_y is the largest share, and may stop short of y_G when the steps run "
    "out. A further possibility: where the network couples p_y to how evenly the other K − 1 "
    "classes share the rest, the smallest loss the ball reaches may sit below y_G (p_y given up "
    "for a more even spread). A network that the ball cannot move far enough stays above it.")


# The training runs of Table 2's five models (scripts/cifar-runs.txt's names).
TABLE2_RUNS = {"PT": "table2-pt", "PGD-AT": "table2-pgd-at", "ACE-AT": "table2-ace-at",
               "IAT": "table2-iat", "AT+IAT": "table2-at-iat"}


def table2_training(res):
    """Which of Table 2's models did not train, by a stated criterion on the last epoch of
    each run's history.json (the training accuracy on the examples the strategy trains on, and
    its training loss): (the paragraph that says so, the set of models that did not train).
    Models without a history are not judged."""
    d = res.derived
    acc_min, loss_max = d.const("anchor.table2_train_acc"), d.const("anchor.table2_chance_loss")
    found = {}
    for m, run in TABLE2_RUNS.items():
        path = next((p for name, p, _, _ in res.runs if name == run), None)
        if path is None:
            continue
        hist = path.parent / (path.name[:-len("run.json")] + "history.json")
        acc, loss = d.history(hist, "train_accuracy"), d.history(hist, "train_loss")
        if acc is not None and loss is not None:
            found[m] = (run, acc, loss)
    untrained = {m for m, (_, acc, loss) in found.items() if acc < acc_min or loss > loss_max}
    rule = (f"**Models that did not train.** A model of this table counts as not trained when "
            f"the last epoch of its training run has a training accuracy below "
            f"{fk(acc_min, 2)} on the examples it trains on (PGD examples for PGD-AT and "
            f"ACE-AT, PGD and IAA examples for AT+IAT, IAA examples for IAT), or a training "
            f"loss (the strategy's own) above 0.9 × ln {K_TINY} = {loss_max:.3f}, within 10 % of "
            f"a uniform prediction's {d.const('anchor.ln200'):.3f} (`derived.json`, "
            f"`anchor.table2_*`). A verdict that compares such a model is *{UNINFORMATIVE}*: it "
            f"is shown with what the intervals alone give, and not counted in *Verdicts at a "
            f"glance*.")
    if not found:
        return (rule + f" No training history of these runs was found "
                f"(`weights/table2-<model>.history.json`), so no model is judged and every "
                f"verdict counts.", set())
    rows = [[m, f"`{run}`", f3(acc), f3(loss), "no" if m in untrained else "yes"]
            for m, (run, acc, loss) in found.items()]
    missing = [m for m in TABLE2_RUNS if m not in found]
    not_trained = join_words(m for m in TABLE2_RUNS if m in untrained)
    verdict = (f"Not trained by this criterion: {not_trained}." if untrained
               else "Every model with a history trained by this criterion.")
    if missing:
        verdict += f" No history of {join_words(missing)}: not judged."
    why = table2_not_retrained(res, untrained) if untrained else ""
    if why:
        verdict += "\n\n" + why
    return (rule + "\n\n" + md_table(["model", "run", "last-epoch training ACC",
                                       "last-epoch training loss", "trained"], rows)
            + "\n\n" + verdict, untrained)


def table2_not_retrained(res, untrained):
    """Why Table 2 is not retrained with a budget that makes its untrained models learn: their
    training accuracy after the first epoch, three epochs before the end and the last epoch (it
    rose while the learning rate was high and flattened as the schedule took it to zero) and
    the hours each run took, read from the runs' histories and run.json."""
    d = res.derived
    parts = []
    for m in (m for m in TABLE2_RUNS if m in untrained):
        path = next((p for name, p, _, _ in res.runs if name == TABLE2_RUNS[m]), None)
        if path is None:
            continue
        hist = path.parent / (path.name[:-len("run.json")] + "history.json")
        try:
            epochs = len(json.loads(hist.read_text()))
            seconds = json.loads(path.read_text())["train_seconds"]
        except (OSError, ValueError, KeyError, TypeError):
            continue
        if epochs < 8:
            continue
        accs = [d.history(hist, "train_accuracy", e) for e in (0, -4, -1)]
        if any(a is None for a in accs):
            continue
        run = Path(os.path.relpath(path, d.dir)).as_posix() if d.dir else str(path)
        hours = d.hours(run, seconds)
        parts.append(f"{m}'s training accuracy rose from {f3(accs[0])} after epoch 1 to {f3(accs[1])} after "
                     f"epoch {epochs - 3}, then only to {f3(accs[2])} after epoch {epochs} "
                     f"({hours:.2f} h of training, contention included)")
    if not parts:
        return ""
    return (f"**Why Table 2 is not retrained.** {'; '.join(parts)}. It flattened as the cosine schedule took the learning rate "
            f"to zero, so a longer schedule (or more than the 100 images per class here, of "
            f"the full Tiny ImageNet training set's 500, or a warmed-up radius) might make "
            f"these models learn; whether it does is not tested in this round, because the "
            f"machine's two cores go first to the CIFAR-10 runs that decide the title claim "
            f"(IAT on Eq. 2's examples, three seeds, the calibration baselines). The verdicts "
            f"that compare these models stay *{UNINFORMATIVE}*.")


def table2_caveat(recs, n_train=None):
    """What Table 2's models are, read off their clean records (and the training-set size of
    their runs' histories): weak, so IAA's MCS mixes the confidence it removes with the
    accuracy it adds."""
    pt = pick(recs, model="PT", attack="clean")
    pt_iaa = pick(recs, model="PT", attack="iaa")
    if not pt or not pt_iaa:
        return ""
    size = (f"The training set here is {n_train:,} images ({n_train // K_TINY:,} per class), "
            f"and " if n_train else "")
    weak = (f"{size}PT reaches a clean accuracy of {metric(pt, 'accuracy')} on the "
            f"validation images.")
    if v_greater(iv(pt_iaa, "accuracy"), iv(pt, "accuracy")) != R:
        return weak
    return (f"{weak} On so weak a model IAA's loss pushes every class "
            f"towards its share at the optimum, the true class towards y_G and each other class "
            f"towards λ/(K(1 + λ)), so a wrong top class is pushed down and many misclassified "
            f"images become correct: PT's accuracy under IAA is {metric(pt_iaa, 'accuracy')}. Each MCS under IAA below therefore "
            f"mixes the confidence IAA removes with the accuracy it adds; CONF | correct, "
            f"further down, isolates the first.")


def table2_beyond(recs, untrained=()):
    """Table 2's records asked the paper's clean-calibration and Fig. 6 claims, and whether IAA
    raises accuracy; verdicts comparing a model of `untrained` flagged *uninformative*."""
    get = lambda m, a, k: iv(pick(recs, model=m, attack=a), k)
    present = [m for m in FIVE if pick(recs, model=m, attack="clean")]
    under_iaa = lambda m: abs_iv(get(m, "iaa", "mcs"))
    return clean_calibration_claims(recs, untrained) + [
        claim(f"IAT resists IAA best: its MCS under IAA is the closest to 0 of the "
              f"{number_word(len(present))}",
              "Fig. 6's claim",
              flag_untrained(
                  f"*{v_smallest(under_iaa('IAT'), [under_iaa(m) for m in present if m != 'IAT'])}*",
                  [m for m in present if m in untrained])),
        "* Does IAA raise accuracy above the clean accuracy (beyond the paper; the label leak of "
        "its CE term)? " + summarize_models(
            [(m, UNINFORMATIVE if m in untrained else
              answer(v_greater(get(m, "iaa", "accuracy"), get(m, "clean", "accuracy"))))
             for m in present]) + ".",
    ]


def not_shown(res):
    seeds = render_calibration.train_seeds(res)
    items = [
        "Seed-to-seed variation: every model was trained once (seed 0); the intervals cover "
        "the test images only." if len(seeds) < 2 else
        f"Seed-to-seed variation beyond the models of *IAT on Eq. 2's inverse adversarial "
        f"examples* (seeds {join_words(map(str, seeds))}): every other model was trained once "
        f"(seed 0), and its intervals cover the test images only.",
        "The paper's scale: full-width ResNet-18 trained from scratch on all CIFAR-10 images; "
        "here a quarter-width network, fine-tuned strategies and fewer epochs.",
        "ImageNet experiments (the paper's Fig. 1 and its Fig. 8 gallery on ImageNet VGG-19): "
        "no ImageNet weights or data are available here.",
        "Paired tests: records on the same test images are compared through their marginal "
        "intervals, which is conservative.",
        "Attacks stronger than PGD-10 (more steps, restarts, AutoAttack): robustness numbers "
        "are upper bounds." if not res.has("robustness-apgd") else
        "AutoAttack in full (its targeted attacks and Square) and restarts: *Robustness under "
        "APGD* runs APGD-CE and APGD-DLR only, so its robust accuracies, too, are upper "
        "bounds.",
    ]
    if not res.has("table2"):
        items.append("Table 2 (Tiny ImageNet): not run yet.")
    return "## What this page does not show\n\n" + "\n".join(f"* {i}" for i in items) + "\n"


# The calibration experiments beyond the paper live in their own module, which uses this one's
# helpers (bind: run as a script, this module is __main__ and cannot be imported back).
sys.dont_write_bytecode = True  # no __pycache__ in scripts/
import render_calibration  # noqa: E402
render_calibration.bind(sys.modules[__name__])

SECTIONS = [header, verdict_rules, commands, setup, training, clean_models, fig4, fig5, fig6,
            fig7, table1, table3, vgg_warmup, fig8, beyond, render_calibration.calibration,
            table2, not_shown]


def slug(title):
    """The anchor GitHub gives a heading: lower case, punctuation and symbols dropped, spaces to
    hyphens."""
    return re.sub(r"[^\w\- ]", "", title.lower()).replace(" ", "-")


def verdict_kinds(verdict):
    """The verdicts a claim's summary states, its parenthesised parts (a composite claim's parts,
    the span of radii) left out."""
    head = re.sub(r"\([^)]*\)", "", verdict)
    return {v for v in (R, N, I) if f"*{v}*" in head}


def glance(rows):
    """*Verdicts at a glance*: every claim of the page, its section and its verdict."""
    if not rows:
        return ""
    kinds = [verdict_kinds(v) for _, _, _, v in rows]
    # A claim whose only verdict is *uninformative* (it compares a model that did not train) is
    # listed, not counted.
    uninformative = sum(1 for (_, _, _, v), k in zip(rows, kinds)
                        if not k and v.startswith(f"*{UNINFORMATIVE}*"))
    pending = sum(1 for (_, _, _, v), k in zip(rows, kinds)
                  if not k and v.startswith(f"*{PENDING}*"))
    for (_, text, _, v), k in zip(rows, kinds):
        if not k and not v.startswith((f"*{UNINFORMATIVE}*", f"*{PENDING}*")):
            raise RuntimeError(f"claim without a verdict: {text}: {v}")
    count = lambda pred: sum(1 for k in kinds if k and pred(k))
    counted = len(rows) - uninformative - pending
    left_out = [f"{n} {what}" for n, what in (
        (uninformative, f"of them *{UNINFORMATIVE}* (they compare a model that did not train)"),
        (pending, f"*{PENDING}* (their records are still to come)")) if n]
    tally = ((f"{len(rows)} claims, {'; '.join(left_out)}, not counted; of the other "
              f"{counted}: " if left_out else f"{len(rows)} claims: ")
             + f"{count(lambda k: k == {R})} *reproduced* wherever tested, "
             f"{count(lambda k: k == {N})} *not reproduced* wherever tested, "
             f"{count(lambda k: k == {I})} *inconclusive* wherever tested, "
             f"{count(lambda k: len(k) > 1)} with verdicts that depend on the radius or model")
    table = md_table(["section", "claim", "source", "verdict"],
                     [[f"[{sec.split(' — ')[0]}](#{slug(sec)})", text, ref, v]
                      for sec, text, ref, v in rows])
    return f"""## Verdicts at a glance

Every claim tested on this page, with the verdict its section gives (the rules are under *How
to read the verdicts*; the section holds the records and intervals behind each). Table 2's
claims are tested on Tiny ImageNet-200, every other on CIFAR-10. The IAT ablation's questions,
which go beyond the paper, are answered in its own section. {tally}.

{table}
"""


# The sections whose claims ask IAA records, asked again of Eq. 2's IAA (eq2_claims), and the
# experiments that hold Eq. 2's IAA records (every IAA figure and table but Fig. 8's gallery).
EQ2_SECTIONS = [fig4, fig5, fig6, table1, table3, table2]
EQ2_EXPERIMENTS = ["fig4", "fig5", "fig6", "table1", "table3", "iat-ablation",
                   "finetune-vs-scratch", "table2"]


def section_claims(section, res):
    """A section's text and its claims [(heading, text, ref, verdict)] in page order, the
    heading being the one above the claim's line."""
    start = len(CLAIMS)
    text = section(res)
    lines = text.splitlines()
    found = []
    for claim_text, ref, verdict in CLAIMS[start:]:
        at = next((i for i, line in enumerate(lines)
                   if line.startswith(claim_prefix(claim_text, ref))), None)
        if at is None:
            raise RuntimeError(f"claim not printed by {section.__name__}: {claim_text}")
        heading = next((lines[i].lstrip("# ").strip() for i in range(at, -1, -1)
                        if lines[i].startswith(("## ", "### "))), None)
        found.append((at, heading, claim_text, ref, verdict))
    return text, [row[1:] for row in sorted(found, key=lambda row: row[0])]


def eq2_rows(res):
    """The IAA claims of EQ2_SECTIONS asked of Eq. 2's IAA: the same section functions run on
    res.eq2() (their text discarded, their claims kept out of CLAIMS), the claims that ask no
    IAA record left out."""
    start = len(CLAIMS)
    view = res.eq2()
    rows = [row for section in EQ2_SECTIONS for row in section_claims(section, view)[1]]
    del CLAIMS[start:]
    return [row for row in rows if tuple(row[1:3]) not in IAA_FREE]


def eq2_claims(res, alg1_rows):
    """*The claims under Eq. 2's IAA*: what Eq. 2 is, then every IAA claim of the experiments
    with Eq. 2 records, its verdict under Algorithm 1 (from *Verdicts at a glance*) beside the
    one under Eq. 2. Empty when no experiment has Eq. 2 records."""
    if not res.eq2_any():
        return ""
    alg1 = {tuple(row[:3]): row[3] for row in alg1_rows}
    rows = [[f"[{sec.split(' — ')[0]}](#{slug(sec)})", text, ref,
             alg1.get((sec, text, ref), "—"), v] for sec, text, ref, v in eq2_rows(res)]
    differ = sum(1 for r in rows if r[3] != r[4])
    done = [f"`{e}`" for e in EQ2_EXPERIMENTS if has_eq2(res.data.get(e))]
    todo = [f"`{e}`" for e in EQ2_EXPERIMENTS if e not in res.data or not has_eq2(res.data[e])]
    status = (f"Measured under Eq. 2: {join_words(done)}"
              + (f"; not yet: {join_words(todo)}" if todo else "") + ".")
    table = md_table(["section", "claim", "source", "Algorithm 1", "Eq. 2"], rows) if rows \
        else "No IAA claim is asked of the experiments measured so far."
    return f"""## {EQ2_TITLE}

{EQ2_ABOUT}

{status} The IAA claims of each measured experiment, asked again by the same rules of the same
records with Algorithm 1's IAA records replaced by Eq. 2's (as the `<experiment>-eq2.svg` plots
draw them); each section shows the two IAAs side by side. {len(rows)} claims; the verdict
differs from Algorithm 1's for {differ}.

{table}
"""


def render(directory, weights_dir=None, out=None):
    """(page text, derived.json text) for a results directory."""
    res = Results(directory, weights_dir, out)
    CLAIMS.clear()
    IAA_FREE.clear()
    parts, rows = [], []
    for section in SECTIONS:
        text, found = section_claims(section, res)
        parts.append(text)
        rows += found
    parts.insert(1, glance(rows))
    parts.insert(2, eq2_claims(res, rows))
    page = "\n".join(parts)
    while "\n\n\n" in page:
        page = page.replace("\n\n\n", "\n\n")
    return page.rstrip("\n") + "\n", res.derived.dumps()


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--dir", default="results/cifar", help="results directory (results/cifar)")
    ap.add_argument("--out", default="docs/results.md", help="page to write (docs/results.md)")
    ap.add_argument("--weights-dir", help="where the run.json files are (default: DIR/weights, "
                                          "else DIR/models/<run>/)")
    ap.add_argument("--check", action="store_true",
                    help="write nothing; exit 1 if the page or derived.json is not current")
    args = ap.parse_args(argv)
    page, derived = render(args.dir, args.weights_dir, args.out)
    out, dpath = Path(args.out), Path(args.dir) / "derived.json"
    if args.check:
        stale = [str(p) for p, text in ((out, page), (dpath, derived))
                 if not p.is_file() or p.read_text() != text]
        if stale:
            print(f"render_results: not current: {', '.join(stale)} "
                  f"(run python3 scripts/render_results.py --dir {args.dir} --out {args.out})",
                  file=sys.stderr)
            return 1
        print(f"render_results: {out} is current")
        return 0
    if Path(args.dir).is_dir():
        dpath.write_text(derived)
    else:
        print(f"render_results: {args.dir} does not exist; derived.json not written",
              file=sys.stderr)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(page)
    print(f"render_results: wrote {out} and {dpath}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
