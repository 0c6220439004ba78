#!/usr/bin/env python3
"""PyTorch oracle for issue "Evaluate the models people publish".

Builds, in PyTorch, models of the architectures users publish (layouts: docs/published-layouts.md)
with random weights and non-trivial BatchNorm statistics, saves each in the published key layout,
runs it in eval mode on real images and records the logits, so advcal's loaders can be checked
against PyTorch on the very same files. Files written to OUTDIR:

    wrn_trades_16_2.pth   TRADES/RobustBench WideResNet-16-2 (ReLU, 10 classes, no normalisation),
                          with TRADES' unused `sub_block1` (its keys are in the file, forward never
                          reads them). Keys conv1, block{1,2,3}.layer.<i>.{bn1,conv1,bn2,conv2,
                          convShortcut}, sub_block1.layer..., bn1, fc.
    wrn_trades_28_10.pth  the same at WRN-28-10 (36,479,194 parameters without sub_block1).
    wrn_dm_16_2.pth       DeepMind WideResNet-16-2 (RobustBench dm_wide_resnet.py), swish, with
                          `mean`/`std` buffers of shape [3,1,1] persisted (RobustBench's shape; at
                          its HEAD they are non-persistent, so real files usually lack them).
                          Keys mean, std, init_conv, layer.<g>.block.<i>.{batchnorm_0,conv_0,
                          batchnorm_1,conv_1,shortcut}, batchnorm, logits.
    preact_he.pth         PreAct ResNet-18 (kuangliu / He et al.): shortcut of relu(bn1(x)), no `bn`.
    preact_fa.pth         Wong et al. fast_adversarial (current code): raw-x shortcut, `bn` + ReLU.
    preact_ro.pth         Rice et al. robust_overfitting: activated shortcut, `bn` + ReLU; saved
                          NESTED as {'state_dict': {'module.' + key: tensor}} like their checkpoints;
    preact_ro_best.pth    the same with plain floats beside it (test_robust_acc, test_acc, ...), as
                          their model_best.pth.
    preact_rb_wong.pth    RobustBench Wong2020Fast: raw-x shortcut, no `bn`, buffers mu/sigma
                          [1,3,1,1] (CIFAR mean/std) applied as (x - mu) / sigma inside forward.
    resnet50.pth          torchvision.models.resnet50() (1000 classes).
    resnet_tv_small.pth   torchvision ResNet(Bottleneck, [1,1,1,1], num_classes=10).
    vgg19_bn.pth          torchvision.models.vgg19_bn() (1000 classes).
    published.safetensors images and logits (float32):
        cifar        [8,3,32,32] the first 8 records of CIFAR-10 test_batch.bin, in [0,1]
        imagenet64   [4,3,64,64] the first 4 Tiny ImageNet val images in val_annotations.txt order
                     (val_0 .. val_3.JPEG), PIL RGB, uint8 / 255
        imagenet224  [2,3,224,224] the first 2 of those, F.interpolate(224, bilinear,
                     align_corners=False, no antialias)
        wrn_trades_16_2, wrn_dm_16_2, preact_he, preact_fa, preact_ro, preact_rb_wong: logits [8,10]
                     on `cifar` fed RAW (only dm and rb_wong normalise, inside the model)
        wrn_trades_28_10 [2,10] on the first 2 `cifar` images
        resnet50 [2,1000] and vgg19_bn [2,1000] on imagenet224; resnet_tv_small [4,10] on imagenet64;
        vgg19_bn_64 [4,1000]: vgg19_bn on imagenet64 (its 2x2 feature map adaptively pooled UP to 7x7)
        The ImageNet models see (x - mean) / std with torchvision's mean (0.485, 0.456, 0.406) and
        std (0.229, 0.224, 0.225), computed here in float32 (advcal normalises inside its model).
    published.json        per model: file, images, count, key count, parameter count, max |logit|,
                          final-layer scale, PyTorch forward ms per image at --threads; versions.

Weights: seeded per model (torch.manual_seed(SEED + index)); torchvision's models keep
torchvision's initialisation; in ours every conv is normal(0, sqrt(2 / (k*k*out))) (TRADES' init;
PyTorch's default shrank the activations until the logits were ~0.1, mostly bias) and Linear
layers keep PyTorch's default. Then every BatchNorm gets weight ~ U(0.5,1.5), bias ~
U(-0.2,0.2), running_mean ~ U(-0.2,0.2), running_var ~ U(0.5,2.0) (num_batches_tracked kept at 0)
and the model is put in eval mode. If a model's logits exceed 1e6 in magnitude, its final Linear
(weight and bias) is multiplied by 100 / max|logit|; the factor is `fc_scale` in published.json
(1.0 = untouched). Each saved file is reloaded (torch.load, weights_only) into a fresh model with
strict key matching (after stripping `module.` for preact_ro) and must reproduce the logits
bit for bit. For the CIFAR models published.json also records how far the logits move when one
structural detail is deliberately got wrong (raw-x vs activated shortcut, DM's (0,1,0,1) padding
made symmetric): the margin a loader test's tolerance must stay below. Everything float32 on CPU, deterministic algorithms.

Usage (interpreter from scripts/setup-pytorch.sh):

    "$ADVCAL_PYTHON" scripts/published_oracle.py OUTDIR --cifar-dir ../shared/data/cifar-10-batches-bin \
        --tiny-dir ../shared/data/tiny-imagenet-200 [--threads 2]
"""

