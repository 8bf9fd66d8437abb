"""Injection runs: continued pretraining with injected knowledge and probe logging.

A run folder (:class:`labcore.rundir.RunDir`) holds ``config.json``, ``knowledge.json`` (the
items used), ``probes.json`` (item / type / index of each probe column), ``plan.json``
(injection steps per item and scenario), ``probe_log.npz`` (``steps`` and one
``(n_steps, n_probes)`` array per measure), ``metrics.csv`` (one row per step: the update's
loss and LR, and at scored steps the mean target log-prob per scenario), ``metrics.json``,
``plots/`` and ``log.txt``. A kill at any point loses at most ``inject.checkpoint_every``
steps: ``checkpoints/last.pt`` holds the model, optimizer and the log so far, and a restart
with the same command continues from it, so the final log has every step exactly once.
"""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from knowledge_dynamics.config import Config, effective_betas
from knowledge_dynamics.data.corpus import corpus_key, load_documents, pack
from knowledge_dynamics.data.knowledge import (
    KnowledgeItem,
    load_fictional_knowledge,
    save_fictional_knowledge,
)
from knowledge_dynamics.eval.probe_log import MEASURES, PROBE_LOG, write_probe_log
from knowledge_dynamics.eval.probes import build_probes, score_probes
from knowledge_dynamics.model import load_checkpoint_model
from knowledge_dynamics.synth.generator import synth_knowledge
from knowledge_dynamics.train.injection import (
    inject_rows,
    make_plan,
    pack_passages,
    passage_share,
    scenario_of,
)
from knowledge_dynamics.train.schedule import eval_steps
from knowledge_dynamics.train.step import dist_info, lr_at, rank_device, train_step
from labcore.errors import DataError
from labcore.io import atomic_path, labcore_home, write_json
from labcore.rundir import RunDir
from labcore.train import load_checkpoint, save_checkpoint, seed_everything

PACKAGE = "knowledge_dynamics"
#: the sham knowledge set is the embedded generator's set for ``seed + SHAM_SEED_OFFSET``
SHAM_SEED_OFFSET = 100_003
SHAM_DIR = "sham"


def jsonable(obj) -> dict:
    return json.loads(json.dumps(obj, default=str))


def inject_config(cfg: Config, checkpoint: str, knowledge: str | None = None, **extra) -> dict:
    """The ``config.json`` of an injection run started through the Python API."""
    return jsonable({**cfg.base().to_dict(), "checkpoint": str(checkpoint),
                     "knowledge": knowledge, **extra})  # fmt: skip


def open_run(path: str | Path, command: str, config: dict, device: str | None = None) -> RunDir:
    """Create or reopen a run folder of this package (rank 0 only under ``torchrun``)."""
    rank, _ = dist_info(device)
    if rank:
        return RunDir(Path(path), status="resumed")
    return RunDir.open(path, package=PACKAGE, command=command, config=config, device=device)


def truncate_history(run: RunDir, start: int) -> None:
    """Drop ``metrics.csv`` rows of steps ``>= start`` (redone after a resume)."""
    run.truncate(start)


def stream_rows(cfg: Config, tokenizer) -> np.ndarray:
    """The packed injection stream (held-out documents), cached by corpus config and tokenizer."""
    fingerprint = (
        hashlib.sha1(tokenizer.backend_tokenizer.to_str().encode()).hexdigest()[:12]
        if (hasattr(tokenizer, "backend_tokenizer"))
        else str(len(tokenizer))
    )
    key = corpus_key(cfg.corpus, fingerprint, cfg.model.seq_len)
    path = labcore_home() / "knowledge_dynamics" / "streams" / f"{key}.npy"
    if path.is_file():
        return np.load(path)
    _, docs = load_documents(cfg.corpus)
    rows = pack(docs, tokenizer, cfg.model.seq_len)
    with atomic_path(path) as tmp, open(tmp, "wb") as fh:
        np.save(fh, rows)
    return rows


def load_items(cfg: Config, knowledge: str | None) -> list[KnowledgeItem]:
    if knowledge:
        return load_fictional_knowledge(knowledge)
    s = cfg.synth
    return synth_knowledge(s.n_items + s.n_spares, cfg.seed, s.n_paraphrases)


