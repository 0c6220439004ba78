#!/usr/bin/env python3
"""PyTorch oracle for advcal's cross-framework tests.

Builds a small CIFAR ResNet-18 (kuangliu/pytorch-cifar layout, base width 16) in PyTorch, gives
it non-trivial BatchNorm statistics and a short training run, then attacks the first N CIFAR-10
test images with torchattacks' FGSM, PGD, APGD (CE, DLR) and Square and with independent
re-implementations of IAA (Algorithm 1 and Eq. 2's selection).
Everything the Rust tests compare against is written to OUTDIR:

    resnet18_cifar.pt           torch.save(state_dict) of the plain ResNet (no normalisation keys)
    resnet18_cifar.safetensors  the same state_dict (num_batches_tracked kept, int64, shape [])
    resnet18_tiny_stride2.safetensors  an untrained 64x64 / 200-class ResNet-18 with a stride-2
                                stem (random BN statistics); its logits are in oracle.safetensors
    oracle.safetensors          images, labels, logits, attack outputs, gradients, trajectories
    oracle.json                 versions, settings, accuracies, key list, timings

Usage (see scripts/setup-pytorch.sh for the interpreter):

    eval "$(bash scripts/setup-pytorch.sh --print-env)"
    "$ADVCAL_PYTHON" scripts/torch_oracle.py OUTDIR [--cifar-dir DIR] [--images N]

The classifier the attacks see is f(x) = resnet((x - mean) / std) on x in [0, 1], with
mean = (0.4914, 0.4822, 0.4465), std = (0.2470, 0.2435, 0.2616) (advcal's CIFAR10_MEAN/STD);
the normalisation buffers are not persistent, so the saved state_dict has only ResNet keys.
All computation is float32 on CPU with BatchNorm in eval mode (running statistics) during attacks.
"""

import argparse
import json
import os
import platform
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

import safetensors
import safetensors.torch
import torchattacks

MEAN = (0.4914, 0.4822, 0.4465)
STD = (0.2470, 0.2435, 0.2616)
# advcal's TINY_IMAGENET_MEAN / TINY_IMAGENET_STD.
TINY_MEAN = (0.4823, 0.4484, 0.3998)
TINY_STD = (0.2764, 0.2687, 0.2817)
NUM_CLASSES = 10
SEED = 0


def f32(v):
    """The Python float equal to the float32 nearest to v (what advcal's f32 constants hold)."""
    return float(np.float32(v))


# ---------------------------------------------------------------------------------------------
# Model: kuangliu/pytorch-cifar models/resnet.py (BasicBlock, ResNet18), base width parameterised.
# ---------------------------------------------------------------------------------------------


