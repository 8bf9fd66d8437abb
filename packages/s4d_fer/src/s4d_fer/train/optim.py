"""AdamW parameter groups (no decay on biases / norms, layer-wise LR decay) and the LR schedule."""

from __future__ import annotations

import torch
from torch import nn

from labcore.schedules import lr_lambda


def _no_decay(name: str, param: torch.Tensor) -> bool:
    # MoAE keeps its experts' biases stacked as (E, width) tensors named b1 / b2.
    return param.ndim <= 1 or name.endswith((".bias", ".b1", ".b2")) or "token" in name


def layer_id(name: str, depth: int) -> int:
    """0 for the embedding, i+1 for block i, depth+1 for the norm / heads."""
    if name.startswith("encoder.patch_embed") or "mask_token" in name:
        return 0
    if name.startswith("encoder.blocks."):
        return int(name.split(".")[2]) + 1
    return depth + 1


def param_groups(
    model: nn.Module, weight_decay: float, layer_decay: float = 1.0, depth: int = 0
) -> list[dict]:
    """Groups with ``lr_scale`` = layer_decay ** (depth + 1 - layer) and weight decay where it belongs."""
    groups: dict[tuple[int, bool], dict] = {}
    for name, p in model.named_parameters():
        if not p.requires_grad:
            continue
        lid = layer_id(name, depth) if layer_decay != 1.0 else 0
        nd = _no_decay(name, p)
        g = groups.setdefault(
            (lid, nd),
            {
                "params": [],
                "weight_decay": 0.0 if nd else weight_decay,
                "lr_scale": layer_decay ** (depth + 1 - lid),
            },
        )
        g["params"].append(p)
    return list(groups.values())


def make_optimizer(
    model: nn.Module,
    lr: float,
    weight_decay: float,
    betas,
    total: int,
    warmup: int,
    layer_decay: float = 1.0,
    depth: int = 0,
):
    groups = param_groups(model, weight_decay, layer_decay, depth)
    opt = torch.optim.AdamW(groups, lr=lr, betas=betas)
    scales = [g["lr_scale"] for g in groups]
    # Linear warm-up, then cosine to 0, times each group's layer-decay scale.
    factor = lr_lambda(total_steps=total, warmup_steps=warmup, schedule="cosine")
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, [lambda s, sc=sc: sc * factor(s) for sc in scales]
    )
    return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "step"}}
