"""The calibration experiments beyond the paper, as sections of the results page
(docs/results.md): IAT trained on Eq. 2's inverse adversarial examples over training seeds
(`iat-eq2.json`), the calibration baselines (`baselines.json`), robustness under APGD
(`robustness-apgd.json`) and two-sided calibration (`two-sided.json`), each written by
the `paper` binary (paper/src/calibration.rs).

Imported by scripts/render_results.py, which hands itself over with `bind`: run as a script it
is `__main__`, so importing it from here would load a second copy with its own claim list.
Every helper used here (rounding, the verdict rules `v_*`, `claim`, `pick`, the derived numbers)
is render_results's, so the rules of the page hold here unchanged. A section whose JSON is
missing says so (`Results.pending`) and prints no number. Every number printed that is not a
record's value (a mean over seeds, a difference, a sum, a distance to a target) is written to
derived.json with the expression that gives it (kind `records`), which
scripts/check_results.py evaluates again.

Standard library only.
"""

rr = None  # scripts/render_results.py, set by bind()


def bind(module):
    """Use `module` (render_results) for every helper."""
    global rr
    rr = module


NAMES = ["iat-eq2", "baselines", "robustness-apgd", "two-sided"]
EQ2 = "iaa-eq2"                 # Eq. 2's IAA (best feasible iterate), the library's default
APGD = "apgd-ce+apgd-dlr"       # per image the worse of APGD-CE and APGD-DLR (misclassification)
# Per image the worse of PGD and Eq. 2's IAA (by |CONF − 1[correct]|): `pgd+iaa-eq2` as
# the paper binary names it now (each part named like the reproduction's records), `pgd+iaa` in
# records written before.
WORSTS = ("pgd+iaa-eq2", "pgd+iaa")
TS = " + TS"                    # the label suffix of a temperature-scaled model
# The models of each experiment, in the order the paper binary trains them (others follow in
# record order).
IAT_EQ2_MODELS = ["IAT (Eq. 2)", "AT+IAT (Eq. 2)", "PT", "IAT (Alg. 1)", "AT+IAT (Alg. 1)"]
EQ2_TRAINED = ["IAT (Eq. 2)", "AT+IAT (Eq. 2)"]
AT_IAT_EQ2 = "AT+IAT (Eq. 2)"   # the sweep's w = 0.5 model and the prefix of the others' labels


def ordered(models, known):
    """The models of `known` that are present, in that order, then the others as they come."""
    return [m for m in known if m in models] + [m for m in models if m not in known]


def seeds_of(recs, model=None):
    """The training seeds of some records (of one model), ascending."""
    return sorted({r.get("seed") for r in recs or []
                   if (model is None or r.get("model") == model)
                   and isinstance(r.get("seed"), int) and not isinstance(r.get("seed"), bool)})


def train_seeds(res):
    """The training seeds of `iat-eq2.json` (none without it)."""
    return seeds_of(res.data.get("iat-eq2"))


def get(recs, model, attack, seed=None, eps=None):
    """The one record of a model, attack (and seed, radius), or None; `WORSTS` finds the
    two-sided worst case under either of its names."""
    if seed is not None:
        recs = [r for r in recs or [] if r.get("seed") == seed]
    if attack == WORSTS:
        return next((r for r in (rr.pick(recs, model=model, attack=a, eps=eps) for a in WORSTS)
                     if r is not None), None)
    return rr.pick(recs, model=model, attack=attack, eps=eps)


def source_line(res, name):
    """Where a section's records are and the command that writes them."""
    return (f"Records: [`{name}.json`]({res.link}/{name}.json) (and `{name}.md`), written by "
            f"`{rr.command(name)}` (or by `bash scripts/train-cifar.sh` with every other "
            f"experiment).")


def seeds_text(seeds):
    if not seeds:
        return "no training seed recorded"
    if len(seeds) == 1:
        return (f"one training seed so far ({seeds[0]}): the intervals cover the test images, "
                f"not seed-to-seed variation")
    return f"{rr.number_word(len(seeds))} training seeds ({rr.join_words(map(str, seeds))})"


def calibration(res):
    """The group of the four sections."""
    return ("## Calibration beyond the paper\n\nFour experiments the paper does not contain "
            "(issue *Does IAT calibrate when it trains on true IAEs?*): IAT trained on the "
            "inverse adversarial examples Eq. 2 defines, over several training seeds; the "
            "usual calibration fixes (temperature scaling, label smoothing) beside it; how much "
            "of the robustness PGD-10 measures survives a stronger attack; and calibration "
            "against an adversary who chooses per image whether to raise or to lower the "
            "confidence. Each section names its records and the command that writes them; "
            "each answers by the interval rules of *How to read the verdicts*.\n\n"
            + iat_eq2(res) + "\n" + baselines(res) + "\n" + robustness_apgd(res) + "\n"
            + two_sided(res))