def sham_items(cfg: Config, n_items: int) -> list[KnowledgeItem]:
    """Another knowledge set (new names, new facts) whose passages a sham run injects."""
    n_para = max(cfg.synth.n_paraphrases, cfg.inject.n_injections - 1)
    return synth_knowledge(n_items, cfg.seed + SHAM_SEED_OFFSET, n_para)


def run_inject(
    cfg: Config,
    checkpoint: str,
    out: str | Path | RunDir,
    knowledge: str | None = None,
    device: str = "cpu",
    progress: bool | None = None,
    stop_after: int | None = None,
    sham: bool = False,
) -> RunDir:
    """Run (or resume) one injection experiment into a run folder; returns it.

    ``out`` is a :class:`RunDir` opened by the caller, or a path (opened here as an
    ``inject`` run). A run whose probe log exists is returned as is. ``stop_after`` ends
    early after that many updates (tests use it to emulate a kill between checkpoints).
    ``progress=None`` shows bars only on a terminal. ``sham=True`` injects the passages of
    another knowledge set (:func:`sham_items`) into the same slots and scores the same probes:
    the control whose gain is what injection does to probes without their facts.
    """
    cfg.validate()
    bf16 = cfg.inject.precision == "bf16"
    if bf16 and not str(device).startswith("cuda"):  # refused before the run folder is made
        raise DataError("inject.precision=bf16 needs a CUDA device (--device cuda)")
    run = (
        out
        if isinstance(out, RunDir)
        else open_run(out, "inject", inject_config(cfg, checkpoint, knowledge), device)
    )
    out = run.path
    rank, world = dist_info(device)
    device = rank_device(device)
    if (out / PROBE_LOG).is_file():
        return run  # the injection finished earlier with the same config
    seed_everything(cfg.seed)
    items = load_items(cfg, knowledge)
    n_items = (
        min(cfg.synth.n_items, len(items) - len(items) % 3) if knowledge else cfg.synth.n_items
    )
    if n_items < 3:
        raise DataError(f"{knowledge}: need at least 3 items (one per scenario)")
    model, tokenizer, state = load_checkpoint_model(str(checkpoint), device)
    ic = cfg.inject
    # Scored items: the injected ones plus ``synth.n_spares`` never-injected spares (paper: 10).
    items = items[: n_items + cfg.synth.n_spares]
    plan = make_plan(sham_items(cfg, n_items) if sham else items, n_items, ic)
    probes = build_probes(items, tokenizer)
    rows = stream_rows(cfg, tokenizer)
    if rows.shape[1] != cfg.model.seq_len:
        raise DataError("model.seq_len changed since the stream was cached")
    passages = {
        s: [tokenizer(t, add_special_tokens=False).input_ids for _, t in e]
        for s, e in plan.steps.items()
    }
    item_steps = {i: plan.item_steps(i) for i in range(len(items))}
    # rows of an injection step: the batch, or more where overflow=extend adds passage-only rows
    n_rows = {
        s: max(
            ic.batch_size,
            len(pack_passages(p, tokenizer.eos_token_id, ic.batch_size, cfg.model.seq_len)),
        )
        for s, p in passages.items()
    }
    shares = {s: passage_share(p, n_rows[s], cfg.model.seq_len) for s, p in passages.items()}
    if ic.overflow == "error":  # refuse now, before anything is trained or written
        for p in passages.values():
            inject_rows(rows[: ic.batch_size], p, tokenizer.eos_token_id, "error")
    inj_steps = sorted(plan.steps)
    last_steps = sorted({max(v) for v in item_steps.values() if v})
    steps = eval_steps(ic.schedule, inj_steps, last_steps, ic.window, ic.total_steps, ic.log_points)
    to_eval = set(steps)

    betas = effective_betas(ic)
    opt = torch.optim.AdamW(model.parameters(), lr=0.0, betas=betas, weight_decay=ic.weight_decay)
    fresh_optimizer = not (state and not ic.reset_optimizer)
    if not fresh_optimizer:
        opt.load_state_dict(state["optimizer"])
        for g in opt.param_groups:
            g["betas"], g["weight_decay"] = betas, ic.weight_decay
    if ic.lr > 0:
        lr_fn = lambda s: ic.lr * ic.lr_scale
    elif state and "schedule" in state:
        base = int(state["step"])
        if ic.lr_schedule == "continue":
            lr_fn = lambda s: lr_at(base + s, **state["schedule"]) * ic.lr_scale
        else:  # OLMo's LR is flat over the paper's injection window: hold the checkpoint's
            lr_fn = lambda s: lr_at(base, **state["schedule"]) * ic.lr_scale
    else:
        raise DataError(
            f"--checkpoint {checkpoint}: has no LR schedule state; give a constant LR, "
            "e.g. --inject.lr 1e-4"
        )

    log: dict[str, list] = {"steps": [], **{m: [] for m in MEASURES}}
    # wall and CPU (process) time: CPU time is far less disturbed by other jobs on the machine
    timing = {"score_s": 0.0, "train_s": 0.0, "score_cpu_s": 0.0, "train_cpu_s": 0.0}
    last = out / "checkpoints" / "last.pt"
    start = 0
    scenario = [scenario_of(i, n_items) for i in range(len(items))]
    warmup = ic.moment_warmup if fresh_optimizer else 0
    if last.is_file():
        ck = load_checkpoint(last)
        model.load_state_dict(ck["model"])
        opt.load_state_dict(ck["optimizer"])
        start, log, timing = ck["next_step"], ck["log"], ck["timing"]
    else:
        warm_up_moments(model, opt, rows, ic.batch_size, warmup, ic.grad_clip, rank, world, bf16)
    if rank == 0 and not last.is_file():
        save_fictional_knowledge(out / "knowledge.json", items)
        write_json(out / "probes.json", probes.meta())
        write_json(
            out / "plan.json",
            {
                "n_items": n_items,
                "scenario": scenario,
                "item_steps": {str(i): v for i, v in item_steps.items()},
                "window": ic.window,
                "total_steps": ic.total_steps,
                "schedule": ic.schedule,
                "log_points": ic.log_points,
                "batch_size": ic.batch_size,
                "tokens_per_step": ic.batch_size * cfg.model.seq_len,
                "checkpoint_step": int(state["step"]) if state else None,
                "sham": sham,
                "passage_share": {str(k): v for k, v in shares.items()},
                "betas": list(betas),
                "lr": {"schedule": "constant" if ic.lr > 0 else ic.lr_schedule,
                       "at_step_0": lr_fn(0), "at_end": lr_fn(ic.total_steps - 1)},
                "moment_warmup_steps": warmup,
            },
        )  # fmt: skip
    if rank == 0:
        truncate_history(run, start)
        run.print(
            f"{'sham ' if sham else ''}inject: {n_items} items ({len(probes)} probes), "
            f"checkpoint {checkpoint}, {ic.total_steps} steps, {len(steps)} scored; passages "
            f"{100 * max(shares.values()):.1f}% of an injection step's tokens; "
            f"betas {betas[0]:.3g}/{betas[1]:.3g}, LR {lr_fn(0):.3g} ({ic.lr_schedule if ic.lr == 0 else 'constant'})"
            + (f", AdamW moments warmed up for {warmup} steps at LR 0" if warmup else "")
            + (f"; resuming at step {start}" if start else "")
        )
    # metrics.csv: mean target log-prob of each scenario's probes at scored steps
    item_scenario = np.array([scenario[i] for i in probes.item])
    groups = {sc: item_scenario == sc for sc in dict.fromkeys(scenario)}

    bar = tqdm(
        range(start, ic.total_steps + 1),
        desc="inject",
        disable=bool(rank) or (None if progress is None else not progress),
        initial=start,
        total=ic.total_steps + 1,
    )
    updates = 0
    for s in bar:
        row: dict = {}
        if s in to_eval and rank == 0:
            t0, c0 = time.perf_counter(), time.process_time()
            scores = score_probes(model, probes, ic.probe_batch_size, bf16)
            timing["score_s"] += time.perf_counter() - t0
            timing["score_cpu_s"] += time.process_time() - c0
            log["steps"].append(s)
            for m in MEASURES:
                log[m].append(scores[m].astype(np.float32))
            row.update(
                {f"target_{sc}": float(scores["target"][g].mean()) for sc, g in groups.items()}
            )
        if s == ic.total_steps:
            if rank == 0:
                run.log(s, **row)
            break
        t0, c0 = time.perf_counter(), time.process_time()
        idx = (s * ic.batch_size + np.arange(ic.batch_size)) % len(rows)
        batch = rows[idx]
        if s in passages:
            batch = inject_rows(batch, passages[s], tokenizer.eos_token_id, ic.overflow)
        lr = lr_fn(s)
        loss = train_step(model, opt, batch, lr, ic.grad_clip, rank, world, bf16)
        timing["train_s"] += time.perf_counter() - t0
        timing["train_cpu_s"] += time.process_time() - c0
        if rank == 0:
            run.log(s, loss=loss, lr=lr, injected=int(s in passages), **row)
        bar.set_postfix(loss=f"{loss:.3f}")
        updates += 1
        done = s + 1
        if rank == 0 and (done % ic.checkpoint_every == 0):
            save_checkpoint(
                last,
                {
                    "model": model.state_dict(),
                    "optimizer": opt.state_dict(),
                    "next_step": done,
                    "log": log,
                    "timing": timing,
                },
            )
        if stop_after is not None and updates >= stop_after:
            return run
    if rank == 0:
        write_probe_log(out, log)
        write_json(out / "timing.json", {**timing, "n_evals": len(log["steps"])})
        last.unlink(missing_ok=True)
    return run


