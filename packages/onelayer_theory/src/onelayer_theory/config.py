"""Configuration dataclasses for data, model and training, with validation and presets.

Every field has a default that runs; the fields are the ``onelayer`` options
(``--data.coverage 0.5``, ``--finetune.lr 3e-3``). Invalid combinations raise
:class:`labcore.errors.DataError` naming the option, so the CLI refuses them with
one line and exit code 2 before anything is written. Nothing here imports torch.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from labcore.config import check_choices, replace_dotted
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
    qa_format: Literal["separate", "direct"] = "separate"
    """Q&A prompt layout: ``separate`` = ``BOS Q s t A -> a`` (the answer is predicted at a format
    token ``A``); ``direct`` = ``BOS Q s t -> a`` (right after the template, as in biographies)."""
    seed: int = 0
    """Seed of the world (facts, splits, biographies)."""

    @property
    def vocab_size(self) -> int:
        """Tokens in the world's vocabulary (4 special tokens, subjects, templates, answers, filler)."""
        return (
            4
            + self.n_subjects
            + self.n_relations * (self.templates_per_relation + self.answers_per_relation)
            + self.noise_tokens
        )

    @property
    def max_len(self) -> int:
        """The longest sequence: a biography, or a Q&A prompt plus its answer."""
        return max(2 + self.n_relations * (self.max_noise + 2), 6)

    def validate(self) -> None:
        check_choices(self, "data")
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
    """``onelayer`` (the batched in-house model) or ``gpt2`` (transformers' GPT-2, any depth)."""
    d_model: int = 128
    """Width of the residual stream and the embeddings."""
    n_heads: int = 1
    """Attention heads (``d_model`` must be divisible by it)."""
    mlp_width: int = 256
    """Hidden width of the MLP."""
    activation: Literal["relu", "gelu", "silu"] = "relu"
    """MLP non-linearity."""
    norm: Literal["none", "layer"] = "none"
    """No normalisation by default, as in the stylised model; ``layer`` adds pre-LayerNorms."""
    tie_embeddings: bool = False
    """Use the token embedding as the unembedding."""
    n_layers: int = 1
    """Only for ``arch="gpt2"`` (the depth experiment)."""
    init_std: float = 0.02
    """Standard deviation of the normal initialisation of every weight."""
    embeddings: Literal["learned", "orthonormal"] = "learned"
    """``learned`` token and position embeddings, or the stylised model's ``orthonormal`` ones:
    frozen, all token and position vectors mutually orthonormal (needs ``d_model`` >= vocabulary
    + sequence length), with the transposed token embedding as the unembedding."""

    def validate(self) -> None:
        check_choices(self, "model")
        if self.d_model < 1 or self.mlp_width < 1 or self.n_heads < 1:
            raise DataError("model.d_model, model.mlp_width and model.n_heads must be at least 1")
        if self.d_model % self.n_heads:
            raise DataError(
                f"model.d_model {self.d_model} is not divisible by model.n_heads {self.n_heads}"
            )
        if self.embeddings == "orthonormal" and self.arch != "onelayer":
            raise DataError(
                "model.embeddings=orthonormal is only implemented for model.arch=onelayer"
            )
        if self.arch == "onelayer" and self.n_layers != 1:
            raise DataError(
                "model.n_layers only applies to model.arch=gpt2; the one-layer model has one layer"
            )


@dataclass(frozen=True)
class TrainConfig:
    """One training stage (pre-training or fine-tuning)."""

    steps: int = 2000
    """Optimizer steps."""
    batch_size: int = 32
    """Sequences per step and member."""
    lr: float = 1e-2
    """Peak learning rate."""
    weight_decay: float = 0.0
    """Decoupled weight decay (AdamW) or L2 penalty (SGD)."""
    optimizer: Literal["adamw", "sgd"] = "adamw"
    """AdamW, or SGD with momentum 0.9."""
    schedule: Literal["constant", "cosine", "step"] = "cosine"
    """After linear warm-up: ``constant``; ``cosine`` decay to 10%; ``step`` = x0.1 at 50% and 75%
    of the steps after warm-up."""
    warmup_steps: int = 100
    """Linear warm-up steps."""
    grad_clip: float = 1.0
    """Clip each member's gradient norm to this (0 = off); per member, so members stay independent."""
    lr_grid: tuple[float, ...] = ()
    """If set, train at each of these peak learning rates (``lr`` is then unused) and keep, per run,
    the best: pre-training by the lowest loss on fresh biographies, fine-tuning by the highest
    accuracy on the fine-tuning pairs (``ft_acc``); ties go to the lower rate. All rates train as
    one ensemble (one member per run and rate)."""
    lr_pilot: float = 1.0
    """Pre-training with ``lr_grid`` only: after this fraction of the steps each run keeps its
    best rate so far (the lowest loss on fresh biographies) and only that one trains on to the
    end; 1.0 trains every rate to the end and chooses there."""
    loss_on: Literal["all", "answers"] = "all"
    """Pre-training only: next-token loss on every token, or on the answer tokens only (the
    stylised model's answer-only loss)."""

    def validate(self, stage: str) -> None:
        check_choices(self, stage)
        if any(lr <= 0 for lr in self.lr_grid):
            raise DataError(
                f"{stage}.lr_grid must hold positive learning rates (got {self.lr_grid})"
            )
        if not 0 < self.lr_pilot <= 1:
            raise DataError(f"{stage}.lr_pilot must be in (0, 1] (got {self.lr_pilot})")
        if self.steps < 1 or self.batch_size < 1:
            raise DataError(f"{stage}.steps and {stage}.batch_size must be at least 1")
        if self.lr <= 0:
            raise DataError(f"{stage}.lr must be positive (got {self.lr})")
        if self.warmup_steps < 0 or self.grad_clip < 0 or self.weight_decay < 0:
            raise DataError(
                f"{stage}.warmup_steps, {stage}.grad_clip and {stage}.weight_decay must be >= 0"
            )


