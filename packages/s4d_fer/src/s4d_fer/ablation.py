"""The five-configuration ablation on the synthetic benchmark, over seeds.

Pre-trained encoders are shared: per seed one video-only MAE and one dual MAE are
trained and every fine-tuning configuration that needs them starts from them.
"""

from __future__ import annotations

import csv
import shutil
import statistics
from pathlib import Path

from labcore.io import atomic_path, write_text_atomic
from s4d_fer.config import RunConfig
from s4d_fer.train.pipeline import log, run_pipeline

#: name -> (pre-training modalities, fine-tuning tasks, MoAE experts or None = config default)
CONFIGS: dict[str, tuple[str, str, bool]] = {
    "video-only scratch": ("none", "video", False),
    "video MAE -> video FT": ("video", "video", False),
    "dual MAE -> video FT": ("both", "video", False),
    "dual MAE -> multi-task, no MoAE": ("both", "both", False),
    "dual MAE -> multi-task + MoAE (S4D)": ("both", "both", True),
}


def _slug(name: str) -> str:
    return "".join(c if c.isalnum() else "-" for c in name.lower()).strip("-").replace("--", "-")


def run_ablation(base: RunConfig, seeds: list[int], out: Path) -> list[dict]:
    """Run every configuration for every seed; write ``out/results.csv`` and ``out/table.md``."""
    rows = []
    for seed in seeds:
        pretrained: dict[str, Path] = {}
        for name, (modalities, tasks, moae) in CONFIGS.items():
            run_name = f"{base.name}/seed{seed}/{_slug(name)}"
            cfg = base.replace(
                **{
                    "name": run_name,
                    "seed": seed,
                    "pretrain.modalities": modalities,
                    "finetune.tasks": tasks,
                    "model.moe_experts": base.model.moe_experts if moae else 0,
                }
            )
            # Reuse the encoder pre-trained for an earlier configuration of this seed.
            enc = cfg.run_dir / "pretrain" / "encoder.pt"
            if modalities in pretrained and not enc.exists():
                enc.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(pretrained[modalities], enc)
            log(f"ablation: seed {seed}: {name}")
            metrics = run_pipeline(cfg)
            if modalities != "none":
                pretrained[modalities] = enc
            rows.append(
                {
                    "config": name,
                    "seed": seed,
                    "war": metrics["war"],
                    "uar": metrics["uar"],
                    "image_war": (metrics.get("image") or {}).get("war"),
                    "best_val_war": metrics.get("best_val_war"),
                }
            )
            _write(rows, out)  # after every run, so a partial ablation is readable
    return rows


def _write(rows: list[dict], out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    with (
        atomic_path(out / "results.csv") as tmp,
        open(tmp, "w", newline="", encoding="utf-8") as fh,
    ):
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    write_text_atomic(out / "table.md", markdown_table(rows))


def _mean_std(values: list[float]) -> str:
    m = 100 * statistics.fmean(values)
    s = 100 * statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{m:.1f} ± {s:.1f}"


def markdown_table(rows: list[dict]) -> str:
    """Mean ± std over seeds (percent) of WAR and UAR per configuration."""
    lines = ["| configuration | seeds | WAR (%) | UAR (%) |", "|---|---|---|---|"]
    for name in CONFIGS:
        r = [x for x in rows if x["config"] == name]
        if r:
            lines.append(
                f"| {name} | {len(r)} | {_mean_std([x['war'] for x in r])} | {_mean_std([x['uar'] for x in r])} |"
            )
    return "\n".join(lines) + "\n"