# ------------------------------------------------------------------------------------------------
# IAT on Eq. 2's inverse adversarial examples
# ------------------------------------------------------------------------------------------------

def over_seeds(pairs):
    """A claim judged at each training seed, [(seed, verdict)], as one verdict: *reproduced*
    only if reproduced at every seed present, *not reproduced* if not reproduced at any, else
    *inconclusive*; the per-seed verdicts in parentheses."""
    if not pairs:
        return f"*{rr.PENDING}* (no training seed with both records yet)"
    overall = rr.v_all(v for _, v in pairs)
    if len(pairs) == 1:
        return f"*{overall}* (one training seed so far: seed {pairs[0][0]})"
    per = rr.summarize(pairs, key_fmt=str, prefix="at seed ", every="at seeds", ranges=False)
    return f"*{overall}* over {rr.number_word(len(pairs))} training seeds ({per})"


# The training run of each IAT/AT+IAT model of `iat-eq2` at seed 0 (seed s > 0: `-seed<s>`).
DIAGNOSED_RUNS = {"IAT (Eq. 2)": "iat-eq2", "AT+IAT (Eq. 2)": "at-iat-eq2", "IAT (Alg. 1)": "iat",
                  "AT+IAT (Alg. 1)": "at-iat"}
# The statistics of the IAA examples a run logs per epoch (`Iat`'s and `AtIat`'s `stats`).
DIAGNOSTICS = [("stats.clean_correct", "clean ACC (inference)"),
               ("stats.iae_correct", "IAE ACC"),
               ("stats.iae_kept", "both correct"),
               ("stats.iae_fixed", "IAE correct, clean wrong"),
               ("stats.clean_conf", "clean CONF"),
               ("stats.iae_conf", "IAE CONF"),
               ("stats.iae_unperturbed", "IAE = clean image")]


def training_diagnostics(res, models, m_seeds):
    """What the IAT runs trained on, read from the last epoch of each run's history.json
    (`stats`, logged on the training images as the frozen model saw them when the IAA ran):
    the clean accuracy, how many IAA examples were correct, and how many of those were images
    the model got wrong (IAA's cross-entropy term then moves an image towards its label).
    Runs trained before these statistics were logged show only `iae_correct`."""
    d = res.derived
    rows = []
    for m in models:
        for s in m_seeds.get(m, []):
            base = DIAGNOSED_RUNS.get(m)
            if base is None:
                continue
            run = base if s == 0 else f"{base}-seed{s}"
            path = next((p for name, p, _, _ in res.runs if name == run), None)
            if path is None:
                continue
            hist = path.parent / (path.name[:-len("run.json")] + "history.json")
            values = [d.history(hist, field) for field, _ in DIAGNOSTICS]
            if all(v is None for v in values):
                continue
            rows.append([m, s, f"`{run}`"] + [rr.f3(v) if v is not None else "—"
                                              for v in values])
    if not rows:
        return ("Training diagnostics: no training history of these runs was found "
                "(`weights/<run>.history.json`).")
    return ("Training diagnostics, the last epoch of each run (`stats` of its "
            "`history.json`; on the augmented training images, each model as the IAA saw it: "
            "frozen, inference mode). \"IAE correct, clean wrong\" counts the IAA examples "
            "that are correct although the clean image is not: IAA's cross-entropy term moves a "
            "misclassified image towards its label, so those examples carry the label in the "
            "perturbation. \"—\": not logged by that run (trained before the statistic "
            "existed).\n\n"
            + rr.md_table(["model", "seed", "run"] + [h for _, h in DIAGNOSTICS], rows))


def spread(res, name, recs, model, seeds, key, fmt):
    """`lo to hi` and the mean of a clean metric over a model's seeds (the mean in
    derived.json)."""
    rs = [get(recs, model, "clean", s) for s in seeds]
    rs = [r for r in rs if r is not None and isinstance(r.get(key), (int, float))]
    if len(rs) < 2:
        return "—", "—"
    d = res.derived
    mean = d.expr(f"{name}.{model}.clean.{key}.mean",
                  {"mul": [1 / len(rs), {"sum": [d.rec(name, r, key) for r in rs]}]},
                  f"mean clean {key} of {model} over the training seeds "
                  f"{', '.join(str(r.get('seed')) for r in rs)} ({name}.json)")
    values = [r[key] for r in rs]
    return f"{fmt(min(values))} to {fmt(max(values))}", fmt(mean)


