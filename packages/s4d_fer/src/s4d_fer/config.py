"""Configuration dataclasses (data, model, pre-training, fine-tuning), presets and overrides.

Every field has a default that runs on the embedded synthetic benchmark. Overrides are
dotted paths (``model.preset=base``, ``data.root=/data/DFEW``); a bad name or value
raises :class:`labcore.errors.DataError` naming the option, before anything is written.
"""

from __future__ import annotations

import dataclasses
import json
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from labcore.errors import DataError


@dataclass(frozen=True)
class SynthConfig:
    """The procedural face-expression benchmark (see :mod:`s4d_fer.synth`)."""

    n_images: int = 3500
    """Static apex images (AffectNet layout); 15% of them form its test list."""
    n_clips: int = 420
    """Dynamic clips (DFEW layout), split into 5 folds."""
    frames: int = 16
    """Frames stored per clip (onset -> apex -> offset)."""
    size: int = 64
    """Side of the rendered square images in pixels."""
    seed: int = 0


@dataclass(frozen=True)
class DataConfig:
    """Which datasets to read and how clips are sampled."""

    dataset: str = "dfew"
    """Video dataset: dfew, ferv39k, mafw or generic (see :mod:`s4d_fer.data`)."""
    root: str = "runs/s4d_fer/synth/DFEW"
    """Root folder of the video dataset (the synthetic benchmark by default)."""
    fold: int = 1
    """Fold for 5-fold datasets (DFEW, MAFW); ignored otherwise."""
    image_dataset: str = "affectnet"
    """Static dataset: affectnet, rafdb, ferplus or generic."""
    image_root: str = "runs/s4d_fer/synth/AffectNet"
    image_classes: int = 7
    """AffectNet 7 or 8 classes (8 adds contempt)."""
    synth_root: str = "runs/s4d_fer/synth"
    """Where ``train`` renders the synthetic benchmark when the roots above are missing."""
    num_frames: int = 8
    """Frames per clip fed to the model."""
    sampling_rate: int = 2
    """Stride between sampled frames (4 for DFEW/MAFW and 1 for FERV39K in the paper)."""
    val_fraction: float = 0.15
    """Fraction of the training split held out (stratified) for model selection."""
    test_clips: int = 2
    """Temporal clips averaged at test time."""
    test_crops: int = 1
    """Spatial crops averaged at test time (the paper's 2 crops were identical; 1 suffices)."""
    num_workers: int = 2
    skip_bad: bool = False
    """Skip unreadable samples (and report how many) instead of stopping."""
    min_scale: float = 0.6
    """Lower bound of the random-resized-crop area at training time."""


@dataclass(frozen=True)
class ModelConfig:
    """ViT encoder with a 3-D tubelet embedding, MAE decoder and optional MoAE."""

    preset: Literal["tiny", "base", "custom"] = "tiny"
    """``tiny``/``base`` fill the size fields below; ``custom`` keeps them as set."""
    img_size: int = 64
    patch_size: int = 8
    tubelet: int = 2
    embed_dim: int = 128
    depth: int = 6
    num_heads: int = 4
    mlp_ratio: float = 4.0
    decoder_dim: int = 64
    decoder_depth: int = 2
    decoder_heads: int = 4
    drop_path: float = 0.0
    moe_experts: int = 8
    """Experts per MoAE layer; 0 disables MoAE (plain ViT)."""
    moe_top_k: int = 2
    moe_start_block: int = 3
    """First block with an MoAE (the paper's ``--moe_layers 6`` on ViT-B)."""
    moe_ratio: float = 0.25
    """Adapter bottleneck = ratio x width."""
    moe_balance_loss: Literal["probs", "logits"] = "probs"
    """``probs``: Switch loss on router probabilities; ``logits``: the official code's form."""
    moe_balance_weight: float = 1e-3
    moe_noise_at_eval: bool = False
    """The official code also adds router noise at eval; off by default (eval is deterministic)."""
    moe_capacity_factor: float = 0.0
    """0 = no capacity limit; the official code uses 1.0 and drops overflow tokens."""