import argparse
import json
import os
import platform
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
import torchvision
from PIL import Image

import safetensors
import safetensors.torch

SEED = 0
CIFAR_MEAN = (0.4914, 0.4822, 0.4465)  # RobustBench's CIFAR10_MEAN / CIFAR10_STD
CIFAR_STD = (0.2471, 0.2435, 0.2616)
IMAGENET_MEAN = (0.485, 0.456, 0.406)  # torchvision transforms/_presets.py
IMAGENET_STD = (0.229, 0.224, 0.225)


# === TRADES / RobustBench WideResNet (module names as in TRADES models/wideresnet.py)

class WrnBlock(nn.Module):
    """Pre-activation block. Width change: conv1 and the 1x1 shortcut both read relu(bn1(x));
    same width: conv1 reads relu(bn1(x)) and the raw x is added."""

    def __init__(self, cin, cout, stride):
        super().__init__()
        self.bn1 = nn.BatchNorm2d(cin)
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.convShortcut = nn.Conv2d(cin, cout, 1, stride, 0, bias=False) if cin != cout else None
        self.wrong_shortcut = False  # sensitivity check only: shortcut of the raw x

    def forward(self, x):
        a = F.relu(self.bn1(x))
        out = self.conv2(F.relu(self.bn2(self.conv1(a))))
        return out + (x if self.convShortcut is None else self.convShortcut(x if self.wrong_shortcut else a))


class Group(nn.Module):
    """n blocks, the first one changing width and stride, held as `<attr>.<i>` (TRADES: `layer`,
    DeepMind: `block`)."""

    def __init__(self, block, attr, n, cin, cout, stride):
        super().__init__()
        self.attr = attr
        setattr(self, attr, nn.Sequential(*[block(cin if i == 0 else cout, cout, stride if i == 0 else 1) for i in range(n)]))

    def forward(self, x):
        return getattr(self, self.attr)(x)


class TradesWRN(nn.Module):
    def __init__(self, depth, widen, num_classes=10):
        super().__init__()
        n, w = (depth - 4) // 6, [16, 16 * widen, 32 * widen, 64 * widen]
        self.conv1 = nn.Conv2d(3, w[0], 3, 1, 1, bias=False)
        self.block1 = Group(WrnBlock, "layer", n, w[0], w[1], 1)
        self.sub_block1 = Group(WrnBlock, "layer", n, w[0], w[1], 1)  # built by TRADES, never used in forward
        self.block2 = Group(WrnBlock, "layer", n, w[1], w[2], 2)
        self.block3 = Group(WrnBlock, "layer", n, w[2], w[3], 2)
        self.bn1 = nn.BatchNorm2d(w[3])
        self.fc = nn.Linear(w[3], num_classes)

    def forward(self, x):
        out = self.block3(self.block2(self.block1(self.conv1(x))))
        out = F.relu(self.bn1(out))
        return self.fc(F.adaptive_avg_pool2d(out, 1).flatten(1))  # = avg_pool2d(8) on 32x32


