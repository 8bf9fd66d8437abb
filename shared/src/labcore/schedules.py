"""Learning-rate schedules: linear warm-up, then cosine, linear, constant or step decay.

``lr_factor(step)`` multiplies the base learning rate::

    warm-up   f(t) = (t + 1) / W                              for t < W
    cosine    f(t) = m + (1 - m) * (1 + cos(pi * p)) / 2      p = (t - W) / (T - W)
    linear    f(t) = m + (1 - m) * (1 - p)
    constant  f(t) = 1
    step      f(t) = gamma ** (number of milestones <= p)     milestones as fractions of T - W

with ``m = min_ratio`` the final fraction of the base rate. Nothing here imports torch
until :func:`lr_scheduler` is called.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Literal

from labcore.errors import DataError

__all__ = ["SCHEDULES", "lr_factor", "lr_lambda", "lr_scheduler"]

Schedule = Literal["cosine", "linear", "constant", "step"]
SCHEDULES: tuple[str, ...] = ("cosine", "linear", "constant", "step")


def lr_factor(
    step: int,
    *,
    total_steps: int,
    warmup_steps: int = 0,
    schedule: str = "cosine",
    min_ratio: float = 0.0,
    milestones: Sequence[float] = (0.5, 0.75),
    gamma: float = 0.1,
) -> float:
    """The learning-rate multiplier at optimizer step ``step`` (0-based)."""
    if schedule not in SCHEDULES:
        raise DataError(f"schedule must be one of {', '.join(SCHEDULES)} (got {schedule!r})")
    if warmup_steps > 0 and step < warmup_steps:
        return (step + 1) / warmup_steps
    span = max(1, total_steps - warmup_steps)
    progress = min(1.0, max(0.0, (step - warmup_steps) / span))
    if schedule == "constant":
        return 1.0
    if schedule == "cosine":
        return min_ratio + (1.0 - min_ratio) * 0.5 * (1.0 + math.cos(math.pi * progress))
    if schedule == "linear":
        return min_ratio + (1.0 - min_ratio) * (1.0 - progress)
    return gamma ** sum(progress >= m for m in milestones)


def lr_lambda(**kwargs) -> Callable[[int], float]:
    """``lr_factor`` with its keyword arguments bound, for ``torch.optim.lr_scheduler.LambdaLR``."""
    lr_factor(0, **kwargs)  # validate now, not at the first step
    return lambda step: lr_factor(step, **kwargs)


def lr_scheduler(optimizer, **kwargs):
    """A ``LambdaLR`` over ``optimizer`` following :func:`lr_factor` (step it once per update)."""
    from torch.optim.lr_scheduler import LambdaLR

    return LambdaLR(optimizer, lr_lambda(**kwargs))