MODEL_PRESETS: dict[str, dict] = {
    "tiny": dict(
        img_size=64,
        patch_size=8,
        tubelet=2,
        embed_dim=128,
        depth=6,
        num_heads=4,
        decoder_dim=64,
        decoder_depth=2,
        decoder_heads=4,
        moe_start_block=3,
    ),
    "base": dict(
        img_size=160,
        patch_size=16,
        tubelet=2,
        embed_dim=768,
        depth=12,
        num_heads=12,
        decoder_dim=384,
        decoder_depth=4,
        decoder_heads=6,
        moe_start_block=6,
    ),
}


@dataclass(frozen=True)
class PretrainConfig:
    """Dual-modal MAE pre-training."""

    modalities: Literal["both", "video", "image", "none"] = "both"
    """``none`` skips pre-training (fine-tuning then starts from random weights)."""
    epochs: int = 3
    image_batch: int = 64
    video_batch: int = 16
    video_repeat: float = 1.0
    """Video steps per epoch as a fraction of the video loader (paper: 1/4 of VoxCeleb2)."""
    image_mask: float = 0.9
    video_mask: float = 0.95
    tube_mask: bool = False
    """Same spatial mask in every time step (VideoMAE) instead of plain random masking."""
    lr: float = 1.5e-3
    weight_decay: float = 0.05
    warmup_fraction: float = 0.05
    norm_pix_loss: bool = True


@dataclass(frozen=True)
class FinetuneConfig:
    """Joint static + dynamic fine-tuning (or video-only)."""

    tasks: Literal["both", "video"] = "both"
    epochs: int = 6
    video_batch: int = 16
    image_batch: int = 32
    image_ratio: float = 1.0
    """Image steps per video step (the paper takes half the image loader per epoch)."""
    image_balanced: bool = True
    """Class-balanced oversampling of images (as in the paper)."""
    lr: float = 1e-3
    layer_decay: float = 0.75
    weight_decay: float = 0.05
    warmup_epochs: float = 1.0
    label_smoothing: float = 0.1
    mixup: float = 0.0
    """Mixup alpha (paper 0.8); 0 = off."""
    cutmix: float = 0.0
    """CutMix alpha (paper 1.0); 0 = off."""
    select_on: Literal["val", "test", "last"] = "val"
    """Checkpoint used for testing: best on the held-out val split, best on test (the
    official code's selection), or the last epoch."""