def iat_eq2(res):
    name = "iat-eq2"
    title = "### IAT on Eq. 2's inverse adversarial examples\n\n"
    what = ("IAT and AT+IAT trained on the inverse adversarial examples of Eq. 2 (IAA's least "
            "confident correctly classified iterate) at the budget of Algorithm 1's (T = 3 sign "
            "steps, ε = 8/255, λ = 5), beside PT and Algorithm 1's IAT (and, at the first "
            "training seed, Algorithm 1's AT+IAT), each fine-tuned from the same base with each "
            "training seed (a seed above 0 changes the data order). Per model and seed: a clean "
            "record on the clean test images, and PGD, Algorithm 1's and Eq. 2's IAA at "
            "ε = 8/255.")
    if not res.has(name):
        return title + res.pending(name, what)
    recs = res.data[name]
    models = ordered(rr.models_in(recs), IAT_EQ2_MODELS)
    seeds = seeds_of(recs)
    m_seeds = {m: seeds_of(recs, m) for m in models}
    clean_rows, attacked_rows, clean_recs = [], [], []
    for m in models:
        for s in m_seeds[m]:
            r = get(recs, m, "clean", s)
            clean_recs.append(r)
            clean_rows.append([m, s] + [rr.metric(r, k) for k in
                                        ("accuracy", "confidence", "ece", "mcs", "nll",
                                         "brier")] + [r.get("n") if r else "—"])
            at = lambda a: get(recs, m, a, s)
            attacked_rows.append([m, s, rr.metric(at("pgd"), "accuracy"),
                                  rr.metric(at("pgd"), "mcs"), rr.metric(at("iaa"), "mcs"),
                                  rr.metric(at(EQ2), "accuracy"), rr.metric(at(EQ2), "mcs"),
                                  rr.n_of([x for x in (at("pgd"), at("iaa"), at(EQ2)) if x])])
    spread_rows = []
    for m in models:
        if len(m_seeds[m]) < 2:
            continue
        ece_range, ece_mean = spread(res, name, recs, m, m_seeds[m], "ece", rr.f3)
        mcs_range, mcs_mean = spread(res, name, recs, m, m_seeds[m], "mcs", rr.s3)
        spread_rows.append([m, rr.join_words(map(str, m_seeds[m])), ece_range, ece_mean,
                            mcs_range, mcs_mean])
    spread_block = (rr.md_table(["model", "seeds", "clean ECE, min to max", "clean ECE, mean",
                                 "clean MCS, min to max", "clean MCS, mean"], spread_rows)
                    if spread_rows else
                    "No model has more than one training seed yet: no seed-to-seed spread.")
    # The page's clean-calibration claims (clean_calibration_claims), asked at each seed against
    # PT of the same seed.
    pt = {s: get(recs, "PT", "clean", s) for s in m_seeds.get("PT", [])}
    part_rows = []
    claims = [rr.claim("Every training seed: PT is overconfident on clean data (MCS > 0)",
                       rr.READING_MOTIVATION,
                       over_seeds([(s, rr.pt_overconfident(r)) for s, r in pt.items()]),
                       iaa=False)]
    for m in models:
        if m == "PT":
            continue
        pairs = []
        for s in m_seeds[m]:
            r = get(recs, m, "clean", s)
            if r is None or pt.get(s) is None:
                continue
            verdict, parts = rr.better_calibrated(r, pt[s])
            pairs.append((s, verdict))
            part_rows.append([m, s, f"*{parts[0]}*", f"*{parts[1]}*", f"*{verdict}*"])
        claims.append(rr.claim(
            f"Every training seed: {m} is better calibrated than PT on clean data (|MCS| and "
            f"ECE below PT's)", rr.READING_CONCLUSION, over_seeds(pairs), iaa=False))
    parts_table = (rr.md_table(["model", "seed", "|MCS| below PT's", "ECE below PT's",
                                "better calibrated than PT"], part_rows) if part_rows else "")
    diagnostics = training_diagnostics(res, models, m_seeds)
    return title + f"""{what}

{source_line(res, name)} Present: {seeds_text(seeds)}; a run that is still going holds only
the models and seeds finished so far.

Clean records{f" ({scores_note(clean_recs)[1]})" if scores_note(clean_recs)[1] else ""}:

{rr.md_table(["model", "seed", "ACC [95 %]", "CONF [95 %]", "ECE [95 %]", "MCS [95 %]",
              "NLL" + scores_note(clean_recs)[0], "Brier" + scores_note(clean_recs)[0], "n"],
             clean_rows)}

Under attack at ε = 8/255 (IAA: λ = 5; Algorithm 1's last iterate, and Eq. 2's best feasible
iterate):

{rr.md_table(["model", "seed", "PGD ACC [95 %]", "PGD MCS [95 %]",
              "IAA MCS, Algorithm 1 [95 %]", "IAA ACC, Eq. 2 [95 %]", "IAA MCS, Eq. 2 [95 %]",
              "n"], attacked_rows)}

{diagnostics}

Seed-to-seed spread of the clean calibration (the mean is computed, `derived.json`):

{spread_block}

**The page's clean-calibration claims at each seed** (the rules of *Clean calibration of the
trained models*, each model against PT of the same seed). These are the page's reading of the
paper's conclusion, not a measurement the paper reports. A claim counts as *reproduced* only if
it is reproduced at every seed present, *not reproduced* if it is not reproduced at any, and
*inconclusive* otherwise:

{parts_table}

{chr(10).join(claims)}

{rr.ECE_NOTE}
"""


