#!/usr/bin/env python3
"""Tests of scripts/render_results.py and of the page check of scripts/check_results.py.

    python3 scripts/test_render_results.py <results dir of a complete smoke run>

e.g. the output of `cargo run --example paper -- all --preset smoke --out <dir>
--tiny-imagenet-dir ../shared/data/tiny-imagenet-200`. The directory is copied into a temporary
folder (checkpoints left out) and never modified. Plain asserts; exits non-zero on the first
failure.
"""
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

SCRIPTS = Path(__file__).resolve().parent
sys.dont_write_bytecode = True  # no __pycache__ in scripts/ from the imports below
sys.path.insert(0, str(SCRIPTS))
import check_results  # noqa: E402
import render_results as rr  # noqa: E402

EXPERIMENTS = rr.EXPERIMENTS
PENDING = "**Not run yet**"


def run(script, *args):
    p = subprocess.run([sys.executable, str(SCRIPTS / script), *map(str, args)],
                       capture_output=True, text=True)
    return p.returncode, p.stdout + p.stderr


def render(d, page, *extra):
    rc, out = run("render_results.py", "--dir", d, "--out", page, *extra)
    assert rc == 0, out
    return Path(page).read_text()


def sections(page):
    """{title: text} of the ## and ### sections."""
    out, title = {}, None
    for line in page.splitlines():
        if line.startswith("## ") or line.startswith("### "):
            title = line.lstrip("# ")
            out[title] = ""
        elif title:
            out[title] += line + "\n"
    return out


def result_sections(page):
    """The sections that show records (everything but the page's introduction and setup)."""
    keep = ("Clean calibration", "Fig.", "Table", "IAT ablation", "Fine-tuning", "Training runs")
    return {t: s for t, s in sections(page).items() if t.startswith(keep)}


def test_verdicts():
    R, N, I = rr.R, rr.N, rr.I
    t = rr.v_threshold
    assert t((0.01, 0.05), ">", 0) == R and t((-0.05, -0.01), ">", 0) == N
    assert t((-0.01, 0.05), ">", 0) == I and t(None, ">", 0) == I
    assert t((0.85, 0.9), ">=", 0.85) == R and t((0.8, 0.849), ">=", 0.85) == N
    assert t((-0.3, -0.1), "<", 0) == R and t((0.0, 0.1), "<", 0) == N
    assert rr.v_less((0.1, 0.2), (0.3, 0.4)) == R and rr.v_less((0.3, 0.4), (0.1, 0.2)) == N
    assert rr.v_less((0.1, 0.3), (0.2, 0.4)) == I and rr.v_greater((0.3, 0.4), (0.1, 0.2)) == R
    assert rr.v_smallest((0.1, 0.2), [(0.3, 0.4), (0.25, 0.5)]) == R
    assert rr.v_smallest((0.1, 0.3), [(0.3 - 1e-9, 0.4), (0.5, 0.6)]) == I
    assert rr.v_smallest((0.5, 0.6), [(0.1, 0.2), (0.55, 0.7)]) == N
    assert rr.v_largest((0.5, 0.6), [(0.1, 0.2), (0.3, 0.4)]) == R
    assert rr.v_approx((0.1, 0.2), (0.15, 0.3)) == I and rr.v_approx((0.1, 0.2), 0.85) == N
    assert rr.v_approx((-0.1, 0.1), 0.0) == I
    assert rr.v_differs((0.1, 0.2), (0.3, 0.4)) == rr.YES
    assert rr.v_differs((0.1, 0.35), (0.3, 0.4)) == rr.NOT_SHOWN
    assert rr.v_all([R, R]) == R and rr.v_all([R, I]) == I and rr.v_all([R, I, N]) == N
    assert rr.abs_iv((-0.2, 0.1)) == (0.0, 0.2) and rr.abs_iv((-0.4, -0.1)) == (0.1, 0.4)
    assert rr.position((0.2, 0.3), 0.25) == "contains" and rr.position((0.3, 0.4), 0.25) == "above"
    grid = [round(0.01 * i, 2) for i in range(2, 11)]
    pairs = [(e, I if e in (0.02, 0.10) else R) for e in grid]
    assert rr.summarize(pairs) == \
        "*reproduced* at ε = 0.03–0.09, *inconclusive* at 0.02 and 0.10"
    assert rr.summarize([(e, R) for e in grid]) == "*reproduced* at every ε (0.02–0.10)"
    assert rr.summarize([(0.03, N)]) == "*not reproduced* at ε = 0.03"
    pairs = [(0.02, N), (0.03, N), (0.04, I), (0.05, R), (0.06, R), (0.07, R)]
    assert rr.summarize(pairs) == ("*reproduced* at ε = 0.05–0.07, *not reproduced* at 0.02 and "
                                   "0.03, *inconclusive* at 0.04"), rr.summarize(pairs)
    assert rr.summarize_models([("PT", R), ("IAT", I), ("CCAT", R)]) == \
        "*reproduced* for PT and CCAT, *inconclusive* for IAT"
    assert rr.summarize_models([("PT", I), ("IAT", I)]) == "*inconclusive* for PT and IAT"
    # Formatting: rounded once, Unicode minus, signed MCS, no negative zero.
    assert rr.f3(-0.0004) == "0.000" and rr.s3(-0.0004) == "0.000" and rr.s3(0.0231) == "+0.023"
    assert rr.s3(-0.4061) == "\u22120.406" and rr.f3(0.5905) in ("0.590", "0.591")
    assert rr.eps_str(8 / 255) == "8/255 (0.031)" and rr.eps_str(0.1) == "0.10"