# === DeepMind WideResNet (module names as in RobustBench dm_wide_resnet.py)

def swish(x):
    return x * torch.sigmoid(x)  # DeepMind's _Swish forward (not F.silu)


class DmBlock(nn.Module):
    """As WrnBlock (same shortcut rule, activated input to the shortcut), but conv_0 has padding 0
    and reads an explicitly padded input: (1,1,1,1) at stride 1, (0,1,0,1) (TF "SAME") at stride 2."""

    def __init__(self, cin, cout, stride):
        super().__init__()
        self.stride = stride
        self.batchnorm_0 = nn.BatchNorm2d(cin)
        self.conv_0 = nn.Conv2d(cin, cout, 3, stride, 0, bias=False)
        self.batchnorm_1 = nn.BatchNorm2d(cout)
        self.conv_1 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.shortcut = nn.Conv2d(cin, cout, 1, stride, 0, bias=False) if cin != cout else None
        self.wrong_pad = False  # sensitivity check only: symmetric (1,1,1,1) padding at stride 2

    def forward(self, x):
        a = swish(self.batchnorm_0(x))
        pad = (1, 1, 1, 1) if self.stride == 1 or self.wrong_pad else (0, 1, 0, 1)
        out = self.conv_1(swish(self.batchnorm_1(self.conv_0(F.pad(a, pad)))))
        return out + (x if self.shortcut is None else self.shortcut(a))


class DmWRN(nn.Module):
    def __init__(self, depth, width, num_classes=10):
        super().__init__()
        # Persistent, shape [3,1,1] as RobustBench registered them (21148b5, Jan 2022).
        self.register_buffer("mean", torch.tensor(CIFAR_MEAN).view(3, 1, 1))
        self.register_buffer("std", torch.tensor(CIFAR_STD).view(3, 1, 1))
        n, w = (depth - 4) // 6, [16, 16 * width, 32 * width, 64 * width]
        self.init_conv = nn.Conv2d(3, w[0], 3, 1, 1, bias=False)
        self.layer = nn.Sequential(*[Group(DmBlock, "block", n, w[g], w[g + 1], 1 if g == 0 else 2) for g in range(3)])
        self.batchnorm = nn.BatchNorm2d(w[3])
        self.logits = nn.Linear(w[3], num_classes)

    def forward(self, x):
        out = self.layer(self.init_conv((x - self.mean) / self.std))
        out = swish(self.batchnorm(out))
        return self.logits(F.adaptive_avg_pool2d(out, 1).flatten(1))


# === PreAct ResNet-18 (module names as in fast_adversarial / robust_overfitting preact_resnet.py)

class PreActBlock(nn.Module):
    def __init__(self, cin, cout, stride, raw_shortcut):
        super().__init__()
        self.raw_shortcut = raw_shortcut
        self.bn1 = nn.BatchNorm2d(cin)
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        if stride != 1 or cin != cout:
            self.shortcut = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False))

    def forward(self, x):
        a = F.relu(self.bn1(x))
        sc = self.shortcut(x if self.raw_shortcut else a) if hasattr(self, "shortcut") else x
        return self.conv2(F.relu(self.bn2(self.conv1(a)))) + sc


