#!/usr/bin/env python3
"""Print every number that docs/results-cpu.md quotes, straight from the committed JSON records.

    python3 scripts/results_numbers.py                  # all sections, results/cpu
    python3 scripts/results_numbers.py fig6 fig7        # some sections
    python3 scripts/results_numbers.py --dir results/cifar fig6

Sections: error, fig4, fig5, fig6, fig7, table1, table3, fig8, training.

Each number is rounded exactly once, from the JSON value, with Python's `format` (3 decimals
unless stated; percentages in Fig. 8 to whole percent). The tables are printed in the layout of
docs/results-cpu.md, followed by the comparisons ("checks") that the page's verdicts rest on, each
gap compared with the 95 % binomial sampling error of ACC at p = 0.5 (section `error`).
No per-image data are committed, so the same threshold is applied to CONF and MCS gaps.
"""
import json
import math
import sys
from fractions import Fraction
from pathlib import Path

EPS = [0.02, 0.03, 0.04, 0.05, 0.06, 0.07, 0.08, 0.09, 0.10]
SHOW = [0.02, 0.03, 0.05, 0.10]
SIX = ["PT", "PGD-AT", "ACE-AT", "CCAT", "IAT", "AT+IAT"]
LAMBDAS = [1.0, 3.0, 5.0, 7.0, 10.0]
K = 10
MINUS = "\u2212"


def f3(x):
    s = f"{x:.3f}"
    return s.replace("-", MINUS)


def s3(x):
    s = f"{x:+.3f}"
    if s in ("+0.000", "-0.000"):
        s = "0.000"
    return s.replace("-", MINUS)


def half_width(n, p=0.5):
    """95 % normal-approximation half-width of a binomial proportion."""
    return 1.96 * math.sqrt(p * (1 - p) / n)


def load(d, name):
    return json.load(open(Path(d) / f"{name}.json"))


def pick(recs, model=None, attack=None, eps=None, lam=None, source=None):
    out = [r for r in recs
           if (model is None or r["model"] == model)
           and (attack is None or r["attack"] == attack)
           and (eps is None or abs(r["epsilon"] - eps) < 1e-9)
           and (lam is None or r["lambda"] == lam)
           and (source is None or r.get("source") == source)]
    if len(out) != 1:
        raise SystemExit(f"expected one record for {model} {attack} {eps} {lam} {source}, got {len(out)}")
    return out[0]


def thr(n):
    return half_width(n)


def verdict_gap(gap, n):
    """'clear' when |gap| exceeds the p = 0.5 half-width at n, else 'within error'."""
    return "clear" if abs(gap) > thr(n) else "within error"


def sec_error(d):
    print("## sampling error (95 %, binomial, normal approximation)")
    for n in (500, 1000):
        print(f"n = {n}: p = 0.5 -> ±{f3(half_width(n))}")
    for p in (0.05, 0.1, 0.2):
        print(f"n = 500: p = {p} -> ±{f3(half_width(500, p))}")
    print()


