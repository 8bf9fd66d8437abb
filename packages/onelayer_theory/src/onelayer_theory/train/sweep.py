"""Training a sweep: the runs of an experiment as batched ensembles, resumable.

1. pre-training runs once per distinct (data, model, pre-training, seed): runs that
   differ only in fine-tuning share it; specs with equal shapes train together as one
   ensemble, and each finished ensemble is checkpointed;
2. fine-tuning runs per group of equal shapes and equal fine-tuning settings, starting
   from copies of the pre-trained members;
3. each finished fine-tuning group's result rows are saved under ``RUN/.partial/``, so an
   interrupted sweep resumes where it stopped.

Training losses go to the run folder's ``metrics.csv`` (one row per logged step and group).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from pathlib import Path

import torch

from labcore.io import read_json, write_json
from labcore.train import load_checkpoint, save_checkpoint
from onelayer_theory.config import RunConfig
from onelayer_theory.eval import evaluate, predict, pretrain_loss, stack_padded
from onelayer_theory.experiments import Experiment
from onelayer_theory.model import build_model
from onelayer_theory.synth import World
from onelayer_theory.train.loop import finetune, pretrain

#: Called with (stage, group, history) after each trained ensemble.
HistoryLog = Callable[[str, int, list[dict]], None]


def _key(*parts) -> str:
    blob = json.dumps(
        [dataclasses.asdict(p) if dataclasses.is_dataclass(p) else p for p in parts],
        sort_keys=True,
        default=str,
    )
    return hashlib.sha1(blob.encode()).hexdigest()[:16]


def _pretrain_key(cfg: RunConfig) -> str:
    """What pre-training depends on: coverage (the world draws it last) and the Q&A prompt layout
    only matter for fine-tuning."""
    data = dataclasses.replace(cfg.data, coverage=1.0, qa_format="separate")
    return _key(data, cfg.model, cfg.pretrain, cfg.seed)


def _pretrain_specs(runs):
    """Distinct pre-training specs, grouped by everything that must match inside one ensemble."""
    specs = {}
    for _, cfg in runs:
        specs[_pretrain_key(cfg)] = cfg
    groups = defaultdict(list)
    for key, cfg in specs.items():
        world = World(cfg.data)
        groups[_key(cfg.model, cfg.pretrain, world.vocab.size, world.biography_length)].append(
            (key, cfg, world)
        )
    return list(groups.values())


def _stack_states(states: list[dict[str, torch.Tensor]]) -> dict[str, torch.Tensor]:
    return {k: torch.stack([s[k] for s in states]) for k in states[0]}


def run_sweep(
    experiment: Experiment,
    runs: Sequence[tuple[dict, RunConfig]],
    out: Path,
    device: str = "cpu",
    log: Callable[[str], None] = print,
    log_history: HistoryLog | None = None,
) -> list[dict]:
    """Train and evaluate every run (``experiments.build_runs``); one result row per run.

    ``out`` is the run folder: finished groups are kept in ``out/.partial`` and skipped.
    """
    partial = out / ".partial"
    by_shape = defaultdict(list)
    for labels, cfg in runs:
        # Members of one ensemble need equal shapes: vocabulary and prompt layout.
        world_shape = (World(cfg.data).vocab.size, cfg.data.qa_format)
        by_shape[_key(cfg.model, cfg.pretrain, cfg.finetune, world_shape)].append((labels, cfg))
    # A group's file name covers its members too, so a changed grid never reuses stale rows.
    ft_groups = {_key(k, *(c for _, c in g)): g for k, g in by_shape.items()}
    todo = {k: g for k, g in ft_groups.items() if not (partial / f"{k}.json").exists()}
    if len(todo) < len(ft_groups):
        log(f"resuming: {len(ft_groups) - len(todo)} of {len(ft_groups)} groups already done")

    # 1. pre-training, only for specs that some unfinished group needs; each
    # finished ensemble is checkpointed so a killed sweep keeps it
    needed = {_pretrain_key(c) for g in todo.values() for _, c in g}
    pretrained: dict[str, dict] = {}
    n_pre = 0
    for group in _pretrain_specs([(None, c) for g in todo.values() for _, c in g]):
        cached = {key: partial / f"pretrain-{key}.pt" for key, _, _ in group}
        for key, _, _ in group:
            if key in needed and cached[key].exists():
                pretrained[key] = load_checkpoint(cached[key])
        group = [m for m in group if m[0] in needed and m[0] not in pretrained]
        if not group:
            continue
        start = time.perf_counter()
        cfg0, worlds = group[0][1], [w for _, _, w in group]
        max_len = cfg0.data.max_len
        seeds = [c.seed for _, c, _ in group]
        best: list[dict | None] = [None] * len(group)
        # Each rate of pretrain.lr_grid (or just pretrain.lr) trains the whole ensemble;
        # each member keeps its rate with the lowest loss on fresh biographies.
        for lr in sorted(cfg0.pretrain.lr_grid) or [cfg0.pretrain.lr]:
            train_cfg = dataclasses.replace(cfg0.pretrain, lr=lr, lr_grid=())
            model = build_model(cfg0.model, worlds[0].vocab.size, max_len, seeds).to(device)
            history = pretrain(model, worlds, train_cfg, seeds)
            if log_history is not None:
                log_history("pretrain", n_pre, history)
            n_pre += 1
            losses = pretrain_loss(model, worlds)
            stored = predict(
                model, stack_padded([w.heldout_stored[0] for w in worlds], device)
            ).cpu()
            qa = predict(model, stack_padded([w.heldout_qa[0] for w in worlds], device)).cpu()
            ft = predict(model, stack_padded([w.finetune_qa[0] for w in worlds], device)).cpu()
            for e, world in enumerate(worlds):
                if best[e] is not None and not losses[e] < best[e]["pretrain_loss"]:
                    continue
                best[e] = {
                    "state": _member_state(model, e),
                    "pretrain_loss": float(losses[e]),
                    "pretrain_lr": lr,
                    "stored_acc_pretrain": _accuracy(stored[e], world.heldout_stored[1]),
                    "heldout_acc_before_ft": _accuracy(qa[e], world.heldout_qa[1]),
                    "ft_acc_before_ft": _accuracy(ft[e], world.finetune_qa[1]),
                }
        for (key, _, _), entry in zip(group, best, strict=True):
            pretrained[key] = entry
            save_checkpoint(cached[key], entry)
        log(f"pre-trained {len(group)} model(s) in {time.perf_counter() - start:.1f}s")

    # 2. fine-tuning per group, saved as it finishes
    group_index = {k: i for i, k in enumerate(ft_groups)}
    for key, group in todo.items():
        start = time.perf_counter()
        cfgs = [c for _, c in group]
        worlds = [World(c.data) for c in cfgs]
        specs = [pretrained[_pretrain_key(c)] for c in cfgs]
        seeds = [c.seed for c in cfgs]
        metrics: list[dict | None] = [None] * len(cfgs)
        # Each rate of finetune.lr_grid (or just finetune.lr) fine-tunes copies of the
        # pre-trained members; each keeps its rate with the best ft_acc (the fine-tuning
        # pairs: nothing of the held-out subjects is looked at).
        for lr in sorted(cfgs[0].finetune.lr_grid) or [cfgs[0].finetune.lr]:
            model = build_model(cfgs[0].model, worlds[0].vocab.size, cfgs[0].data.max_len, seeds)
            # Every model keeps its parameters stacked over members: a member is a slice.
            model.load_state_dict(_stack_states([s["state"] for s in specs]))
            model.to(device)
            mlp_in = model.mlp_in.weight.detach().clone() if hasattr(model, "mlp_in") else None
            history = finetune(
                model,
                [(w.finetune_qa[0], w.finetune_qa[1]) for w in worlds],
                dataclasses.replace(cfgs[0].finetune, lr=lr, lr_grid=()),
                seeds,
                worlds=worlds,
            )
            if log_history is not None:
                log_history("finetune", group_index[key], history)
            for e, m in enumerate(evaluate(model, worlds, mlp_in)):
                if metrics[e] is None or m["ft_acc"] > metrics[e]["ft_acc"]:
                    metrics[e] = {**m, "ft_lr": lr}
        rows = []
        for (labels, _), spec, m in zip(group, specs, metrics, strict=True):
            pre = {k: v for k, v in spec.items() if k != "state"}
            rows.append({"experiment": experiment.name, **labels, **m, **pre})
        write_json(partial / f"{key}.json", rows)
        log(
            f"fine-tuned {len(group)} model(s) in {time.perf_counter() - start:.1f}s: "
            + ", ".join(f"{r['heldout_acc']:.2f}" for r in rows)
        )

    rows = [row for k in ft_groups for row in read_json(partial / f"{k}.json")]
    order = {
        json.dumps(labels, sort_keys=True, default=str): i for i, (labels, _) in enumerate(runs)
    }
    return sorted(
        rows,
        key=lambda r: order.get(
            json.dumps({k: r[k] for k in runs[0][0]}, sort_keys=True, default=str), 0
        ),
    )


def _member_state(model, e: int) -> dict[str, torch.Tensor]:
    """Member ``e``'s weights on the CPU: a slice of the stacked parameters."""
    return {k: v[e].detach().cpu().clone() for k, v in model.state_dict().items()}


def _accuracy(pred: torch.Tensor, answers: torch.Tensor) -> float:
    """Accuracy over the first ``len(answers)`` predictions (the rest is padding)."""
    return float((pred[: len(answers)] == answers).float().mean())
