"""Configuration dataclasses for data, model and training, with validation and presets.

Every field has a default that runs. Invalid combinations raise
:class:`labcore.errors.DataError` naming the option, so the CLI can refuse them
with one line and exit code 2 before anything is written.
"""

from __future__ import annotations

import dataclasses
import typing
from dataclasses import dataclass, field
from typing import Literal

from labcore.config import replace_dotted
from labcore.errors import DataError


@dataclass(frozen=True)
class DataConfig:
    """The synthetic knowledge world and how it is shown to the model."""

    n_subjects: int = 200
    """Number of subjects (people); each has one answer per relation."""
    n_relations: int = 4
    """Number of relations (attributes such as birth city)."""
    answers_per_relation: int = 16
    """Size of each relation's answer set (answer sets of different relations are disjoint)."""
    templates_per_relation: int = 4
    """Surface forms per relation; the template universe has ``n_relations * templates_per_relation`` tokens."""
    multiplicity: int = 4
    """Statements per fact: the number of distinct templates a fact is stated with in pre-training
    (beyond ``templates_per_relation`` they repeat)."""
    noise_tokens: int = 16
    """Size of the filler-token vocabulary."""
    max_noise: int = 2
    """Up to this many filler tokens (uniform count) precede each fact in a biography."""
    ft_subject_fraction: float = 0.5
    """Fraction of subjects whose facts are fine-tuned in Q&A format; the rest are held out."""
    coverage: float = 1.0
    """Fraction of the template universe used in fine-tuning Q&A prompts (chosen at random, at least one)."""
    seed: int = 0
    """Seed of the world (facts, splits, biographies)."""

    def validate(self) -> None:
        for name in (
            "n_subjects",
            "n_relations",
            "answers_per_relation",
            "templates_per_relation",
            "multiplicity",
        ):
            if getattr(self, name) < 1:
                raise DataError(f"data.{name} must be at least 1 (got {getattr(self, name)})")
        if self.noise_tokens < 1 or self.max_noise < 0:
            raise DataError("data.noise_tokens must be >= 1 and data.max_noise >= 0")
        if not 0.0 < self.coverage <= 1.0:
            raise DataError(f"data.coverage must be in (0, 1] (got {self.coverage})")
        if not 0.0 < self.ft_subject_fraction < 1.0:
            raise DataError(
                f"data.ft_subject_fraction must be in (0, 1) so that some subjects are fine-tuned "
                f"and some held out (got {self.ft_subject_fraction})"
            )
        n_ft = round(self.ft_subject_fraction * self.n_subjects)
        if n_ft < 1 or n_ft >= self.n_subjects:
            raise DataError(
                f"data.ft_subject_fraction {self.ft_subject_fraction} of {self.n_subjects} subjects leaves "
                f"{n_ft} fine-tuning subjects: need at least one fine-tuned and one held-out subject"
            )


@dataclass(frozen=True)
class ModelConfig:
    """A one-layer transformer (``arch="onelayer"``) or a GPT-2 from transformers (``arch="gpt2"``)."""

    arch: Literal["onelayer", "gpt2"] = "onelayer"
    d_model: int = 128
    n_heads: int = 1
    mlp_width: int = 256
    activation: Literal["relu", "gelu", "silu"] = "relu"
    norm: Literal["none", "layer"] = "none"
    """No normalisation by default, as in the stylised model; ``layer`` adds pre-LayerNorms."""
    tie_embeddings: bool = False
    n_layers: int = 1
    """Only for ``arch="gpt2"`` (the depth experiment)."""
    init_std: float = 0.02

    def validate(self) -> None:
        _check_choices(self, "model")
        if self.d_model < 1 or self.mlp_width < 1 or self.n_heads < 1:
            raise DataError("model.d_model, model.mlp_width and model.n_heads must be at least 1")
        if self.d_model % self.n_heads:
            raise DataError(
                f"model.d_model {self.d_model} is not divisible by model.n_heads {self.n_heads}"
            )
        if self.arch == "onelayer" and self.n_layers != 1:
            raise DataError(
                "model.n_layers only applies to model.arch=gpt2; the one-layer model has one layer"
            )


