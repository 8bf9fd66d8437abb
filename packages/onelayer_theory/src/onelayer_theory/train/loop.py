"""Training an ensemble: pre-training by next-token prediction, Q&A fine-tuning on the answer only.

Members are independent: the loss is the sum of per-member mean losses and AdamW
is element-wise, so training ``E`` members together gives each the same updates
as training it alone (checked in the tests).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from labcore import schedules
from onelayer_theory.config import FinetuneConfig, TrainConfig
from onelayer_theory.synth import PAD, World, sample_biographies
from onelayer_theory.train.optim import MemberRateOptimizer


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


def make_optimizer(
    params: Sequence[nn.Parameter], cfg: TrainConfig, member_lr: Sequence[float] | None = None
):
    """``cfg``'s optimizer and schedule; with ``member_lr``, member ``e`` peaks at
    ``member_lr[e]`` (``cfg.lr`` unused) through ``MemberRateOptimizer``."""
    params = [p for p in params if p.requires_grad]
    if member_lr is not None:
        opt = MemberRateOptimizer(
            params, member_lr, kind=cfg.optimizer, weight_decay=cfg.weight_decay
        )
    elif cfg.optimizer == "sgd":
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


@torch.no_grad()
def keep_members(model: nn.Module, index: Sequence[int]) -> None:
    """Slice every parameter and buffer of an ensemble to the members in ``index``, in place
    (the parameter objects stay, so an optimizer holding them goes on with them)."""
    idx = torch.as_tensor(list(index), dtype=torch.long)
    for tensor in [*model.parameters(), *model.buffers()]:
        tensor.grad = None
        tensor.data = tensor.data[idx.to(tensor.device)].clone()


class Training:
    """An ensemble's optimizer, schedule and loss history, stepped on by ``run``.

    ``run(until)`` can stop part-way; ``keep(index)`` then drops members (parameters and
    optimizer state) and a later ``run`` goes on with the rest, each kept member exactly
    where it would be had it trained alone.
    """

    def __init__(
        self,
        model: nn.Module,
        params: Sequence[nn.Parameter],
        cfg: TrainConfig,
        step_loss: Callable[[], torch.Tensor],
        log_every: int,
        member_lr: Sequence[float] | None = None,
    ):
        self.model, self.cfg, self.step_loss, self.log_every = model, cfg, step_loss, log_every
        self.params = [p for p in params if p.requires_grad]
        self.opt, self.sched = make_optimizer(self.params, cfg, member_lr)
        self.step = 0
        self.history: list[dict] = []

    def run(self, until: int | None = None) -> list[dict]:
        """Train up to step ``until`` (default: the end of the schedule); the history so far."""
        until = self.cfg.steps if until is None else min(until, self.cfg.steps)
        self.model.train()
        for step in range(self.step, until):
            losses = self.step_loss()
            self.opt.zero_grad(set_to_none=True)
            losses.sum().backward()
            if self.cfg.grad_clip > 0:
                clip_per_member(self.params, self.cfg.grad_clip)
            self.opt.step()
            self.sched.step()
            if step % self.log_every == 0 or step == self.cfg.steps - 1:
                self.history.append({"step": step, "loss": losses.detach().cpu().tolist()})
        self.step = max(self.step, until)
        self.model.eval()
        return self.history

    def keep(self, index: Sequence[int]) -> None:
        """Go on with the members in ``index`` only."""
        if not isinstance(self.opt, MemberRateOptimizer):
            raise TypeError("members can be dropped only from a per-member-rate training")
        keep_members(self.model, index)
        self.opt.keep_members(index)


class Pretraining(Training):
    """Next-token pre-training: member ``e`` on fresh biographies of ``worlds[e]`` every step."""

    def __init__(
        self,
        model: nn.Module,
        worlds: Sequence[World],
        cfg: TrainConfig,
        seeds: Sequence[int],
        log_every: int = 100,
        member_lr: Sequence[float] | None = None,
    ):
        self.worlds = list(worlds)
        self.generators = [torch.Generator().manual_seed(s) for s in seeds]
        device = next(model.parameters()).device
        vocab = self.worlds[0].vocab
        answers = (vocab.answer0, vocab.noise0) if cfg.loss_on == "answers" else None

        def step_loss():
            tokens = sample_biographies(self.worlds, cfg.batch_size, self.generators)[0]
            tokens = tokens.to(device)
            return sequence_loss(model(tokens), tokens, answers)

        super().__init__(model, list(model.parameters()), cfg, step_loss, log_every, member_lr)

    def keep(self, index: Sequence[int]) -> None:
        super().keep(index)
        # Each kept member keeps its world and its biography stream where it was.
        self.worlds = [self.worlds[i] for i in index]
        self.generators = [self.generators[i] for i in index]


def pretrain(model: nn.Module, worlds: Sequence[World], cfg: TrainConfig, seeds, **options):
    """Pre-train every member for ``cfg.steps``; the loss history. ``options`` are
    :class:`Pretraining`'s (``log_every``, ``member_lr``: member ``e`` peaks at ``member_lr[e]``)."""
    return Pretraining(model, worlds, cfg, seeds, **options).run()


def finetune(
    model: nn.Module,
    qa_sets: Sequence[tuple[torch.Tensor, torch.Tensor]],
    cfg: FinetuneConfig,
    seeds: Sequence[int],
    log_every: int = 50,
    worlds: Sequence[World] | None = None,
    member_lr: Sequence[float] | None = None,
) -> list[dict]:
    """Q&A fine-tuning with the loss on the answer only; LoRA when ``cfg.lora_rank > 0``.

    With ``cfg.replay_batch > 0`` each step also replays that many fresh biographies of
    ``worlds[e]`` per member (next-token loss on every token, added to the Q&A loss).
    With ``member_lr``, member ``e`` peaks at ``member_lr[e]`` instead of ``cfg.lr``.
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

    return Training(model, params, cfg, step_loss, log_every, member_lr).run()