def warm_up_moments(
    model, opt, rows: np.ndarray, batch_size: int, steps: int, grad_clip: float,
    rank: int = 0, world: int = 1, bf16: bool = False,
) -> None:  # fmt: skip
    """Fill AdamW's moments with ``steps`` updates at LR 0 (parameters unchanged) on the last
    rows of the stream, which the run reaches last if at all."""
    for k in range(steps):
        idx = (len(rows) - (k + 1) * batch_size + np.arange(batch_size)) % len(rows)
        train_step(model, opt, rows[idx], 0.0, grad_clip, rank, world, bf16)


def run_control(
    cfg: Config,
    checkpoint: str,
    run: RunDir,
    knowledge: str | None = None,
    device: str = "cpu",
    progress: bool | None = None,
    label: str | None = None,
) -> RunDir | None:
    """The sham injection of an injection run, in ``RUN/sham/`` (when ``inject.control=sham``).

    Same checkpoint, stream, steps, slots and probes as the run; the passages come from another
    knowledge set. Skipped when finished, resumed when interrupted. ``label`` is the checkpoint
    as written to the config (default: ``checkpoint``).
    """
    if cfg.inject.control != "sham":
        return None
    rank, _ = dist_info(device)
    config = inject_config(cfg, label or checkpoint, knowledge, sham=True)
    sub = open_run(run.path / SHAM_DIR, "sham", config, device)
    if not sub.finished:
        run_inject(cfg, checkpoint, sub, knowledge, device=device, progress=progress, sham=True)
        if rank == 0:
            sub.finish()
    return sub


def finish_inject(run: RunDir, cfg: Config) -> dict:
    """Analyze a run whose probe log is complete, plot its loss, and mark it finished."""
    from knowledge_dynamics.eval.analyze import analyze
    from labcore.plots import plot_curves

    metrics = analyze(run.path, cfg.analysis)
    hist = [r for r in run.history() if "loss" in r]
    if hist:
        plot_curves(
            run.plots / "loss.png",
            {"loss": ([r["step"] for r in hist], [r["loss"] for r in hist])},
            xlabel="injection-run step",
            ylabel="training loss (nats/token)",
        )
    timing = (
        json.loads((run.path / "timing.json").read_text())
        if (run.path / "timing.json").is_file()
        else {}
    )
    run.finish(timing=timing)
    run.print(f"finished: {run.path}")
    return metrics
