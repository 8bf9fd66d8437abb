"""Shared training pieces: the OLMo-style LR schedule, one optimizer step, distributed helpers."""

from __future__ import annotations

import os

import numpy as np
import torch
import torch.nn.functional as F

from labcore.schedules import lr_factor


def lr_at(step: int, peak: float, warmup: int, horizon: int, alpha_f: float) -> float:
    """OLMo's schedule shape through :func:`labcore.schedules.lr_factor`: linear warm-up to
    ``peak``, then linear decay to ``alpha_f * peak`` at ``horizon``, then flat.

    The arguments are the ``schedule`` dict a stage checkpoint stores, so an injection run
    continues the pretraining LR exactly.
    """
    return peak * lr_factor(
        step, total_steps=horizon, warmup_steps=warmup, schedule="linear", min_ratio=alpha_f
    )


def dist_info() -> tuple[int, int]:
    """(rank, world size); initialises the process group under ``torchrun``."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world > 1 and torch.distributed.is_available() and not torch.distributed.is_initialized():
        backend = "nccl" if torch.cuda.is_available() else "gloo"
        torch.distributed.init_process_group(backend)
    rank = torch.distributed.get_rank() if world > 1 else 0
    return rank, world


def sum_lm_loss(model, ids: torch.Tensor) -> tuple[torch.Tensor, int]:
    """Summed next-token cross-entropy over a block of rows and the number of predictions."""
    logits = model(input_ids=ids).logits[:, :-1]
    loss = F.cross_entropy(
        logits.reshape(-1, logits.shape[-1]).float(), ids[:, 1:].reshape(-1), reduction="sum"
    )
    return loss, ids[:, 1:].numel()


def train_step(
    model,
    optimizer,
    global_batch: np.ndarray,
    lr: float,
    grad_clip: float,
    rank: int = 0,
    world: int = 1,
) -> float:
    """One update on the global batch; under DDP each rank takes its rows and gradients are summed.

    The loss is the mean over all predictions of the *global* batch, so the update does not
    depend on the number of ranks.
    """
    from knowledge_dynamics.train.injection import shard_rows

    device = next(model.parameters()).device
    model.train()
    local = torch.as_tensor(shard_rows(global_batch, rank, world), dtype=torch.long, device=device)
    n_global = global_batch.shape[0] * (global_batch.shape[1] - 1)
    loss_sum, _ = sum_lm_loss(model, local)
    (loss_sum / n_global).backward()
    if world > 1:
        for p in model.parameters():
            if p.grad is not None:
                torch.distributed.all_reduce(p.grad, op=torch.distributed.ReduceOp.SUM)
        torch.distributed.all_reduce(loss_sum.detach(), op=torch.distributed.ReduceOp.SUM)
    if grad_clip > 0:
        torch.nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
    for group in optimizer.param_groups:
        group["lr"] = lr
    optimizer.step()
    optimizer.zero_grad(set_to_none=True)
    return float(loss_sum.detach()) / n_global
