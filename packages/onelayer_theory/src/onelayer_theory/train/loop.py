"""Training an ensemble: pre-training by next-token prediction, Q&A fine-tuning on the answer only.

Members are independent: the loss is the sum of per-member mean losses and AdamW
is element-wise, so training ``E`` members together gives each the same updates
as training it alone (checked in the tests).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from labcore import schedules
from onelayer_theory.config import FinetuneConfig, TrainConfig
from onelayer_theory.synth import PAD, World, sample_biographies


def schedule_options(cfg: TrainConfig) -> dict:
    """``cfg``'s schedule as ``labcore.schedules`` options: linear warm-up, then ``constant``,
    cosine decay to 10% (``min_ratio=0.1``) or ``step`` (x0.1 at 50% and 75% after warm-up)."""
    return {
        "total_steps": cfg.steps,
        "warmup_steps": min(cfg.warmup_steps, cfg.steps - 1),
        "schedule": cfg.schedule,
        "min_ratio": 0.1,
        "milestones": (0.5, 0.75),
        "gamma": 0.1,
    }


def lr_lambda(cfg: TrainConfig):
    """Multiplier of the peak learning rate at each step, for ``cfg.schedule``."""
    return schedules.lr_lambda(**schedule_options(cfg))


def make_optimizer(params: Sequence[nn.Parameter], cfg: TrainConfig):
    params = [p for p in params if p.requires_grad]
    if cfg.optimizer == "sgd":
        opt = torch.optim.SGD(params, lr=cfg.lr, momentum=0.9, weight_decay=cfg.weight_decay)
    else:
        # Every parameter is stacked over the ensemble, so one fused (element-wise) kernel
        # updates all members at once, each exactly as it would be updated alone.
        opt = torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay, fused=True)
    return opt, schedules.lr_scheduler(opt, **schedule_options(cfg))


class BatchSampler:
    """Per-member random minibatches of fixed tensors (the Q&A pairs), one generator per member."""

    def __init__(
        self, datasets: Sequence[tuple[torch.Tensor, ...]], batch_size: int, seeds: Sequence[int]
    ):
        self.datasets = datasets
        self.batch_size = batch_size
        self.generators = [torch.Generator().manual_seed(s) for s in seeds]

    def __call__(self, device: torch.device) -> tuple[torch.Tensor, ...]:
        parts = []
        for data, gen in zip(self.datasets, self.generators, strict=True):
            idx = torch.randint(0, data[0].shape[0], (self.batch_size,), generator=gen)
            parts.append([t[idx] for t in data])
        return tuple(torch.stack(col).to(device) for col in zip(*parts, strict=True))


def sequence_loss(
    logits: torch.Tensor, tokens: torch.Tensor, answers: tuple[int, int] | None = None
) -> torch.Tensor:
    """Per-member mean next-token loss over non-PAD targets: ``[E]``.

    With ``answers = (first, end)`` only targets with ids in ``[first, end)`` count
    (the answer tokens: the stylised model's answer-only loss).
    """
    targets = tokens[..., 1:]
    nll = F.cross_entropy(logits[..., :-1, :].flatten(0, -2), targets.flatten(), reduction="none")
    keep = targets != PAD
    if answers is not None:
        keep &= (targets >= answers[0]) & (targets < answers[1])
    mask = keep.flatten(1).float()
    nll = nll.view(targets.shape[0], -1)
    return (nll * mask).sum(1) / mask.sum(1)


def answer_loss(model: nn.Module, prompts: torch.Tensor, answers: torch.Tensor) -> torch.Tensor:
    """Per-member mean loss of the answer token after a prompt: ``[E]``."""
    logits = model(prompts, last_only=True)  # [E, B, V]
    nll = F.cross_entropy(logits.flatten(0, 1), answers.flatten(), reduction="none")
    return nll.view(answers.shape).mean(1)


@torch.no_grad()
def clip_per_member(params: Sequence[nn.Parameter], max_norm: float) -> None:
    """Scale each ensemble member's gradient to norm <= ``max_norm``.

    Gradients have a leading member dimension, so the norm is taken per member,
    not over the whole ensemble (which would couple the members).
    """
    grads = [p.grad for p in params if p.grad is not None]
    if not grads:
        return
    sq = sum(g.pow(2).flatten(1).sum(1) for g in grads)
    scale = (max_norm / (sq.sqrt() + 1e-6)).clamp(max=1.0)
    for g in grads:
        g.mul_(scale.view(-1, *([1] * (g.dim() - 1))))


def _train(model, params, cfg: TrainConfig, step_loss, log_every: int) -> list[dict]:
    opt, sched = make_optimizer(params, cfg)
    history = []
    model.train()
    for step in range(cfg.steps):
        losses = step_loss()
        opt.zero_grad(set_to_none=True)
        losses.sum().backward()
        if cfg.grad_clip > 0:
            clip_per_member(params, cfg.grad_clip)
        opt.step()
        sched.step()
        if step % log_every == 0 or step == cfg.steps - 1:
            history.append({"step": step, "loss": losses.detach().cpu().tolist()})
    model.eval()
    return history


def pretrain(
    model: nn.Module,
    worlds: Sequence[World],
    cfg: TrainConfig,
    seeds: Sequence[int],
    log_every: int = 100,
) -> list[dict]:
    """Next-token pre-training: member ``e`` on fresh biographies of ``worlds[e]`` every step."""
    device = next(model.parameters()).device
    generators = [torch.Generator().manual_seed(s) for s in seeds]

    vocab = worlds[0].vocab
    answers = (vocab.answer0, vocab.noise0) if cfg.loss_on == "answers" else None

    def step_loss():
        tokens = sample_biographies(worlds, cfg.batch_size, generators)[0].to(device)
        return sequence_loss(model(tokens), tokens, answers)

    return _train(model, list(model.parameters()), cfg, step_loss, log_every)


def finetune(
    model: nn.Module,
    qa_sets: Sequence[tuple[torch.Tensor, torch.Tensor]],
    cfg: FinetuneConfig,
    seeds: Sequence[int],
    log_every: int = 50,
    worlds: Sequence[World] | None = None,
) -> list[dict]:
    """Q&A fine-tuning with the loss on the answer only; LoRA when ``cfg.lora_rank > 0``.

    With ``cfg.replay_batch > 0`` each step also replays that many fresh biographies of
    ``worlds[e]`` per member (next-token loss on every token, added to the Q&A loss).
    """
    from onelayer_theory.model.lora import add_lora

    device = next(model.parameters()).device
    if cfg.lora_rank:
        params = add_lora(model, cfg.lora_rank, cfg.lora_targets, cfg.lora_alpha, seeds)
    else:
        params = list(model.parameters())
    # Different seeds from pre-training so fine-tuning batches are a fresh stream.
    sampler = BatchSampler(qa_sets, cfg.batch_size, [s + 1_000_003 for s in seeds])

    if cfg.replay_batch and worlds is None:
        raise ValueError("finetune.replay_batch needs the worlds to draw biographies from")
    replay_generators = [torch.Generator().manual_seed(s + 2_000_003) for s in seeds]

    def step_loss():
        prompts, answers = sampler(device)
        loss = answer_loss(model, prompts, answers)
        if cfg.replay_batch:
            bios = sample_biographies(worlds, cfg.replay_batch, replay_generators)[0].to(device)
            loss = loss + sequence_loss(model(bios), bios)
        return loss

    return _train(model, params, cfg, step_loss, log_every)