# ------------------------------------------------------------------------------------------------
# Calibration baselines
# ------------------------------------------------------------------------------------------------

def scores_note(rows_recs):
    """(column suffix, phrase) for the NLL and Brier columns: `[95 %]` when every record shown
    has their intervals, else a phrase saying which do not (records measured before the
    intervals existed); the phrase is empty when every record has them."""
    shown = [r for r in rows_recs if r and r.get("nll") is not None]
    with_ci = [r for r in shown if (r.get("ci95") or {}).get("nll")]
    if shown and len(with_ci) == len(shown):
        return " [95 %]", ""
    if not with_ci:
        return "", "NLL and Brier score carry no interval in these records"
    return "", ("NLL and Brier score carry an interval only in the records measured since "
                "their intervals exist")


def compare(a, b, key, absolute=False):
    """How record `a` compares with `b` on `key` by the interval rules: (word, a's value, b's
    value), word `lower` / `higher` (of |x| when `absolute`: `closer to 0` / `further from
    0`) or `no difference shown`; None when a record or an interval is missing."""
    x, y = rr.iv(a, key), rr.iv(b, key)
    if x is None or y is None:
        return None
    if absolute:
        x, y = rr.abs_iv(x), rr.abs_iv(y)
    v = rr.v_less(x, y)
    lower, higher = ("closer to 0", "further from 0") if absolute else ("lower", "higher")
    return {rr.R: lower, rr.N: higher}.get(v, "no difference shown"), a[key], b[key]


def baselines(res):
    name = "baselines"
    title = "### Calibration baselines\n\n"
    what = ("The usual calibration fixes beside the strategies: temperature scaling (TS), "
            "fitted on held-out test images, on PT, PGD-AT and the IAT and AT+IAT models of "
            "both IAAs (`<model> + TS`), and label smoothing (LS) fine-tuned from the base like "
            "PT; all at the first training seed. Clean records, and PGD, Algorithm 1's and "
            "Eq. 2's IAA at ε = 8/255.")
    if not res.has(name):
        return title + res.pending(name, what)
    recs = res.data[name]
    models = rr.models_in(recs)
    clean = {m: get(recs, m, "clean") for m in models}
    n_clean = sorted({r["n"] for r in clean.values() if r and isinstance(r.get("n"), int)})
    n_attacked = sorted({r["n"] for r in recs if r.get("attack") != "clean"
                         and isinstance(r.get("n"), int)})
    if len(n_clean) == 1 and len(n_attacked) == 1:
        c, a = n_clean[0], n_attacked[0]
        split = (f"The temperature of each `+ TS` model is fitted on test images {c}–{2 * c - 1} "
                 f"(the second half of the clean test images); the clean rows are measured on "
                 f"test images 0–{c - 1} and the attacked rows on 0–{a - 1}, none of them used "
                 f"in the fit.")
    else:
        split = (f"The temperature of each `+ TS` model is fitted on the second half of the "
                 f"clean test images; the clean rows use the first half, the attacked rows the "
                 f"first of those (clean n: {', '.join(map(str, n_clean)) or '—'}; attacked n: "
                 f"{', '.join(map(str, n_attacked)) or '—'}).")
    temperature = lambda m: next((r.get("temperature") for r in recs if r.get("model") == m
                                  and isinstance(r.get("temperature"), (int, float))), None)
    clean_rows = [[m, rr.f3(temperature(m))] + [rr.metric(clean[m], k) for k in
                                                ("accuracy", "confidence", "ece", "mcs", "nll",
                                                 "brier")] + [clean[m].get("n") if clean[m]
                                                              else "—"] for m in models]
    at = lambda m, a: get(recs, m, a)
    attacked_rows = [[m, rr.metric(at(m, "pgd"), "accuracy"), rr.metric(at(m, "pgd"), "mcs"),
                      rr.metric(at(m, "iaa"), "mcs"), rr.metric(at(m, EQ2), "accuracy"),
                      rr.metric(at(m, EQ2), "mcs"),
                      rr.n_of([x for x in (at(m, "pgd"), at(m, "iaa"), at(m, EQ2)) if x])]
                     for m in models]
    return title + f"""{what}

{source_line(res, name)} {split} Temperature scaling divides the logits by T, which changes no
prediction: a `+ TS` model's clean accuracy is its model's (checked by
`scripts/check_results.py`); the attacks run on the scaled model.

Clean records (T: the fitted temperature{"; " + scores_note(clean.values())[1]
                                          if scores_note(clean.values())[1] else ""}):

{rr.md_table(["model", "T", "ACC [95 %]", "CONF [95 %]", "ECE [95 %]", "MCS [95 %]",
              "NLL" + scores_note(clean.values())[0], "Brier" + scores_note(clean.values())[0],
              "n"], clean_rows)}

Under attack at ε = 8/255:

{rr.md_table(["model", "PGD ACC [95 %]", "PGD MCS [95 %]", "IAA MCS, Algorithm 1 [95 %]",
              "IAA ACC, Eq. 2 [95 %]", "IAA MCS, Eq. 2 [95 %]", "n"], attacked_rows)}

{ts_answer(recs, temperature)}

{rr.ECE_NOTE}
"""


