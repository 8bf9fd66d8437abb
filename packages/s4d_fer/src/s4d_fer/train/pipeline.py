"""The S4D pipeline: synthesise (if missing) -> pre-train -> fine-tune -> test.

Run folder ``runs/s4d_fer/<name>/``: ``config.json`` (resolved config), ``metrics.json``,
and one sub-folder per stage with Lightning checkpoints (``checkpoints/last.ckpt``) and
CSV logs. A finished stage leaves its product (``pretrain/encoder.pt``,
``finetune/model.pt``) and is skipped next time; an interrupted one resumes from
``last.ckpt`` when the same command runs again.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from pathlib import Path

import torch

from labcore.errors import DataError
from labcore.train import (
    RunDir,
    last_checkpoint,
    lightning_precision,
    load_checkpoint,
    make_trainer,
    save_checkpoint,
    seed_everything,
)
from s4d_fer.config import RunConfig, as_dict
from s4d_fer.data import RecordDataset, build_dataset, stratified_split
from s4d_fer.model import S4DClassifier
from s4d_fer.synth import write_synth
from s4d_fer.train.evaluate import classification_metrics, predict_dataset
from s4d_fer.train.loaders import AlternatingLoader, make_loader
from s4d_fer.train.modules import FinetuneModule, PretrainModule

PACKAGE = "s4d_fer"


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


@dataclass
class Data:
    """The datasets of one run (image ones are None when not used)."""

    video_all: RecordDataset
    video_fit: RecordDataset
    video_val: RecordDataset | None
    video_test: RecordDataset
    image_train: RecordDataset | None
    image_test: RecordDataset | None


def ensure_synth(cfg: RunConfig) -> None:
    """Render the synthetic benchmark if the configured roots point into a missing synth folder."""
    synth = Path(cfg.data.synth_root)
    roots = [Path(cfg.data.root), Path(cfg.data.image_root)]
    if any(not r.exists() and synth in r.parents for r in roots):
        if synth.exists() and (synth / "synth.json").exists():
            raise DataError(
                f"{synth}: synthetic benchmark is incomplete; delete the folder to re-render it"
            )
        write_synth(synth, cfg.synth, log=log)


def _sample_options(cfg: RunConfig) -> dict:
    d, m = cfg.data, cfg.model
    return dict(
        img_size=m.img_size,
        num_frames=d.num_frames,
        sampling_rate=d.sampling_rate,
        min_scale=d.min_scale,
        skip_bad=d.skip_bad,
        test_clips=d.test_clips,
        test_crops=d.test_crops,
    )


def load_data(cfg: RunConfig, need_images: bool) -> Data:
    d = cfg.data
    opts = _sample_options(cfg)
    video_all = build_dataset(d.dataset, d.root, "train", d.fold, train=True, **opts)
    if d.val_fraction > 0:
        fit_idx, val_idx = stratified_split(video_all.labels, d.val_fraction, seed=0)
        video_fit, video_val = video_all.subset(fit_idx), video_all.subset(val_idx, train=False)
    else:
        video_fit, video_val = video_all, None
    video_test = build_dataset(d.dataset, d.root, "test", d.fold, train=False, **opts)
    image_train = image_test = None
    if need_images:
        extra = {"classes": d.image_classes} if d.image_dataset == "affectnet" else {}
        image_train = build_dataset(
            d.image_dataset, d.image_root, "train", train=True, **opts, **extra
        )
        image_test = build_dataset(
            d.image_dataset, d.image_root, "test", train=False, **opts, **extra
        )
    return Data(video_all, video_fit, video_val, video_test, image_train, image_test)


def _trainer(cfg: RunConfig, run: RunDir, epochs: int, **kwargs):
    use_gpu = cfg.accelerator in ("auto", "gpu", "cuda") and torch.cuda.is_available()
    precision = None if cfg.precision == "auto" else cfg.precision
    extra = {}
    if use_gpu and torch.cuda.device_count() > 1 and cfg.devices != "1":
        # Image steps leave the video head unused (and vice versa).
        extra["strategy"] = "ddp_find_unused_parameters_true"
    devices = int(cfg.devices) if cfg.devices.isdigit() else cfg.devices
    return make_trainer(
        run,
        max_epochs=epochs,
        max_steps=cfg.max_steps,
        accelerator=cfg.accelerator,
        devices=devices,
        precision=precision or lightning_precision("cuda" if use_gpu else "cpu"),
        checkpoint_every_n_steps=cfg.checkpoint_every_n_steps,
        progress_bar=cfg.progress_bar,
        use_distributed_sampler=False,
        num_sanity_val_steps=0,
        enable_model_summary=False,
        log_every_n_steps=5,
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


def run_pretrain(cfg: RunConfig, data: Data) -> Path | None:
    """Dual-modal (or single-modal) MAE pre-training; returns the saved encoder weights."""
    p = cfg.pretrain
    if p.modalities == "none":
        return None
    run = RunDir.create(PACKAGE, f"{cfg.name}/pretrain", root=cfg.runs_root)
    out = run.path / "encoder.pt"
    if out.is_file():
        log(f"pretrain: done already ({out})")
        return out
    w, seed = cfg.data.num_workers, cfg.seed
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
    log(f"pretrain: {p.modalities} MAE, {p.epochs} epochs x {steps} steps")
    start = time.perf_counter()
    trainer = _trainer(cfg, run, p.epochs, callbacks=[_EpochSetter(alt)])
    trainer.fit(module, train_dataloaders=alt, ckpt_path=last_checkpoint(run))
    if trainer.global_rank == 0:
        save_checkpoint(out, {"encoder": module.model.encoder.state_dict(), "config": as_dict(cfg)})
        run.update_metrics(seconds=time.perf_counter() - start, steps=trainer.global_step)
    return out


def run_finetune(cfg: RunConfig, data: Data, encoder: Path | None) -> Path:
    """Fine-tune on videos (and images); keep the checkpoint chosen by ``finetune.select_on``."""
    f, d = cfg.finetune, cfg.data
    run = RunDir.create(PACKAGE, f"{cfg.name}/finetune", root=cfg.runs_root)
    out = run.path / "model.pt"
    if out.is_file():
        log(f"finetune: done already ({out})")
        return out
    w, seed = d.num_workers, cfg.seed
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
        fresh = module.model.load_pretrained(load_checkpoint(encoder)["encoder"])
        log(f"finetune: loaded {encoder}; {len(fresh)} tensors start fresh (MoAE experts)")
    val_set = {"val": data.video_val, "test": data.video_test, "last": None}[f.select_on]
    val_loader = (
        make_loader(val_set, f.video_batch, train=False, workers=w, seed=seed) if val_set else None
    )
    log(f"finetune: tasks={f.tasks}, {f.epochs} epochs x {steps} steps, select on {f.select_on}")
    start = time.perf_counter()
    trainer = _trainer(
        cfg,
        run,
        f.epochs,
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
        run.update_metrics(
            seconds=time.perf_counter() - start,
            steps=trainer.global_step,
            selected=Path(chosen).name if chosen else "last",
            best_val_war=float(best) if best is not None else None,
        )
    return out


def load_model(path: str | Path) -> tuple[S4DClassifier, dict]:
    """A fine-tuned model and its checkpoint dict (config, class names)."""
    from s4d_fer.config import RunConfig as _RC

    ckpt = load_checkpoint(path)
    if "state_dict" not in ckpt or "video_classes" not in ckpt:
        raise DataError(f"{path}: not an s4d_fer fine-tuned model (finetune/model.pt)")
    values = _flat(ckpt["config"], skip={"name", "runs_root", "model.preset"})
    cfg = _RC().replace(**{"model.preset": "custom"}).replace(**values)
    model = S4DClassifier(
        cfg.model, cfg.data.num_frames, len(ckpt["video_classes"]), len(ckpt["image_classes"])
    )
    model.load_state_dict(ckpt["state_dict"])
    return model.eval(), {**ckpt, "run_config": cfg}


def _flat(d: dict, prefix: str = "", skip=frozenset()) -> dict:
    out = {}
    for k, v in d.items():
        if isinstance(v, dict):
            out.update(_flat(v, f"{prefix}{k}."))
        elif f"{prefix}{k}" not in skip:
            out[f"{prefix}{k}"] = v
    return out


def run_test(cfg: RunConfig, data: Data, model_path: Path) -> dict:
    """WAR/UAR (+ per-class recall) on the video test split (and the image test list)."""
    model, ckpt = load_model(model_path)
    device = torch.device(
        "cuda" if cfg.accelerator != "cpu" and torch.cuda.is_available() else "cpu"
    )
    dtype = torch.bfloat16 if lightning_precision(device) == "bf16-mixed" else torch.float32
    loader = make_loader(
        data.video_test, cfg.finetune.video_batch, train=False, workers=cfg.data.num_workers, seed=0
    )
    result = {
        "video": classification_metrics(
            *predict_dataset(model, loader, device, dtype), data.video_test.classes
        )
    }
    if ckpt["image_classes"] and data.image_test is not None:
        loader = make_loader(
            data.image_test,
            cfg.finetune.image_batch,
            train=False,
            workers=cfg.data.num_workers,
            seed=0,
        )
        result["image"] = classification_metrics(
            *predict_dataset(model, loader, device, dtype), data.image_test.classes
        )
    return result


def run_pipeline(cfg: RunConfig, stage: str = "all", checkpoint: str | None = None) -> dict:
    """Run ``stage`` (all, pretrain, finetune or test) and return the metrics written."""
    cfg.validate()
    seed_everything(cfg.seed)
    run = RunDir.create(PACKAGE, cfg.name, root=cfg.runs_root)
    run.save_config(as_dict(cfg))
    ensure_synth(cfg)
    need_images = cfg.pretrain.modalities in ("both", "image") or cfg.finetune.tasks == "both"
    data = load_data(cfg, need_images)
    log(
        f"data: {len(data.video_fit)} fit / {len(data.video_val or [])} val / {len(data.video_test)} test clips"
        + (
            f", {len(data.image_train)} train / {len(data.image_test)} test images"
            if data.image_train
            else ""
        )
    )
    encoder = model_path = None
    if stage in ("all", "pretrain"):
        encoder = run_pretrain(cfg, data)
    if stage in ("all", "finetune"):
        if stage == "finetune":
            encoder = Path(checkpoint) if checkpoint else run.path / "pretrain" / "encoder.pt"
            if not encoder.is_file():
                encoder = (
                    None if cfg.pretrain.modalities == "none" else _missing(encoder, "pretrain")
                )
        model_path = run_finetune(cfg, data, encoder)
    if stage in ("all", "test"):
        model_path = (
            Path(checkpoint)
            if stage == "test" and checkpoint
            else run.path / "finetune" / "model.pt"
        )
        if not model_path.is_file():
            _missing(model_path, "finetune")
        result = run_test(cfg, data, model_path)
        ft = RunDir(run.path / "finetune").load_metrics()
        video = result["video"]
        return run.update_metrics(
            war=video["war"],
            uar=video["uar"],
            per_class_recall=video["per_class_recall"],
            confusion=video["confusion"],
            n_test=video["n"],
            image=result.get("image"),
            best_val_war=ft.get("best_val_war"),
            selected=ft.get("selected"),
        )
    return run.load_metrics()


def _missing(path: Path, stage: str):
    raise DataError(f"{path}: not found; run --stage {stage} first (or pass --checkpoint)")