def test_page_numbers():
    text = ("a 0.591 b +0.023, c \u22120.406 [\u22120.5, +0.1]; `0.777` [x](a/0.888.svg) "
            "ResNet-18 v2.9.0 iat-clean0.5 8/255\n```\n0.999\n```\nend 1.5.\n")
    got = [tok for _, tok in check_results.page_numbers(text)]
    assert got == ["0.591", "+0.023", "\u22120.406", "\u22120.5", "+0.1", "1.5"], got


def test_full(smoke, tmp):
    d = tmp / "full"
    shutil.copytree(smoke, d, ignore=shutil.ignore_patterns("*.ckpt", "derived.json"))
    page_path = tmp / "full.md"
    page = render(d, page_path)
    for name in EXPERIMENTS:
        assert f"`{name}.json` is missing" not in page, name
    assert PENDING not in page
    assert "0.1708" in page  # Table 2's analytic optimum (K = 200, λ = 5)
    rc, out = run("check_results.py", d, "--require", "table2", "--require", "iat-ablation",
                  "--require", "finetune-vs-scratch", "--page", page_path)
    assert rc == 0, out
    # Rendering is deterministic, and --check agrees.
    assert render(d, tmp / "again.md") == page
    rc, out = run("render_results.py", "--dir", d, "--out", page_path, "--check")
    assert rc == 0, out
    # A number changed by 0.001 fails the page check, and names that number.
    allowed = set()
    for v in check_results_values(d):
        allowed.add(f"{v:.3f}".replace("-0.000", "0.000"))
    lines = page.splitlines()
    changed = None
    for no, tok in check_results.page_numbers(page):
        digits = tok.lstrip("+-\u2212")
        if len(digits.split(".")[1]) != 3 or tok != digits:
            continue
        new = f"{float(digits) + 0.001:.3f}"
        if new not in allowed and lines[no - 1].count(tok) == 1:
            lines[no - 1] = lines[no - 1].replace(tok, new)
            changed = (no, new)
            break
    assert changed, "no number to change"
    bad = tmp / "bad.md"
    bad.write_text("\n".join(lines) + "\n")
    problems = check_results.check_page(d, bad)
    assert len(problems) == 1 and f":{changed[0]}: {changed[1]} " in problems[0], problems
    rc, out = run("check_results.py", d, "--require", "table2", "--page", bad)
    assert rc != 0 and changed[1] in out, out
    # A sign flipped on an MCS fails too.
    for no, tok in check_results.page_numbers(page):
        if tok.startswith("+") and float(tok[1:]) != 0:
            lines = page.splitlines()
            lines[no - 1] = lines[no - 1].replace(tok, "\u2212" + tok[1:], 1)
            bad.write_text("\n".join(lines) + "\n")
            assert check_results.check_page(d, bad), "sign flip not caught"
            break
    # --check fails on a stale page and on a stale derived.json.
    page_path.write_text(page.replace("## Fig. 5", "## Fig. 5 (edited)"))
    rc, _ = run("render_results.py", "--dir", d, "--out", page_path, "--check")
    assert rc == 1
    page_path.write_text(page)
    derived = json.loads((d / "derived.json").read_text())
    key = next(k for k in derived["values"] if k.startswith("y_G"))
    derived["values"][key]["value"] += 0.001
    (d / "derived.json").write_text(json.dumps(derived))
    rc, _ = run("render_results.py", "--dir", d, "--out", page_path, "--check")
    assert rc == 1
    # ... and the page check refuses a derived value that does not recompute.
    problems = check_results.check_page(d, page_path)
    assert any(key in p for p in problems), problems
    render(d, page_path)
    assert not check_results.check_page(d, page_path)


