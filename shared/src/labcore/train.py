"""Training plumbing: seeding, run folders, checkpoints, and a Lightning ``Trainer`` factory.

The run-folder contract (``config.json``, ``metrics.json``, ``metrics.csv``, ``plots/``,
``log.txt``) is :class:`labcore.rundir.RunDir`, re-exported here.
"""

from __future__ import annotations

import importlib.util
import os
import random
from pathlib import Path
from typing import Any

import numpy as np
import torch

from labcore.device import default_dtype, resolve_dtype, select_device
from labcore.io import atomic_path
from labcore.rundir import RunDir

__all__ = [
    "RunDir",
    "default_dtype",
    "last_checkpoint",
    "lightning_precision",
    "load_checkpoint",
    "make_trainer",
    "resolve_dtype",
    "save_checkpoint",
    "seed_everything",
    "select_device",
]


def seed_everything(seed: int) -> int:
    """Seed Python, NumPy and torch (all devices); also sets ``PL_GLOBAL_SEED`` for workers."""
    random.seed(seed)
    np.random.seed(seed % 2**32)  # noqa: NPY002 (global seeding is the point here)
    torch.manual_seed(seed)
    os.environ["PL_GLOBAL_SEED"] = str(seed)
    return seed


def lightning_precision(device: str | torch.device | None = None) -> str:
    """Lightning precision string: ``bf16-mixed`` on a bf16-capable GPU, ``32-true`` otherwise."""
    return "bf16-mixed" if default_dtype(device) == torch.bfloat16 else "32-true"


# ---------------------------------------------------------------- plain-PyTorch checkpoints


def save_checkpoint(path: str | os.PathLike, state: dict) -> Path:
    """``torch.save`` through a temp file + rename, so a kill never leaves a torn checkpoint."""
    with atomic_path(path) as tmp:
        torch.save(state, tmp)
    return Path(path)


def load_checkpoint(path: str | os.PathLike, map_location: str | torch.device = "cpu") -> dict:
    """Load a checkpoint written by :func:`save_checkpoint` (or Lightning)."""
    return torch.load(path, map_location=map_location, weights_only=False)


def last_checkpoint(run: RunDir | str | os.PathLike) -> Path | None:
    """``checkpoints/last.ckpt`` of a run if it exists: pass it as ``ckpt_path`` to resume."""
    folder = run.checkpoints if isinstance(run, RunDir) else Path(run) / "checkpoints"
    last = folder / "last.ckpt"
    return last if last.is_file() else None


# ---------------------------------------------------------------- Lightning


def make_trainer(
    run: RunDir,
    *,
    max_epochs: int | None = None,
    max_steps: int = -1,
    accelerator: str = "auto",
    devices: int | str = "auto",
    precision: str | None = None,
    log_every_n_steps: int = 10,
    checkpoint_every_n_steps: int | None = None,
    monitor: str | None = None,
    mode: str = "min",
    progress_bar: bool = True,
    **trainer_kwargs: Any,
):
    """A ``pytorch_lightning.Trainer`` with the project's defaults.

    CSV logging into ``logs/version_N/`` of the run folder (plus TensorBoard when installed), a
    ``last.ckpt`` checkpoint (and the best one by ``monitor`` when given), the
    precision chosen from the hardware, and DDP when several GPUs are visible.
    Extra keyword arguments go to ``Trainer`` unchanged.
    """
    import pytorch_lightning as pl
    from pytorch_lightning.callbacks import ModelCheckpoint
    from pytorch_lightning.loggers import CSVLogger, TensorBoardLogger

    # One version folder per (re)start, so resuming never overwrites earlier logs.
    loggers = [CSVLogger(run.path, name="logs")]
    if importlib.util.find_spec("tensorboard") is not None:
        loggers.append(TensorBoardLogger(run.path, name="tensorboard"))
    checkpoint = ModelCheckpoint(
        dirpath=run.checkpoints,
        save_last=True,
        monitor=monitor,
        mode=mode,
        save_top_k=1 if monitor else 0,
        every_n_train_steps=checkpoint_every_n_steps,
    )
    use_gpu = accelerator in ("auto", "gpu", "cuda") and torch.cuda.is_available()
    n_gpus = torch.cuda.device_count() if use_gpu else 0
    strategy = trainer_kwargs.pop("strategy", "ddp" if n_gpus > 1 and devices != 1 else "auto")
    callbacks = [checkpoint, *trainer_kwargs.pop("callbacks", [])]
    return pl.Trainer(
        default_root_dir=run.path,
        max_epochs=max_epochs,
        max_steps=max_steps,
        accelerator=accelerator,
        devices=devices,
        strategy=strategy,
        precision=precision or lightning_precision("cuda" if use_gpu else "cpu"),
        logger=loggers,
        callbacks=callbacks,
        log_every_n_steps=log_every_n_steps,
        enable_progress_bar=progress_bar,
        **trainer_kwargs,
    )
