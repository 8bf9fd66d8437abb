"""Configuration dataclasses and presets (``smoke``, ``default``, ``gpu``).

Every field has a default that runs. Invalid values raise :class:`labcore.errors.DataError`
naming the option, so the CLI refuses them with one line and exit code 2 before writing.
The paper's schedule is 1000 injection steps (one injection every 100 steps, a 50-step
acquisition window) and 1500 plain steps; the CPU presets keep those ratios and scale all
step counts down by a constant factor (see README, "Deviations").
"""

from __future__ import annotations

import dataclasses
import typing
from dataclasses import dataclass, field
from typing import Literal

from labcore.config import replace_dotted
from labcore.errors import DataError


@dataclass(frozen=True)
class SynthConfig:
    """The embedded Fictional Knowledge generator."""

    n_items: int = 30
    """Injected passages; split into thirds: paraphrase, duplicate, once (paper: 120)."""
    n_spares: int = 0
    """Extra items scored but never injected (paper: 10)."""
    n_paraphrases: int = 9
    seed: int = 0


@dataclass(frozen=True)
class CorpusConfig:
    """The background corpus: the embedded synthetic encyclopedia, or text / JSONL files or a dataset."""

    source: str = "synthetic"
    """``synthetic``, a ``.txt`` file (documents separated by blank lines), a ``.jsonl`` file with a
    ``text`` field, or ``hf:NAME[:CONFIG]`` for a ``datasets`` name (needs a network or a warm cache)."""
    n_docs: int = 20000
    """Synthetic documents (the first ``stream_fraction`` are held out as the injection stream)."""
    stream_fraction: float = 0.45
    """Fraction of documents reserved for the injection stream (never seen in pretraining)."""
    dedup: bool = False
    """Drop exact duplicate documents before packing."""
    seed: int = 1234


@dataclass(frozen=True)
class ModelConfig:
    """``tiny``: a small Llama-style model trained from scratch; ``smollm2``: the bundled SmolLM2-135M."""

    preset: Literal["tiny", "smollm2"] = "tiny"
    vocab_size: int = 1024
    """Size of the byte-level BPE tokenizer trained on the background corpus (tiny only)."""
    d_model: int = 64
    n_layers: int = 2
    n_heads: int = 4
    ffn: int = 176
    seq_len: int = 256


@dataclass(frozen=True)
class PretrainConfig:
    """From-scratch pretraining of the tiny model with stage checkpoints."""

    steps: int = 600
    batch_size: int = 8
    lr: float = 3e-3
    warmup: int = 50
    alpha_f: float = 0.1
    """The LR decays linearly from ``lr`` to ``alpha_f * lr`` at ``steps`` (OLMo-style), then stays."""
    weight_decay: float = 0.1
    stages: tuple[int, ...] = (100, 250, 600)
    """Steps at which early / mid / late checkpoints (with optimizer state) are saved."""
    seed: int = 0


@dataclass(frozen=True)
class InjectConfig:
    """Continued pretraining with injected knowledge, and probe logging."""

    total_steps: int = 250
    """Paper: 2500 (1000 with injections + 1500 plain)."""
    inject_every: int = 10
    """Paper: 100."""
    n_injections: int = 10
    """Paper: 10 (steps 0, 100, ..., 900)."""
    window: int = 5
    """Local acquisition window t_w (paper: 50)."""
    batch_size: int = 8
    """Global batch in rows (sequences of ``model.seq_len`` tokens)."""
    overflow: Literal["error", "extend"] = "extend"
    """When the passages of one step do not fit in the batch's rows: refuse, or add rows that hold
    only passages (needed for small batches at CPU scale; the paper always had room)."""
    lr: float = 0.0
    """0 = continue the checkpoint's scheduler (paper); > 0 = this constant LR."""
    lr_scale: float = 1.0
    """Multiplies the LR (an extension: the LR experiment)."""
    reset_optimizer: bool = False
    """Re-initialise AdamW state (paper's batch-size experiment) instead of loading it."""
    betas: tuple[float, float] = (0.9, 0.95)
    weight_decay: float = 0.1
    grad_clip: float = 1.0
    schedule: Literal["every", "adaptive"] = "adaptive"
    """``every`` step (paper) or ``adaptive``: dense in each acquisition window, log-spaced after."""
    log_points: int = 12
    """Adaptive: log-spaced evaluation steps after the last acquisition window of each scenario."""
    checkpoint_every: int = 50
    probe_batch_size: int = 256
    seed: int = 0
    """Seed of the knowledge set when it is synthesized for the run."""


@dataclass(frozen=True)
class AnalysisConfig:
    """Metric choices (the paper's code and text differ on some; see README)."""

    iqr_factor: float = 1.5
    """IQR outlier multiplier: paper text 1.5, official code 2.0; 0 disables the filter."""
    fit_points: Literal["grid", "all"] = "grid"
    """``grid``: fit retainability at the adaptive schedule's log-spaced steps (works for both
    schedules and gives identical numbers); ``all``: every t (paper code; needs ``every``)."""