def sec_fig4(d):
    recs = load(d, "fig4")
    clean = pick(recs, attack="clean")
    print("## Fig. 4 (results/cpu/fig4.json)")
    print("| λ | y_G = (1+λ/K)/(1+λ) | ACC at ε = 0.02 / 0.05 / 0.10 | CONF at ε = 0.02 / 0.05 / 0.10 | MCS at ε = 0.02 / 0.05 / 0.10 |")
    print("|---|---|---|---|---|")
    for lam in LAMBDAS:
        yg = Fraction(1) + Fraction(int(lam), K)
        yg = yg / (1 + int(lam))
        rs = [pick(recs, attack="iaa", eps=e, lam=lam) for e in (0.02, 0.05, 0.10)]
        print(f"| {int(lam)} | {float(yg):.4f} | " + " / ".join(f3(r["accuracy"]) for r in rs) + " | "
              + " / ".join(f3(r["confidence"]) for r in rs) + " | "
              + " / ".join(s3(r["mcs"]) for r in rs) + " |")
    print(f"\n(clean: ACC {f3(clean['accuracy'])}, CONF {f3(clean['confidence'])}, "
          f"ECE {f3(clean['ece'])}, MCS {s3(clean['mcs'])}; n = {clean['n']}.)")
    print("\nchecks:")
    n = clean["n"]
    for key in ("accuracy", "confidence"):
        mono = all(pick(recs, attack="iaa", eps=e, lam=LAMBDAS[i])[key]
                   > pick(recs, attack="iaa", eps=e, lam=LAMBDAS[i + 1])[key]
                   for e in EPS for i in range(len(LAMBDAS) - 1))
        steps = [pick(recs, attack="iaa", eps=e, lam=LAMBDAS[i])[key]
                 - pick(recs, attack="iaa", eps=e, lam=LAMBDAS[i + 1])[key]
                 for e in EPS for i in range(len(LAMBDAS) - 1)]
        spans = [pick(recs, attack="iaa", eps=e, lam=1.0)[key] - pick(recs, attack="iaa", eps=e, lam=10.0)[key]
                 for e in EPS]
        where = min((pick(recs, attack="iaa", eps=e, lam=LAMBDAS[i])[key]
                     - pick(recs, attack="iaa", eps=e, lam=LAMBDAS[i + 1])[key], e, LAMBDAS[i], LAMBDAS[i + 1])
                    for e in EPS for i in range(len(LAMBDAS) - 1))
        print(f"  {key}: smallest adjacent step {f3(where[0])} at ε={where[1]:.2f}, λ={int(where[2])}→{int(where[3])}")
        big = [pick(recs, attack="iaa", eps=e, lam=LAMBDAS[i])[key]
               - pick(recs, attack="iaa", eps=e, lam=LAMBDAS[i + 1])[key]
               for e in EPS for i in range(2)]
        print(f"  {key}: steps λ=1→3 and 3→5 over ε: {f3(min(big))}..{f3(max(big))}")
        print(f"  {key}: strictly falling with λ at every ε: {mono}; adjacent steps "
              f"{f3(min(steps))}..{f3(max(steps))}; λ=1 minus λ=10: {f3(min(spans))}..{f3(max(spans))}")
    for lam in (3.0, 5.0, 7.0):
        yg = (1 + lam / K) / (1 + lam)
        for e in (0.02, 0.03):
            c = pick(recs, attack="iaa", eps=e, lam=lam)["confidence"]
            print(f"  λ={int(lam)} ε={e}: CONF {f3(c)} vs y_G {yg:.4f}: |diff| {f3(abs(c - yg))}")
    for e in EPS:
        rs = sorted(((pick(recs, attack="iaa", eps=e, lam=l)["mcs"], l) for l in LAMBDAS))
        m5 = pick(recs, attack="iaa", eps=e, lam=5.0)["mcs"]
        print(f"  ε={e:.2f}: most negative MCS at λ={int(rs[0][1])} ({s3(rs[0][0])}), "
              f"next λ={int(rs[1][1])} ({s3(rs[1][0])}); λ=5: {s3(m5)} (λ=5 − best: {f3(m5 - rs[0][0])})")
    confs = [pick(recs, attack="iaa", eps=e, lam=1.0)["confidence"] for e in EPS]
    print(f"  λ=1 CONF over ε: {f3(min(confs))}..{f3(max(confs))} (y_G 0.5500)")
    accs = [pick(recs, attack="iaa", eps=e, lam=1.0)["accuracy"] for e in EPS]
    print(f"  λ=1 ACC over ε: {' '.join(f3(a) for a in accs)} (clean {f3(clean['accuracy'])}); "
          f"threshold n={n}: ±{f3(thr(n))}")
    print()


def sec_fig5(d):
    recs = load(d, "fig5")
    clean = pick(recs, attack="clean")
    print("## Fig. 5 (results/cpu/fig5.json)")
    print("| ε | noise MCS | PGD ACC / CONF / MCS | IAA ACC / CONF / MCS |")
    print("|---|---|---|---|")
    for e in SHOW:
        no = pick(recs, attack="noise", eps=e)
        pg = pick(recs, attack="pgd", eps=e)
        ia = pick(recs, attack="iaa", eps=e)
        print(f"| {e:.2f} | {s3(no['mcs'])} | {f3(pg['accuracy'])} / {f3(pg['confidence'])} / {s3(pg['mcs'])} | "
              f"{f3(ia['accuracy'])} / {f3(ia['confidence'])} / {s3(ia['mcs'])} |")
    print(f"\n(clean: ACC {f3(clean['accuracy'])}, CONF {f3(clean['confidence'])}, MCS {s3(clean['mcs'])}; n = {clean['n']}.)")
    print("\nchecks:")
    noise = [pick(recs, attack="noise", eps=e)["mcs"] for e in EPS]
    print(f"  noise MCS over ε: {' '.join(s3(x) for x in noise)}; rising at every step: "
          f"{all(a < b for a, b in zip(noise, noise[1:]))}")
    gaps = []
    for e in EPS:
        pg = pick(recs, attack="pgd", eps=e)["mcs"]
        ia = pick(recs, attack="iaa", eps=e)["mcs"]
        gaps.append((abs(pg) - abs(ia), e, pg, ia))
    print(f"  |MCS_PGD| > |MCS_IAA| at all ε: {all(g[0] > 0 for g in gaps)}; smallest margin "
          f"{f3(min(gaps)[0])} at ε={min(gaps)[1]:.2f} ({s3(min(gaps)[2])} vs {s3(min(gaps)[3])})")
    signs = {a: [pick(recs, attack=a, eps=e)["mcs"] for e in EPS] for a in ("noise", "pgd", "iaa")}
    print(f"  negative MCS: noise {any(x < 0 for x in signs['noise'])}, pgd {any(x < 0 for x in signs['pgd'])}, "
          f"iaa all negative {all(x < 0 for x in signs['iaa'])} (range {s3(min(signs['iaa']))}..{s3(max(signs['iaa']))})")
    print(f"  PGD MCS at 0.02 minus paper's +0.85: {s3(pick(recs, attack='pgd', eps=0.02)['mcs'] - 0.85)}")
    print()


