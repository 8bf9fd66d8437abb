"""The five-configuration ablation on the synthetic benchmark, over seeds.

``OUT/`` is a run folder (command ``ablation``); every configuration of every seed is a
pipeline run folder ``OUT/seed{s}/{slug}/`` that ``report`` reads. Pre-trained encoders
are shared: per seed one video-only and one dual MAE are trained (in the first
configuration that needs them) and the later configurations fine-tune from them.
"""

from __future__ import annotations

import copy
from pathlib import Path

from labcore.config import replace_dotted
from labcore.rundir import RunDir
from s4d_fer.config import RunConfig
from s4d_fer.train.pipeline import run_pipeline

#: name -> (pre-training modalities, fine-tuning tasks, with MoAE)
CONFIGS: dict[str, tuple[str, str, bool]] = {
    "video-only scratch": ("none", "video", False),
    "video MAE -> video FT": ("video", "video", False),
    "dual MAE -> video FT": ("both", "video", False),
    "dual MAE -> multi-task, no MoAE": ("both", "both", False),
    "dual MAE -> multi-task + MoAE (S4D)": ("both", "both", True),
}


def slug(name: str) -> str:
    return "".join(c if c.isalnum() else "-" for c in name.lower()).strip("-").replace("--", "-")


def _set(data: dict, dotted: str, value) -> None:
    *head, last = dotted.split(".")
    for key in head:
        data = data.setdefault(key, {})
    data[last] = value


def run_ablation(
    base: RunConfig, seeds: list[int], run: RunDir, resolved: dict, device: str = "cpu"
) -> list[dict]:
    """Run every configuration for every seed below ``run``; returns one row per run."""
    rows = []
    for seed in seeds:
        encoders: dict[str, Path] = {}
        for name, (modalities, tasks, moae) in CONFIGS.items():
            changes = {
                "seed": seed,
                "pretrain.modalities": modalities,
                "finetune.tasks": tasks,
                "model.moe_experts": base.model.moe_experts if moae else 0,
            }
            cfg = base
            sub_resolved = copy.deepcopy({k: v for k, v in resolved.items() if k != "seeds"})
            for key, value in changes.items():
                cfg = replace_dotted(cfg, key, value)
                _set(sub_resolved, key, value)
            folder = run.path / f"seed{seed}" / slug(name)
            run.print(f"ablation: seed {seed}: {name} -> {folder}")
            metrics = run_pipeline(
                cfg,
                folder,
                resolved=sub_resolved,
                device=device,
                encoder=encoders.get(modalities),
            )
            if modalities != "none" and modalities not in encoders:
                encoders[modalities] = folder / "pretrain" / "encoder.pt"
            row = {
                "config": name,
                "seed": seed,
                "war": metrics["war"],
                "uar": metrics["uar"],
                "image_war": (metrics.get("image") or {}).get("war"),
            }
            run.log(len(rows), **row)
            rows.append(row)
    return rows
