"""``knowledge-dynamics inject``: continued pretraining with injected knowledge and probe logging.

Writes into ``OUT``: ``config.json``, ``knowledge.json`` (the items used), ``probes.json``
(item / type / index of each probe column), ``plan.json`` (injection steps per item and
scenario) and ``probe_log.npz`` (``steps`` and one ``(n_steps, n_probes)`` array per measure).
A kill at any point loses at most ``inject.checkpoint_every`` steps: ``checkpoints/last.pt``
holds the model, optimizer and the log so far, and a restart with the same command
continues from it, so the final log has every step exactly once.
"""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from knowledge_dynamics.config import Config
from knowledge_dynamics.data.corpus import corpus_key, load_documents, pack
from knowledge_dynamics.data.knowledge import (
    KnowledgeItem,
    load_fictional_knowledge,
    save_fictional_knowledge,
)
from knowledge_dynamics.data.synth import synth_knowledge
from knowledge_dynamics.injection import inject_rows, make_plan, scenario_of
from knowledge_dynamics.model import load_checkpoint_model
from knowledge_dynamics.probes import MEASURES, build_probes, score_probes
from knowledge_dynamics.schedule import eval_steps
from knowledge_dynamics.train import dist_info, lr_at, train_step
from labcore.errors import DataError
from labcore.io import atomic_path, labcore_home, read_json, write_json
from labcore.train import load_checkpoint, save_checkpoint, seed_everything, select_device


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
    return synth_knowledge(s.n_items + s.n_spares, s.seed, s.n_paraphrases)


def run_inject(
    cfg: Config,
    checkpoint: str,
    out: str | Path,
    knowledge: str | None = None,
    progress: bool = True,
    stop_after: int | None = None,
) -> Path:
    """Run (or resume) one injection experiment; returns the run folder.

    ``stop_after`` ends the process-equivalent early after that many updates (tests use it to
    emulate a kill between checkpoints).
    """
    cfg.validate()
    out = Path(out)
    rank, world = dist_info()
    device = select_device(None)
    run_config = {
        "config": json.loads(json.dumps(cfg.to_dict())),
        "checkpoint": str(checkpoint),
        "knowledge": str(knowledge) if knowledge else None,
    }
    cfg_file = out / "config.json"
    if cfg_file.exists() and read_json(cfg_file) != run_config:
        raise DataError(
            f"--out {out} holds a run with another config or checkpoint; use a new --out"
        )
    if cfg_file.exists() and (out / "probe_log.npz").is_file():
        return out  # finished earlier with the same config: nothing to redo
    seed_everything(cfg.inject.seed)
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
    plan = make_plan(items, n_items, ic)
    probes = build_probes(items, tokenizer)
    rows = stream_rows(cfg, tokenizer)
    if rows.shape[1] != cfg.model.seq_len:
        raise DataError("model.seq_len changed since the stream was cached")
    passages = {
        s: [tokenizer(t, add_special_tokens=False).input_ids for _, t in e]
        for s, e in plan.steps.items()
    }
    item_steps = {i: plan.item_steps(i) for i in range(len(items))}
    inj_steps = sorted(plan.steps)
    last_steps = sorted({max(v) for v in item_steps.values() if v})
    steps = eval_steps(ic.schedule, inj_steps, last_steps, ic.window, ic.total_steps, ic.log_points)
    to_eval = set(steps)

    betas = tuple(state["betas"]) if state and "betas" in state else tuple(ic.betas)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3, betas=betas, weight_decay=ic.weight_decay)
    if state and not ic.reset_optimizer:
        opt.load_state_dict(state["optimizer"])
        for g in opt.param_groups:
            g["betas"], g["weight_decay"] = tuple(ic.betas), ic.weight_decay
    if ic.lr > 0:
        lr_fn = lambda s: ic.lr * ic.lr_scale
    elif state and "schedule" in state:
        base = int(state["step"])
        lr_fn = lambda s: lr_at(base + s, **state["schedule"]) * ic.lr_scale
    else:
        raise DataError(
            f"--checkpoint {checkpoint}: has no LR schedule state; give a constant LR with "
            "--set inject.lr=1e-4"
        )

    log: dict[str, list] = {"steps": [], **{m: [] for m in MEASURES}}
    # wall and CPU (process) time: CPU time is far less disturbed by other jobs on the machine
    timing = {"score_s": 0.0, "train_s": 0.0, "score_cpu_s": 0.0, "train_cpu_s": 0.0}
    last = out / "checkpoints" / "last.pt"
    start = 0
    if last.is_file():
        ck = load_checkpoint(last)
        model.load_state_dict(ck["model"])
        opt.load_state_dict(ck["optimizer"])
        start, log, timing = ck["next_step"], ck["log"], ck["timing"]
    elif rank == 0:
        out.mkdir(parents=True, exist_ok=True)
        write_json(cfg_file, run_config)
        save_fictional_knowledge(out / "knowledge.json", items)
        write_json(out / "probes.json", probes.meta())
        write_json(
            out / "plan.json",
            {
                "n_items": n_items,
                "scenario": [scenario_of(i, n_items) for i in range(len(items))],
                "item_steps": {str(i): v for i, v in item_steps.items()},
                "window": ic.window,
                "total_steps": ic.total_steps,
                "schedule": ic.schedule,
                "log_points": ic.log_points,
                "batch_size": ic.batch_size,
                "tokens_per_step": ic.batch_size * cfg.model.seq_len,
                "checkpoint_step": int(state["step"]) if state else None,
            },
        )

    bar = tqdm(
        range(start, ic.total_steps + 1),
        desc="inject",
        disable=not progress or rank,
        initial=start,
        total=ic.total_steps + 1,
    )
    updates = 0
    for s in bar:
        if s in to_eval and rank == 0:
            t0, c0 = time.perf_counter(), time.process_time()
            scores = score_probes(model, probes, ic.probe_batch_size)
            timing["score_s"] += time.perf_counter() - t0
            timing["score_cpu_s"] += time.process_time() - c0
            log["steps"].append(s)
            for m in MEASURES:
                log[m].append(scores[m].astype(np.float32))
        if s == ic.total_steps:
            break
        t0, c0 = time.perf_counter(), time.process_time()
        idx = (s * ic.batch_size + np.arange(ic.batch_size)) % len(rows)
        batch = rows[idx]
        if s in passages:
            batch = inject_rows(batch, passages[s], tokenizer.eos_token_id, ic.overflow)
        loss = train_step(model, opt, batch, lr_fn(s), ic.grad_clip, rank, world)
        timing["train_s"] += time.perf_counter() - t0
        timing["train_cpu_s"] += time.process_time() - c0
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
            return out
    if rank == 0:
        arrays = {"steps": np.asarray(log["steps"], dtype=np.int64)}
        arrays.update({m: np.stack(log[m]) for m in MEASURES})
        with atomic_path(out / "probe_log.npz") as tmp, open(tmp, "wb") as fh:
            np.savez(fh, **arrays)
        write_json(out / "timing.json", {**timing, "n_evals": len(log["steps"])})
        last.unlink(missing_ok=True)
    return out


def read_probe_log(run_dir: str | Path) -> dict[str, np.ndarray]:
    """The probe log of a finished run (``steps`` and one array per measure)."""
    path = Path(run_dir) / "probe_log.npz"
    if not path.is_file():
        raise DataError(f"{run_dir}: no probe_log.npz (is the run finished?)")
    with np.load(path) as z:
        return {k: z[k] for k in z.files}
