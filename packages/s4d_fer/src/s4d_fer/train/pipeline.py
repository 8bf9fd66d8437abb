"""The S4D pipeline: synthesise (if missing) -> pre-train -> fine-tune -> test.

``OUT/`` is a labcore run folder (``config.json``, ``metrics.json`` with the test metrics,
``log.txt``, ``plots/``); each stage is a run folder of its own below it:
``OUT/pretrain/`` (``encoder.pt``) and ``OUT/finetune/`` (``model.pt``), each with
``metrics.csv`` (one row per logged step), ``plots/``, Lightning checkpoints
(``checkpoints/last.ckpt``) and CSV logs. A finished stage is skipped next time; an
interrupted one resumes from ``last.ckpt`` when the same command runs again.
"""

from __future__ import annotations

import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import torch

from labcore.device import data_workers
from labcore.errors import DataError
from labcore.rundir import RunDir, is_run_dir
from labcore.train import (
    last_checkpoint,
    lightning_precision,
    load_checkpoint,
    make_trainer,
    save_checkpoint,
    seed_everything,
)
from s4d_fer.config import RunConfig, as_dict
from s4d_fer.eval.evaluate import run_test
from s4d_fer.model.pretrained import load_pretrained
from s4d_fer.train.checks import check_out, missing_inputs, needs_images
from s4d_fer.train.inputs import Data, ensure_synth, load_data
from s4d_fer.train.loaders import AlternatingLoader, make_loader
from s4d_fer.train.modules import FinetuneModule, PretrainModule
from s4d_fer.train.progress import plot_history, run_logger

PACKAGE = "s4d_fer"
STAGES = ("all", "pretrain", "finetune", "test")


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


@dataclass
class Context:
    """What every stage shares: the config, the resolved config stored in run folders, the device."""

    cfg: RunConfig
    resolved: dict
    device: str = "cpu"

    @property
    def workers(self) -> int:
        return data_workers(self.cfg.data.num_workers, torch.get_num_threads())


def _trainer(ctx: Context, run: RunDir, epochs: int, stage: str, steps: int, **kwargs):
    cfg = ctx.cfg
    use_gpu = ctx.device.startswith("cuda")
    devices: int | str | list[int]
    if ":" in ctx.device:
        devices = [int(ctx.device.split(":")[1])]
    elif use_gpu:
        devices = int(cfg.devices) if cfg.devices.isdigit() else "auto"
    else:
        devices = 1
    extra = {}
    if use_gpu and torch.cuda.device_count() > 1 and devices == "auto":
        # Image steps leave the video head unused (and vice versa).
        extra["strategy"] = "ddp_find_unused_parameters_true"
    precision = None if cfg.precision == "auto" else cfg.precision
    callbacks = [run_logger(run, stage, epochs), *kwargs.pop("callbacks", [])]
    return make_trainer(
        run,
        max_epochs=epochs,
        max_steps=cfg.max_steps,
        accelerator="gpu" if use_gpu else "cpu",
        devices=devices,
        precision=precision or lightning_precision("cuda" if use_gpu else "cpu"),
        checkpoint_every_n_steps=cfg.checkpoint_every_n_steps,
        progress_bar=cfg.progress_bar and sys.stderr.isatty(),
        use_distributed_sampler=False,
        num_sanity_val_steps=0,
        enable_model_summary=False,
        log_every_n_steps=max(1, min(5, steps)),
        callbacks=callbacks,
        **extra,
        **kwargs,
    )


class _EpochSetter:
    """Lightning callback giving the alternating loader the epoch number (stable across resumes)."""

    def __new__(cls, loader: AlternatingLoader):
        import pytorch_lightning as pl

        class Setter(pl.Callback):
            def on_train_epoch_start(self, trainer, module):
                loader.epoch = trainer.current_epoch

        return Setter()


def _open_stage(ctx: Context, folder: Path, stage: str) -> RunDir:
    return RunDir.open(
        folder,
        package=PACKAGE,
        command=stage,
        config=ctx.resolved,
        device=ctx.device,
        threads=torch.get_num_threads(),
    )


