"""Test-set evaluation (view-averaged probabilities) and the metrics written to ``metrics.json``."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import torch

from labcore.errors import DataError
from labcore.metrics import confusion_matrix, uar, war
from labcore.train import lightning_precision, load_checkpoint
from s4d_fer.config import RunConfig
from s4d_fer.model import S4DClassifier
from s4d_fer.train.modules import predict_views


@torch.inference_mode()
def predict_dataset(model, loader, device: torch.device, dtype: torch.dtype = torch.float32):
    """(probabilities (N,C), labels (N,)) over a loader."""
    model.eval().to(device)
    probs, labels = [], []
    autocast = torch.autocast(device.type, dtype=dtype, enabled=dtype != torch.float32)
    for x, y in loader:
        with autocast:
            probs.append(predict_views(model, x.to(device)).float().cpu())
        labels.append(y)
    return torch.cat(probs).numpy(), torch.cat(labels).numpy()


def classification_metrics(probs: np.ndarray, labels: np.ndarray, classes: tuple[str, ...]) -> dict:
    """WAR, UAR, per-class recall and the confusion matrix."""
    pred = probs.argmax(-1)
    cm = confusion_matrix(labels, pred, len(classes))
    support = cm.sum(1)
    recall = {
        c: (float(cm[i, i] / support[i]) if support[i] else None) for i, c in enumerate(classes)
    }
    return {
        "war": war(labels, pred),
        "uar": uar(labels, pred, len(classes)),
        "per_class_recall": recall,
        "confusion": cm.tolist(),
        "n": len(labels),
    }


def load_model(path: str | Path) -> tuple[S4DClassifier, dict]:
    """A fine-tuned model and its checkpoint dict (config, class names) from ``finetune/model.pt``."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: file not found")
    ckpt = load_checkpoint(path)
    if not isinstance(ckpt, dict) or "state_dict" not in ckpt or "video_classes" not in ckpt:
        raise DataError(f"{path}: not an s4d_fer fine-tuned model (finetune/model.pt)")
    cfg = RunConfig.from_dict(ckpt["config"])
    cfg = dataclasses.replace(cfg, model=cfg.model.sized())
    model = S4DClassifier(
        cfg.model, cfg.data.num_frames, len(ckpt["video_classes"]), len(ckpt["image_classes"])
    )
    model.load_state_dict(ckpt["state_dict"])
    return model.eval(), {**ckpt, "run_config": cfg}


def run_test(
    cfg: RunConfig, video_test, image_test, model_path: Path, device: str, workers: int
) -> dict:
    """WAR/UAR (+ per-class recall) on the video test split (and the image test list)."""
    from s4d_fer.train.loaders import make_loader

    model, ckpt = load_model(model_path)
    dev = torch.device(device)
    dtype = torch.bfloat16 if lightning_precision(dev) == "bf16-mixed" else torch.float32
    loader = make_loader(video_test, cfg.finetune.video_batch, train=False, workers=workers, seed=0)
    result = {
        "video": classification_metrics(
            *predict_dataset(model, loader, dev, dtype), video_test.classes
        )
    }
    if ckpt["image_classes"] and image_test is not None:
        loader = make_loader(
            image_test, cfg.finetune.image_batch, train=False, workers=workers, seed=0
        )
        result["image"] = classification_metrics(
            *predict_dataset(model, loader, dev, dtype), image_test.classes
        )
    return result