class PreActResNet18(nn.Module):
    """raw_shortcut: the 1x1 shortcut reads raw x (FA, RB Wong) instead of relu(bn1(x)) (He, RO);
    final_bn: relu(bn(.)) before pooling (FA, RO); normalize: mu/sigma buffers (RB Wong)."""

    def __init__(self, raw_shortcut, final_bn, normalize=False, num_classes=10):
        super().__init__()
        if normalize:
            self.register_buffer("mu", torch.tensor(CIFAR_MEAN).view(1, 3, 1, 1))
            self.register_buffer("sigma", torch.tensor(CIFAR_STD).view(1, 3, 1, 1))
        self.normalize = normalize
        self.conv1 = nn.Conv2d(3, 64, 3, 1, 1, bias=False)
        cin = 64
        for i, (cout, stride) in enumerate([(64, 1), (128, 2), (256, 2), (512, 2)]):
            setattr(self, f"layer{i + 1}", nn.Sequential(PreActBlock(cin, cout, stride, raw_shortcut), PreActBlock(cout, cout, 1, raw_shortcut)))
            cin = cout
        self.bn = nn.BatchNorm2d(512) if final_bn else None
        self.linear = nn.Linear(512, num_classes)

    def forward(self, x):
        if self.normalize:
            x = (x - self.mu) / self.sigma
        out = self.layer4(self.layer3(self.layer2(self.layer1(self.conv1(x)))))
        if self.bn is not None:
            out = F.relu(self.bn(out))
        return self.linear(F.adaptive_avg_pool2d(out, 1).flatten(1))  # = avg_pool2d(4) on 4x4


class ImageNetNormalized(nn.Module):
    """torchvision's input normalisation in front of a model (not saved: the file is the model's)."""

    def __init__(self, net):
        super().__init__()
        self.net = net
        self.register_buffer("m", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("s", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1), persistent=False)

    def forward(self, x):
        return self.net((x - self.m) / self.s)


# === Data

def load_cifar_bin(path, limit):
    """CIFAR-10 binary batch (1 label byte + 3072 CHW bytes per record) -> float32 [n,3,32,32] in [0,1]."""
    rec = np.fromfile(path, dtype=np.uint8).reshape(-1, 3073)[:limit]
    return torch.from_numpy(rec[:, 1:].astype(np.float32).reshape(-1, 3, 32, 32) / np.float32(255.0)).contiguous()


def load_tiny_val(tiny_dir, limit):
    """The first `limit` Tiny ImageNet val images in val_annotations.txt order, RGB, [0,1] float32."""
    with open(os.path.join(tiny_dir, "val", "val_annotations.txt")) as fh:
        names = [line.split("\t")[0] for line in fh if line.strip()][:limit]
    arrs = [np.asarray(Image.open(os.path.join(tiny_dir, "val", "images", n)).convert("RGB"), dtype=np.uint8) for n in names]
    x = np.stack(arrs).astype(np.float32).transpose(0, 3, 1, 2) / np.float32(255.0)
    return torch.from_numpy(np.ascontiguousarray(x)), names


# === Helpers

def randomize_bn(model, gen):
    """Non-trivial BatchNorm affine parameters and running statistics, then eval mode."""
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                c = m.num_features
                m.weight.copy_(torch.empty(c).uniform_(0.5, 1.5, generator=gen))
                m.bias.copy_(torch.empty(c).uniform_(-0.2, 0.2, generator=gen))
                m.running_mean.copy_(torch.empty(c).uniform_(-0.2, 0.2, generator=gen))
                m.running_var.copy_(torch.empty(c).uniform_(0.5, 2.0, generator=gen))
    return model.eval()


def he_init(model):
    """TRADES' (and torchvision's) conv init, normal(0, sqrt(2 / (k*k*out))): keeps activations
    O(1) where PyTorch's default init would shrink them and leave logits dominated by the bias."""
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.Conv2d):
                m.weight.normal_(0.0, (2.0 / (m.kernel_size[0] * m.kernel_size[1] * m.out_channels)) ** 0.5)
    return model


def sensitivity(net, x, z):
    """max |logit change| when one structural detail is deliberately got wrong: how far apart a
    loader that made that mistake would be (so the Rust test's tolerance can be judged)."""
    out = {}
    variants = {
        "shortcut_of_raw_x": (WrnBlock, "wrong_shortcut"),
        "symmetric_pad_at_stride2": (DmBlock, "wrong_pad"),
        "other_shortcut_source": (PreActBlock, "raw_shortcut"),
    }
    for label, (cls, flag) in variants.items():
        blocks = [m for m in net.modules() if isinstance(m, cls)]
        if not blocks:
            continue
        for b in blocks:
            setattr(b, flag, not getattr(b, flag))
        out[label] = (forward(net, x) - z).abs().max().item()
        for b in blocks:
            setattr(b, flag, not getattr(b, flag))
    return out


