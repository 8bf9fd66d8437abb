"""Control experiment: can a model learn the synthetic static set, and how fast?

Trains one classifier on the benchmark's AffectNet-layout images (held in memory, no
Lightning, plain cross-entropy) and prints training loss / accuracy and test accuracy per
epoch, next to the class prior. ``--model vit`` is the package's tiny ViT (no MoAE, from
scratch, the fine-tuning head); ``--model cnn`` a 4-stage conv net of 0.24 M parameters
as a control. It reads the benchmark rendered by ``train`` (``runs/s4d_fer/synth``).
``--init FILE`` starts the ViT from a pre-training run's ``encoder.pt`` (the effect of the
MAE stage on how fast the static task is learned); ``--moae``, ``--smoothing``, ``--patch``,
``--depth``, ``--dim``, ``--img``, ``--balanced`` and ``--min-scale`` vary one factor of the fine-tuning recipe at a time.

    uv run --package s4d_fer python packages/s4d_fer/benchmarks/image_control.py --model cnn
"""

from __future__ import annotations

import argparse
import math
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch import nn

from s4d_fer.config import ModelConfig
from s4d_fer.data.transforms import MEAN, STD
from s4d_fer.model.classifier import S4DClassifier


def load_split(root: Path, split: str) -> tuple[torch.Tensor, torch.Tensor]:
    images, labels = [], []
    for line in (root / f"{split}_affectnet7_2w.txt").read_text().splitlines():
        if line.strip():
            rel, label = line.split()
            path = root / "Manually_Annotated_Images" / rel
            images.append(np.asarray(Image.open(path).convert("RGB")))
            labels.append(int(label))
    x = torch.from_numpy(np.stack(images)).permute(0, 3, 1, 2).float().div_(255)
    return x, torch.tensor(labels)


class SmallCNN(nn.Module):
    """Four conv-BN-ReLU-pool stages, global mean pool, linear head."""

    def __init__(self, classes: int = 7):
        super().__init__()
        layers, c = [], 3
        for width in (32, 64, 128, 128):
            layers += [nn.Conv2d(c, width, 3, padding=1), nn.BatchNorm2d(width), nn.ReLU()]
            layers.append(nn.MaxPool2d(2))
            c = width
        self.features = nn.Sequential(*layers)
        self.head = nn.Linear(c, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x).mean((2, 3)))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", choices=["vit", "cnn"], default="vit")
    p.add_argument("--root", default="runs/s4d_fer/synth/AffectNet")
    p.add_argument("--epochs", type=int, default=4)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--smoothing", type=float, default=0.0, help="label smoothing")
    p.add_argument("--moae", action="store_true", help="ViT with the default MoAE blocks")
    p.add_argument("--init", default="", help="encoder.pt of a pre-training run (ViT only)")
    p.add_argument("--patch", type=int, default=8, help="ViT patch size")
    p.add_argument("--depth", type=int, default=6, help="ViT depth")
    p.add_argument("--dim", type=int, default=128, help="ViT width")
    p.add_argument("--img", type=int, default=64, help="resize the images to this size")
    p.add_argument("--balanced", action="store_true", help="class-balanced sampling")
    p.add_argument(
        "--min-scale",
        type=float,
        default=0.0,
        help="per-image random-resized crops down to this area (0 = one 85%% crop per batch)",
    )
    a = p.parse_args()
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    torch.set_num_threads(a.threads)
    root = Path(a.root)
    if not (root / "train_affectnet7_2w.txt").is_file():
        raise SystemExit(f"{root}: no benchmark here; run `uv run --package s4d_fer train` first")
    x_train, y_train = load_split(root, "train")
    x_test, y_test = load_split(root, "test")
    if a.img != x_train.shape[-1]:
        x_train, x_test = (
            F.interpolate(x, size=(a.img, a.img), mode="bilinear", antialias=True)
            for x in (x_train, x_test)
        )
    mean, std = MEAN[..., 0][None], STD[..., 0][None]

    def prepare(x: torch.Tensor, train: bool) -> torch.Tensor:
        if train and a.min_scale > 0:  # the fine-tuning loaders' per-image crops and flips
            from s4d_fer.data.transforms import _random_crop_box

            out = []
            for img in x:
                top, left, ch, cw = _random_crop_box(img.shape[1], img.shape[2], rng, a.min_scale)
                img = img[:, top : top + ch, left : left + cw]
                if rng.random() < 0.5:
                    img = img.flip(-1)
                out.append(
                    F.interpolate(img[None], size=x.shape[-2:], mode="bilinear", antialias=True)
                )
            x = torch.cat(out)
        elif train:  # one random 85% crop and flip per batch, resized back
            s = int(x.shape[-1] * 0.85)
            i, j = rng.integers(0, x.shape[-1] - s + 1, size=2)
            x = x[:, :, i : i + s, j : j + s]
            if rng.random() < 0.5:
                x = x.flip(-1)
            x = F.interpolate(x, size=x_train.shape[-2:], mode="bilinear", antialias=True)
        return (x - mean) / std

    if a.model == "cnn":
        model = SmallCNN()
    else:
        cfg = ModelConfig(
            moe_experts=8 if a.moae else 0,
            patch_size=a.patch,
            depth=a.depth,
            embed_dim=a.dim,
            moe_start_block=a.depth // 2,
            img_size=a.img,
        )
        model = S4DClassifier(cfg, num_frames=8, video_classes=7, image_classes=7)
        if a.init:
            from s4d_fer.model.pretrained import load_pretrained

            load_pretrained(model, a.init)
    opt = torch.optim.AdamW(model.parameters(), lr=a.lr, weight_decay=0.05)
    per_epoch = math.ceil(len(x_train) / a.batch)
    total = a.epochs * per_epoch
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min(1.0, (s + 1) / per_epoch) * 0.5 * (1 + math.cos(math.pi * s / total))
    )
    prior = y_train.bincount().max().item() / len(y_train)
    n_params = sum(q.numel() for q in model.parameters()) / 1e6
    print(
        f"{a.model}: {n_params:.2f} M parameters; class prior {prior:.3f}; ln 7 = {math.log(7):.3f}"
    )
    start = time.perf_counter()
    for epoch in range(a.epochs):
        model.train()
        if a.balanced:  # with replacement, inverse class frequency (as image_balanced)
            weights = 1.0 / y_train.bincount().double()[y_train]
            order = torch.multinomial(weights, len(x_train), replacement=True)
        else:
            order = torch.randperm(len(x_train))
        loss_sum = correct = 0.0
        for k in range(0, len(order), a.batch):
            idx = order[k : k + a.batch]
            logits = model(prepare(x_train[idx], True))
            loss = F.cross_entropy(logits, y_train[idx], label_smoothing=a.smoothing)
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            loss_sum += loss.item() * len(idx)
            correct += (logits.argmax(1) == y_train[idx]).sum().item()
        model.eval()
        with torch.no_grad():
            pred = torch.cat(
                [
                    model(prepare(x_test[k : k + 256], False)).argmax(1)
                    for k in range(0, len(x_test), 256)
                ]
            )
        print(
            f"epoch {epoch + 1}/{a.epochs}: train loss {loss_sum / len(x_train):.3f} "
            f"acc {correct / len(x_train):.3f} | test acc {(pred == y_test).float().mean():.3f} "
            f"| {time.perf_counter() - start:.0f} s",
            flush=True,
        )


if __name__ == "__main__":
    main()
