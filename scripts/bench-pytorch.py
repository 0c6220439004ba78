#!/usr/bin/env python3
"""PyTorch side of the advcal-vs-PyTorch benchmark ("Faster than PyTorch", item 4).

Times in PyTorch (CPU, float32) the same work as rows of advcal's criterion bench
benches/attack_step.rs, on the same models, inputs, batch sizes and attack settings:

    row                    pairs with (criterion id <model>/tch/b<batch>/<row>)
    fwd_bwd_input          lower_bound_fwd_bwd  forward + backward w.r.t. the input, eval-mode BN,
                                                parameters frozen (requires_grad False), loss Σ CE
    pgd_t10_torchattacks   pgd_t10              torchattacks.PGD(eps, alpha, steps=10, random_start)
    pgd_t10_loop           pgd_t10              the same PGD as a hand loop on Σ CE (advcal's loss),
                                                plus the final no-grad logits advcal returns
    apgd_ce_t10_torchattacks   apgd_ce_t10      torchattacks.APGD(eps, steps=10, loss='ce', n_restarts=1)
    apgd_dlr_t10_torchattacks  apgd_dlr_t10     torchattacks.APGD(eps, steps=10, loss='dlr', n_restarts=1)
    square_q100_torchattacks   square_q100      torchattacks.Square(eps, n_queries=100, n_restarts=1)
                           (the torchattacks rows label each image with the model's prediction:
                           torchattacks attacks only correctly classified images, advcal all;
                           Square still stops early on images it fools, advcal's too)
    iaa_t10_loop           iaa_t10              IAA as advcal's IaaConfig::alg1(): λ = 5, T = 10,
                                                ε = 0.03, α = ε/T, radius t·ε/T, unclamped U(−ε, ε)
                                                start, descent on Σ [CE + λ·CE(uniform)]
    train_pt               train_pt             one SGD step of plain training: train-mode BN,
                                                mean CE, backward, optimiser step
    train_pt_fwd_bwd       train_pt_fwd_bwd     train_pt without the optimiser step (profile)
    train_pt_no_bn         train_pt_no_bn       train_pt on the model with every BatchNorm folded
                                                into its convolution (same convs plus a bias, no
                                                BN left: what BN costs, by ablation)
    wgrad_native           (profile only)       the weight gradients of the 20 convolutions of a
                                                training step (ResNet-18 shapes at this width and
                                                batch), by PyTorch's convolution_backward
    wgrad_swapped_conv     (profile only)       the same gradients computed as Burn 0.21's generic
                                                conv2d_weight_backward does (burn-tch inherits it):
                                                one conv2d of the batch-swapped input with the
                                                batch-swapped output gradient as kernel

Usage (the interpreter is the one of scripts/setup-pytorch.sh):

    eval "$(bash scripts/setup-pytorch.sh --print-env)"
    OMP_NUM_THREADS=2 MKL_NUM_THREADS=2 "$ADVCAL_PYTHON" scripts/bench-pytorch.py \
        [--models resnet18,small_cnn] [--width W] [--batches 32,128] [--threads 2] \
        [--rows fwd_bwd_input,pgd_t10_loop,...] [--seconds 5] [--min-samples 5] [--warmup 2] \
        [--sgd bench|paper] [--fold-bn] [--check]

One JSON line per (model, batch, row) on stdout:
    {"impl": "pytorch", "row": ..., "model": ..., "width": ..., "batch": ..., "threads": ...,
     "median_ms": ..., "mad_ms": ..., "samples": ..., ...}
(MAD = median absolute deviation from the median, unscaled). With --check, one more line per
(model, batch) with "check": "pgd_loop_vs_torchattacks" compares the hand PGD loop with
torchattacks from the same random start (same seed). Progress goes to stderr.

Defaults match the bench: ResNet-18 width 64 (the bench's ResNet18Config::new(); the `cifar`
preset's ResNet-18/4 is --width 16, which the bench does not run), small CNN width 16, batch
32, inputs uniform in [0, 1) (advcal's generator differs; only the distribution matters here),
labels i mod 10, weights from PyTorch's default initialisation (seed 0) with fresh BatchNorm
statistics (mean 0, variance 1, as a fresh advcal model). `--sgd bench` is the bench's optimiser
(burn's SgdConfig::new(): lr 0.01, no momentum, no weight decay); `--sgd paper` is SGD with
momentum 0.9 and weight decay 5e-4 (the training recipe), which the bench does not time.
"""