def final_linear(model):
    return [m for m in model.modules() if isinstance(m, nn.Linear)][-1]


def forward(model, x):
    with torch.no_grad():
        return model(x)


def main():
    repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    data = os.path.join(repo, "..", "shared", "data")
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("outdir")
    ap.add_argument("--cifar-dir", default=os.path.join(data, "cifar-10-batches-bin"))
    ap.add_argument("--tiny-dir", default=os.path.join(data, "tiny-imagenet-200"))
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()

    t_start = time.time()
    torch.set_num_threads(args.threads)
    torch.manual_seed(SEED)
    np.random.seed(SEED)
    torch.use_deterministic_algorithms(True)
    os.makedirs(args.outdir, exist_ok=True)

    cifar = load_cifar_bin(os.path.join(args.cifar_dir, "test_batch.bin"), 8)
    imagenet64, tiny_names = load_tiny_val(args.tiny_dir, 4)
    imagenet224 = F.interpolate(imagenet64[:2], size=(224, 224), mode="bilinear", align_corners=False)
    images = {"cifar": cifar, "imagenet64": imagenet64, "imagenet224": imagenet224}

    tv = torchvision.models
    # name -> (constructor, image tensor, images used, ImageNet normalisation outside, nested save)
    specs = [
        ("wrn_trades_16_2", lambda: TradesWRN(16, 2), "cifar", 8, False, False),
        ("wrn_trades_28_10", lambda: TradesWRN(28, 10), "cifar", 2, False, False),
        ("wrn_dm_16_2", lambda: DmWRN(16, 2), "cifar", 8, False, False),
        ("preact_he", lambda: PreActResNet18(raw_shortcut=False, final_bn=False), "cifar", 8, False, False),
        ("preact_fa", lambda: PreActResNet18(raw_shortcut=True, final_bn=True), "cifar", 8, False, False),
        ("preact_ro", lambda: PreActResNet18(raw_shortcut=False, final_bn=True), "cifar", 8, False, True),
        ("preact_rb_wong", lambda: PreActResNet18(raw_shortcut=True, final_bn=False, normalize=True), "cifar", 8, False, False),
        ("resnet50", lambda: tv.resnet50(), "imagenet224", 2, True, False),
        ("resnet_tv_small", lambda: tv.resnet.ResNet(tv.resnet.Bottleneck, [1, 1, 1, 1], num_classes=10), "imagenet64", 4, True, False),
        ("vgg19_bn", lambda: tv.vgg19_bn(), "imagenet224", 2, True, False),
    ]

    tensors = {k: v.contiguous() for k, v in images.items()}
    summary = {}
    for index, (name, build, image_key, n, imagenet_norm, nested) in enumerate(specs):
        t0 = time.time()
        torch.manual_seed(SEED + index)
        net = build()
        if not imagenet_norm:  # our own definitions; torchvision's models keep their own init
            he_init(net)
        net = randomize_bn(net, torch.Generator().manual_seed(SEED + 100 + index))
        model = ImageNetNormalized(net).eval() if imagenet_norm else net
        x = images[image_key][:n]

        # First forward: check magnitude; tame an exploding network at its final Linear.
        z = forward(model, x)
        fc_scale = 1.0
        if not torch.isfinite(z).all():
            raise SystemExit(f"{name}: non-finite logits before any scaling")
        if z.abs().max().item() > 1e6:
            fc_scale = 100.0 / z.abs().max().item()
            with torch.no_grad():
                final_linear(net).weight.mul_(fc_scale)
                final_linear(net).bias.mul_(fc_scale)

        # Timed forwards (best of 3, the machine is shared): these are the recorded logits.
        runs, times = [], []
        for _ in range(3):
            t1 = time.perf_counter()
            runs.append(forward(model, x))
            times.append(time.perf_counter() - t1)
        z = runs[0]
        assert torch.isfinite(z).all() and all(torch.equal(z, r) for r in runs), f"{name}: not deterministic"
        ms_per_image = min(times) * 1000.0 / n

        # Save in the published layout.
        sd = net.state_dict()
        path = os.path.join(args.outdir, f"{name}.pth")
        if nested:  # robust_overfitting: DataParallel's `module.` prefix, nested under 'state_dict'
            torch.save({"state_dict": {"module." + k: v for k, v in sd.items()}}, path)
            # Their model_best.pth also holds plain floats beside the state dict.
            torch.save(
                {"state_dict": {"module." + k: v for k, v in sd.items()},
                 "test_robust_acc": 0.5, "test_robust_loss": 1.25, "test_acc": 0.8, "test_loss": 0.6},
                os.path.join(args.outdir, name + "_best.pth"))
        else:
            torch.save(sd, path)

        # Reload into a fresh model (strict) and reproduce the logits exactly.
        loaded = torch.load(path, map_location="cpu", weights_only=True)
        if nested:
            loaded = {k[len("module."):]: v for k, v in loaded["state_dict"].items()}
        fresh = build()
        fresh.load_state_dict(loaded, strict=True)
        z2 = forward(ImageNetNormalized(fresh.eval()).eval() if imagenet_norm else fresh.eval(), x)
        if not torch.equal(z, z2):
            raise SystemExit(f"{name}: reloaded logits differ by {(z - z2).abs().max().item()}")

        tensors[name] = z
        params = sum(p.numel() for p in net.parameters())
        keys = list(sd.keys())
        entry = dict(
            file=f"{name}.pth", file_bytes=os.path.getsize(path), images=image_key, n_images=n,
            imagenet_normalisation_outside=imagenet_norm,
            layout="{'state_dict': {'module.' + key: tensor}}" if nested else "flat state_dict",
            keys=len(keys), params=params, max_abs_logit=z.abs().max().item(),
            logit_std_over_images=z.std(0).mean().item(),  # the image-dependent part of the logits
            fc_scale=fc_scale, forward_ms_per_image=ms_per_image,
            sensitivity_max_abs_logit_change={} if imagenet_norm else sensitivity(net, x, z),
            first_keys=keys[:4], last_keys=keys[-4:],
        )
        extra = ""
        if isinstance(net, TradesWRN):
            entry["params_without_sub_block1"] = params - sum(p.numel() for p in net.sub_block1.parameters())
            extra = f" ({entry['params_without_sub_block1']:,} without sub_block1)"
        print(f"{name}: {params:,} parameters{extra}, {len(keys)} keys, max |logit| {entry['max_abs_logit']:.4g}, "
              f"fc_scale {fc_scale:.3g}, {ms_per_image:.1f} ms/image, {time.time() - t0:.1f}s", flush=True)
        summary[name] = entry

        if name == "vgg19_bn":  # adaptive pooling up: 2x2 features -> 7x7 on 64x64 inputs
            tensors["vgg19_bn_64"] = forward(model, imagenet64)
            summary["vgg19_bn_64"] = {"file": "vgg19_bn.pth", "images": "imagenet64", "n_images": 4,
                                      "max_abs_logit": tensors["vgg19_bn_64"].abs().max().item()}
        del net, model, fresh, loaded, sd

    tensors = {k: v.detach().to(torch.float32).contiguous() for k, v in tensors.items()}
    for k, v in tensors.items():
        assert torch.isfinite(v).all(), k
    safetensors.torch.save_file(tensors, os.path.join(args.outdir, "published.safetensors"), metadata={"seed": str(SEED)})
    meta = dict(
        versions=dict(python=platform.python_version(), torch=torch.__version__,
                      torchvision=torchvision.__version__, safetensors=safetensors.__version__),
        seed=SEED, threads=args.threads, tiny_imagenet_val_files=tiny_names,
        cifar_mean_std=[CIFAR_MEAN, CIFAR_STD], imagenet_mean_std=[IMAGENET_MEAN, IMAGENET_STD],
        models=summary, tensors={k: list(v.shape) for k, v in tensors.items()}, total_s=time.time() - t_start,
    )
    with open(os.path.join(args.outdir, "published.json"), "w") as fh:
        json.dump(meta, fh, indent=2)
    print(f"published_oracle: {len(summary)} logit sets in {meta['total_s']:.1f}s -> {args.outdir}")


if __name__ == "__main__":
    main()
