"""Pretraining with stage checkpoints: the ``tiny`` model from scratch, or the bundled
SmolLM2 (``model.preset=smollm2``) continued on the background corpus.

The paper injects into checkpoints of a model pretrained on the very distribution of its
injection stream. SmolLM2 has never seen the synthetic background, and its first updates on
it lift every probe of the fictional world (names, templates) far more than any one fact
does; continuing its pretraining on the background first makes the stream in-distribution,
as in the paper, and gives the stages AdamW state and an LR schedule like the tiny model's.

Stages (early / mid / late) are the analogue of OLMo's intermediate checkpoints: each is a
folder inside the pretraining run folder with the model, the tokenizer and the optimizer +
schedule state, so injection runs resume pretraining exactly. The run logs the loss and LR
of every step to ``metrics.csv``, plots ``plots/loss.png`` and resumes after a kill from
``checkpoints/last.pt``.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm
from transformers import PreTrainedTokenizerFast

from knowledge_dynamics.config import Config, stage_names
from knowledge_dynamics.data.corpus import load_documents, pack
from knowledge_dynamics.model import build_tiny, load_checkpoint_model, save_stage
from knowledge_dynamics.model.tokenizer import train_tokenizer
from knowledge_dynamics.train.runner import jsonable, open_run, truncate_history
from knowledge_dynamics.train.step import lr_at, train_step
from labcore.plots import plot_curves
from labcore.rundir import RunDir
from labcore.train import load_checkpoint, save_checkpoint, seed_everything

CHECKPOINT_EVERY = 100
#: a SmolLM2 step costs seconds on a CPU: keep a resume point more often
CHECKPOINT_EVERY_SMOLLM2 = 10


def pretrain_config(cfg: Config) -> dict:
    """What defines a pretrained model (the ``config.json`` of a shared pretraining run)."""
    d = cfg.to_dict()
    return jsonable({k: d[k] for k in ("corpus", "model", "pretrain")})


def stage_folders(run: RunDir | Path, cfg: Config) -> dict[str, Path]:
    path = run.path if isinstance(run, RunDir) else Path(run)
    return {name: path / name for name in stage_names(cfg.pretrain.stages).values()}


def pretrain(
    cfg: Config,
    out: str | Path | RunDir,
    device: str = "cpu",
    progress: bool | None = None,
) -> dict[str, Path]:
    """Pretrain (or resume, or skip when finished) and return ``{stage name: folder}``.

    ``out`` is a :class:`RunDir` opened by the caller or a path (opened here as a
    ``pretrain`` run with :func:`pretrain_config`).
    """
    cfg.validate()
    run = (
        out if isinstance(out, RunDir) else open_run(out, "pretrain", pretrain_config(cfg), device)
    )
    stages = stage_folders(run, cfg)
    if run.finished:
        return stages
    p = cfg.pretrain
    seed_everything(p.seed)
    docs, _ = load_documents(cfg.corpus)
    if cfg.model.preset == "smollm2":
        model, tokenizer, _ = load_checkpoint_model("smollm2", device)
        every = CHECKPOINT_EVERY_SMOLLM2
    else:
        tok_dir = run.path / "tokenizer"
        if (tok_dir / "tokenizer.json").is_file():
            tokenizer = PreTrainedTokenizerFast.from_pretrained(tok_dir)
        else:
            tokenizer = train_tokenizer(docs, cfg.model.vocab_size)
            tokenizer.save_pretrained(tok_dir)
        model = build_tiny(cfg.model, tokenizer).to(device)
        every = CHECKPOINT_EVERY
    rows = pack(docs, tokenizer, cfg.model.seq_len)
    rows = rows[np.random.default_rng(p.seed).permutation(len(rows))]
    opt = torch.optim.AdamW(
        model.parameters(), lr=p.lr, betas=(0.9, 0.95), weight_decay=p.weight_decay
    )
    schedule = {"peak": p.lr, "warmup": p.warmup, "horizon": p.steps, "alpha_f": p.alpha_f}
    last = run.path / "checkpoints" / "last.pt"
    start = 0
    if last.is_file():
        ck = load_checkpoint(last)
        model.load_state_dict(ck["model"])
        opt.load_state_dict(ck["optimizer"])
        start = ck["step"]
    truncate_history(run, start)
    n_params = sum(t.numel() for t in model.parameters())
    run.print(
        f"pretrain: {'SmolLM2 continued, ' if cfg.model.preset == 'smollm2' else ''}"
        f"{n_params} parameters, {len(rows)} rows of {cfg.model.seq_len} tokens, "
        f"{p.steps} steps" + (f"; resuming at step {start}" if start else "")
    )
    names = stage_names(p.stages)
    t0 = time.perf_counter()
    bar = tqdm(
        range(start, p.steps),
        desc="pretrain",
        disable=None if progress is None else not progress,
        initial=start,
        total=p.steps,
    )
    for step in bar:
        idx = (step * p.batch_size + np.arange(p.batch_size)) % len(rows)
        lr = lr_at(step, **schedule)
        loss = train_step(model, opt, rows[idx], lr, 1.0)
        run.log(step, loss=loss, lr=lr)
        bar.set_postfix(loss=f"{loss:.3f}")
        done = step + 1
        if done in names:
            state = {
                "optimizer": opt.state_dict(),
                "step": done,
                "schedule": schedule,
                "betas": (0.9, 0.95),
                "weight_decay": p.weight_decay,
            }
            save_stage(stages[names[done]], model, tokenizer, state)
        if done % every == 0 or done == p.steps:
            save_checkpoint(
                last, {"model": model.state_dict(), "optimizer": opt.state_dict(), "step": done}
            )
    hist = run.history()
    losses = [r["loss"] for r in hist]
    plot_curves(
        run.plots / "loss.png",
        {"loss": ([r["step"] for r in hist], losses)},
        xlabel="pretraining step",
        ylabel="training loss (nats/token)",
    )
    run.finish(
        stages={name: s for s, name in names.items()},
        parameters=n_params,
        rows=len(rows),
        tokens_per_step=p.batch_size * cfg.model.seq_len,
        final_loss_mean_last50=float(np.mean(losses[-50:])) if losses else None,
        seconds=time.perf_counter() - t0,
    )
    run.print(f"pretrain finished: final loss (mean of last 50 steps) {np.mean(losses[-50:]):.3f}")
    return stages
