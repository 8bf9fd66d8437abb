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

import numpy as np
import torch

from labcore.io import read_json, write_json
from labcore.train import load_checkpoint, save_checkpoint
from onelayer_theory.config import DataConfig, RunConfig
from onelayer_theory.eval import evaluate, predict, pretrain_loss, stack_padded
from onelayer_theory.experiments import Experiment
from onelayer_theory.model import build_model
from onelayer_theory.synth import World
from onelayer_theory.train.loop import Pretraining, finetune

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


def _world_kind(cfg: RunConfig, qa_format: bool = True) -> DataConfig:
    """What members of one ensemble must share about their worlds: everything but the seed and
    the coverage (biographies of all members are drawn in one go from equal-shaped tables)."""
    data = dataclasses.replace(cfg.data, seed=0, coverage=1.0)
    return data if qa_format else dataclasses.replace(data, qa_format="separate")


def _pretrain_specs(runs):
    """Distinct pre-training specs, grouped by everything that must match inside one ensemble."""
    specs = {}
    for _, cfg in runs:
        specs[_pretrain_key(cfg)] = cfg
    groups = defaultdict(list)
    for key, cfg in specs.items():
        world = World(cfg.data)
        groups[_key(cfg.model, cfg.pretrain, _world_kind(cfg, qa_format=False))].append(
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
        # Members of one ensemble need equal worlds up to seed and coverage.
        by_shape[_key(cfg.model, cfg.pretrain, cfg.finetune, _world_kind(cfg))].append(
            (labels, cfg)
        )
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
        seeds = [c.seed for _, c, _ in group]
        model, rates, choice = _pretrain_group(cfg0, worlds, seeds, device, log_history, n_pre)
        n_pre += 1
        losses = pretrain_loss(model, worlds)
        stored = predict(model, stack_padded([w.heldout_stored[0] for w in worlds], device)).cpu()
        qa = predict(model, stack_padded([w.heldout_qa[0] for w in worlds], device)).cpu()
        ft = predict(model, stack_padded([w.finetune_qa[0] for w in worlds], device)).cpu()
        best = [
            {
                "state": _member_state(model, e),
                "pretrain_loss": float(losses[e]),
                "pretrain_lr": rates[choice[e]],
                "stored_acc_pretrain": _accuracy(stored[e], world.heldout_stored[1]),
                "heldout_acc_before_ft": _accuracy(qa[e], world.heldout_qa[1]),
                "ft_acc_before_ft": _accuracy(ft[e], world.finetune_qa[1]),
            }
            for e, world in enumerate(worlds)
        ]
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
        # Each rate of finetune.lr_grid (or just finetune.lr) fine-tunes a copy of every
        # pre-trained member, all in one ensemble (member e at rate r is e * len(rates) + r);
        # each run keeps its rate with the best ft_acc (the fine-tuning pairs: nothing of the
        # held-out subjects is looked at), ties to the lower rate.
        rates = sorted(cfgs[0].finetune.lr_grid) or [cfgs[0].finetune.lr]
        pairs = [e for e in range(len(cfgs)) for _ in rates]
        model = build_model(
            cfgs[0].model, worlds[0].vocab.size, cfgs[0].data.max_len, [seeds[e] for e in pairs]
        )
        # Every model keeps its parameters stacked over members: a member is a slice.
        model.load_state_dict(_stack_states([specs[e]["state"] for e in pairs]))
        model.to(device)
        mlp_in = model.mlp_in.weight.detach().clone() if hasattr(model, "mlp_in") else None
        history = finetune(
            model,
            [(worlds[e].finetune_qa[0], worlds[e].finetune_qa[1]) for e in pairs],
            dataclasses.replace(cfgs[0].finetune, lr=rates[0], lr_grid=()),
            [seeds[e] for e in pairs],
            worlds=[worlds[e] for e in pairs],
            member_lr=rates * len(cfgs) if len(rates) > 1 else None,
        )
        if log_history is not None:
            log_history("finetune", group_index[key], history)
        pair_metrics = evaluate(model, [worlds[e] for e in pairs], mlp_in)
        metrics: list[dict] = []
        for e in range(len(cfgs)):
            mine = pair_metrics[e * len(rates) : (e + 1) * len(rates)]
            r = max(range(len(rates)), key=lambda i: (mine[i]["ft_acc"], -i))
            metrics.append({**mine[r], "ft_lr": rates[r]})
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


def _pretrain_group(cfg0: RunConfig, worlds, seeds, device, log_history, n_pre):
    """Pre-train one ensemble's members; with ``pretrain.lr_grid`` every (member, rate) pair is
    one member of a larger ensemble (member e at rate r is e * len(rates) + r) until
    ``pretrain.lr_pilot`` of the steps, when each member keeps its rate with the lowest loss on
    fresh biographies (ties to the lower rate) and only those go on to the end.

    Returns the trained ensemble (one member per world), the rates and each member's choice.
    """
    rates = sorted(cfg0.pretrain.lr_grid) or [cfg0.pretrain.lr]
    pairs = [e for e in range(len(worlds)) for _ in rates]
    train_cfg = dataclasses.replace(cfg0.pretrain, lr=rates[0], lr_grid=())
    pair_seeds = [seeds[e] for e in pairs]
    model = build_model(cfg0.model, worlds[0].vocab.size, cfg0.data.max_len, pair_seeds)
    training = Pretraining(
        model.to(device),
        [worlds[e] for e in pairs],
        train_cfg,
        pair_seeds,
        member_lr=rates * len(worlds) if len(rates) > 1 else None,
    )
    choice = [0] * len(worlds)
    if len(rates) > 1:
        pilot = max(1, round(cfg0.pretrain.lr_pilot * train_cfg.steps))
        training.run(until=pilot)
        losses = pretrain_loss(model, training.worlds).reshape(len(worlds), len(rates))
        losses = np.where(np.isfinite(losses), losses, np.inf)  # a diverged rate never wins
        choice = [int(np.argmin(row)) for row in losses]  # argmin: ties to the lower rate
        training.keep([e * len(rates) + r for e, r in enumerate(choice)])
    history = training.run()
    if log_history is not None:
        log_history("pretrain", n_pre, history)
    return model, rates, choice


def _member_state(model, e: int) -> dict[str, torch.Tensor]:
    """Member ``e``'s weights on the CPU: a slice of the stacked parameters."""
    return {k: v[e].detach().cpu().clone() for k, v in model.state_dict().items()}


def _accuracy(pred: torch.Tensor, answers: torch.Tensor) -> float:
    """Accuracy over the first ``len(answers)`` predictions (the rest is padding)."""
    return float((pred[: len(answers)] == answers).float().mean())
