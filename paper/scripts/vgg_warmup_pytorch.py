#!/usr/bin/env python3
"""VGG-19/4 (BatchNorm, every channel count divided by 4) trained in PyTorch with the `cifar`
preset's recipe, with and without a linear learning-rate warm-up: the independent check that a
plain deep network stalls at chance at lr 0.1 without warm-up whoever trains it.

    eval "$(bash scripts/setup-pytorch.sh --print-env)"
    $ADVCAL_PYTHON scripts/vgg_warmup_pytorch.py --lr 0.1 --warmup-epochs 0 --out a.json

Recipe as advcal's trainer: the first 10,000 images of data_batch_1, batch 128, SGD momentum 0.9,
weight decay 5e-4, random crop (4-pixel zero padding) + horizontal flip, per-step cosine decay
after a linear warm-up of `--warmup-epochs` epochs (advcal's `LrSchedule::Cosine` with
`warmup_steps`), PyTorch's default initialisation (the same bounds as Burn's), seed 0.
Writes per-epoch train loss and accuracy as JSON.
"""
import argparse
import json
import math
import time

import numpy as np
import torch
import torch.nn as nn

p = argparse.ArgumentParser()
p.add_argument("--data", default="../../shared/data/cifar-10-batches-bin/data_batch_1.bin")
p.add_argument("--lr", type=float, default=0.1)
p.add_argument("--warmup-epochs", type=int, default=0)
p.add_argument("--epochs", type=int, default=3)
p.add_argument("--images", type=int, default=10000)
p.add_argument("--out", required=True)
a = p.parse_args()

torch.manual_seed(0)
torch.set_num_threads(2)
raw = np.fromfile(a.data, dtype=np.uint8).reshape(-1, 3073)[: a.images]
y = torch.tensor(raw[:, 0].astype(np.int64))
x = torch.tensor(raw[:, 1:].reshape(-1, 3, 32, 32).astype(np.float32) / 255)
mean = torch.tensor([0.4914, 0.4822, 0.4465]).view(1, 3, 1, 1)
std = torch.tensor([0.2470, 0.2435, 0.2616]).view(1, 3, 1, 1)

plan = [64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M",
        512, 512, 512, 512, "M", 512, 512, 512, 512, "M"]
layers, c = [], 3
for v in plan:
    if v == "M":
        layers.append(nn.MaxPool2d(2, 2))
    else:
        layers += [nn.Conv2d(c, v // 4, 3, padding=1), nn.BatchNorm2d(v // 4), nn.ReLU()]
        c = v // 4
model = nn.Sequential(*layers, nn.Flatten(), nn.Linear(c, 10))
opt = torch.optim.SGD(model.parameters(), lr=a.lr, momentum=0.9, weight_decay=5e-4)


def augment(batch):
    padded = nn.functional.pad(batch, (4, 4, 4, 4))
    out = torch.empty_like(batch)
    for i in range(len(batch)):
        dx, dy = np.random.randint(0, 9, size=2)
        img = padded[i, :, dy:dy + 32, dx:dx + 32]
        out[i] = img.flip(2) if np.random.rand() < 0.5 else img
    return out


np.random.seed(0)
steps = math.ceil(len(x) / 128)
total, warm = steps * a.epochs, steps * a.warmup_epochs
step, epochs = 0, []
for ep in range(a.epochs):
    perm = torch.randperm(len(x))
    loss_sum, correct, t0 = 0.0, 0, time.time()
    for i in range(steps):
        idx = perm[i * 128:(i + 1) * 128]
        if step < warm:
            lr = a.lr * (step + 1) / warm
        else:
            lr = a.lr * 0.5 * (1 + math.cos(math.pi * (step - warm) / max(total - warm, 1)))
        for g in opt.param_groups:
            g["lr"] = lr
        out = model((augment(x[idx]) - mean) / std)
        loss = nn.functional.cross_entropy(out, y[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
        step += 1
        loss_sum += loss.item() * len(idx)
        correct += (out.argmax(1) == y[idx]).sum().item()
    epochs.append({"epoch": ep + 1, "train_loss": loss_sum / len(x), "train_accuracy": correct / len(x),
                   "seconds": time.time() - t0})
    print(epochs[-1], flush=True)
json.dump({"implementation": "pytorch " + torch.__version__, "lr": a.lr,
           "warmup_epochs": a.warmup_epochs, "images": len(x), "epochs": epochs},
          open(a.out, "w"), indent=1)