def check_results_values(d):
    values = []
    for path in sorted(Path(d).glob("*.json")):
        values.extend(check_results._numbers(json.loads(path.read_text()), strings=True))
    return values


def test_empty(tmp):
    d = tmp / "empty"
    d.mkdir()
    page = render(d, tmp / "empty.md")
    assert page.count(PENDING) == len(EXPERIMENTS) + 1, page.count(PENDING)  # + training runs
    for title, text in result_sections(page).items():
        assert not check_results.page_numbers(text), (title, check_results.page_numbers(text))
    assert not check_results.check_page(d, tmp / "empty.md")


def test_partial(smoke, tmp):
    d = tmp / "partial"
    d.mkdir()
    for f in ("models.json", "fig6.json", "fig6.svg"):
        shutil.copy(Path(smoke) / f, d / f)
    page = render(d, tmp / "partial.md")
    assert page.count(PENDING) == len(EXPERIMENTS) - 2 + 1
    secs = result_sections(page)
    fig6 = next(s for t, s in secs.items() if t.startswith("Fig. 6"))
    fig4 = next(s for t, s in secs.items() if t.startswith("Fig. 4"))
    assert check_results.page_numbers(fig6) and "![Fig. 6]" in fig6
    assert not check_results.page_numbers(fig4) and PENDING in fig4
    assert not check_results.check_page(d, tmp / "partial.md")


def test_weights_layout(smoke, tmp):
    """results/cifar layout: weights/<name>.run.json and <name>.ckpt."""
    d = tmp / "weights"
    d.mkdir()
    shutil.copy(Path(smoke) / "models.json", d / "models.json")
    (d / "weights").mkdir()
    runs = sorted(Path(smoke).glob("models/*/run.json"))
    assert runs, "the smoke directory has no models/<run>/run.json"
    shutil.copy(runs[0], d / "weights" / "pt.run.json")
    (d / "weights" / "pt.ckpt").write_bytes(b"")
    page = render(d, tmp / "docs" / "results.md")
    training = sections(page)["Training runs"]
    assert "(../weights/weights/pt.ckpt)" in training, training
    assert "Not collected yet:" in training and "`ccat`" in training
    assert not check_results.check_page(d, tmp / "docs" / "results.md")


def main(argv):
    if len(argv) != 2 or not Path(argv[1]).is_dir():
        print(__doc__, file=sys.stderr)
        return 2
    smoke = Path(argv[1])
    test_verdicts()
    test_page_numbers()
    with tempfile.TemporaryDirectory() as t:
        tmp = Path(t)
        test_full(smoke, tmp)
        test_empty(tmp)
        test_partial(smoke, tmp)
        test_weights_layout(smoke, tmp)
    print("test_render_results: all tests passed")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
