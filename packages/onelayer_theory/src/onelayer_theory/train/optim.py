"""An optimizer for stacked ensembles whose members train at different learning rates.

Every parameter of an ensemble has a leading member dimension ``E``. Member ``e`` steps
at ``group_lr * member_lr[e]``, where ``group_lr`` is what the schedule sets (the peak
rate is 1, so the schedule's multiplier), so a learning-rate grid trains as one ensemble
instead of one ensemble per rate. The updates are torch's:

    AdamW:  p <- p (1 - lr wd);  m <- b1 m + (1 - b1) g;  v <- b2 v + (1 - b2) g^2;
            p <- p - (lr / (1 - b1^t)) m / (sqrt(v / (1 - b2^t)) + eps)
    SGD:    b <- mu b + (g + wd p)  (b = g + wd p at the first step);  p <- p - lr b

each with ``lr`` broadcast over the member dimension, so member ``e`` gets the update it
would get from ``torch.optim.AdamW`` / ``SGD`` alone at its rate (checked in the tests).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch


class MemberRateOptimizer(torch.optim.Optimizer):
    """AdamW (``kind="adamw"``) or SGD with momentum 0.9 (``kind="sgd"``), one rate per member."""

    def __init__(
        self,
        params,
        member_lr: Sequence[float],
        kind: str = "adamw",
        weight_decay: float = 0.0,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        momentum: float = 0.9,
    ):
        if kind not in ("adamw", "sgd"):
            raise ValueError(f"kind must be adamw or sgd (got {kind!r})")
        defaults = dict(lr=1.0, weight_decay=weight_decay, betas=betas, eps=eps, momentum=momentum)
        super().__init__(params, defaults)
        self.kind = kind
        self.member_lr = torch.tensor(list(member_lr), dtype=torch.float64)
        for group in self.param_groups:
            for p in group["params"]:
                if p.shape[:1] != self.member_lr.shape:
                    raise ValueError(
                        f"a parameter of shape {tuple(p.shape)} has no leading member "
                        f"dimension of {len(self.member_lr)}"
                    )

    def _rates(self, group: dict, p: torch.Tensor) -> torch.Tensor:
        """This group's rate for each member, shaped to broadcast over ``p``."""
        lr = (group["lr"] * self.member_lr).to(device=p.device, dtype=p.dtype)
        return lr.view(-1, *([1] * (p.dim() - 1)))

    @torch.no_grad()
    def step(self, closure=None):
        loss = None if closure is None else closure()
        for group in self.param_groups:
            wd = group["weight_decay"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                lr = self._rates(group, p)
                state = self.state[p]
                if self.kind == "sgd":
                    d_p = p.grad if wd == 0 else p.grad.add(p, alpha=wd)
                    if "momentum_buffer" not in state:
                        state["momentum_buffer"] = d_p.clone()
                    else:
                        state["momentum_buffer"].mul_(group["momentum"]).add_(d_p)
                    p.sub_(state["momentum_buffer"] * lr)
                    continue
                if not state:
                    state["step"] = 0
                    state["exp_avg"] = torch.zeros_like(p)
                    state["exp_avg_sq"] = torch.zeros_like(p)
                state["step"] += 1
                b1, b2 = group["betas"]
                m, v = state["exp_avg"], state["exp_avg_sq"]
                if wd:
                    p.mul_(1 - lr * wd)
                m.lerp_(p.grad, 1 - b1)
                v.mul_(b2).addcmul_(p.grad, p.grad, value=1 - b2)
                bias1 = 1 - b1 ** state["step"]
                bias2 = 1 - b2 ** state["step"]
                denom = (v.sqrt() / math.sqrt(bias2)).add_(group["eps"])
                p.sub_(m / denom * (lr / bias1))
        return loss

    def keep_members(self, index: Sequence[int]) -> None:
        """Drop every member not in ``index`` from the optimizer's state (the parameters are
        sliced by ``loop.keep_members``): the kept members go on as if trained alone."""
        idx = torch.as_tensor(list(index), dtype=torch.long)
        self.member_lr = self.member_lr[idx]
        for state in self.state.values():
            for key, value in state.items():
                if torch.is_tensor(value) and value.dim() > 0:
                    state[key] = value[idx.to(value.device)].clone()
