"""Training and evaluation configuration: dataclasses with presets and dotted ``--set`` overrides."""

from __future__ import annotations

import dataclasses
import typing
from dataclasses import dataclass, field

from labcore.errors import DataError
from searcher.agent import AgentConfig
from searcher.synth import SynthConfig


@dataclass
class SFTConfig:
    """Cold-start SFT on the expert conversations (assistant tokens only)."""

    epochs: float = 1.0
    lr: float = 5e-5
    batch_size: int = 4
    """Conversations per optimiser step (gradient accumulation, one at a time)."""
    max_length: int = 1536
    max_examples: int | None = None
    warmup_steps: int = 5
    grad_clip: float = 1.0
    save_every: int = 20


@dataclass
class GRPOSettings:
    """GRPO through TRL's GRPOTrainer with our multi-turn ``rollout_func``."""

    steps: int = 6
    prompts_per_step: int = 4
    group_size: int = 4
    lr: float = 2e-6
    beta: float = 0.001
    """KL coefficient (k3 low-variance estimator inside TRL)."""
    epsilon: float = 0.2
    temperature: float = 1.0
    open_scale: float = 0.5
    """Open-ended reward scale (0.5 in the paper, against 1.0 for closed)."""
    faithful_rewards: bool = False
    """Read answers from prompt + response and split findings on '-', as the official code."""
    save_steps: int = 5
    micro_batch: int | None = None
    """Trajectories per forward/backward pass (gradient accumulation over the step's
    ``prompts_per_step * group_size``); None = all at once. Long multi-turn completions
    with a 49k vocabulary need a small value on a CPU: 8 x 1.8k tokens ran out of 23 GB."""
    open_fraction: float = 0.5
    """Share of open-ended prompts in the RL data (the paper has about 44%)."""


@dataclass
class TrainConfig:
    """Everything ``searcher train`` runs."""

    model: str = "smollm2-135m-instruct"
    index_kind: str = "bm25"
    seed: int = 0
    synth: SynthConfig = field(default_factory=SynthConfig)
    sft: SFTConfig = field(default_factory=SFTConfig)
    grpo: GRPOSettings = field(default_factory=GRPOSettings)
    agent: AgentConfig = field(
        default_factory=lambda: AgentConfig(max_new_tokens=96, max_obs_tokens=320)
    )
    eval_closed: int = 40
    eval_open: int = 8

    def validate(self) -> None:
        if self.index_kind not in ("bm25", "dense", "hybrid"):
            raise DataError(f"index_kind must be bm25, dense or hybrid (got {self.index_kind!r})")
        if self.grpo.group_size < 2:
            raise DataError("grpo.group_size must be at least 2 (advantages are group-normalised)")
        if self.grpo.prompts_per_step < 1 or self.grpo.steps < 0:
            raise DataError("grpo.prompts_per_step must be >= 1 and grpo.steps >= 0")
        if self.agent.max_turns < 0 or self.agent.max_new_tokens < 1:
            raise DataError("agent.max_turns must be >= 0 and agent.max_new_tokens >= 1")
        n = self.grpo.prompts_per_step * self.grpo.group_size
        if self.grpo.micro_batch is not None and (
            self.grpo.micro_batch < 1 or n % self.grpo.micro_batch
        ):
            raise DataError(f"grpo.micro_batch must divide prompts_per_step * group_size = {n}")
        if self.sft.batch_size < 1 or self.sft.lr <= 0:
            raise DataError("sft.batch_size must be >= 1 and sft.lr > 0")


def preset(name: str) -> TrainConfig:
    """``smoke`` (a few minutes on a CPU), ``cpu``/``default`` (the README run), ``gpu``."""
    if name == "smoke":
        return TrainConfig(
            sft=SFTConfig(epochs=1, max_examples=6, batch_size=2, max_length=768, save_every=100),
            grpo=GRPOSettings(steps=1, prompts_per_step=2, group_size=2, save_steps=100),
            agent=AgentConfig(max_turns=2, max_new_tokens=32, max_obs_tokens=160),
            eval_closed=4,
            eval_open=2,
        )
    if name in ("cpu", "default"):
        return TrainConfig(grpo=GRPOSettings(micro_batch=2))
    if name == "gpu":
        return TrainConfig(
            model="Qwen/Qwen2.5-3B-Instruct",
            index_kind="dense",
            sft=SFTConfig(epochs=2, lr=1e-5, batch_size=16, max_length=10240),
            grpo=GRPOSettings(steps=151, prompts_per_step=32, group_size=8, lr=1e-6, save_steps=50),
            agent=AgentConfig(max_new_tokens=2048, max_obs_tokens=2048, batch_size=256),
            eval_closed=60,
            eval_open=8,
        )
    raise DataError(f"unknown preset {name!r}: choose smoke, cpu, default or gpu")


def apply_overrides(cfg, overrides: list[str]):
    """Apply ``section.field=value`` strings (values parsed by the field's type)."""
    for item in overrides:
        if "=" not in item:
            raise DataError(f"--set {item!r}: expected section.field=value")
        path, value = item.split("=", 1)
        target = cfg
        parts = path.split(".")
        for p in parts[:-1]:
            if not hasattr(target, p):
                raise DataError(f"--set {item!r}: no section {p!r}")
            target = getattr(target, p)
        name = parts[-1]
        fields = {f.name: f for f in dataclasses.fields(target)}
        if name not in fields:
            raise DataError(f"--set {item!r}: no option {name!r}")
        hints = typing.get_type_hints(type(target))
        setattr(target, name, _parse(value, hints[name], item))
    return cfg


def _parse(value: str, hint, item: str):
    args = typing.get_args(hint)
    if value.lower() in ("none", "null") and type(None) in args:
        return None
    base = next((a for a in args if a is not type(None)), hint) if args else hint
    try:
        if base is bool:
            if value.lower() not in ("true", "false", "1", "0"):
                raise ValueError
            return value.lower() in ("true", "1")
        return base(value)
    except (TypeError, ValueError):
        raise DataError(
            f"--set {item!r}: cannot read {value!r} as {getattr(base, '__name__', base)}"
        ) from None