@dataclass(frozen=True)
class TrainConfig:
    """One training stage (pre-training or fine-tuning)."""

    steps: int = 2000
    batch_size: int = 32
    lr: float = 1e-2
    weight_decay: float = 0.0
    optimizer: Literal["adamw", "sgd"] = "adamw"
    schedule: Literal["constant", "cosine", "step"] = "cosine"
    """``cosine`` = linear warm-up then cosine decay to 10%; ``step`` = x0.1 at 50% and 75% of steps."""
    warmup_steps: int = 100
    grad_clip: float = 1.0
    """Clip each member's gradient norm to this (0 = off); per member, so members stay independent."""

    def validate(self, stage: str) -> None:
        _check_choices(self, stage)
        if self.steps < 1 or self.batch_size < 1:
            raise DataError(f"{stage}.steps and {stage}.batch_size must be at least 1")
        if self.lr <= 0:
            raise DataError(f"{stage}.lr must be positive (got {self.lr})")


@dataclass(frozen=True)
class FinetuneConfig(TrainConfig):
    """Q&A fine-tuning: full (``lora_rank=0``) or LoRA on the chosen weights."""

    steps: int = 300
    lr: float = 3e-4
    warmup_steps: int = 30
    lora_rank: int = 0
    """0 = full fine-tuning; r > 0 trains rank-r adapters only."""
    lora_targets: tuple[str, ...] = ("attn", "mlp_in")
    """Weights that get adapters: any of ``attn`` (q, k, v, o), ``mlp_in``, ``mlp_out``."""
    lora_alpha: float = 8.0
    """Adapters add ``(lora_alpha / lora_rank) * A @ B`` to the frozen weight (the usual LoRA scaling)."""


@dataclass(frozen=True)
class RunConfig:
    """Everything that defines one trained model (one ensemble member)."""

    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    pretrain: TrainConfig = field(default_factory=TrainConfig)
    finetune: FinetuneConfig = field(default_factory=FinetuneConfig)
    seed: int = 0
    """Seed of initialisation and batch order (the world has its own seed in ``data``)."""

    def validate(self) -> RunConfig:
        self.data.validate()
        self.model.validate()
        self.pretrain.validate("pretrain")
        self.finetune.validate("finetune")
        ft = self.finetune
        if ft.lora_rank < 0:
            raise DataError(f"finetune.lora_rank must be >= 0 (got {ft.lora_rank})")
        if ft.lora_rank > min(self.model.d_model, self.model.mlp_width):
            raise DataError(
                f"finetune.lora_rank {ft.lora_rank} is larger than the model width "
                f"(d_model={self.model.d_model}, mlp_width={self.model.mlp_width})"
            )
        unknown = set(ft.lora_targets) - {"attn", "mlp_in", "mlp_out"}
        if unknown:
            raise DataError(f"finetune.lora_targets: unknown target(s) {sorted(unknown)}")
        if ft.lora_rank and self.model.arch != "onelayer":
            raise DataError("finetune.lora_rank is only implemented for model.arch=onelayer")
        return self

    def replace(self, **changes) -> RunConfig:
        """A copy with dotted-path changes, e.g. ``replace(**{"data.coverage": 0.5, "seed": 1})``."""
        cfg = self
        for path, value in changes.items():
            cfg = replace_dotted(cfg, path, value)
        return cfg


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


PRESETS: dict[str, dict] = {
    # Seconds on 2 cores: a small world, short training.
    "smoke": {
        "data.n_subjects": 60,
        "data.n_relations": 2,
        "data.answers_per_relation": 8,
        "data.templates_per_relation": 2,
        "data.multiplicity": 2,
        "model.d_model": 64,
        "model.mlp_width": 128,
        "pretrain.steps": 600,
        "pretrain.warmup_steps": 30,
        "finetune.steps": 100,
        "finetune.warmup_steps": 10,
    },
    # The README numbers.
    "default": {},
    # Bigger world for a GPU sweep.
    "gpu": {
        "data.n_subjects": 2000,
        "data.n_relations": 8,
        "data.answers_per_relation": 50,
        "data.templates_per_relation": 4,
        "model.d_model": 256,
        "model.mlp_width": 2048,
        "pretrain.steps": 8000,
        "pretrain.batch_size": 256,
        "finetune.steps": 2000,
        "finetune.batch_size": 256,
    },
}


def preset(name: str) -> RunConfig:
    """The base config of a preset (``smoke``, ``default`` or ``gpu``)."""
    if name not in PRESETS:
        raise DataError(f"--preset must be one of {', '.join(PRESETS)} (got {name!r})")
    return RunConfig().replace(**PRESETS[name])