def table_rows(recs, attack, cols):
    for m in SIX:
        yield m, [pick(recs, model=m, attack=attack, eps=e) for e in cols]


def rank(recs, attack, e, key="mcs", reverse=False):
    rs = [(pick(recs, model=m, attack=attack, eps=e)[key], m) for m in SIX]
    return sorted(rs, reverse=reverse)


def sec_fig6(d):
    recs = load(d, "fig6")
    print("## Fig. 6 (results/cpu/fig6.json)")
    print("| model | clean ACC / CONF / MCS | IAA MCS at ε = 0.02 / 0.03 / 0.05 / 0.10 | IAA CONF at 0.02 / 0.03 / 0.05 / 0.10 | IAA ACC at 0.03 |")
    print("|---|---|---|---|---|")
    for m, rs in table_rows(recs, "iaa", SHOW):
        c = pick(recs, model=m, attack="clean")
        print(f"| {m} | {f3(c['accuracy'])} / {f3(c['confidence'])} / {s3(c['mcs'])} | "
              + " / ".join(s3(r["mcs"]) for r in rs) + " | "
              + " / ".join(f3(r["confidence"]) for r in rs) + f" | {f3(rs[1]['accuracy'])} |")
    n = pick(recs, model="PT", attack="clean")["n"]
    print(f"\nchecks (n = {n}, threshold ±{f3(thr(n))}):")
    print("  IAA MCS < 0 for all models at all ε:",
          all(pick(recs, model=m, attack="iaa", eps=e)["mcs"] < 0 for m in SIX for e in EPS))
    for m in SIX:
        c = pick(recs, model=m, attack="clean")["accuracy"]
        diffs = [pick(recs, model=m, attack="iaa", eps=e)["accuracy"] - c for e in EPS]
        print(f"  {m}: IAA ACC − clean ACC over ε: {' '.join(s3(x) for x in diffs)}")
    print("  ranking of IAA MCS per ε, most negative first:")
    for e in EPS:
        r = rank(recs, "iaa", e)
        print(f"    ε={e:.2f}: " + ", ".join(f"{m} {s3(v)}" for v, m in r))
    print("  least negative IAA MCS per ε (gap to runner-up):")
    for e in EPS:
        r = rank(recs, "iaa", e, reverse=True)
        print(f"    ε={e:.2f}: {r[0][1]} {s3(r[0][0])}, runner-up {r[1][1]} {s3(r[1][0])}, gap {f3(r[0][0] - r[1][0])}"
              f" [{verdict_gap(r[0][0] - r[1][0], n)}]")
    def cmp(a, b, key="mcs", attack="iaa"):
        out = []
        for e in EPS:
            x = pick(recs, model=a, attack=attack, eps=e)[key]
            y = pick(recs, model=b, attack=attack, eps=e)[key]
            out.append(f"{e:.2f}:{s3(x - y)}{'' if abs(x - y) > thr(n) else '~'}")
        print(f"  {key} {a} − {b} (~ = within error): " + " ".join(out))
    cmp("PT", "IAT")
    cmp("PGD-AT", "IAT")
    cmp("AT+IAT", "IAT")
    cmp("ACE-AT", "IAT")
    cmp("ACE-AT", "PGD-AT")
    cmp("ACE-AT", "AT+IAT")
    cmp("ACE-AT", "PT")
    cmp("CCAT", "PGD-AT")
    for e in EPS:
        r = rank(recs, "iaa", e)
        print(f"    ε={e:.2f}: CCAT margin over next most negative ({r[1][1]}): {f3(r[1][0] - r[0][0])}"
              if r[0][1] == "CCAT" else f"    ε={e:.2f}: CCAT NOT most negative")
    print("  IAA CONF per ε, highest first:")
    for e in EPS:
        r = rank(recs, "iaa", e, key="confidence", reverse=True)
        print(f"    ε={e:.2f}: " + ", ".join(f"{m} {f3(v)}" for v, m in r) + f"  (top gap {f3(r[0][0] - r[1][0])})")
    print("  clean ECE / ACC / MCS, adversarial strategies sorted by ECE:")
    rs = sorted((pick(recs, model=m, attack="clean")["ece"], m) for m in SIX if m != "PT")
    for v, m in rs:
        c = pick(recs, model=m, attack="clean")
        print(f"    {m}: ECE {f3(v)}, ACC {f3(c['accuracy'])}, CONF {f3(c['confidence'])}, MCS {s3(c['mcs'])}")
    print()


