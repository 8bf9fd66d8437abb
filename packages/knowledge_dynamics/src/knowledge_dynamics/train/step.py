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


def dist_info(device: str | None = None) -> tuple[int, int]:
    """(rank, world size); under ``torchrun`` initialises the process group once.

    The backend is NCCL for a CUDA ``device`` (each rank on its own GPU, ``LOCAL_RANK``, set
    before the group starts), else gloo; ``device=None`` means CUDA when available.
    """
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world > 1 and torch.distributed.is_available() and not torch.distributed.is_initialized():
        cuda = torch.cuda.is_available() if device is None else str(device).startswith("cuda")
        if cuda:
            torch.cuda.set_device(local_rank())
        torch.distributed.init_process_group("nccl" if cuda else "gloo")
    rank = torch.distributed.get_rank() if world > 1 else 0
    return rank, world


def local_rank() -> int:
    """This process's index on its machine (``LOCAL_RANK`` under ``torchrun``, else 0)."""
    return int(os.environ.get("LOCAL_RANK", "0"))


def rank_device(device: str) -> str:
    """The device this rank uses: ``cuda`` becomes ``cuda:LOCAL_RANK`` under ``torchrun``."""
    if str(device) == "cuda" and int(os.environ.get("WORLD_SIZE", "1")) > 1:
        torch.cuda.set_device(local_rank())
        return f"cuda:{local_rank()}"
    return str(device)


def autocast(device, enabled: bool):
    """bf16 autocast on CUDA when ``enabled`` (a no-op context otherwise)."""
    kind = torch.device(device).type
    return torch.autocast(kind, dtype=torch.bfloat16, enabled=enabled and kind == "cuda")


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
    bf16: bool = False,
) -> float:
    """One update on the global batch; under DDP each rank takes its rows and gradients are summed.

    The loss is the mean over all predictions of the *global* batch, so the update does not
    depend on the number of ranks. ``bf16`` autocasts the forward pass (CUDA only).
    """
    from knowledge_dynamics.train.injection import shard_rows

    device = next(model.parameters()).device
    model.train()
    local = torch.as_tensor(shard_rows(global_batch, rank, world), dtype=torch.long, device=device)
    n_global = global_batch.shape[0] * (global_batch.shape[1] - 1)
    if local.shape[0] == 0:  # more ranks than rows: this rank adds zero gradients
        loss_sum = sum(p.sum() for p in model.parameters()) * 0.0
    else:
        with autocast(device, bf16):
            loss_sum, _ = sum_lm_loss(model, local)
    (loss_sum / n_global).backward()
    total = loss_sum.detach().clone()
    if world > 1:
        for p in model.parameters():
            if p.grad is not None:
                torch.distributed.all_reduce(p.grad, op=torch.distributed.ReduceOp.SUM)
        torch.distributed.all_reduce(total, op=torch.distributed.ReduceOp.SUM)
    if grad_clip > 0:
        torch.nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
    for group in optimizer.param_groups:
        group["lr"] = lr
    optimizer.step()
    optimizer.zero_grad(set_to_none=True)
    return float(total) / n_global
