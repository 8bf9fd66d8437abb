"""``knowledge-dynamics pretrain``: train the ``tiny`` model from scratch and save stage checkpoints.

Stages (early / mid / late) are the analogue of OLMo's intermediate checkpoints: each is a
folder with the model, the tokenizer and the optimizer + schedule state, so injection runs
resume pretraining exactly. The run itself resumes after a kill from ``checkpoints/last.pt``.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm
from transformers import PreTrainedTokenizerFast

from knowledge_dynamics.config import Config
from knowledge_dynamics.data.corpus import load_documents, pack
from knowledge_dynamics.model import build_tiny, save_stage
from knowledge_dynamics.tokenizer import train_tokenizer
from knowledge_dynamics.train import lr_at, train_step
from labcore.errors import DataError
from labcore.io import read_json, write_json
from labcore.train import load_checkpoint, save_checkpoint, seed_everything

STAGE_NAMES = ("early", "mid", "late")


def stage_name(i: int, n: int) -> str:
    return STAGE_NAMES[i] if n == 3 else f"stage{i}"


def pretrain(cfg: Config, out: str | Path, progress: bool = True) -> dict[str, Path]:
    """Pretrain and return ``{stage name: folder}``."""
    cfg.validate()
    if cfg.model.preset != "tiny":
        raise DataError("pretrain trains the tiny model only (model.preset=tiny)")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    cfg_file = out / "config.json"
    if cfg_file.exists() and read_json(cfg_file) != _jsonable(cfg):
        raise DataError(f"{out} holds a pretraining run with another config; use a new --out")
    write_json(cfg_file, _jsonable(cfg))
    seed_everything(cfg.pretrain.seed)
    docs, _ = load_documents(cfg.corpus)
    tok_dir = out / "tokenizer"
    if (tok_dir / "tokenizer.json").is_file():
        tokenizer = PreTrainedTokenizerFast.from_pretrained(tok_dir)
    else:
        tokenizer = train_tokenizer(docs, cfg.model.vocab_size)
        tokenizer.save_pretrained(tok_dir)
    rows = pack(docs, tokenizer, cfg.model.seq_len)
    rows = rows[np.random.default_rng(cfg.pretrain.seed).permutation(len(rows))]
    p = cfg.pretrain
    model = build_tiny(cfg.model, tokenizer)
    opt = torch.optim.AdamW(
        model.parameters(), lr=p.lr, betas=(0.9, 0.95), weight_decay=p.weight_decay
    )
    schedule = {"peak": p.lr, "warmup": p.warmup, "horizon": p.steps, "alpha_f": p.alpha_f}
    last = out / "checkpoints" / "last.pt"
    start = 0
    if last.is_file():
        ck = load_checkpoint(last)
        model.load_state_dict(ck["model"])
        opt.load_state_dict(ck["optimizer"])
        start = ck["step"]
    stages = {s: stage_name(i, len(p.stages)) for i, s in enumerate(sorted(p.stages))}
    losses = []
    t0 = time.perf_counter()
    bar = tqdm(
        range(start, p.steps), desc="pretrain", disable=not progress, initial=start, total=p.steps
    )
    for step in bar:
        idx = (step * p.batch_size + np.arange(p.batch_size)) % len(rows)
        loss = train_step(model, opt, rows[idx], lr_at(step, **schedule), 1.0)
        losses.append(loss)
        bar.set_postfix(loss=f"{loss:.3f}")
        done = step + 1
        if done in stages:
            state = {
                "optimizer": opt.state_dict(),
                "step": done,
                "schedule": schedule,
                "betas": (0.9, 0.95),
                "weight_decay": p.weight_decay,
            }
            save_stage(out / stages[done], model, tokenizer, state)
        if done % 100 == 0 or done == p.steps:
            save_checkpoint(
                last, {"model": model.state_dict(), "optimizer": opt.state_dict(), "step": done}
            )
    info = {
        "stages": {name: s for s, name in stages.items()},
        "rows": len(rows),
        "tokens_per_step": p.batch_size * cfg.model.seq_len,
        "final_loss_mean_last50": float(np.mean(losses[-50:])) if losses else None,
        "seconds": time.perf_counter() - t0,
    }
    if losses:
        write_json(out / "pretrain_info.json", info)
    return {name: out / name for name in stages.values()}


def _jsonable(cfg: Config) -> dict:
    import json

    return json.loads(json.dumps(cfg.to_dict()))