@dataclass(frozen=True)
class FinetuneConfig(TrainConfig):
    """Q&A fine-tuning: full (``lora_rank=0``) or LoRA on the chosen weights."""

    steps: int = 300
    """Optimizer steps."""
    lr: float = 3e-4
    """Peak learning rate."""
    warmup_steps: int = 30
    """Linear warm-up steps."""
    lora_rank: int = 0
    """0 = full fine-tuning; r > 0 trains rank-r adapters only."""
    lora_targets: tuple[str, ...] = ("attn", "mlp_in")
    """Weights that get adapters: any of ``attn`` (q, k, v, o), ``mlp_in``, ``mlp_out``."""
    lora_alpha: float = 8.0
    """Adapters add ``(lora_alpha / lora_rank) * A @ B`` to the frozen weight (the usual LoRA scaling)."""
    replay_batch: int = 0
    """Biographies (all subjects) replayed per fine-tuning step, their next-token loss added to the
    Q&A loss; 0 = none."""


@dataclass(frozen=True)
class RunConfig:
    """Everything that defines one trained model (one ensemble member)."""

    data: DataConfig = field(default_factory=DataConfig)
    """The synthetic knowledge world."""
    model: ModelConfig = field(default_factory=ModelConfig)
    """The model."""
    pretrain: TrainConfig = field(default_factory=TrainConfig)
    """Pre-training on biographies."""
    finetune: FinetuneConfig = field(default_factory=FinetuneConfig)
    """Q&A fine-tuning."""
    seed: int = 0
    """Seed of initialisation and batch order (the world has its own seed in ``data``); a sweep
    with ``--seeds N`` uses seeds ``seed .. seed+N-1`` for both."""

    def validate(self) -> RunConfig:
        self.data.validate()
        self.model.validate()
        self.pretrain.validate("pretrain")
        self.finetune.validate("finetune")
        ft = self.finetune
        if ft.replay_batch < 0:
            raise DataError(f"finetune.replay_batch must be >= 0 (got {ft.replay_batch})")
        need = self.data.vocab_size + self.data.max_len
        if self.model.embeddings == "orthonormal" and self.model.d_model < need:
            raise DataError(
                f"model.embeddings=orthonormal needs model.d_model >= {need} (vocabulary "
                f"{self.data.vocab_size} + sequence length {self.data.max_len}); got {self.model.d_model}"
            )
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

    def replace(self, **changes: Any) -> RunConfig:
        """A copy with dotted-path changes, e.g. ``replace(**{"data.coverage": 0.5, "seed": 1})``."""
        return apply_changes(self, changes)


def apply_changes(cfg: Any, changes: Mapping[str, Any]) -> Any:
    """``cfg`` with each dotted key of ``changes`` set (``labcore.config.replace_dotted``)."""
    for path, value in changes.items():
        cfg = replace_dotted(cfg, path, value)
    return cfg


@dataclass(frozen=True)
class RealModelConfig:
    """The real-model experiment (``realmodel.py``, ``onelayer realmodel``): model, facts, training."""

    model: str = "smollm2-135m-instruct"
    """The causal LM: ``smollm2-135m-instruct`` (bundled, offline), a model folder or a hub id."""
    data: DataConfig = field(
        default_factory=lambda: DataConfig(
            n_subjects=40,
            n_relations=4,
            answers_per_relation=16,
            templates_per_relation=4,
            multiplicity=4,
            coverage=0.5,
        )
    )
    """The facts (as for the one-layer model; at most 4 relations, 16 answers, 4 templates)."""
    pretrain_steps: int = 300
    """Continued pre-training steps on biographies."""
    pretrain_lr: float = 1e-4
    """Continued pre-training peak learning rate (AdamW, cosine after 10% warm-up)."""
    finetune: Literal["full", "lora"] = "full"
    """``full`` fine-tuning or ``lora`` (``peft``, on the attention and MLP projections)."""
    finetune_steps: int = 100
    """Q&A fine-tuning steps."""
    finetune_lr: float = 3e-5
    """Fine-tuning peak learning rate (LoRA usually wants about 10x more)."""
    lora_rank: int = 8
    """LoRA rank (``finetune="lora"``)."""
    batch_size: int = 8
    """Sequences per step."""
    seed: int = 0
    """Seed of names, batches and adapters (the facts use ``data.seed``)."""

    def validate(self) -> RealModelConfig:
        d = self.data
        d.validate()
        if d.n_relations > 4 or d.templates_per_relation > 4:
            raise DataError("data.n_relations must be <= 4 and data.templates_per_relation <= 4")
        if d.answers_per_relation > 16:
            raise DataError("data.answers_per_relation must be <= 16 for the real-model texts")
        if self.finetune not in ("full", "lora"):
            raise DataError(f"finetune must be full or lora (got {self.finetune!r})")
        if min(self.pretrain_steps, self.finetune_steps, self.batch_size, self.lora_rank) < 1:
            raise DataError("steps, batch_size and lora_rank must be at least 1")
        return self


#: Named defaults for ``--preset`` (dotted keys; the command line and ``--config`` go on top).
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
    """The config of a preset (``smoke``, ``default`` or ``gpu``) without other changes."""
    if name not in PRESETS:
        raise DataError(f"--preset must be one of {', '.join(PRESETS)} (got {name!r})")
    return apply_changes(RunConfig(), PRESETS[name])
