"""Configuration dataclasses, the command configs and presets (``smoke``, ``default``, ``gpu``).

Every field has a default that runs and a docstring that ``--help`` shows; every field is an
option (``--inject.window 5``, ``--analysis.measure first``). ``validate()`` checks values,
stage names, condition names and input files (the knowledge file is parsed) and raises
:class:`labcore.errors.DataError` naming the option, so the CLI refuses bad input with one
line and exit code 2 before anything is written or torch is imported.

The paper's schedule is 1000 injection steps (one injection every 100 steps, a 50-step
acquisition window) and 1500 plain steps; the CPU presets keep those ratios and scale all
step counts down by a constant factor (see README, "Deviations").
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from labcore.config import check_choice, check_choices, replace_dotted
from labcore.errors import DataError

#: the bundled SmolLM2 (``labcore.models.load_causal_lm``); ``smollm2`` is its short name
SMOLLM2 = "smollm2-135m-instruct"
#: a stage folder's optimizer + schedule state (next to the HF model and tokenizer)
TRAINER_STATE = "trainer_state.pt"
STAGE_NAMES = ("early", "mid", "late")


def stage_names(stages: tuple[int, ...]) -> dict[int, str]:
    """``{step: name}`` of the stage checkpoints: early / mid / late for three, else stageI."""
    ordered = sorted(stages)
    return {s: STAGE_NAMES[i] if len(ordered) == 3 else f"stage{i}" for i, s in enumerate(ordered)}


@dataclass(frozen=True)
class SynthConfig:
    """The embedded Fictional Knowledge generator."""

    n_items: int = 12
    """Injected passages; split into thirds: paraphrase, duplicate, once (paper: 120). Their
    tokens over ``inject.batch_size`` rows set the passages' share of an injection step."""
    n_spares: int = 0
    """Extra items scored but never injected (paper: 10)."""
    n_paraphrases: int = 9
    """Paraphrased passages per item (the paraphrase scenario uses inject.n_injections - 1)."""


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
    """Seed of the synthetic world and of the fixed document order."""


@dataclass(frozen=True)
class ModelConfig:
    """``tiny``: a small Llama-style model trained from scratch; ``smollm2``: the bundled SmolLM2-135M."""

    preset: Literal["tiny", "smollm2"] = "tiny"
    """Model family: ``tiny`` is pretrained from scratch; ``smollm2`` is the bundled SmolLM2-135M,
    whose pretraining continues on the background corpus (its own tokenizer; the tiny-only
    fields below are ignored)."""
    vocab_size: int = 1024
    """Size of the byte-level BPE tokenizer trained on the background corpus (tiny only)."""
    d_model: int = 64
    """Hidden width (tiny)."""
    n_layers: int = 2
    """Transformer blocks (tiny)."""
    n_heads: int = 4
    """Attention heads (tiny; must divide d_model)."""
    ffn: int = 176
    """SwiGLU hidden width (tiny)."""
    seq_len: int = 256
    """Tokens per row of the packed stream."""


