"""LoRA for the batched one-layer model.

A small module of our own rather than ``peft``: peft wraps ``nn.Linear`` layers,
while our weights carry an ensemble dimension (``BatchedLinear``), so adapters
must too. Each adapted weight gets ``W + (alpha / r) A B`` with ``B = 0`` at the
start; everything else is frozen.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn


def add_lora(
    model: nn.Module, rank: int, targets: Sequence[str], alpha: float, seeds: Sequence[int]
) -> list[nn.Parameter]:
    """Freeze ``model`` and attach rank-``rank`` adapters to ``targets``; return the trainable parameters."""
    for p in model.parameters():
        p.requires_grad_(False)
    generators = [torch.Generator().manual_seed(s + 7_919) for s in seeds]
    trainable = []
    adaptable = model.adaptable()
    for target in targets:
        for linear in adaptable[target]:
            linear.add_lora(rank, alpha, generators)
            trainable += [linear.lora_A, linear.lora_B]
    return trainable


def lora_parameters(model: nn.Module) -> list[nn.Parameter]:
    """All adapter parameters of ``model``."""
    return [p for name, p in model.named_parameters() if "lora_" in name]