def ts_answer(recs, temperature):
    """The answer to "does IAT give anything temperature scaling does not?": IAT (Eq. 2) and
    IAT (Eq. 2) + TS against PT + TS on clean ECE and NLL and on |MCS| under Eq. 2's IAA and
    PGD, by the interval rules (NLL by values only where a record has no NLL interval)."""
    head = "**Does IAT give anything temperature scaling does not?**"
    ref = "PT" + TS
    rows, gains, losses = [], [], []
    missing = [m for m in (ref, "IAT (Eq. 2)") if get(recs, m, "clean") is None]
    if missing:
        return f"{head} Not answered yet: no clean record of {rr.join_words(missing)}."
    for m in ("IAT (Eq. 2)", "IAT (Eq. 2)" + TS):
        if get(recs, m, "clean") is None:
            continue
        cells = []
        for what, attack, key, absolute in (("clean ECE", "clean", "ece", False),
                                            ("|MCS| under Eq. 2's IAA", EQ2, "mcs", True),
                                            ("|MCS| under PGD", "pgd", "mcs", True)):
            c = compare(get(recs, m, attack), get(recs, ref, attack), key, absolute)
            if c is None:
                cells.append("—")
                continue
            word, x, y = c
            fmt = rr.s3 if key == "mcs" else rr.f3
            cells.append(f"{word} ({fmt(x)} vs {fmt(y)})")
            if word in ("lower", "closer to 0"):
                gains.append(f"{m}: {what} {word}")
            elif word in ("higher", "further from 0"):
                losses.append(f"{m}: {what} {word}")
        ca, cb = get(recs, m, "clean"), get(recs, ref, "clean")
        c = compare(ca, cb, "nll")
        if c is not None:
            word = c[0]
            cells.insert(1, f"{word} ({rr.f3(c[1])} vs {rr.f3(c[2])})")
            if word == "lower":
                gains.append(f"{m}: clean NLL lower")
            elif word == "higher":
                losses.append(f"{m}: clean NLL higher")
        else:
            a, b = (r.get("nll") if r else None for r in (ca, cb))
            cells.insert(1, f"{rr.f3(a)} vs {rr.f3(b)} (no interval: not judged)"
                         if a is not None and b is not None else "—")
        rows.append([f"{m} against {ref}"] + cells)
    table = rr.md_table(["comparison", "clean ECE", "clean NLL", "|MCS| under Eq. 2's IAA",
                         "|MCS| under PGD"], rows)
    temps = [f"{m} T = {rr.f3(temperature(m))}" for m in (ref, "IAT (Eq. 2)" + TS)
             if temperature(m) is not None]
    if gains:
        answer = (f"*{rr.YES}*, on these records: " + "; ".join(gains)
                  + f" than {ref} (disjoint intervals).")
    else:
        answer = (f"*{rr.NOT_SHOWN}*: no comparison shows IAT (Eq. 2), with or without its own "
                  f"temperature, better calibrated than {ref} by disjoint intervals.")
    if losses:
        answer += f" {ref} is shown better in: " + "; ".join(losses) + "."
    return (f"""{head} Each IAT (Eq. 2) model against PT with a fitted temperature ("lower", """
            f""""closer to 0": by disjoint intervals; "no difference shown": the intervals """
            f"""overlap):\n\n{table}\n\n{answer} Fitted temperatures: {'; '.join(temps)} (T > 1 """
            f"""softens an overconfident model, T < 1 sharpens an underconfident one). One """
            f"""training seed: the intervals cover the test images, not run-to-run """
            f"""variation.""")