def sec_fig7(d):
    recs = load(d, "fig7")
    print("## Fig. 7 (results/cpu/fig7.json)")
    print("| model | PGD ACC at ε = 0.02 / 0.03 / 0.05 / 0.10 | PGD CONF at ε = 0.02 / 0.03 / 0.05 / 0.10 | PGD MCS at ε = 0.02 / 0.03 / 0.05 / 0.10 |")
    print("|---|---|---|---|")
    for m, rs in table_rows(recs, "pgd", SHOW):
        print(f"| {m} | " + " / ".join(f3(r["accuracy"]) for r in rs) + " | "
              + " / ".join(f3(r["confidence"]) for r in rs) + " | "
              + " / ".join(s3(r["mcs"]) for r in rs) + " |")
    n = pick(recs, model="PT", attack="clean")["n"]
    print(f"\nchecks (n = {n}, threshold ±{f3(thr(n))}):")
    print("  PGD ACC per ε, highest first:")
    for e in EPS:
        r = rank(recs, "pgd", e, key="accuracy", reverse=True)
        print(f"    ε={e:.2f}: " + ", ".join(f"{m} {f3(v)}" for v, m in r)
              + f"  (2nd − 3rd: {f3(r[1][0] - r[2][0])})")
    print("  smallest |PGD MCS| per ε:")
    for e in EPS:
        r = sorted((abs(pick(recs, model=m, attack="pgd", eps=e)["mcs"]), m) for m in SIX)
        print(f"    ε={e:.2f}: " + ", ".join(f"{m} {f3(v)}" for v, m in r[:3])
              + f"  (1st − 2nd: {f3(r[1][0] - r[0][0])})")
    for a, b, key in (("IAT", "PT", "mcs"), ("IAT", "PT", "accuracy"), ("ACE-AT", "PGD-AT", "mcs"),
                      ("AT+IAT", "PGD-AT", "accuracy"), ("ACE-AT", "PGD-AT", "accuracy")):
        out = []
        for e in EPS:
            x = pick(recs, model=a, attack="pgd", eps=e)[key]
            y = pick(recs, model=b, attack="pgd", eps=e)[key]
            out.append(f"{e:.2f}:{s3(x - y)}{'' if abs(x - y) > thr(n) else '~'}")
        print(f"  {key} {a} − {b} (~ = within error): " + " ".join(out))
    for m in ("CCAT", "ACE-AT", "IAT"):
        print(f"  {m} PGD MCS over ε: " + " ".join(s3(pick(recs, model=m, attack='pgd', eps=e)['mcs']) for e in EPS))
    print()


def sec_table1(d):
    recs = load(d, "table1")
    print("## Table 1 (results/cpu/table1.json)")
    print("| model | clean ACC / CONF / MCS | IAA ACC / CONF / MCS | UCA ACC / CONF / MCS |")
    print("|---|---|---|---|")
    for m in SIX:
        c, i, u = (pick(recs, model=m, attack=a) for a in ("clean", "iaa", "uca"))
        print(f"| {m} | " + " | ".join(f"{f3(r['accuracy'])} / {f3(r['confidence'])} / {s3(r['mcs'])}"
                                        for r in (c, i, u)) + " |")
    n = pick(recs, model="PT", attack="clean")["n"]
    print(f"\nchecks (n = {n}, threshold ±{f3(thr(n))}):")
    for m in SIX:
        c, i, u = (pick(recs, model=m, attack=a) for a in ("clean", "iaa", "uca"))
        print(f"  {m}: UCA MCS − IAA MCS {s3(u['mcs'] - i['mcs'])}; IAA ACC − clean {s3(i['accuracy'] - c['accuracy'])}; "
              f"UCA ACC == clean ACC {u['accuracy'] == c['accuracy']}; IAA CONF − UCA CONF {s3(i['confidence'] - u['confidence'])}")
    print()