@dataclass(frozen=True)
class PretrainConfig:
    """From-scratch pretraining of the tiny model with stage checkpoints."""

    steps: int = 600
    """Pretraining updates."""
    batch_size: int = 8
    """Rows per update."""
    lr: float = 3e-3
    """Peak learning rate."""
    warmup: int = 50
    """Linear warm-up steps."""
    alpha_f: float = 0.1
    """The LR decays linearly from ``lr`` to ``alpha_f * lr`` at ``steps`` (OLMo-style), then stays."""
    weight_decay: float = 0.1
    """AdamW weight decay."""
    stages: tuple[int, ...] = (100, 250, 600)
    """Steps at which early / mid / late checkpoints (with optimizer state) are saved."""
    seed: int = 0
    """Seed of the model initialisation and of the row order."""


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
    batch_size: int = 256
    """Global batch in rows (sequences of ``model.seq_len`` tokens). The passages are packed into
    these rows, so the batch sets their share of an injection step's tokens (paper: ~1.4% at
    2048 rows of 2048 tokens; ``plan.json`` records the share of every injection step)."""
    overflow: Literal["error", "extend"] = "error"
    """When the passages of one step do not fit into the batch's rows: refuse (default), or add
    rows that hold only passages (larger injection steps; the share is then far above the paper's)."""
    lr: float = 0.0
    """0 = the checkpoint's LR at its step (see ``lr_schedule``); > 0 = this constant LR."""
    lr_schedule: Literal["constant", "continue"] = "constant"
    """``constant``: the checkpoint's LR held flat during injection (OLMo's LR is flat over the
    paper's window); ``continue``: keep decaying along the checkpoint's schedule."""
    lr_scale: float = 1.0
    """Multiplies the LR (an extension: the LR experiment)."""
    reset_optimizer: bool = False
    """Re-initialise AdamW state (paper's batch-size experiment) instead of loading it."""
    moment_warmup: int = 20
    """When AdamW starts without state (a model with no optimizer state, or ``reset_optimizer``):
    this many steps at LR 0 on stream rows the run does not use fill the moments before step 0,
    so step 0 (an injection) is not a sign-sized update. 0 = none (the paper's plain reset)."""
    betas: tuple[float, float] = (0.9, 0.95)
    """AdamW betas (beta1 is rescaled with the window, see ``scale_beta1``)."""
    scale_beta1: bool = True
    """Scale beta1 with the acquisition window: beta1 ** (50 / window), so the momentum left at
    the end of the window is the paper's (0.9^50 = 0.5% at window 50). Off: beta1 as given (with
    a short window one injection's momentum is still active at the next)."""
    weight_decay: float = 0.1
    """AdamW weight decay."""
    grad_clip: float = 1.0
    """Gradient-norm clip (0 = off)."""
    control: Literal["sham", "none"] = "sham"
    """``sham``: also run a sham injection (same checkpoint, stream and steps, another knowledge
    set's passages, the same probes) in ``RUN/sham/``; the analysis reports item-specific
    effectivity = gain - sham gain next to the raw one."""
    precision: Literal["fp32", "bf16"] = "fp32"
    """``bf16``: bf16 autocast of the forward passes (training and probes); CUDA only."""
    schedule: Literal["every", "adaptive"] = "every"
    """``every`` step (paper) or ``adaptive``: dense in each acquisition window, log-spaced after
    (needs ``analysis.fit_points=grid``)."""
    log_points: int = 12
    """Log-spaced steps after the last acquisition window of each scenario (adaptive schedule and
    ``analysis.fit_points=grid``)."""
    checkpoint_every: int = 50
    """Steps between resume checkpoints (a kill loses at most this many)."""
    probe_batch_size: int = 128
    """Probes per scoring forward pass."""


#: the paper's acquisition window and beta1: 0.9 ** 50 of a gradient's momentum is left after it
PAPER_WINDOW = 50


def effective_betas(ic: InjectConfig) -> tuple[float, float]:
    """AdamW betas of an injection run: beta1 ** (50 / window) when ``scale_beta1``."""
    b1, b2 = ic.betas
    return (b1 ** (PAPER_WINDOW / ic.window) if ic.scale_beta1 else b1, b2)


@dataclass(frozen=True)
class AnalysisConfig:
    """Metric choices (the paper's code and text differ on some; see README)."""

    iqr_factor: float = 1.5
    """IQR outlier multiplier: paper text 1.5, official code 2.0; 0 disables the filter."""
    fit_points: Literal["all", "grid"] = "all"
    """``all``: fit mean R at every t after the LAM, each probe aligned at its own LAM (the
    paper's code; needs ``inject.schedule=every``); ``grid``: at ``inject.log_points`` log-spaced
    steps (works for both schedules and gives identical numbers)."""
    measure: Literal["target", "first", "full"] = "target"
    """Probe value analysed: mean log-prob of the target span (paper), its first token, or the
    whole probe."""