import argparse
import copy
import json
import os
import statistics
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

MEAN = (0.4914, 0.4822, 0.4465)
STD = (0.2470, 0.2435, 0.2616)
NUM_CLASSES = 10
ROWS = ["fwd_bwd_input", "pgd_t10_torchattacks", "pgd_t10_loop", "iaa_t10_loop",
        "apgd_ce_t10_torchattacks", "apgd_dlr_t10_torchattacks", "square_q100_torchattacks", "train_pt",
        "train_pt_fwd_bwd", "train_pt_no_bn", "wgrad_native", "wgrad_swapped_conv"]
TRAIN_ROWS = ("train_pt", "train_pt_fwd_bwd", "train_pt_no_bn")
DEFAULT_WIDTH = {"resnet18": 64, "small_cnn": 16}


def f32(v):
    """The Python float equal to the float32 nearest to v (advcal's constants are f32)."""
    return float(np.float32(v))


# advcal's defaults (src/attack/pgd.rs, src/attack/iaa.rs, src/attack/sign_gradient.rs),
# computed in f32 as the Rust code does.
PGD_EPS = f32(0.031372549)  # PgdConfig::new().epsilon (8/255 as f32)
PGD_ALPHA = f32(np.float32(0.25) * np.float32(PGD_EPS))  # StepSize::RelativeToEpsilon(0.25)
PGD_STEPS = 10
IAA_EPS = f32(0.03)  # IaaConfig::new().epsilon
IAA_STEPS = 10
IAA_LAMBDA = 5.0
IAA_ALPHA = f32(np.float32(IAA_EPS) / np.float32(IAA_STEPS))  # StepSize::EpsilonOverSteps
IAA_RADII = [f32(np.float32(t) * np.float32(IAA_EPS) / np.float32(IAA_STEPS)) for t in range(1, IAA_STEPS + 1)]


# ---------------------------------------------------------------------------------------------
# Models: the architectures of src/model/resnet.rs and src/model/small_cnn.rs, with the input
# normalisation inside the model (inputs on the [0, 1] scale).
# ---------------------------------------------------------------------------------------------