class BasicBlock(nn.Module):
    expansion = 1

    def __init__(self, in_planes, planes, stride=1):
        super().__init__()
        self.conv1 = nn.Conv2d(in_planes, planes, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride=1, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.shortcut = nn.Sequential()
        if stride != 1 or in_planes != planes:
            self.shortcut = nn.Sequential(
                nn.Conv2d(in_planes, planes, 1, stride=stride, bias=False),
                nn.BatchNorm2d(planes),
            )

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        out = out + self.shortcut(x)
        return F.relu(out)


class ResNet18(nn.Module):
    def __init__(self, width=16, num_classes=NUM_CLASSES, stem_stride=1):
        super().__init__()
        self.in_planes = width
        self.conv1 = nn.Conv2d(3, width, 3, stride=stem_stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.layer1 = self._make_layer(width, 2, stride=1)
        self.layer2 = self._make_layer(2 * width, 2, stride=2)
        self.layer3 = self._make_layer(4 * width, 2, stride=2)
        self.layer4 = self._make_layer(8 * width, 2, stride=2)
        self.linear = nn.Linear(8 * width, num_classes)

    def _make_layer(self, planes, blocks, stride):
        layers = []
        for s in [stride] + [1] * (blocks - 1):
            layers.append(BasicBlock(self.in_planes, planes, s))
            self.in_planes = planes
        return nn.Sequential(*layers)

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.layer1(out)
        out = self.layer2(out)
        out = self.layer3(out)
        out = self.layer4(out)
        out = F.adaptive_avg_pool2d(out, 1)
        out = torch.flatten(out, 1)
        return self.linear(out)


class Normalized(nn.Module):
    """f(x) = net((x - mean) / std); mean/std are non-persistent buffers (not in state_dict)."""

    def __init__(self, net, mean=MEAN, std=STD):
        super().__init__()
        self.net = net
        self.register_buffer("mean", torch.tensor(mean).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(std).view(1, 3, 1, 1), persistent=False)

    def forward(self, x):
        return self.net((x - self.mean) / self.std)


# ---------------------------------------------------------------------------------------------
# Data
# ---------------------------------------------------------------------------------------------


def load_cifar_bin(path, limit=None):
    """CIFAR-10 binary batch: records of 1 label byte + 3072 bytes (CHW, RGB). Returns
    (images float32 [n,3,32,32] in [0,1], labels int64 [n])."""
    raw = np.fromfile(path, dtype=np.uint8)
    if raw.size % 3073 != 0:
        raise ValueError(f"{path}: size {raw.size} is not a multiple of 3073")
    rec = raw.reshape(-1, 3073)
    if limit is not None:
        rec = rec[:limit]
    labels = torch.from_numpy(rec[:, 0].astype(np.int64))
    # float32 division by 255 (correctly rounded, as `u8 as f32 / 255.0` in Rust).
    images = torch.from_numpy(rec[:, 1:].astype(np.float32).reshape(-1, 3, 32, 32) / np.float32(255.0))
    return images.contiguous(), labels


# ---------------------------------------------------------------------------------------------
# Attacks re-implemented here (to record per-step gradients and for IAA)
# ---------------------------------------------------------------------------------------------


def ce_sum(z, y):
    """Σ_i CE(z_i, y_i): the loss advcal differentiates (per-sample losses summed)."""
    return F.cross_entropy(z, y, reduction="sum")


def iaa_loss_sum(z, y, lam):
    """Σ_i [CE(z_i, y_i) + λ·CE(z_i, uniform)], CE(z, u) = −mean_k log_softmax(z)_k (spec 3.1)."""
    logp = F.log_softmax(z, dim=1)
    ce = -logp.gather(1, y.view(-1, 1)).view(-1)
    uniform = -logp.mean(dim=1)
    return (ce + lam * uniform).sum()


def input_grad(model, x, loss_fn):
    x = x.detach().clone().requires_grad_(True)
    loss = loss_fn(model(x))
    (g,) = torch.autograd.grad(loss, x)
    return g.detach()


def pgd_replica(model, x, y, eps, alpha, steps):
    """torchattacks.PGD(random_start=False) step for step, but recording each step's gradient.

    torchattacks differentiates the *mean* CE; the stored gradient is that of the *sum*
    (advcal's loss). For each step we use the mean-loss gradient for the update (so the trajectory
    is torchattacks' own) and store N × it (exact when N is a power of two)."""
    n = x.shape[0]
    adv = x.clone().detach()
    grads, iterates = [], []
    for _ in range(steps):
        g_mean = input_grad(model, adv, lambda z: F.cross_entropy(z, y))
        adv = adv.detach() + alpha * g_mean.sign()
        delta = torch.clamp(adv - x, min=-eps, max=eps)
        adv = torch.clamp(x + delta, min=0, max=1).detach()
        grads.append(g_mean * n)
        iterates.append(adv.clone())
    return adv, torch.stack(grads), torch.stack(iterates)


def iaa_clean_start(model, x, y, eps, steps, lam):
    """IAA (spec /work/shared/docs/algorithms.md, Section 3.3-3.4) with N_0 = 0.

    Implements spec 3.4's loop `for t in 1..=T` (T updates; the printed `while t != T` is the
    corrected loop), with these exact semantics, identical to advcal's sign-gradient engine
    (src/attack/sign_gradient.rs, run_sign_gradient + sign_step_update + project_linf) configured
    as IaaConfig { epsilon: eps, steps: T, lambda: 5, step_size: None, growing_radius: true,
    random_start: false, mode: Eval } i.e. StartPoint::Clean, StepSize::EpsilonOverSteps,
    Direction::Descent, RadiusSchedule::Linear, objective IaaObjective{lambda}:

        alpha = f32(eps / T)                                  # α = ε/T, computed in f32
        x_0 = x                                               # N_0 = 0 (no random start)
        for t = 1..=T:
            g   = ∇_{x_{t-1}} Σ_i [CE(f(x_{t-1})_i, y_i) + λ·CE(f(x_{t-1})_i, u)]
            s   = x_{t-1} + (−alpha)·sign(g)                  # DESCENT, sign(0) = 0
            r_t = f32(f32(t)·eps / f32(T))                    # radius t·ε/T, t 1-based; r_T = ε
            x_t = clamp(x + clamp(s − x, −r_t, r_t), 0, 1)     # ball then box
        return x_T

    Equivalently spec 3.4 with `n = 0` instead of `n = uniform(-eps, eps)`, where n = x_t − x
    (the spec's `clamp(x + n, 0, 1)` before the forward is then a no-op because the box
    projection is applied at the end of every step). With N_0 = 0 and α = ε/T the radius clip
    can never bind (|x_t − x| ≤ t·α = r_t), except by one-ulp float rounding."""
    alpha = f32(np.float32(eps) / np.float32(steps))
    adv = x.clone().detach()
    grads, iterates = [], []
    for t in range(1, steps + 1):
        g = input_grad(model, adv, lambda z: iaa_loss_sum(z, y, lam))
        stepped = adv + g.sign() * (-alpha)
        r = f32(np.float32(t) * np.float32(eps) / np.float32(steps))
        delta = torch.clamp(stepped - x, min=-r, max=r)
        adv = torch.clamp(x + delta, min=0.0, max=1.0).detach()
        grads.append(g)
        iterates.append(adv.clone())
    return adv, torch.stack(grads), torch.stack(iterates)


def iaa_eq2_select(model, x, y, iterates, lam):
    """Eq. 2's selection (spec 3.5), written from the spec, not from advcal: among the clean
    image and every iterate of a run, per image the point predicted as y with the lowest
    max-softmax confidence; an image never predicted as y gets the point of lowest IAA loss.
    Ties keep the earliest point. Returns the selected images and the chosen index (0 = clean)."""
    candidates = torch.cat([x.unsqueeze(0), iterates], 0)  # [T+1, N, C, H, W]
    with torch.no_grad():
        z = torch.stack([model(c) for c in candidates])  # [T+1, N, K]
    p = z.softmax(-1)
    conf = p.max(-1).values
    correct = z.argmax(-1) == y.unsqueeze(0)
    logp = z.log_softmax(-1)
    loss = -logp.gather(-1, y.view(1, -1, 1).expand(z.shape[0], -1, 1)).squeeze(-1) - lam * logp.mean(-1)
    chosen = []
    for i in range(x.shape[0]):
        ok = correct[:, i].nonzero().flatten()
        if ok.numel() > 0:
            c = conf[ok, i]
            chosen.append(int(ok[int(torch.argmin(c))]))  # argmin returns the first minimum
        else:
            chosen.append(int(torch.argmin(loss[:, i])))
    idx = torch.tensor(chosen)
    return candidates[idx, torch.arange(x.shape[0])], idx


def robust_accuracies(model, images, labels, eps, square_eps, seeds, queries):
    """torchattacks' PGD-10 (random start, alpha = eps/4), APGD-CE, APGD-DLR (10 steps, 1 restart)
    at `eps`, and Square (margin loss, `queries` queries) at `square_eps`, each with several
    seeds: per attack the accuracy per seed and the per-image correctness of the first seed."""
    out = {}
    makers = {
        "pgd10": lambda s: torchattacks.PGD(model, eps=eps, alpha=eps / 4, steps=10, random_start=True),
        "apgd_ce": lambda s: torchattacks.APGD(model, norm="Linf", eps=eps, steps=10, n_restarts=1, seed=s, loss="ce", rho=0.75),
        "apgd_dlr": lambda s: torchattacks.APGD(model, norm="Linf", eps=eps, steps=10, n_restarts=1, seed=s, loss="dlr", rho=0.75),
        "square": lambda s: torchattacks.Square(model, norm="Linf", eps=square_eps, n_queries=queries, n_restarts=1, seed=s, loss="margin", p_init=0.8),
    }
    for name, make in makers.items():
        accs, first = [], None
        for s in seeds:
            torch.manual_seed(s)
            adv = make(s)(images, labels).detach()
            assert (adv - images).abs().max().item() <= max(eps, square_eps) + 1e-6
            with torch.no_grad():
                ok = (model(adv).argmax(1) == labels).float()
            accs.append(ok.mean().item())
            if first is None:
                first = ok
        out[name] = {"accuracy_per_seed": accs, "correct": first}
    return out


# ---------------------------------------------------------------------------------------------
# Main
# ---------------------------------------------------------------------------------------------


def summarize(logits, labels):
    p = F.softmax(logits, dim=1)
    conf, pred = p.max(dim=1)
    correct = (pred == labels).float()
    return {
        "accuracy": correct.mean().item(),
        "mean_confidence": conf.mean().item(),
        "mean_true_class_probability": p.gather(1, labels.view(-1, 1)).mean().item(),
        "mcs": (conf.mean() - correct.mean()).item(),
    }


def main():
    repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("outdir")
    ap.add_argument(
        "--cifar-dir",
        default=os.environ.get("ADVCAL_CIFAR10_DIR", os.path.join(repo, "..", "shared", "data", "cifar-10-batches-bin")),
    )
    ap.add_argument("--images", type=int, default=64, help="number of test images attacked (N)")
    ap.add_argument("--width", type=int, default=16)
    ap.add_argument("--train-images", type=int, default=4096)
    ap.add_argument("--train-steps", type=int, default=200)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()

    t_start = time.time()
    torch.set_num_threads(args.threads)
    torch.manual_seed(SEED)
    np.random.seed(SEED)
    deterministic = True
    try:
        torch.use_deterministic_algorithms(True)
    except Exception as e:  # pragma: no cover
        deterministic = f"failed: {e}"

    os.makedirs(args.outdir, exist_ok=True)
    test_path = os.path.join(args.cifar_dir, "test_batch.bin")
    train_path = os.path.join(args.cifar_dir, "data_batch_1.bin")
    timings = {}

    # --- model with randomised affine BN parameters --------------------------------------------
    net = ResNet18(width=args.width)
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.weight.uniform_(0.5, 1.5)
                m.bias.normal_(0.0, 0.1)

    # --- brief training (SGD) so accuracy is clearly above chance -------------------------------
    t0 = time.time()
    train_x, train_y = load_cifar_bin(train_path, limit=args.train_images)
    model = Normalized(net)
    opt = torch.optim.SGD(net.parameters(), lr=0.05, momentum=0.9, weight_decay=5e-4)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=0.1, total_steps=args.train_steps, pct_start=0.25)
    gen = torch.Generator().manual_seed(SEED)
    model.train()
    order = torch.randperm(train_x.shape[0], generator=gen)
    pos = 0
    last_losses = []
    for step in range(args.train_steps):
        if pos + args.batch > order.numel():
            order = torch.randperm(train_x.shape[0], generator=gen)
            pos = 0
        idx = order[pos : pos + args.batch]
        pos += args.batch
        xb, yb = train_x[idx], train_y[idx]
        flip = torch.rand(xb.shape[0], generator=gen) < 0.5
        xb = torch.where(flip.view(-1, 1, 1, 1), xb.flip(3), xb)
        loss = F.cross_entropy(model(xb), yb)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        last_losses.append(loss.item())
    timings["train_s"] = time.time() - t0

    # --- BN recalibration: 20 train-mode forwards on noisy training images ----------------------
    t0 = time.time()
    with torch.no_grad():
        for i in range(20):
            idx = torch.randint(0, train_x.shape[0], (args.batch,), generator=gen)
            noise = 0.05 * torch.randn(args.batch, 3, 32, 32, generator=gen)
            model(torch.clamp(train_x[idx] + noise, 0.0, 1.0))
    model.eval()
    timings["bn_recalibration_s"] = time.time() - t0

    # --- save the weights ------------------------------------------------------------------------
    sd = net.state_dict()
    torch.save(sd, os.path.join(args.outdir, "resnet18_cifar.pt"))
    safetensors.torch.save_file(
        {k: v.detach().contiguous() for k, v in sd.items()},
        os.path.join(args.outdir, "resnet18_cifar.safetensors"),
        metadata={"format": "pt"},  # one key: safetensors writes a multi-key map in random order
    )
    bn_stats = {
        "mean_abs_running_mean": float(np.mean([v.abs().mean().item() for k, v in sd.items() if k.endswith("running_mean")])),
        "min_running_var": float(min(v.min().item() for k, v in sd.items() if k.endswith("running_var"))),
        "max_running_var": float(max(v.max().item() for k, v in sd.items() if k.endswith("running_var"))),
        "mean_running_var": float(np.mean([v.mean().item() for k, v in sd.items() if k.endswith("running_var")])),
    }

    # --- data to attack --------------------------------------------------------------------------
    images, labels = load_cifar_bin(test_path, limit=args.images)
    n = images.shape[0]
    eps = 8 / 255
    pgd_alpha = 2 / 255
    steps = 10
    lam = 5.0

    t0 = time.time()
    with torch.no_grad():
        logits = model(images)
        test1000_x, test1000_y = load_cifar_bin(test_path, limit=1000)
        acc1000 = (model(test1000_x).argmax(1) == test1000_y).float().mean().item()

    # FGSM (torchattacks) and the clean-point gradient of Σ_i CE.
    fgsm = torchattacks.FGSM(model, eps=eps)(images, labels).detach()
    fgsm_grad = input_grad(model, images, lambda z: ce_sum(z, labels))
    fgsm_mine = torch.clamp(images + f32(eps) * fgsm_grad.sign(), 0.0, 1.0)

    # PGD (torchattacks), plus a replica recording each step's gradient and iterate.
    pgd = torchattacks.PGD(model, eps=eps, alpha=pgd_alpha, steps=steps, random_start=False)(images, labels).detach()
    pgd_mine, pgd_grads, pgd_iterates = pgd_replica(model, images, labels, eps, pgd_alpha, steps)

    # IAA with a clean start (N_0 = 0); see iaa_clean_start.
    iaa, iaa_grads, iaa_iterates = iaa_clean_start(model, images, labels, f32(eps), steps, lam)
    # Eq. 2's selection over the same run (the clean image and its 10 iterates).
    iaa_eq2, iaa_eq2_index = iaa_eq2_select(model, images, labels, iaa_iterates, lam)
    timings["attacks_s"] = time.time() - t0

    # APGD and Square (torchattacks) at a radius where the model is neither fully robust nor
    # fully broken, several seeds each (their randomness cannot be matched by advcal's).
    t0 = time.time()
    small_eps = 1 / 255
    square_eps = 4 / 255
    seeds = [0, 1, 2, 3]
    square_queries = 200
    robust = robust_accuracies(model, images, labels, small_eps, square_eps, seeds, square_queries)
    timings["robust_s"] = time.time() - t0

    with torch.no_grad():
        fgsm_logits = model(fgsm)
        pgd_logits = model(pgd)
        iaa_logits = model(iaa)
        iaa_eq2_logits = model(iaa_eq2)
        iaa_final_loss = torch.stack([iaa_loss_sum(iaa_logits[i : i + 1], labels[i : i + 1], lam) for i in range(n)])

    # A Tiny ImageNet-shaped network (64x64 inputs, 200 classes, stride-2 stem, base width 4)
    # with random weights and random BatchNorm statistics: its eval-mode logits on seeded
    # uniform images check advcal's `stem_stride` against PyTorch's strided convolution.
    tiny_net = ResNet18(width=4, num_classes=200, stem_stride=2)
    tiny_gen = torch.Generator().manual_seed(SEED + 1)
    with torch.no_grad():
        for m in tiny_net.modules():
            if isinstance(m, nn.BatchNorm2d):
                c = m.num_features
                m.weight.copy_(0.5 + torch.rand(c, generator=tiny_gen))
                m.bias.copy_(0.1 * torch.randn(c, generator=tiny_gen))
                m.running_mean.copy_(0.1 * torch.randn(c, generator=tiny_gen))
                m.running_var.copy_(0.5 + torch.rand(c, generator=tiny_gen))
    tiny_net.eval()
    tiny_model = Normalized(tiny_net, TINY_MEAN, TINY_STD).eval()
    tiny_images = torch.rand(4, 3, 64, 64, generator=tiny_gen)
    with torch.no_grad():
        tiny_logits = tiny_model(tiny_images)
    tiny_sd = tiny_net.state_dict()
    safetensors.torch.save_file(
        {k: v.detach().contiguous() for k, v in tiny_sd.items()},
        os.path.join(args.outdir, "resnet18_tiny_stride2.safetensors"),
        metadata={"format": "pt"},
    )

    tensors = {
        "tiny_images": tiny_images,
        "tiny_logits": tiny_logits,
        "images": images,
        "labels": labels.float(),
        "logits": logits,
        "fgsm": fgsm,
        "fgsm_grad": fgsm_grad,
        "fgsm_logits": fgsm_logits,
        "pgd": pgd,
        "pgd_logits": pgd_logits,
        "pgd_grads": pgd_grads,
        "pgd_iterates": pgd_iterates,
        "iaa": iaa,
        "iaa_logits": iaa_logits,
        "iaa_grads": iaa_grads,
        "iaa_iterates": iaa_iterates,
        "iaa_loss": iaa_final_loss,
        "iaa_eq2": iaa_eq2,
        "iaa_eq2_logits": iaa_eq2_logits,
        "iaa_eq2_index": iaa_eq2_index.float(),
        **{f"{k}_correct": v["correct"] for k, v in robust.items()},
    }
    tensors = {k: v.detach().to(torch.float32).contiguous() for k, v in tensors.items()}
    safetensors.torch.save_file(tensors, os.path.join(args.outdir, "oracle.safetensors"), metadata={"seed": str(SEED)})

    def linf(a):
        return (a - images).abs().max().item()

    meta = {
        "versions": {
            "python": platform.python_version(),
            "torch": torch.__version__,
            "torchattacks": torchattacks.__version__,
            "numpy": np.__version__,
            "safetensors": safetensors.__version__,
        },
        "seed": SEED,
        "deterministic_algorithms": deterministic,
        "threads": args.threads,
        "n": n,
        "cifar_dir": os.path.abspath(args.cifar_dir),
        "model": {
            "arch": "ResNet-18 CIFAR (kuangliu/pytorch-cifar layout)",
            "width": args.width,
            "normalization": {"mean": MEAN, "std": STD, "formula": "(x - mean) / std, inside the model"},
            "bn_eps": 1e-5,
            "train": {
                "images": int(train_x.shape[0]),
                "steps": args.train_steps,
                "batch": args.batch,
                "optimizer": "SGD momentum 0.9 wd 5e-4, OneCycle max_lr 0.1",
                "final_loss_mean_last10": float(np.mean(last_losses[-10:])),
            },
            "bn_running_stats": bn_stats,
            "state_dict": [
                {"key": k, "shape": list(v.shape), "dtype": str(v.dtype).replace("torch.", "")} for k, v in sd.items()
            ],
        },
        "tiny_model": {
            "arch": "ResNet-18, kuangliu layout, stride-2 stem, 200 classes",
            "width": 4,
            "stem_stride": 2,
            "normalization": {"mean": TINY_MEAN, "std": TINY_STD},
            "weights": "PyTorch default init (global generator, after the attacks), BN affine and running stats random (seed SEED + 1)",
            "file": "resnet18_tiny_stride2.safetensors",
        },
        "fgsm": {"eps": eps, "impl": "torchattacks.FGSM"},
        "pgd": {"eps": eps, "alpha": pgd_alpha, "steps": steps, "random_start": False, "impl": "torchattacks.PGD"},
        "iaa": {
            "eps": f32(eps),
            "steps": steps,
            "lambda": lam,
            "alpha": f32(np.float32(eps) / np.float32(steps)),
            "start": "clean (N_0 = 0)",
            "radius": "t*eps/T, t = 1..=T",
            "direction": "descent",
            "impl": "scripts/torch_oracle.py iaa_clean_start",
            "advcal_config": "IaaConfig::new().with_epsilon(8/255).with_steps(10).with_lambda(5.0).with_random_start(false)",
        },
        "iaa_eq2": {
            "run": "iaa (the clean-start Algorithm 1 run above)",
            "selection": "per image the correct candidate (clean, iterates 1..T) of lowest max-softmax; else lowest IAA loss",
            "impl": "scripts/torch_oracle.py iaa_eq2_select",
            "advcal_config": "IaaConfig::new().with_optimizer(IaaOptimizer::SignSteps).with_epsilon(8/255).with_steps(10).with_random_start(false)",
            "chosen_index_histogram": np.bincount(iaa_eq2_index.numpy(), minlength=steps + 1).tolist(),
        },
        "robust": {
            "eps": small_eps,
            "square_eps": square_eps,
            "seeds": seeds,
            "square_queries": square_queries,
            "impl": {
                "pgd10": "torchattacks.PGD(eps, alpha=eps/4, steps=10, random_start=True)",
                "apgd_ce": "torchattacks.APGD(norm='Linf', steps=10, n_restarts=1, loss='ce', rho=0.75)",
                "apgd_dlr": "torchattacks.APGD(norm='Linf', steps=10, n_restarts=1, loss='dlr', rho=0.75)",
                "square": "torchattacks.Square(norm='Linf', n_queries=200, n_restarts=1, loss='margin', p_init=0.8) at square_eps",
            },
            "accuracy_per_seed": {k: v["accuracy_per_seed"] for k, v in robust.items()},
        },
        "metrics": {
            "clean": summarize(logits, labels),
            "fgsm": summarize(fgsm_logits, labels),
            "pgd": summarize(pgd_logits, labels),
            "iaa": summarize(iaa_logits, labels),
            "iaa_eq2": summarize(iaa_eq2_logits, labels),
            "clean_accuracy_first1000": acc1000,
        },
        "checks": {
            "fgsm_replica_max_abs_diff": (fgsm - fgsm_mine).abs().max().item(),
            "pgd_replica_max_abs_diff": (pgd - pgd_mine).abs().max().item(),
            "linf_fgsm": linf(fgsm),
            "linf_pgd": linf(pgd),
            "linf_iaa": linf(iaa),
            "fgsm_grad_exact_zeros": int((fgsm_grad == 0).sum().item()),
            "fgsm_grad_abs_below_1e-8": int((fgsm_grad.abs() < 1e-8).sum().item()),
            "pgd_grads_exact_zeros": int((pgd_grads == 0).sum().item()),
            "iaa_grads_exact_zeros": int((iaa_grads == 0).sum().item()),
        },
        "tensors": {k: {"shape": list(v.shape), "dtype": "float32"} for k, v in tensors.items()},
    }
    timings["total_s"] = time.time() - t_start
    meta["timings"] = timings
    with open(os.path.join(args.outdir, "oracle.json"), "w") as fh:
        json.dump(meta, fh, indent=2)
    m = meta["metrics"]
    print(
        f"torch_oracle: n={n} clean acc {m['clean']['accuracy']:.3f} (first 1000: {acc1000:.3f}), "
        f"fgsm acc {m['fgsm']['accuracy']:.3f}, pgd acc {m['pgd']['accuracy']:.3f}, "
        f"iaa acc {m['iaa']['accuracy']:.3f} conf {m['iaa']['mean_confidence']:.3f}; "
        f"{timings['total_s']:.1f}s -> {args.outdir}",
        file=sys.stderr,
    )


if __name__ == "__main__":
    main()