def run_pretrain(ctx: Context, data: Data, folder: Path) -> Path | None:
    """Dual-modal (or single-modal) MAE pre-training; returns the saved encoder weights."""
    cfg, p = ctx.cfg, ctx.cfg.pretrain
    if p.modalities == "none":
        return None
    run = _open_stage(ctx, folder, "pretrain")
    out = run.path / "encoder.pt"
    if run.finished:
        if not out.is_file():
            raise DataError(f"{run.path}: finished but encoder.pt is missing; delete the folder")
        log(f"pretrain: done already ({out})")
        return out
    w, seed = ctx.workers, cfg.seed
    loaders, steps = {}, {}
    if p.modalities in ("both", "video"):
        loaders["video"] = make_loader(
            data.video_all, p.video_batch, train=True, workers=w, seed=seed
        )
        steps["video"] = max(1, round(p.video_repeat * len(loaders["video"])))
    if p.modalities in ("both", "image"):
        if data.image_train is None:
            raise DataError("pretrain.modalities includes images but no image dataset is loaded")
        loaders["image"] = make_loader(
            data.image_train, p.image_batch, train=True, workers=w, seed=seed
        )
        steps["image"] = len(loaders["image"])
    alt = AlternatingLoader(loaders, steps, seed)
    total = len(alt) * p.epochs if cfg.max_steps < 0 else min(cfg.max_steps, len(alt) * p.epochs)
    module = PretrainModule(cfg, total)
    run.print(
        f"pretrain: {p.modalities} MAE, {p.epochs} epochs x {steps} steps, {w} loader workers"
    )
    start = time.perf_counter()
    trainer = _trainer(ctx, run, p.epochs, "pretrain", len(alt), callbacks=[_EpochSetter(alt)])
    trainer.fit(module, train_dataloaders=alt, ckpt_path=last_checkpoint(run))
    if trainer.global_rank == 0:
        save_checkpoint(out, {"encoder": module.model.encoder.state_dict(), "config": as_dict(cfg)})
        plot_history(run, f"pre-training ({p.modalities})")
        run.finish(seconds=time.perf_counter() - start, steps=trainer.global_step)
    return out


def run_finetune(ctx: Context, data: Data, encoder: Path | None, folder: Path) -> Path:
    """Fine-tune on videos (and images); keep the checkpoint chosen by ``finetune.select_on``."""
    cfg, f = ctx.cfg, ctx.cfg.finetune
    run = _open_stage(ctx, folder, "finetune")
    out = run.path / "model.pt"
    if run.finished:
        if not out.is_file():
            raise DataError(f"{run.path}: finished but model.pt is missing; delete the folder")
        log(f"finetune: done already ({out})")
        return out
    w, seed = ctx.workers, cfg.seed
    loaders = {
        "video": make_loader(data.video_fit, f.video_batch, train=True, workers=w, seed=seed)
    }
    steps = {"video": len(loaders["video"])}
    image_classes = 0
    if f.tasks == "both":
        if data.image_train is None:
            raise DataError("finetune.tasks=both needs an image dataset")
        image_classes = len(data.image_train.classes)
        loaders["image"] = make_loader(
            data.image_train,
            f.image_batch,
            train=True,
            workers=w,
            seed=seed,
            balanced=f.image_balanced,
        )
        steps["image"] = max(1, round(f.image_ratio * steps["video"]))
    alt = AlternatingLoader(loaders, steps, seed)
    total = len(alt) * f.epochs if cfg.max_steps < 0 else min(cfg.max_steps, len(alt) * f.epochs)
    module = FinetuneModule(
        cfg, len(data.video_fit.classes), image_classes, total, int(f.warmup_epochs * len(alt))
    )
    if encoder is not None:
        # Our own encoder.pt and public VideoMAE / MAE-DFER / S4D files go through one mapper.
        report = load_pretrained(module.model, encoder)
        run.print(f"finetune: {report}")
    val_set = {"val": data.video_val, "test": data.video_test, "last": None}[f.select_on]
    val_loader = (
        make_loader(val_set, f.video_batch, train=False, workers=w, seed=seed) if val_set else None
    )
    run.print(
        f"finetune: tasks={f.tasks}, {f.epochs} epochs x {steps} steps, select on {f.select_on}"
    )
    start = time.perf_counter()
    trainer = _trainer(
        ctx,
        run,
        f.epochs,
        "finetune",
        len(alt),
        monitor="val/war" if val_loader else None,
        mode="max",
        callbacks=[_EpochSetter(alt)],
        limit_val_batches=1.0 if val_loader else 0,
    )
    trainer.fit(
        module, train_dataloaders=alt, val_dataloaders=val_loader, ckpt_path=last_checkpoint(run)
    )
    callback = trainer.checkpoint_callback
    chosen = callback.best_model_path if val_loader and callback.best_model_path else None
    if chosen:
        module.load_state_dict(load_checkpoint(chosen)["state_dict"])
    if trainer.global_rank == 0:
        best = callback.best_model_score
        save_checkpoint(
            out,
            {
                "state_dict": module.model.state_dict(),
                "config": as_dict(cfg),
                "video_classes": data.video_fit.classes,
                "image_classes": data.image_train.classes if image_classes else (),
            },
        )
        plot_history(run, f"fine-tuning ({f.tasks})")
        run.finish(
            seconds=time.perf_counter() - start,
            steps=trainer.global_step,
            selected=Path(chosen).name if chosen else "last",
            best_val_war=float(best) if best is not None else None,
            encoder=str(encoder) if encoder else None,
        )
    return out