@dataclass(frozen=True)
class Config:
    """Everything that defines one pipeline run."""

    synth: SynthConfig = field(default_factory=SynthConfig)
    corpus: CorpusConfig = field(default_factory=CorpusConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    pretrain: PretrainConfig = field(default_factory=PretrainConfig)
    inject: InjectConfig = field(default_factory=InjectConfig)
    analysis: AnalysisConfig = field(default_factory=AnalysisConfig)
    seed: int = 0
    """Seed of the synthesized knowledge set (a new set of fictional passages) and of the run."""

    def validate(self) -> Config:
        check_choices(self)
        s, m, p, i = self.synth, self.model, self.pretrain, self.inject
        if s.n_items < 3 or s.n_items % 3:
            raise DataError(f"synth.n_items must be a positive multiple of 3 (got {s.n_items})")
        if s.n_spares < 0 or s.n_paraphrases < 0:
            raise DataError("synth.n_spares and synth.n_paraphrases must be >= 0")
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
        if len(set(p.stages)) != len(p.stages):
            raise DataError(f"pretrain.stages must be distinct (got {p.stages})")
        if i.window < 1 or i.inject_every < 1 or i.n_injections < 1:
            raise DataError(
                "inject.window, inject.inject_every and inject.n_injections must be >= 1"
            )
        if i.checkpoint_every < 1 or i.probe_batch_size < 1 or i.log_points < 1:
            raise DataError(
                "inject.checkpoint_every, inject.probe_batch_size and inject.log_points must be >= 1"
            )
        last = (i.n_injections - 1) * i.inject_every
        if last + i.window >= i.total_steps:
            raise DataError(
                f"inject.total_steps {i.total_steps} leaves no room after the last injection "
                f"(step {last}) and its {i.window}-step window"
            )
        if i.moment_warmup < 0:
            raise DataError(f"inject.moment_warmup must be >= 0 (got {i.moment_warmup})")
        if not all(0 <= b < 1 for b in i.betas):
            raise DataError(f"inject.betas must lie in [0, 1) (got {i.betas})")
        if i.lr < 0 or i.lr_scale <= 0:
            raise DataError("inject.lr must be >= 0 and inject.lr_scale > 0")
        if not 0 < self.corpus.stream_fraction < 1:
            raise DataError("corpus.stream_fraction must be in (0, 1)")
        _check_source(self.corpus.source)
        if self.analysis.iqr_factor < 0:
            raise DataError("analysis.iqr_factor must be >= 0")
        if self.analysis.fit_points == "all" and i.schedule != "every":
            raise DataError(
                "analysis.fit_points=all needs every step logged: set inject.schedule=every "
                "or analysis.fit_points=grid"
            )
        return self

    def replace(self, **changes) -> Config:
        """A copy with dotted-path changes, e.g. ``replace(**{"inject.batch_size": 4})``."""
        cfg = self
        for path, value in changes.items():
            cfg = replace_dotted(cfg, path, value)
        return cfg

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def base(self) -> Config:
        """The plain :class:`Config` part of a command config (drops command-only fields)."""
        names = {f.name for f in dataclasses.fields(Config)}
        return Config(**{k: getattr(self, k) for k in names})


def _check_source(source: str) -> None:
    if source == "synthetic" or source.startswith("hf:"):
        return
    if not Path(source).is_file():
        raise DataError(f"corpus.source {source!r}: file not found (or use 'synthetic')")


def check_checkpoint(spec: str) -> str:
    """``smollm2``, a stage folder, a model folder or a hub id; refuse what cannot load."""
    if not spec:
        raise DataError("--checkpoint is required (a stage folder from pretrain, or smollm2)")
    if spec in ("smollm2", SMOLLM2):
        return "smollm2"
    path = Path(spec)
    if path.is_dir():
        if not (path / "config.json").is_file():
            raise DataError(f"--checkpoint {spec}: not a model folder (no config.json)")
        return "stage" if (path / TRAINER_STATE).is_file() else "model"
    if path.exists():
        raise DataError(f"--checkpoint {spec}: is a file, expected a folder")
    if spec.startswith((".", "/", "~")) or spec.count("/") > 1:
        raise DataError(f"--checkpoint {spec!r}: no such folder")
    return "hub"


def check_knowledge(spec: str | None) -> None:
    """Parse a knowledge file (the paper's schema) now, so a bad one is refused before work."""
    if not spec or spec == "hf" or spec.startswith("hf:"):
        return
    from knowledge_dynamics.data.knowledge import load_fictional_knowledge

    items = load_fictional_knowledge(spec)
    if len(items) < 3:
        raise DataError(f"{spec}: need at least 3 items (one per scenario), got {len(items)}")


def _constant_lr_needed(cfg: Config, kind: str) -> None:
    if kind != "stage" and cfg.inject.lr == 0:
        raise DataError(
            "this checkpoint has no LR schedule state to continue; give a constant LR, "
            "e.g. --inject.lr 1e-4"
        )


@dataclass(frozen=True)
class InjectJob(Config):
    """``inject``: continued pretraining of a checkpoint with injected knowledge."""

    checkpoint: str = ""
    """A stage folder written by ``pretrain`` (model, tokenizer, AdamW state and LR schedule),
    ``smollm2`` (the bundled SmolLM2-135M; needs ``inject.lr`` > 0), or any HF causal LM
    folder / hub id."""
    knowledge: str | None = None
    """A Fictional Knowledge JSON file in the paper's schema, or ``hf[:NAME]`` for the published
    dataset through ``datasets``; default: the embedded generator makes ``synth.n_items``."""

    def validate(self) -> InjectJob:
        super().validate()
        kind = check_checkpoint(self.checkpoint)
        check_knowledge(self.knowledge)
        _constant_lr_needed(self, kind)
        return self


@dataclass(frozen=True)
class RunJob(Config):
    """``run``: pretrain (tiny) or continue pretraining (smollm2), inject into one stage, analyze."""

    stage: str = "mid"
    """Stage checkpoint to inject into: early, mid or late (stageI when pretrain.stages is not 3)."""
    knowledge: str | None = None
    """A Fictional Knowledge JSON file (paper schema) or ``hf[:NAME]``; default: synthesize."""

    def validate(self) -> RunJob:
        super().validate()
        check_choice("--stage", self.stage, stage_names(self.pretrain.stages).values())
        check_knowledge(self.knowledge)
        return self


#: name -> (stage, config overrides) of the README experiment set; ``batch_small`` is the
#: configured batch / 16 (paper: 2048 -> 128), see :func:`condition_changes`
CONDITIONS: dict[str, tuple[str, dict]] = {
    "early": ("early", {}),
    "mid": ("mid", {}),
    "late": ("late", {}),
    "batch_small": ("mid", {"inject.reset_optimizer": True}),
    "lr_low": ("mid", {"inject.lr_scale": 0.25}),
    "size_large": ("mid", {"model.d_model": 128, "model.n_layers": 4, "model.ffn": 344}),
}
#: conditions run by default (the others need ``--only``)
DEFAULT_SET = ("early", "mid", "late", "batch_small", "lr_low")
#: the paper's batch-size experiment divides the batch by 16 (2048 -> 128 rows)
SMALL_BATCH_DIVISOR = 16


def condition_changes(name: str, cfg: Config) -> tuple[str, dict]:
    """(stage, config overrides) of a condition for this base config."""
    stage, changes = CONDITIONS[name]
    if name == "batch_small":
        changes = {
            **changes,
            "inject.batch_size": max(1, cfg.inject.batch_size // SMALL_BATCH_DIVISOR),
        }
    return stage, changes


@dataclass(frozen=True)
class ExperimentsJob(Config):
    """``experiments``: every condition x seed from shared pretrained models."""

    seeds: int = 3
    """Knowledge sets per condition (seeds 0..seeds-1)."""
    only: tuple[str, ...] = ()
    """Conditions to run (default: early, mid, late, batch_small, lr_low; also size_large)."""

    def validate(self) -> ExperimentsJob:
        super().validate()
        if len(self.pretrain.stages) != 3:
            raise DataError("experiments needs three pretrain.stages (early, mid, late)")
        if self.seeds < 1:
            raise DataError(f"--seeds must be at least 1 (got {self.seeds})")
        for name in self.only:
            check_choice("--only", name, CONDITIONS)
        if self.model.preset == "smollm2" and "size_large" in self.only:
            # size_large changes the tiny model's width and depth, which SmolLM2 ignores
            raise DataError("--only size_large needs model.preset=tiny (SmolLM2 has one size)")
        return self

    def conditions(self) -> list[str]:
        return list(self.only or DEFAULT_SET)


@dataclass(frozen=True)
class SynthJob:
    """``synth``: write a Fictional Knowledge file."""

    synth: SynthConfig = field(default_factory=SynthConfig)
    seed: int = 0
    """Seed of the knowledge set (the same seed gives the same passages as a run's ``--seed``)."""

    def validate(self) -> SynthJob:
        if self.synth.n_items < 1:
            raise DataError(f"synth.n_items must be at least 1 (got {self.synth.n_items})")
        if self.synth.n_paraphrases < 0:
            raise DataError("synth.n_paraphrases must be >= 0")
        return self


@dataclass(frozen=True)
class AnalyzeJob:
    """``analyze RUN_DIR``: recompute metrics.json and plots of a finished injection run."""

    analysis: AnalysisConfig = field(default_factory=AnalysisConfig)

    def validate(self) -> AnalyzeJob:
        check_choices(self)
        if self.analysis.iqr_factor < 0:
            raise DataError("analysis.iqr_factor must be >= 0")
        return self


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
        "inject.batch_size": 128,
        "inject.log_points": 6,
        "inject.checkpoint_every": 20,
    },
    # The paper's schedule / 10, tiny model, 12 passages packed into 256 rows.
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
        "inject.batch_size": 2048,
        "inject.checkpoint_every": 250,
        "inject.log_points": 40,
    },
    # The bundled SmolLM2-135M, the whole protocol on a CPU in about half an hour: 24 steps of
    # continued pretraining on the background (stages at 8 / 16 / 24), then 30 injection
    # steps (3 injections, 5 apart, 3-step window) and their sham control, 6 passages in
    # 8 rows of 128 tokens. The passages are most of step 0's tokens (paper ~1.4%): a batch
    # that made them a small share would cost a CPU minutes per step.
    "smollm2": {
        "synth.n_items": 6,
        "corpus.n_docs": 4000,
        "model.preset": "smollm2",
        "model.seq_len": 128,
        "pretrain.steps": 24,
        "pretrain.batch_size": 8,
        "pretrain.lr": 2e-4,
        "pretrain.warmup": 4,
        "pretrain.stages": (8, 16, 24),
        "inject.total_steps": 30,
        "inject.inject_every": 5,
        "inject.n_injections": 3,
        "inject.window": 3,
        "inject.batch_size": 8,
        "inject.log_points": 8,
        "inject.checkpoint_every": 10,
    },
}


def preset(name: str) -> Config:
    """The base config of a preset (``smoke``, ``default``, ``gpu`` or ``smollm2``)."""
    check_choice("--preset", name, PRESETS)
    return Config().replace(**PRESETS[name])
