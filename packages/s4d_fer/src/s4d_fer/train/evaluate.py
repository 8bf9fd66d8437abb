"""Test-set evaluation (view-averaged probabilities) and the metrics written to ``metrics.json``."""

from __future__ import annotations

import numpy as np
import torch

from labcore.metrics import confusion_matrix, uar, war
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