# ------------------------------------------------------------------------------------------------
# Robustness under APGD
# ------------------------------------------------------------------------------------------------

def robustness_apgd(res):
    name = "robustness-apgd"
    title = "### Robustness under APGD\n\n"
    what = ("The six models and AT+IAT (Eq. 2) under PGD-10 and under the per-image worst case "
            "of APGD-CE and APGD-DLR (twice PGD's steps each; an image counts as robust only "
            "if both leave it correct: AutoAttack's untargeted white-box part), at every radius "
            "of Fig. 7's grid: how much of the robustness PGD-10 measures survives a stronger "
            "attack.")
    if not res.has(name):
        return title + res.pending(name, what)
    recs = res.data[name]
    d = res.derived
    models = ordered(rr.models_in(recs), rr.SIX + [AT_IAT_EQ2])
    eps = rr.grid(recs)
    show = rr.main_eps(eps)
    keys = [(m, m) for m in models]
    find = lambda a: (lambda m, e: get(recs, m, a, eps=e))
    gap_rows, warnings = [], []
    for m in models:
        cells = []
        for e in eps:
            p, w = find("pgd")(m, e), find(APGD)(m, e)
            if p is None or w is None:
                if e in show:
                    cells.append("—")
                continue
            if w["accuracy"] > p["accuracy"]:
                disjoint = rr.v_greater(rr.iv(w, "accuracy"), rr.iv(p, "accuracy")) == rr.R
                warnings.append(f"**Warning:** under the APGD worst case {m} is more accurate "
                                f"than under PGD-10 at ε = {rr.eps_str(e)} "
                                f"({rr.f3(w['accuracy'])} against {rr.f3(p['accuracy'])}"
                                + ("; the intervals are disjoint, which "
                                   "`scripts/check_results.py` refuses" if disjoint else
                                   "; within the intervals") + "): APGD weaker than PGD "
                                "should not happen.")
            if e in show:
                gap = d.expr(f"{name}.{m}.eps={e:g}.gap",
                             {"sum": [d.rec(name, p, "accuracy"),
                                      {"neg": d.rec(name, w, "accuracy")}]},
                             f"ACC under PGD-10 minus ACC under the APGD worst case of {m} at "
                             f"eps = {e:g} ({name}.json)")
                cells.append(rr.s3(gap))
        gap_rows.append([m] + cells)
    gap_table = rr.md_table(["model"] + [f"ε = {rr.eps_str(e)}" for e in show], gap_rows)
    margin = d.const("anchor.approx_margin")
    six = all(get(recs, m, "clean") for m in rr.SIX)
    if six:
        verdicts = zip(rr.fig7_verdicts(recs, eps, margin, "pgd"),
                       rr.fig7_verdicts(recs, eps, margin, APGD))
        fig7_rows = [[text, rr.summarize(pgd), rr.summarize(apgd)]
                     for (text, pgd, _), (_, apgd, _) in verdicts]
        fig7_block = ("**Fig. 7's claims on these records**, by the rules of the Fig. 7 section "
                      "(\"under PGD\" read as \"under the attack of the column\"; the paper "
                      "measured PGD only). The verdicts of *Verdicts at a glance* are Fig. 7's "
                      "own records'; these are beside them, not counted there.\n\n"
                      + rr.md_table(["claim", "PGD-10", "APGD worst case"], fig7_rows))
    else:
        fig7_block = ("Fig. 7's claims are not asked yet: the records of "
                      + rr.join_words(m for m in rr.SIX if not get(recs, m, "clean"))
                      + " are missing.")
    eq2_line = ""
    if get(recs, AT_IAT_EQ2, "clean") and get(recs, "PGD-AT", "clean"):
        acc = lambda m, a, e: rr.iv(find(a)(m, e), "accuracy")
        per = lambda a: rr.summarize([(e, rr.answer(rr.v_approx(acc(AT_IAT_EQ2, a, e),
                                                                acc("PGD-AT", a, e), margin)))
                                      for e in eps])
        eq2_line = (f"\n* **Is AT+IAT (Eq. 2) about as robust as PGD-AT (ACC within "
                    f"±{rr.fk(margin, 2)})?** (beyond the paper) Under PGD-10: {per('pgd')}; "
                    f"under the APGD worst case: {per(APGD)}.\n")
    warn = ("\n".join(warnings) if warnings else
            "The APGD worst case is at least as strong as PGD-10 (accuracy at most PGD-10's) "
            "for every model at every radius.")
    return title + f"""{what}

{source_line(res, name)}

{res.plot(name, "Robustness under APGD")}
Accuracy under PGD-10:

{rr.sweep_table(recs, keys, "model", "accuracy", show, find("pgd"))}

Accuracy under the APGD worst case:

{rr.sweep_table(recs, keys, "model", "accuracy", show, find(APGD))}

What APGD removes: ACC under PGD-10 minus ACC under the APGD worst case (computed from the
estimates, `derived.json`; the PGD-10 figures overstate robustness by this much):

{gap_table}

{warn}

{rr.details(f"{name}: every record (full ε grid)", rr.records_table(recs))}
{fig7_block}
{eq2_line}"""