@dataclass(frozen=True)
class RunConfig:
    """Everything that defines one run."""

    name: str = "default"
    """Run folder: ``runs/s4d_fer/<name>``."""
    runs_root: str = "runs"
    seed: int = 0
    synth: SynthConfig = field(default_factory=SynthConfig)
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    pretrain: PretrainConfig = field(default_factory=PretrainConfig)
    finetune: FinetuneConfig = field(default_factory=FinetuneConfig)
    accelerator: str = "auto"
    devices: str = "auto"
    precision: str = "auto"
    """``auto``: bf16-mixed on a bf16 GPU, fp32 on CPU."""
    max_steps: int = -1
    """Cap on optimizer steps per stage (for smoke tests); -1 = no cap."""
    checkpoint_every_n_steps: int = 50
    progress_bar: bool = True

    def replace(self, **changes) -> RunConfig:
        """A copy with dotted-path changes, e.g. ``replace(**{"model.preset": "base"})``."""
        cfg = self
        changes = dict(changes)
        if "model.preset" in changes:
            # The size preset first, so explicit size fields given alongside it win.
            cfg = _replace_path(
                cfg, ["model", "preset"], changes.pop("model.preset")
            ).with_model_preset()
        for path, value in changes.items():
            cfg = _replace_path(cfg, path.split("."), value)
        return cfg

    def with_model_preset(self) -> RunConfig:
        """Fill the model size fields from ``model.preset`` (unless it is ``custom``)."""
        if self.model.preset == "custom":
            return self
        if self.model.preset not in MODEL_PRESETS:
            raise DataError(
                f"model.preset must be one of tiny, base, custom (got {self.model.preset!r})"
            )
        return dataclasses.replace(
            self, model=dataclasses.replace(self.model, **MODEL_PRESETS[self.model.preset])
        )

    def validate(self) -> RunConfig:
        for group in ("synth", "data", "model", "pretrain", "finetune"):
            _check_choices(getattr(self, group), group)
        m, d = self.model, self.data
        if m.embed_dim % m.num_heads:
            raise DataError(f"model.embed_dim {m.embed_dim} is not divisible by model.num_heads")
        if m.img_size % m.patch_size:
            raise DataError(f"model.img_size {m.img_size} is not a multiple of model.patch_size")
        if d.num_frames % m.tubelet:
            raise DataError(f"data.num_frames {d.num_frames} is not a multiple of model.tubelet")
        if m.moe_experts and not 1 <= m.moe_top_k <= m.moe_experts:
            raise DataError("model.moe_top_k must be between 1 and model.moe_experts")
        if not 0 <= m.moe_start_block <= m.depth:
            raise DataError(f"model.moe_start_block must be in 0..{m.depth}")
        for name in ("image_mask", "video_mask"):
            if not 0.0 < getattr(self.pretrain, name) < 1.0:
                raise DataError(f"pretrain.{name} must be in (0, 1)")
        if not 0.0 <= d.val_fraction < 1.0:
            raise DataError("data.val_fraction must be in [0, 1)")
        if self.finetune.select_on == "val" and d.val_fraction == 0:
            raise DataError("finetune.select_on=val needs data.val_fraction > 0")
        for name in ("num_frames", "sampling_rate", "test_clips", "test_crops"):
            if getattr(d, name) < 1:
                raise DataError(f"data.{name} must be at least 1")
        if self.synth.size % 8 or self.synth.frames < 2 or self.synth.n_clips < 35:
            raise DataError(
                "synth.size must be a multiple of 8, synth.frames >= 2, synth.n_clips >= 35"
            )
        return self

    @property
    def run_dir(self) -> Path:
        return Path(self.runs_root) / "s4d_fer" / self.name


def _check_choices(obj, group: str) -> None:
    """Fields typed ``Literal[...]`` must hold one of their choices."""
    hints = typing.get_type_hints(type(obj))
    for f in dataclasses.fields(obj):
        if typing.get_origin(hints[f.name]) is Literal:
            choices = typing.get_args(hints[f.name])
            if getattr(obj, f.name) not in choices:
                raise DataError(
                    f"{group}.{f.name} must be one of {', '.join(map(str, choices))} "
                    f"(got {getattr(obj, f.name)!r})"
                )


def _replace_path(obj, parts: list[str], value, prefix: str = ""):
    head = parts[0]
    name = prefix + head
    if not dataclasses.is_dataclass(obj) or head not in {f.name for f in dataclasses.fields(obj)}:
        raise DataError(f"unknown option {name!r}")
    old = getattr(obj, head)
    if len(parts) > 1:
        return dataclasses.replace(obj, **{head: _replace_path(old, parts[1:], value, name + ".")})
    return dataclasses.replace(obj, **{head: coerce(name, old, value)})


def coerce(name: str, old, value):
    """Convert ``value`` (often a command-line string) to the type of the field's current value."""
    if dataclasses.is_dataclass(old):
        raise DataError(f"{name} is a group of options; set one of its fields, e.g. {name}.<field>")
    if isinstance(old, bool):
        if isinstance(value, str) and value.lower() in ("true", "1", "yes", "false", "0", "no"):
            return value.lower() in ("true", "1", "yes")
        if not isinstance(value, bool):
            raise DataError(f"{name} expects true or false (got {value!r})")
        return value
    if isinstance(old, int | float):
        try:
            number = float(value) if not isinstance(value, bool) else None
        except (TypeError, ValueError):
            number = None
        if number is None:
            raise DataError(f"{name} expects a number (got {value!r})")
        if isinstance(old, int):
            if not number.is_integer():
                raise DataError(f"{name} expects an integer (got {value!r})")
            return int(number)
        return number
    return str(value)