def run_pipeline(
    cfg: RunConfig,
    out: str | os.PathLike,
    stage: str = "all",
    checkpoint: str | None = None,
    *,
    resolved: dict | None = None,
    device: str = "cpu",
    encoder: str | os.PathLike | None = None,
) -> dict:
    """Run ``stage`` (all, pretrain, finetune or test) into run folder ``out``; return its metrics.

    ``resolved`` is what ``config.json`` holds (default: the config itself); ``encoder``
    skips pre-training and fine-tunes from those weights (the ablation shares encoders).
    """
    if stage not in STAGES:
        raise DataError(f"--stage must be one of {', '.join(STAGES)} (got {stage!r})")
    cfg = cfg.validate()
    out = Path(out)
    encoder = Path(encoder) if encoder else None
    reason = missing_inputs(out, stage, checkpoint, cfg, encoder)
    if reason:
        raise DataError(reason)
    check_out(out)
    ctx = Context(cfg, resolved if resolved is not None else as_dict(cfg), device)
    run = None
    if is_run_dir(out, PACKAGE):  # ours: skip when finished, else resume
        run = _open_stage(ctx, out, "train")
        if run.finished:
            log(f"{out}: already finished")
            return run.load_metrics()
    seed_everything(cfg.seed)
    ensure_synth(cfg)
    data = load_data(cfg, needs_images(cfg))
    run = run or _open_stage(ctx, out, "train")
    start = time.perf_counter()
    run.print(
        f"data: {len(data.video_fit)} fit / {len(data.video_val or [])} val / "
        f"{len(data.video_test)} test clips"
        + (
            f", {len(data.image_train)} train / {len(data.image_test)} test images"
            if data.image_train
            else ""
        )
    )
    times = dict(run.load_metrics().get("stage_seconds") or {})
    model_path = None
    if stage in ("all", "pretrain") and encoder is None:
        t = time.perf_counter()
        encoder = run_pretrain(ctx, data, out / "pretrain")
        times["pretrain"] = round(time.perf_counter() - t, 1)
    if stage in ("all", "finetune"):
        if stage == "finetune" and encoder is None and cfg.pretrain.modalities != "none":
            encoder = Path(checkpoint) if checkpoint else out / "pretrain" / "encoder.pt"
        t = time.perf_counter()
        model_path = run_finetune(ctx, data, encoder, out / "finetune")
        times["finetune"] = round(time.perf_counter() - t, 1)
    if stage not in ("all", "test"):
        run.update_metrics(stage_seconds=times)
        return run.load_metrics()
    model_path = (
        Path(checkpoint) if stage == "test" and checkpoint else out / "finetune" / "model.pt"
    )
    t = time.perf_counter()
    result = run_test(cfg, data.video_test, data.image_test, model_path, device, ctx.workers)
    times["test"] = round(time.perf_counter() - t, 1)
    ft = RunDir(out / "finetune").load_metrics()
    video = result["video"]
    _plot_test(run, video)
    run.print(f"test: video WAR {100 * video['war']:.2f}% UAR {100 * video['uar']:.2f}%")
    return run.finish(
        war=video["war"],
        uar=video["uar"],
        per_class_recall=video["per_class_recall"],
        confusion=video["confusion"],
        n_test=video["n"],
        image=result.get("image"),
        best_val_war=ft.get("best_val_war"),
        selected=ft.get("selected"),
        stage_seconds=times,
        seconds=round(time.perf_counter() - start, 1),
    )


def _plot_test(run: RunDir, video: dict) -> None:
    from labcore.plots import plot_bars

    recall = {k: 100 * v for k, v in video["per_class_recall"].items() if v is not None}
    if recall:
        plot_bars(
            run.plots / "per_class_recall.png",
            recall,
            ylabel="recall (%)",
            title=f"video test: WAR {100 * video['war']:.1f}%, UAR {100 * video['uar']:.1f}%",
        )