# ------------------------------------------------------------------------------------------------
# Two-sided calibration
# ------------------------------------------------------------------------------------------------

def sweep_models(recs):
    """[(w, model)] of AT+IAT (Eq. 2)'s PGD-weight sweep, by w: the AT+IAT (Eq. 2) models whose
    records carry a `weight`."""
    out = {}
    for r in recs:
        w = r.get("weight")
        if (str(r.get("model", "")).startswith(AT_IAT_EQ2[:-1]) and isinstance(w, (int, float))
                and not isinstance(w, bool)):
            out.setdefault(r["model"], w)
    return sorted(((w, m) for m, w in out.items()), key=lambda x: x[0])


def two_sided(res):
    name = "two-sided"
    title = "### Two-sided calibration\n\n"
    what = ("Calibration against an adversary who chooses per image whether to raise or to "
            "lower the confidence: each model's clean ECE beside its worst-case ECE, the ECE of "
            "the per-image worse of PGD-10 and Eq. 2's IAA at ε = 8/255 (worse by "
            "|CONF − 1[correct]|, records `pgd+iaa-eq2`); the six models, IAT (Eq. 2), and "
            "AT+IAT (Eq. 2) with its PGD weight w swept over 0, ¼, ½, ¾ and 1.")
    if not res.has(name):
        return title + res.pending(name, what)
    recs = res.data[name]
    d = res.derived
    sweep = sweep_models(recs)
    models = ordered(rr.models_in(recs), rr.SIX + ["IAT (Eq. 2)"] + [m for _, m in sweep])
    weight = dict((m, w) for w, m in sweep)
    target_clean = d.const("anchor.two_sided_clean_ece")
    target_worst = d.const("anchor.two_sided_worst_ece")
    rows, distance, violated = [], {}, []
    for m in models:
        c, p, i, w = (get(recs, m, a) for a in ("clean", "pgd", EQ2, WORSTS))
        row = [m, f"{weight[m]:g}" if m in weight else "—", rr.metric(c, "ece"),
               rr.metric(w, "ece")]
        if p is not None and i is not None:
            total = d.expr(f"{name}.{m}.abs_mcs_sum",
                           {"sum": [{"abs": d.rec(name, p, "mcs")},
                                    {"abs": d.rec(name, i, "mcs")}]},
                           f"|MCS_PGD| + |MCS_IAA| of {m} ({name}.json; IAA: {EQ2})")
            gap = d.expr(f"{name}.{m}.acc_gap",
                         {"sum": [d.rec(name, i, "accuracy"),
                                  {"neg": d.rec(name, p, "accuracy")}]},
                         f"ACC_IAA - ACC_PGD of {m} ({name}.json; IAA: {EQ2})")
            holds = total >= gap - 1e-12
            if p.get("n") != i.get("n"):
                bound = "not on the same images"
            elif holds:
                bound = "holds"
            elif p["confidence"] >= i["confidence"]:
                bound = "**violated**"
                violated.append(m)
            else:
                bound = "fails (CONF_PGD < CONF_IAA)"
            row += [rr.f3(total), rr.s3(gap), bound]
        else:
            row += ["—", "—", "—"]
        if c is not None and w is not None:
            distance[m] = d.expr(
                f"{name}.{m}.target_distance",
                {"max": [{"sum": [d.rec(name, c, "ece"),
                                  {"neg": {"const": "anchor.two_sided_clean_ece"}}]},
                         {"sum": [d.rec(name, w, "ece"),
                                  {"neg": {"const": "anchor.two_sided_worst_ece"}}]}, 0]},
                f"distance of {m} to the two-sided target: max(clean ECE - "
                f"anchor.two_sided_clean_ece, worst-case ECE - anchor.two_sided_worst_ece, 0) "
                f"({name}.json)")
            row.append(rr.f3(distance[m]))
        else:
            row.append("—")
        rows.append(row)
    table = rr.md_table(["model", "w", "clean ECE [95 %]", "worst-case ECE [95 %]",
                         "|MCS_PGD| + |MCS_IAA|", "ACC_IAA − ACC_PGD", "bound",
                         "distance to the target"], rows)
    tc, tw = rr.fk(target_clean, 2), rr.fk(target_worst, 2)
    if distance:
        best = min(distance.values())
        closest = [m for m in models if m in distance and distance[m] == best]
        c, w = get(recs, closest[0], "clean"), get(recs, closest[0], WORSTS)
        meets = rr.answer(rr.v_all([rr.v_threshold(rr.iv(c, "ece"), "<=", target_clean),
                                    rr.v_threshold(rr.iv(w, "ece"), "<=", target_worst)]))
        closest_line = (
            f"**Closest to the target** (clean ECE ≤ {tc} and worst-case ECE ≤ {tw}; the "
            f"distance is max(clean ECE − {tc}, worst-case ECE − {tw}, 0) on the estimates, 0 "
            f"when both are met, `derived.json`): {rr.join_words(closest)}, at "
            f"{rr.f3(best)}. Judged on the intervals, does {closest[0]} meet both targets "
            f"(*yes* when both upper ends are within them, *no* when a lower end exceeds one)? "
            f"*{meets}*.")
    else:
        closest_line = "**Closest to the target**: not answered yet (no model with both records)."
    bound_line = (
        "**The bound** (`../../shared/docs/algorithms.md`, *A bound on two-sided calibration*). "
        "|MCS_PGD| + |MCS_IAA| ≥ ACC_IAA − ACC_PGD holds whenever "
        "CONF_PGD ≥ CONF_IAA on the same images: |a| + |b| ≥ a − b, and "
        "MCS_PGD − MCS_IAA = (ACC_IAA − ACC_PGD) + (CONF_PGD − CONF_IAA). When PGD leaves a "
        "model less confident than Eq. 2's IAA does (a near-uniform answer to PGD, as CCAT "
        "gives), it need not hold, so it is no theorem in general. The column says *holds*, "
        "*fails* (CONF_PGD < CONF_IAA: allowed) or **violated** (CONF_PGD ≥ CONF_IAA: "
        "impossible for records with MCS = CONF − ACC, an error that `scripts/check_results.py` "
        "reports).")
    if violated:
        bound_line += f" **Violated for {rr.join_words(violated)}: the records are inconsistent.**"
    sweep_rows = []
    for w, m in sweep:
        c, p, i, wc = (get(recs, m, a) for a in ("clean", "pgd", EQ2, WORSTS))
        sweep_rows.append([f"{w:g}", m, rr.metric(c, "accuracy"), rr.metric(c, "ece"),
                           rr.metric(p, "accuracy"), rr.metric(p, "mcs"), rr.metric(i, "mcs"),
                           rr.metric(wc, "ece")])
    sweep_table = (rr.md_table(["w", "model", "clean ACC [95 %]", "clean ECE [95 %]",
                                "PGD ACC [95 %]", "PGD MCS [95 %]", "IAA MCS, Eq. 2 [95 %]",
                                "worst-case ECE [95 %]"], sweep_rows)
                   if sweep_rows else "No model of the sweep has records yet.")
    return title + f"""{what}

{source_line(res, name)} AT+IAT's loss is w·CE(PGD) + (1 − w)·CE(IAA): w = 0 trains on Eq. 2's
IAA examples only, w = 1 on PGD's only; w = ½ is the paper's AT+IAT (`AT+IAT (Eq. 2)`). The
worst-case ECE is the "two-sided" calibration error: an image counts with whichever of its PGD
and IAA examples is further from calibrated.

{res.plot(name, "Two-sided calibration")}
{table}

{bound_line}

{closest_line}

AT+IAT (Eq. 2) over its PGD weight w:

{sweep_table}

{rr.details(f"{name}: every record", rr.records_table(recs))}
{rr.ECE_NOTE}
"""
