"""The configuration tree of one run: benchmark, data, model, pre-training, fine-tuning.

Every field has a default that runs on the embedded synthetic benchmark, and each field's
docstring is its ``--help`` text: ``--data.root PATH``, ``--model.preset base``,
``--finetune.epochs 20``. :meth:`RunConfig.validate` checks values and combinations
before any work; a bad one raises :class:`labcore.errors.DataError` naming the option.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Literal

from labcore.config import check_choices, replace_dotted
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
    """Seed of the generator (the same seed gives the same bytes)."""


@dataclass(frozen=True)
class DataConfig:
    """Which datasets to read and how clips are sampled."""

    dataset: Literal["dfew", "ferv39k", "mafw", "generic"] = "dfew"
    """Video dataset layout (see the README's table of layouts)."""
    root: str = "runs/s4d_fer/synth/DFEW"
    """Root folder of the video dataset (the synthetic benchmark by default)."""
    fold: int = 1
    """Fold for 5-fold datasets (DFEW, MAFW); ignored otherwise."""
    image_dataset: Literal["affectnet", "rafdb", "ferplus", "generic"] = "affectnet"
    """Static dataset layout."""
    image_root: str = "runs/s4d_fer/synth/AffectNet"
    """Root folder of the static dataset (the synthetic benchmark by default)."""
    image_classes: Literal[7, 8] = 7
    """AffectNet 7 or 8 classes (8 adds contempt)."""
    synth_root: str = "runs/s4d_fer/synth"
    """Where ``train`` renders the synthetic benchmark when the roots above lie in it and are missing."""
    num_frames: int = 8
    """Frames per clip fed to the model."""
    sampling_rate: int = 2
    """Stride between sampled frames (4 for DFEW/MAFW and 1 for FERV39K in the paper)."""
    val_fraction: float = 0.15
    """Fraction of the training split held out (stratified) for model selection."""
    clip_fraction: float = 1.0
    """Fraction of the fit clips (stratified, nested across fractions) used for
    fine-tuning, for data-scarcity curves; pre-training, validation and test keep all
    their clips (pre-training ignores labels)."""
    test_clips: int = 2
    """Temporal clips averaged at test time."""
    test_crops: int = 1
    """Spatial crops averaged at test time (2 adds the mirrored clip)."""
    num_workers: int = 2
    """Data-loader workers (capped so that workers + --threads never exceed the cores)."""
    skip_bad: bool = False
    """Skip unreadable samples (and report how many) instead of stopping."""
    min_scale: float = 0.6
    """Lower bound of the random-resized-crop area at training time."""


#: The model fields a size preset (``model.preset``) sets.
SIZE_FIELDS = (
    "img_size",
    "patch_size",
    "tubelet",
    "embed_dim",
    "depth",
    "num_heads",
    "decoder_dim",
    "decoder_depth",
    "decoder_heads",
    "moe_start_block",
)


@dataclass(frozen=True)
class ModelConfig:
    """ViT encoder with a 3-D tubelet embedding, MAE decoder and optional MoAE."""

    preset: Literal["tiny", "base", "custom"] = "tiny"
    """Size preset: ``base`` (ViT-B) sets every size field left at its default (the tiny
    values); ``tiny`` and ``custom`` keep the size fields as given."""
    img_size: int = 64
    """Input side in pixels."""
    patch_size: int = 8
    """Patch side in pixels."""
    tubelet: int = 2
    """Frames per tubelet token."""
    embed_dim: int = 128
    """Encoder width."""
    depth: int = 6
    """Encoder blocks."""
    num_heads: int = 4
    """Attention heads per block."""
    mlp_ratio: float = 4.0
    """FFN width / encoder width."""
    decoder_dim: int = 64
    """MAE decoder width."""
    decoder_depth: int = 2
    """MAE decoder blocks."""
    decoder_heads: int = 4
    """MAE decoder attention heads."""
    drop_path: float = 0.0
    """Stochastic depth rate at fine-tuning."""
    moe_experts: int = 8
    """Experts per MoAE layer; 0 disables MoAE (plain ViT)."""
    moe_top_k: int = 2
    """Experts each token is routed to."""
    moe_start_block: int = 3
    """First block with an MoAE (the paper's ``--moe_layers 6`` on ViT-B)."""
    moe_ratio: float = 0.25
    """Adapter bottleneck = ratio x width."""
    moe_balance_loss: Literal["probs", "logits"] = "probs"
    """``probs``: Switch loss on router probabilities; ``logits``: the official code's form."""
    moe_balance_weight: float = 1e-3
    """Weight of the load-balancing loss."""
    moe_noise_at_eval: bool = False
    """The official code also adds router noise at eval; off by default (eval is deterministic)."""
    moe_capacity_factor: float = 0.0
    """0 = no capacity limit; the official code uses 1.0 and drops overflow tokens."""

    def sized(self) -> ModelConfig:
        """This config with the size preset applied to the size fields left at their defaults."""
        from s4d_fer.config.presets import MODEL_SIZES

        if self.preset not in MODEL_SIZES:
            return self
        default = ModelConfig()
        sizes = {
            k: v
            for k, v in MODEL_SIZES[self.preset].items()
            if getattr(self, k) == getattr(default, k)
        }
        return dataclasses.replace(self, **sizes)


@dataclass(frozen=True)
class PretrainConfig:
    """Dual-modal MAE pre-training."""

    modalities: Literal["both", "video", "image", "none"] = "both"
    """``none`` skips pre-training (fine-tuning then starts from random weights)."""
    epochs: int = 30
    """Pre-training epochs."""
    image_batch: int = 64
    """Images per image step."""
    video_batch: int = 16
    """Clips per video step."""
    video_repeat: float = 1.0
    """Video steps per epoch as a fraction of the video loader (paper: 1/4 of VoxCeleb2)."""
    image_mask: float = 0.9
    """Masking ratio of images."""
    video_mask: float = 0.95
    """Masking ratio of clips."""
    tube_mask: bool = False
    """Same spatial mask in every time step (VideoMAE) instead of plain random masking."""
    lr: float = 1.5e-3
    """Peak learning rate (AdamW, warm-up then cosine)."""
    weight_decay: float = 0.05
    """AdamW weight decay."""
    warmup_fraction: float = 0.05
    """Warm-up steps as a fraction of all pre-training steps."""
    norm_pix_loss: bool = True
    """Reconstruct per-patch normalised pixels."""


@dataclass(frozen=True)
class FinetuneConfig:
    """Joint static + dynamic fine-tuning (or video-only)."""

    tasks: Literal["both", "video"] = "both"
    """``both``: alternate video and image steps; ``video``: clips only."""
    epochs: int = 30
    """Fine-tuning epochs (an epoch is one pass over the video loader plus ``image_ratio``
    image steps per video step; the tiny ViT needs ~150 steps to leave the class prior)."""
    video_batch: int = 16
    """Clips per video step."""
    image_batch: int = 32
    """Images per image step."""
    image_ratio: float = 2.0
    """Image steps per video step (the paper takes half the image loader per epoch, which
    on the default benchmark is about 2.6 image steps per video step)."""
    image_balanced: bool = True
    """Class-balanced oversampling of images (as in the paper)."""
    lr: float = 1e-3
    """Peak learning rate."""
    layer_decay: float = 1.0
    """Layer-wise learning-rate decay (paper 0.75, set by the ``gpu`` preset; 1 = off: the
    tiny encoder's short MAE leaves its lower blocks far from done, and decaying their
    learning rate keeps fine-tuning on the class prior)."""
    weight_decay: float = 0.05
    """AdamW weight decay."""
    warmup_epochs: float = 1.0
    """Linear warm-up length in epochs."""
    label_smoothing: float = 0.1
    """Label smoothing of the targets."""
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

    seed: int = 0
    """Seed of training (the validation split always uses seed 0)."""
    synth: SynthConfig = field(default_factory=SynthConfig)
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    pretrain: PretrainConfig = field(default_factory=PretrainConfig)
    finetune: FinetuneConfig = field(default_factory=FinetuneConfig)
    devices: str = "auto"
    """GPUs used with --device cuda: auto (all visible; DDP when several) or a number."""
    precision: str = "auto"
    """Lightning precision; ``auto``: bf16-mixed on a bf16 GPU, fp32 on CPU."""
    max_steps: int = -1
    """Cap on optimizer steps per stage (for smoke tests); -1 = no cap."""
    checkpoint_every_n_steps: int = 50
    """Steps between ``last.ckpt`` checkpoints (an interrupted stage resumes from it)."""
    progress_bar: bool = True
    """Lightning's progress bar, shown only when stderr is a terminal (one line per epoch
    is printed and written to log.txt either way)."""

    def replace(self, **changes: Any) -> RunConfig:
        """A copy with dotted-path changes, e.g. ``replace(**{"finetune.epochs": 2})``.

        Values must have the field's type (``labcore.config.replace_dotted``).
        """
        cfg = self
        for path, value in changes.items():
            cfg = replace_dotted(cfg, path, value)
        return cfg

    def validate(self) -> RunConfig:
        """Check choices and combinations; returns the config with ``model.preset`` applied."""
        check_choices(self)
        cfg = dataclasses.replace(self, model=self.model.sized())
        m, d, p, f = cfg.model, cfg.data, cfg.pretrain, cfg.finetune
        positive = {
            "model.img_size": m.img_size,
            "model.patch_size": m.patch_size,
            "model.tubelet": m.tubelet,
            "model.embed_dim": m.embed_dim,
            "model.depth": m.depth,
            "model.num_heads": m.num_heads,
            "pretrain.image_batch": p.image_batch,
            "pretrain.video_batch": p.video_batch,
            "finetune.video_batch": f.video_batch,
            "finetune.image_batch": f.image_batch,
            "data.num_frames": d.num_frames,
            "data.sampling_rate": d.sampling_rate,
            "data.test_clips": d.test_clips,
            "data.test_crops": d.test_crops,
            "checkpoint_every_n_steps": cfg.checkpoint_every_n_steps,
        }
        for name, value in positive.items():
            if value < 1:
                raise DataError(f"{name} must be at least 1 (got {value})")
        for name, value in {
            "pretrain.epochs": p.epochs,
            "finetune.epochs": f.epochs,
            "data.num_workers": d.num_workers,
            "model.moe_experts": m.moe_experts,
        }.items():
            if value < 0:
                raise DataError(f"{name} must be >= 0 (got {value})")
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
            if not 0.0 < getattr(p, name) < 1.0:
                raise DataError(f"pretrain.{name} must be in (0, 1)")
        if not 0.0 < d.clip_fraction <= 1.0:
            raise DataError(f"data.clip_fraction must be in (0, 1] (got {d.clip_fraction})")
        if not 0.0 <= d.val_fraction < 1.0:
            raise DataError("data.val_fraction must be in [0, 1)")
        if f.select_on == "val" and d.val_fraction == 0:
            raise DataError("finetune.select_on=val needs data.val_fraction > 0")
        if not 0.0 < d.min_scale <= 1.0:
            raise DataError("data.min_scale must be in (0, 1]")
        if cfg.synth.size % 8 or cfg.synth.frames < 2 or cfg.synth.n_clips < 35:
            raise DataError(
                "synth.size must be a multiple of 8, synth.frames >= 2, synth.n_clips >= 35"
            )
        if cfg.devices != "auto" and not cfg.devices.isdigit():
            raise DataError(f"devices must be auto or a number of GPUs (got {cfg.devices!r})")
        return cfg

    @classmethod
    def from_dict(cls, data: dict) -> RunConfig:
        """Rebuild a config from :func:`as_dict` output (keys this version lacks are ignored)."""
        values = {}
        for f in dataclasses.fields(cls):
            if f.name not in data:
                continue
            value = data[f.name]
            sub = f.default_factory if f.default_factory is not dataclasses.MISSING else None
            if sub is not None and isinstance(value, dict):
                names = {g.name for g in dataclasses.fields(sub)}
                value = sub(**{k: v for k, v in value.items() if k in names})
            values[f.name] = value
        return cls(**values)


def as_dict(cfg: RunConfig) -> dict:
    """The config as a JSON-able dict."""
    return dataclasses.asdict(cfg)