ARCH = [("resnet18", "ResNet-18/4"), ("mobilenet_v2", "MobileNetV2/4"), ("vgg19", "VGG-19/4")]


def sec_table3(d):
    recs = load(d, "table3")
    print("## Table 3 (results/cpu/table3.json)")
    print("| threat (crafted on) \\ target | " + " | ".join(n for _, n in ARCH) + " |")
    print("|---|---|---|---|")
    for src, sname in ARCH:
        cells = []
        for tgt, _ in ARCH:
            r = pick(recs, model=tgt, source=src)
            v = s3(r["mcs"])
            if src == tgt:
                v = f"**{v}**"
            cells.append(f"{v} (ACC {f3(r['accuracy'])}, CONF {f3(r['confidence'])})")
        print(f"| {sname} | " + " | ".join(cells) + " |")
    print("\nchecks:")
    diag = [pick(recs, model=a, source=a)["mcs"] for a, _ in ARCH]
    off = [pick(recs, model=t, source=s)["mcs"] for s, _ in ARCH for t, _ in ARCH if s != t]
    print(f"  diagonal: {' '.join(s3(x) for x in diag)}; off-diagonal range {s3(min(off))}..{s3(max(off))}")
    for (a, _), p in zip(ARCH, (-0.69, -0.72, -0.24)):
        x = pick(recs, model=a, source=a)["mcs"]
        print(f"  {a}: ours/paper diagonal ratio {x / p:.2f}")
    v = [pick(recs, model="vgg19", source=s) for s in ("resnet18", "mobilenet_v2")]
    print(f"  VGG-19/4 as transfer target: ACC {f3(v[0]['accuracy'])}, {f3(v[1]['accuracy'])}; "
          f"CONF {f3(v[0]['confidence'])}, {f3(v[1]['confidence'])}; n = {v[0]['n']}")
    print()


def sec_fig8(d):
    agg = load(d, "fig8")
    imgs = load(d, "fig8_images")
    print("## Fig. 8 (results/cpu/fig8.json, fig8_images.json)")
    for r in agg:
        print(f"  {r['attack']}: ACC {f3(r['accuracy'])}, CONF {f3(r['confidence'])}, MCS {s3(r['mcs'])}, n = {r['n']}")
    kept = flipped = 0
    for r in imgs:
        ok = r["iae_prediction"] == r["label"]
        kept += ok
        flipped += not ok
        print(f"  test {r['test_index']:2d} {r['label']:10s} clean {r['clean_prediction']} "
              f"{r['clean_confidence'] * 100:.0f} % -> IAE {r['iae_prediction']} {r['iae_confidence'] * 100:.0f} %"
              f"  {'correct' if ok else 'FLIPPED'}  max|δ| {f3(r['max_linf'])}")
    print(f"  kept correct: {kept} of {len(imgs)}; flipped: {flipped}")
    print()


def sec_training(d):
    f6 = load(d, "fig6")
    f7 = load(d, "fig7")
    print("## Training runs: clean and ε = 0.03 columns (results/cpu/fig6.json, fig7.json)")
    print("| strategy | clean ACC / CONF / ECE / MCS | PGD@0.03 ACC / MCS | IAA@0.03 ACC / CONF / MCS |")
    print("|---|---|---|---|")
    for m in SIX:
        c = pick(f6, model=m, attack="clean")
        p = pick(f7, model=m, attack="pgd", eps=0.03)
        i = pick(f6, model=m, attack="iaa", eps=0.03)
        print(f"| {m} | {f3(c['accuracy'])} / {f3(c['confidence'])} / {f3(c['ece'])} / {s3(c['mcs'])} | "
              f"{f3(p['accuracy'])} / {s3(p['mcs'])} | {f3(i['accuracy'])} / {f3(i['confidence'])} / {s3(i['mcs'])} |")
    print()


SECTIONS = {"error": sec_error, "fig4": sec_fig4, "fig5": sec_fig5, "fig6": sec_fig6, "fig7": sec_fig7,
            "table1": sec_table1, "table3": sec_table3, "fig8": sec_fig8, "training": sec_training}


def main(argv):
    d = "results/cpu"
    if "--dir" in argv:
        i = argv.index("--dir")
        d = argv[i + 1]
        argv = argv[:i] + argv[i + 2:]
    names = argv or list(SECTIONS)
    for name in names:
        if name not in SECTIONS:
            raise SystemExit(f"unknown section {name}; one of {', '.join(SECTIONS)}")
        SECTIONS[name](d)


if __name__ == "__main__":
    main(sys.argv[1:])