class Normalization(nn.Module):
    def __init__(self):
        super().__init__()
        self.register_buffer("mean", torch.tensor(MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("inv_std", 1.0 / torch.tensor(STD).view(1, 3, 1, 1), persistent=False)

    def forward(self, x):
        # advcal: (x − mean) · (1/std)
        return (x - self.mean) * self.inv_std


def fold(conv, bn):
    """Conv with the eval-mode BatchNorm folded in (as advcal's fold_conv_bn), BN replaced by
    Identity."""
    return torch.nn.utils.fusion.fuse_conv_bn_eval(conv, bn), nn.Identity()


class BasicBlock(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, stride=1, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.shortcut = None
        if stride != 1 or cin != cout:
            self.shortcut = nn.Sequential(
                nn.Conv2d(cin, cout, 1, stride=stride, bias=False), nn.BatchNorm2d(cout)
            )

    def forward(self, x):
        identity = x if self.shortcut is None else self.shortcut(x)
        out = F.relu(self.bn1(self.conv1(x)))
        return F.relu(self.bn2(self.conv2(out)) + identity)

    def fold_bn(self):
        self.conv1, self.bn1 = fold(self.conv1, self.bn1)
        self.conv2, self.bn2 = fold(self.conv2, self.bn2)
        if self.shortcut is not None:
            self.shortcut[0], self.shortcut[1] = fold(self.shortcut[0], self.shortcut[1])


class ResNet18(nn.Module):
    """CIFAR ResNet-18: 3×3 stem (stride 1, no max-pool), stages of widths w, 2w, 4w, 8w
    (strides 1/2/2/2, two BasicBlocks each), global average pooling, linear head."""

    def __init__(self, width=64, num_classes=NUM_CLASSES):
        super().__init__()
        self.norm = Normalization()
        self.stem = nn.Conv2d(3, width, 3, stride=1, padding=1, bias=False)
        self.stem_bn = nn.BatchNorm2d(width)
        blocks, cin = [], width
        for stage in range(4):
            cout = width << stage
            for i in range(2):
                blocks.append(BasicBlock(cin, cout, 2 if stage > 0 and i == 0 else 1))
                cin = cout
        self.blocks = nn.Sequential(*blocks)
        self.fc = nn.Linear(cin, num_classes)

    def forward(self, x):
        x = F.relu(self.stem_bn(self.stem(self.norm(x))))
        x = self.blocks(x)
        return self.fc(x.mean(dim=(2, 3)))

    def fold_bn(self):
        self.stem, self.stem_bn = fold(self.stem, self.stem_bn)
        for b in self.blocks:
            b.fold_bn()
        return self


class SmallCnn(nn.Module):
    """advcal's SmallCnn: five 3×3 conv (no bias) + BN + ReLU, widths w, w, 2w, 2w, 4w, 2×2
    max-pool after the 2nd and 4th, global average pooling, linear head."""

    def __init__(self, width=16, num_classes=NUM_CLASSES):
        super().__init__()
        self.norm = Normalization()
        widths = [3, width, width, 2 * width, 2 * width, 4 * width]
        self.convs = nn.ModuleList(
            nn.Conv2d(a, b, 3, padding=1, bias=False) for a, b in zip(widths[:-1], widths[1:])
        )
        self.bns = nn.ModuleList(nn.BatchNorm2d(c) for c in widths[1:])
        self.fc = nn.Linear(4 * width, num_classes)

    def forward(self, x):
        x = self.norm(x)
        for i, (conv, bn) in enumerate(zip(self.convs, self.bns)):
            x = F.relu(bn(conv(x)))
            if i in (1, 3):
                x = F.max_pool2d(x, 2, 2)
        return self.fc(x.mean(dim=(2, 3)))

    def fold_bn(self):
        for i in range(len(self.convs)):
            self.convs[i], self.bns[i] = fold(self.convs[i], self.bns[i])
        return self


def build(model, width):
    torch.manual_seed(0)
    if model == "resnet18":
        return ResNet18(width)
    if model == "small_cnn":
        return SmallCnn(width)
    raise SystemExit(f"unknown model {model!r} (resnet18, small_cnn)")


def frozen_eval(net, fold_bn):
    """The attack copy: eval mode, parameters not requiring gradients (advcal's frozen_copy),
    optionally with BatchNorm folded into the convolutions."""
    m = copy.deepcopy(net).eval()
    for p in m.parameters():
        p.requires_grad_(False)
    if fold_bn:
        m.fold_bn()
        for p in m.parameters():
            p.requires_grad_(False)
    return m


# ---------------------------------------------------------------------------------------------
# The timed work
# ---------------------------------------------------------------------------------------------


def ce_sum(z, y):
    return F.cross_entropy(z, y, reduction="sum")


def iaa_sum(z, y, lam=IAA_LAMBDA):
    logp = F.log_softmax(z, dim=1)
    ce = -logp.gather(1, y.view(-1, 1)).view(-1)
    uniform = -logp.mean(dim=1)
    return (ce + lam * uniform).sum()


def resnet18_conv_shapes(width, batch):
    """(x, grad_output, weight shape, stride, padding) of the 20 convolutions of the CIFAR
    ResNet-18 (stem, 16 block convs, 3 shortcuts) at 32×32, random data of the right shapes."""
    g = torch.Generator().manual_seed(2)
    shapes = [(3, width, 32, 3, 1)]  # (cin, cout, input size, kernel, stride)
    cin, size = width, 32
    for i, mult in enumerate([1, 2, 4, 8]):
        cout = width * mult
        stride = 1 if i == 0 else 2
        shapes.append((cin, cout, size, 3, stride))
        if stride != 1:
            shapes.append((cin, cout, size, 1, stride))  # shortcut
        size //= stride
        shapes += [(cout, cout, size, 3, 1)] * 3
        cin = cout
    convs = []
    for cin, cout, size, k, stride in shapes:
        pad = k // 2
        out = (size + 2 * pad - k) // stride + 1
        x = torch.rand(batch, cin, size, size, generator=g)
        go = torch.randn(batch, cout, out, out, generator=g)
        convs.append((x, go, (cout, cin, k, k), stride, pad))
    assert len(convs) == 20
    return convs


def wgrad_native(convs):
    for x, go, wshape, stride, pad in convs:
        w = torch.empty(wshape)
        torch.ops.aten.convolution_backward(go, x, w, None, [stride] * 2, [pad] * 2, [1, 1], False,
                                            [0, 0], 1, [False, True, False])


def wgrad_swapped_conv(convs):
    """burn-backend 0.21 conv2d_weight_grad_no_groups: conv2d(x.swap(0, 1), grad.swap(0, 1)) with
    stride = the forward dilation and dilation = the forward stride, swapped back and sliced."""
    for x, go, wshape, stride, pad in convs:
        gw = F.conv2d(x.transpose(0, 1), go.transpose(0, 1), None, stride=1, padding=pad,
                      dilation=stride).transpose(0, 1)
        gw = gw[: wshape[0], : wshape[1], : wshape[2], : wshape[3]]


def check_wgrad(convs):
    """Both ways give the same weight gradients."""
    worst = 0.0
    for x, go, wshape, stride, pad in convs:
        w = torch.empty(wshape)
        ref = torch.ops.aten.convolution_backward(go, x, w, None, [stride] * 2, [pad] * 2, [1, 1],
                                                  False, [0, 0], 1, [False, True, False])[1]
        gw = F.conv2d(x.transpose(0, 1), go.transpose(0, 1), None, stride=1, padding=pad,
                      dilation=stride).transpose(0, 1)
        gw = gw[: wshape[0], : wshape[1], : wshape[2], : wshape[3]]
        worst = max(worst, float((gw - ref).abs().max() / ref.abs().max()))
    return worst


def fwd_bwd_input(model, x, y):
    leaf = x.detach().requires_grad_(True)
    (g,) = torch.autograd.grad(ce_sum(model(leaf), y), leaf)
    return g


def pgd_loop(model, x, y, eps=PGD_EPS, alpha=PGD_ALPHA, steps=PGD_STEPS):
    """advcal's Pgd (StartPoint::Uniform, RadiusSchedule::Constant, Direction::Ascent) on Σ CE.
    The random start draws like torchattacks (empty_like().uniform_), so the same seed gives the
    same start. Returns (x_adv, final logits)."""
    adv = torch.clamp(x + torch.empty_like(x).uniform_(-eps, eps), 0.0, 1.0)
    for _ in range(steps):
        leaf = adv.detach().requires_grad_(True)
        (g,) = torch.autograd.grad(ce_sum(model(leaf), y), leaf)
        stepped = adv + alpha * g.sign()
        adv = torch.clamp(x + torch.clamp(stepped - x, -eps, eps), 0.0, 1.0)
    with torch.no_grad():
        logits = model(adv)
    return adv, logits


def iaa_loop(model, x, y, eps=IAA_EPS, alpha=IAA_ALPHA, steps=IAA_STEPS):
    """advcal's Iaa defaults (StartPoint::UniformUnclamped, RadiusSchedule::Linear, descent on
    Σ [CE + λ·CE(uniform)], α = ε/T). Returns (x_adv, final logits)."""
    adv = x + torch.empty_like(x).uniform_(-eps, eps)  # N_0, not clamped
    for t in range(1, steps + 1):
        point = torch.clamp(adv, 0.0, 1.0) if t == 1 else adv  # first forward at clamp(x + N_0)
        leaf = point.detach().requires_grad_(True)
        (g,) = torch.autograd.grad(iaa_sum(model(leaf), y), leaf)
        stepped = adv - alpha * g.sign()
        r = IAA_RADII[t - 1]
        adv = torch.clamp(x + torch.clamp(stepped - x, -r, r), 0.0, 1.0)
    with torch.no_grad():
        logits = model(adv)
    return adv, logits


def make_optimizer(net, kind):
    if kind == "bench":  # burn SgdConfig::new() as in benches/attack_step.rs, lr 0.01
        return torch.optim.SGD(net.parameters(), lr=0.01)
    return torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.9, weight_decay=5e-4)


def train_step(net, opt, x, y, step=True):
    logits = net(x)
    loss = F.cross_entropy(logits, y)  # mean CE, train-mode BatchNorm
    opt.zero_grad(set_to_none=True)
    loss.backward()
    if step:
        opt.step()
    return loss


def trainable_without_bn(net):
    """A trainable copy of `net` with every BatchNorm folded into its convolution."""
    m = copy.deepcopy(net).eval()
    with torch.no_grad():
        m.fold_bn()
    m.train()
    for p in m.parameters():
        p.requires_grad_(True)
    return m


# ---------------------------------------------------------------------------------------------
# Timing
# ---------------------------------------------------------------------------------------------


def measure(fn, seconds, min_samples, warmup):
    for _ in range(warmup):
        fn()
    times = []
    start = time.perf_counter()
    while len(times) < min_samples or time.perf_counter() - start < seconds:
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    med = statistics.median(times)
    mad = statistics.median([abs(t - med) for t in times])
    return med * 1e3, mad * 1e3, len(times)


def check_pgd(model, x, y, seed=1234):
    """Hand PGD loop vs torchattacks.PGD from the same random start."""
    import torchattacks

    atk = torchattacks.PGD(model, eps=PGD_EPS, alpha=PGD_ALPHA, steps=PGD_STEPS, random_start=True)
    torch.manual_seed(seed)
    ref = atk(x, y)
    torch.manual_seed(seed)
    mine, _ = pgd_loop(model, x, y)
    diff = (ref - mine).abs()
    differing = int((diff > 0).sum())
    max_diff = float(diff.max())
    # Mean- vs sum-reduced loss: gradients differ by the factor N, exactly when N is a power of
    # two; otherwise rounding may flip the sign of a near-zero component now and then.
    n = x.shape[0]
    exact_expected = n & (n - 1) == 0
    ok = differing == 0 if exact_expected else differing <= max(1, ref.numel() // 10000)
    return {
        "check": "pgd_loop_vs_torchattacks",
        "max_abs_diff": max_diff,
        "differing_pixels": differing,
        "pixels": ref.numel(),
        "linf_from_clean": float((mine - x).abs().max()),
        "ok": bool(ok),
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--models", default="resnet18", help="comma list of resnet18, small_cnn")
    ap.add_argument("--width", type=int, default=None, help="base width (default: 64 for resnet18, 16 for small_cnn)")
    ap.add_argument("--batches", default="32", help="comma list of batch sizes")
    ap.add_argument("--threads", type=int, default=2, help="torch.set_num_threads")
    ap.add_argument("--rows", default=",".join(ROWS), help="comma list of " + ", ".join(ROWS))
    ap.add_argument("--seconds", type=float, default=5.0, help="minimum measuring time per row")
    ap.add_argument("--min-samples", type=int, default=5)
    ap.add_argument("--warmup", type=int, default=2, help="untimed calls before measuring")
    ap.add_argument("--sgd", choices=["bench", "paper"], default="bench")
    ap.add_argument("--fold-bn", action="store_true", help="fold eval BatchNorm into the convs for the attack rows")
    ap.add_argument("--check", action="store_true", help="also check pgd_t10_loop against torchattacks")
    args = ap.parse_args()

    rows = [r.strip() for r in args.rows.split(",") if r.strip()]
    for r in rows:
        if r not in ROWS:
            raise SystemExit(f"unknown row {r!r}; rows: {', '.join(ROWS)}")
    torch.set_num_threads(args.threads)
    meta = {
        "torch": torch.__version__,
        "omp_num_threads": os.environ.get("OMP_NUM_THREADS"),
        "torch_threads": torch.get_num_threads(),
        "interop_threads": torch.get_num_interop_threads(),
    }
    print(f"[bench-pytorch] {json.dumps(meta)}", file=sys.stderr)

    for model_name in [m.strip() for m in args.models.split(",") if m.strip()]:
        width = args.width or DEFAULT_WIDTH.get(model_name, 0)
        net = build(model_name, width)
        attack_model = frozen_eval(net, args.fold_bn)
        for batch in [int(b) for b in args.batches.split(",") if b.strip()]:
            g = torch.Generator().manual_seed(1)
            x = torch.rand(batch, 3, 32, 32, generator=g)
            y = torch.arange(batch) % NUM_CLASSES
            common = {"impl": "pytorch", "model": model_name, "width": width, "batch": batch,
                      "threads": args.threads}
            if args.check:
                rec = dict(common, **check_pgd(attack_model, x, y))
                print(json.dumps(rec), flush=True)
            for row in rows:
                if row.startswith("wgrad_"):
                    convs = resnet18_conv_shapes(width, batch)
                    rel = check_wgrad(convs)
                    if rel > 1e-4:
                        raise SystemExit(f"weight gradients disagree: relative {rel:.2e}")
                    fn = (lambda: wgrad_native(convs)) if row == "wgrad_native" else (
                        lambda: wgrad_swapped_conv(convs))
                elif row == "fwd_bwd_input":
                    fn = lambda: fwd_bwd_input(attack_model, x, y)
                elif row == "pgd_t10_torchattacks":
                    import torchattacks

                    atk = torchattacks.PGD(attack_model, eps=PGD_EPS, alpha=PGD_ALPHA,
                                           steps=PGD_STEPS, random_start=True)
                    fn = lambda: atk(x, y)
                elif row == "pgd_t10_loop":
                    fn = lambda: pgd_loop(attack_model, x, y)
                elif row == "iaa_t10_loop":
                    fn = lambda: iaa_loop(attack_model, x, y)
                elif row in ("apgd_ce_t10_torchattacks", "apgd_dlr_t10_torchattacks"):
                    import torchattacks

                    loss = "ce" if row.startswith("apgd_ce") else "dlr"
                    atk = torchattacks.APGD(attack_model, norm="Linf", eps=PGD_EPS, steps=10,
                                            n_restarts=1, loss=loss, rho=0.75, seed=0)
                    # torchattacks attacks only the images classified correctly; advcal attacks
                    # all: label every image with its prediction for equal work.
                    with torch.no_grad():
                        y_pred = attack_model(x).argmax(1)
                    fn = lambda: atk(x, y_pred)
                elif row == "square_q100_torchattacks":
                    import torchattacks

                    atk = torchattacks.Square(attack_model, norm="Linf", eps=PGD_EPS, n_queries=100,
                                              n_restarts=1, p_init=0.8, loss="margin", seed=0)
                    with torch.no_grad():
                        y_pred = attack_model(x).argmax(1)
                    fn = lambda: atk(x, y_pred)
                elif row in TRAIN_ROWS:
                    if row == "train_pt_no_bn":
                        train_net = trainable_without_bn(net)
                    else:
                        train_net = copy.deepcopy(net).train()
                    opt = make_optimizer(train_net, args.sgd)
                    step = row != "train_pt_fwd_bwd"
                    fn = lambda: train_step(train_net, opt, x, y, step)
                print(f"[bench-pytorch] {model_name} w{width} b{batch} {row} ...", file=sys.stderr, flush=True)
                med, mad, n = measure(fn, args.seconds, args.min_samples, args.warmup)
                rec = dict(common, row=row, median_ms=round(med, 4), mad_ms=round(mad, 4), samples=n,
                           fold_bn=args.fold_bn and row not in TRAIN_ROWS)
                if row in TRAIN_ROWS:
                    rec["sgd"] = args.sgd
                print(json.dumps(rec), flush=True)


if __name__ == "__main__":
    main()