@dataclass(frozen=True)
class Config:
    """Everything that defines one pipeline run."""

    synth: SynthConfig = field(default_factory=SynthConfig)
    corpus: CorpusConfig = field(default_factory=CorpusConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    pretrain: PretrainConfig = field(default_factory=PretrainConfig)
    inject: InjectConfig = field(default_factory=InjectConfig)
    analysis: AnalysisConfig = field(default_factory=AnalysisConfig)

    def validate(self) -> Config:
        for group in dataclasses.fields(self):
            _check_choices(getattr(self, group.name), group.name)
        s, m, p, i = self.synth, self.model, self.pretrain, self.inject
        if s.n_items < 3 or s.n_items % 3:
            raise DataError(f"synth.n_items must be a positive multiple of 3 (got {s.n_items})")
        if m.d_model % m.n_heads:
            raise DataError(
                f"model.d_model {m.d_model} is not divisible by model.n_heads {m.n_heads}"
            )
        if m.seq_len < 16:
            raise DataError(f"model.seq_len must be at least 16 (got {m.seq_len})")
        if p.steps < 1 or p.batch_size < 1 or i.batch_size < 1:
            raise DataError(
                "pretrain.steps, pretrain.batch_size and inject.batch_size must be >= 1"
            )
        if not p.stages or any(not 0 < x <= p.steps for x in p.stages):
            raise DataError(f"pretrain.stages must lie in 1..pretrain.steps (got {p.stages})")
        if i.window < 1 or i.inject_every < 1 or i.n_injections < 1:
            raise DataError(
                "inject.window, inject.inject_every and inject.n_injections must be >= 1"
            )
        last = (i.n_injections - 1) * i.inject_every
        if last + i.window >= i.total_steps:
            raise DataError(
                f"inject.total_steps {i.total_steps} leaves no room after the last injection "
                f"(step {last}) and its {i.window}-step window"
            )
        if not 0 < self.corpus.stream_fraction < 1:
            raise DataError("corpus.stream_fraction must be in (0, 1)")
        if self.analysis.iqr_factor < 0:
            raise DataError("analysis.iqr_factor must be >= 0")
        return self

    def replace(self, **changes) -> Config:
        """A copy with dotted-path changes, e.g. ``replace(**{"inject.batch_size": 4})``."""
        cfg = self
        for path, value in changes.items():
            cfg = replace_dotted(cfg, path, value)
        return cfg

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> Config:
        kwargs = {}
        for f in dataclasses.fields(cls):
            sub_cls = typing.get_type_hints(cls)[f.name]
            values = dict(data.get(f.name, {}))
            for sf in dataclasses.fields(sub_cls):
                if isinstance(values.get(sf.name), list):
                    values[sf.name] = tuple(values[sf.name])
            kwargs[f.name] = sub_cls(**{k: v for k, v in values.items() if k in _names(sub_cls)})
        return cls(**kwargs)


def _names(cls) -> set[str]:
    return {f.name for f in dataclasses.fields(cls)}


def _check_choices(obj, group: str) -> None:
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
    # Well under 2 minutes on 2 cores, whole pipeline.
    "smoke": {
        "synth.n_items": 9,
        "corpus.n_docs": 600,
        "model.vocab_size": 512,
        "model.d_model": 32,
        "model.n_layers": 1,
        "model.ffn": 64,
        "model.seq_len": 256,
        "pretrain.steps": 60,
        "pretrain.batch_size": 8,
        "pretrain.warmup": 10,
        "pretrain.stages": (20, 40, 60),
        "inject.total_steps": 60,
        "inject.inject_every": 6,
        "inject.n_injections": 4,
        "inject.window": 3,
        "inject.batch_size": 12,
        "inject.log_points": 6,
        "inject.checkpoint_every": 20,
    },
    # The README numbers (the paper's schedule / 10, tiny model, 30 passages).
    "default": {},
    # A GPU-sized run with the paper's own schedule and 120 passages.
    "gpu": {
        "synth.n_items": 120,
        "synth.n_spares": 10,
        "corpus.n_docs": 200000,
        "model.vocab_size": 8192,
        "model.d_model": 512,
        "model.n_layers": 8,
        "model.n_heads": 8,
        "model.ffn": 1376,
        "model.seq_len": 512,
        "pretrain.steps": 20000,
        "pretrain.batch_size": 256,
        "pretrain.lr": 1e-3,
        "pretrain.warmup": 1000,
        "pretrain.stages": (4000, 10000, 20000),
        "inject.total_steps": 2500,
        "inject.inject_every": 100,
        "inject.window": 50,
        "inject.batch_size": 256,
        "inject.checkpoint_every": 250,
        "inject.log_points": 40,
    },
}


def preset(name: str) -> Config:
    """The base config of a preset (``smoke``, ``default`` or ``gpu``)."""
    if name not in PRESETS:
        raise DataError(f"--preset must be one of {', '.join(PRESETS)} (got {name!r})")
    return Config().replace(**PRESETS[name])
