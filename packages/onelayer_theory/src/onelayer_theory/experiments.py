"""The sweeps: each claim of the paper as a grid of config changes x seeds.

Every (grid point, seed) becomes a :class:`RunConfig` (the seed seeds both the world
and the initialisation); :func:`build_runs` validates them all before anything runs.
How they are trained is :mod:`onelayer_theory.train.sweep`. Nothing here imports torch.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from labcore.config import check_choice
from onelayer_theory.config import RunConfig, apply_changes


@dataclass(frozen=True)
class Point:
    """One grid point: the values written to the results table and the config changes they mean."""

    labels: dict[str, Any]
    changes: dict[str, Any]
    """Dotted config keys; a callable value is called with the config of the other changes."""


@dataclass(frozen=True)
class Experiment:
    name: str
    variable: str
    claim: str
    grid: Callable[[str], list[Point]]
    """Grid points for a preset name."""
    series: str | None = None
    """A second column that splits the plot into several curves."""

    @property
    def group_by(self) -> list[str]:
        """The columns of a results table that identify a grid point (series first)."""
        return ([self.series] if self.series else []) + [self.variable]

    @property
    def columns(self) -> list[str]:
        """The swept columns of ``results.csv`` (variable first)."""
        return [self.variable] + ([self.series] if self.series else [])


def _coverage(preset_name: str) -> list[Point]:
    values = [0.25, 0.5, 1.0] if preset_name == "smoke" else [1 / 16, 1 / 8, 1 / 4, 1 / 2, 1.0]
    return [Point({"coverage": c}, {"data.coverage": c}) for c in values]


def _multiplicity(preset_name: str) -> list[Point]:
    # Statements per fact, up to the number of templates (beyond it they repeat).
    values = [1, 2] if preset_name == "smoke" else [1, 2, 3, 4]
    return [
        Point({"multiplicity": k}, {"data.multiplicity": k, "data.coverage": 0.5}) for k in values
    ]


def _universe(preset_name: str) -> list[Point]:
    # A fixed budget of covered template directions (n_relations of them) in a growing universe.
    values = [1, 2, 4] if preset_name == "smoke" else [1, 2, 4, 8]
    return [
        Point(
            {"templates_per_relation": t},
            {"data.templates_per_relation": t, "data.coverage": 1.0 / t},
        )
        for t in values
    ]


def _lora(preset_name: str) -> list[Point]:
    ranks = [0, 1, 4] if preset_name == "smoke" else [0, 1, 2, 4, 8]
    # LoRA starts from B = 0 and is usually run at a higher learning rate than full
    # fine-tuning: 10x here (full: finetune.lr as configured).
    return [
        Point({"lora_rank": r}, {"finetune.lora_rank": r, **({"finetune.lr": 3e-3} if r else {})})
        for r in ranks
    ]


def _lr_schedule(preset_name: str) -> list[Point]:
    return [
        Point({"schedule": s}, {"finetune.schedule": s, "data.coverage": 0.5})
        for s in ("constant", "cosine", "step")
    ]


#: Pre-training rates tried for each GPT-2 depth model; each keeps the one with the lowest
#: pre-training loss (the one-layer model's 1e-2 is too high for GPT-2).
DEPTH_PRETRAIN_LRS = (1e-3, 3e-3, 1e-2)
#: ...measured after this fraction of pre-training; then only the chosen rate trains on. In a
#: run that trained every rate to the end, the rate with the lowest mean training loss at 25%
#: of the steps was also the lowest at the end, at every depth.
DEPTH_LR_PILOT = 0.25
#: Fine-tuning rates tried in the ``depth`` and ``design`` experiments; each run keeps the one
#: with the best accuracy on its fine-tuning pairs (nothing of the held-out subjects is seen).
FINETUNE_LR_GRID = (1e-4, 3e-4, 1e-3)


def _depth(preset_name: str) -> list[Point]:
    layers = [1, 2] if preset_name == "smoke" else [1, 2, 4]
    low = 0.25 if preset_name == "smoke" else 1 / 16
    return [
        Point(
            {"n_layers": n, "coverage": c},
            {
                "model.arch": "gpt2",
                "model.n_layers": n,
                "model.activation": "gelu",
                "data.coverage": c,
                "pretrain.lr_grid": DEPTH_PRETRAIN_LRS,
                "pretrain.lr_pilot": DEPTH_LR_PILOT,
                "finetune.lr_grid": FINETUNE_LR_GRID,
            },
        )
        for n in layers
        for c in (low, 1.0)
    ]


def _orthonormal_width(cfg: RunConfig) -> int:
    """The smallest multiple of 64 that fits orthonormal token and position embeddings."""
    need = cfg.data.vocab_size + cfg.data.max_len
    return -(-need // 64) * 64


#: The design variants of the ``design`` experiment: what each changes from the default model.
DESIGNS: dict[str, dict[str, Any]] = {
    "default": {},
    "direct_answer": {"data.qa_format": "direct"},
    "heads_2": {"model.n_heads": 2},
    "heads_4": {"model.n_heads": 4},
    "replay": {"finetune.replay_batch": 32},
    "stylised": {
        "model.embeddings": "orthonormal",
        "model.d_model": _orthonormal_width,
        "pretrain.loss_on": "answers",
    },
}


def _design(preset_name: str) -> list[Point]:
    low = 0.25 if preset_name == "smoke" else 1 / 16
    return [
        Point(
            {"design": name, "coverage": c},
            {**changes, "data.coverage": c, "finetune.lr_grid": FINETUNE_LR_GRID},
        )
        for name, changes in DESIGNS.items()
        for c in (low, 1.0)
    ]


EXPERIMENTS = {
    e.name: e
    for e in [
        Experiment(
            "coverage",
            "coverage",
            "extraction improves with fine-tuning coverage; too little -> stored but inaccessible",
            _coverage,
        ),
        Experiment(
            "multiplicity",
            "multiplicity",
            "extraction improves with pre-training multiplicity",
            _multiplicity,
        ),
        Experiment(
            "universe",
            "templates_per_relation",
            "extraction gets harder as the template universe grows",
            _universe,
        ),
        Experiment(
            "lora",
            "lora_rank",
            "low-rank fine-tuning extracts like full fine-tuning (0 = full)",
            _lora,
        ),
        Experiment(
            "lr-schedule",
            "schedule",
            "the fine-tuning learning-rate schedule matters",
            _lr_schedule,
        ),
        Experiment(
            "design",
            "design",
            "which design choices limit extraction (answer format, heads, replay, stylised model)",
            _design,
            series="coverage",
        ),
        Experiment(
            "depth",
            "n_layers",
            "which trends survive in 1-4 layer GPT-2 models",
            _depth,
            series="coverage",
        ),
    ]
}


def get_experiment(name: str) -> Experiment:
    """The experiment called ``name``; anything else is refused naming the closest one."""
    check_choice("--experiment", name, EXPERIMENTS)
    return EXPERIMENTS[name]


def build_runs(
    experiment: Experiment, base: RunConfig, preset_name: str, seeds: Sequence[int]
) -> list[tuple[dict, RunConfig]]:
    """Every (labels, config) of a sweep from the ``base`` config, validated before anything runs.

    The grid depends on the preset name (``smoke`` sweeps fewer points).
    """
    runs = []
    for point in experiment.grid(preset_name):
        for seed in seeds:
            changes = {**point.changes, "seed": seed, "data.seed": seed}
            fixed = {k: v for k, v in changes.items() if not callable(v)}
            cfg = apply_changes(base, fixed)
            # A callable change is computed from the rest of the config (e.g. a width that
            # must fit the world's vocabulary).
            derived = {k: v(cfg) for k, v in changes.items() if callable(v)}
            cfg = apply_changes(cfg, derived).validate()
            runs.append(({**point.labels, "seed": seed}, cfg))
    return runs
