#!/usr/bin/env python3
"""Collects the four runs of scripts/vgg-warmup.sh into one JSON file.

    python3 scripts/vgg_warmup_collect.py <run dir> results/cifar/vgg19-warmup.json

`<run dir>` holds advcal-w{0,1}/pt-vgg19/history.json (examples/train) and pytorch-w{0,1}.json
(scripts/vgg_warmup_pytorch.py).
"""
import json
import os
import sys
from pathlib import Path

src, out = Path(sys.argv[1]), Path(sys.argv[2])
runs = []
for w in (0, 1):
    history = json.loads((src / f"advcal-w{w}" / "pt-vgg19" / "history.json").read_text())
    runs.append({"implementation": "advcal (LibTorch backend)", "lr": 0.1, "warmup_epochs": w,
                 "images": 10000,
                 "epochs": [{"epoch": e["epoch"], "train_loss": e["train_loss"],
                             "train_accuracy": e["train_accuracy"], "seconds": e["seconds"]}
                            for e in history]})
    runs.append(json.loads((src / f"pytorch-w{w}.json").read_text()))
doc = {
    "what": "VGG-19/4 (BatchNorm), 3 epochs on the first 10,000 images of data_batch_1, batch "
            "128, SGD momentum 0.9, weight decay 5e-4, crop + flip, cosine after a linear "
            "warm-up, seed 0",
    "command": "bash scripts/vgg-warmup.sh",
    "runs": runs,
}
tmp = out.with_suffix(".json.tmp")
tmp.write_text(json.dumps(doc, indent=1) + "\n")
os.replace(tmp, out)
print(f"wrote {out}")