# ---------------------------------------------------------------- presets

PRESETS: dict[str, dict] = {
    # Under 2 minutes on 2 cores: a small synthetic set, 1 epoch per stage.
    "smoke": {
        "name": "smoke",
        "synth.n_images": 420,
        "synth.n_clips": 70,
        "synth.frames": 12,
        "data.synth_root": "runs/s4d_fer/synth-smoke",
        "data.root": "runs/s4d_fer/synth-smoke/DFEW",
        "data.image_root": "runs/s4d_fer/synth-smoke/AffectNet",
        "data.num_frames": 4,
        "model.depth": 4,
        "model.moe_start_block": 2,
        "model.embed_dim": 96,
        "pretrain.epochs": 1,
        "finetune.epochs": 2,
        "finetune.video_batch": 8,
        "pretrain.video_batch": 8,
    },
    # The README numbers (tiny model, synthetic benchmark).
    "default": {},
    # The reduced setting the README ablation ran (5 configs x 3 seeds on 2 cores).
    "ablation": {
        "name": "ablation",
        "model.img_size": 48,
        "model.embed_dim": 96,
        "model.depth": 4,
        "model.moe_start_block": 2,
        "data.num_frames": 4,
        "data.sampling_rate": 4,
        "pretrain.epochs": 4,
        "finetune.epochs": 8,
    },
    # The paper's ViT-B recipe on a GPU (real data: set data.root / data.image_root).
    "gpu": {
        "name": "gpu",
        "model.preset": "base",
        "data.num_frames": 16,
        "data.sampling_rate": 4,
        "data.num_workers": 8,
        "pretrain.epochs": 100,
        "pretrain.image_batch": 192,
        "pretrain.video_batch": 48,
        "pretrain.lr": 1.2e-3,
        "finetune.epochs": 100,
        "finetune.video_batch": 16,
        "finetune.image_batch": 32,
        "finetune.lr": 4e-5,
        "finetune.mixup": 0.8,
        "finetune.cutmix": 1.0,
        "finetune.warmup_epochs": 5,
        "synth.size": 160,
        "synth.n_images": 10000,
        "synth.n_clips": 800,
        "synth.frames": 64,
        "data.synth_root": "runs/s4d_fer/synth-160",
        "data.root": "runs/s4d_fer/synth-160/DFEW",
        "data.image_root": "runs/s4d_fer/synth-160/AffectNet",
    },
}


def preset(name: str) -> RunConfig:
    """The config of a preset (``smoke``, ``default``, ``ablation`` or ``gpu``)."""
    if name not in PRESETS:
        raise DataError(f"--preset must be one of {', '.join(PRESETS)} (got {name!r})")
    changes = dict(PRESETS[name])
    model_preset = changes.pop("model.preset", None)
    cfg = RunConfig()
    if model_preset:
        cfg = cfg.replace(**{"model.preset": model_preset})
    return cfg.replace(**changes)


def load_config_file(path: str | Path) -> dict:
    """Dotted overrides from a JSON or YAML file (nested groups or dotted keys)."""
    p = Path(path)
    if not p.is_file():
        raise DataError(f"--config {p}: file not found")
    text = p.read_text(encoding="utf-8")
    if p.suffix in (".yaml", ".yml"):
        import yaml

        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise DataError(f"--config {p}: invalid YAML ({exc})") from None
    else:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise DataError(f"--config {p}: line {exc.lineno}: invalid JSON ({exc.msg})") from None
    if not isinstance(data, dict):
        raise DataError(f"--config {p}: expected a mapping of options")
    return _flatten(data)


def _flatten(data: dict, prefix: str = "") -> dict:
    out = {}
    for key, value in data.items():
        if isinstance(value, dict):
            out.update(_flatten(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


def as_dict(cfg: RunConfig) -> dict:
    """The resolved config as a JSON-able dict."""
    return dataclasses.asdict(cfg)
