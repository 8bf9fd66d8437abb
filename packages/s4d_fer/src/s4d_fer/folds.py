"""Several folds one after another (DFEW / MAFW protocol), aggregated as mean ± std."""

from __future__ import annotations

import statistics

from labcore.errors import DataError
from labcore.io import write_json
from s4d_fer.config import RunConfig
from s4d_fer.train.pipeline import run_pipeline


def parse_folds(text: str) -> list[int]:
    """``"1,2,3"`` or ``"all"`` (1..5) -> fold numbers."""
    if text == "all":
        return [1, 2, 3, 4, 5]
    try:
        folds = [int(f) for f in text.split(",") if f.strip()]
    except ValueError:
        raise DataError(f"--folds {text!r}: expected e.g. 1,2,3 or all") from None
    if not folds or any(not 1 <= f <= 5 for f in folds):
        raise DataError(f"--folds {text!r}: folds are 1..5")
    return folds


def run_folds(cfg: RunConfig, folds: list[int], stage: str = "all") -> dict:
    """Run the pipeline per fold (run folder ``<name>/fold<k>``) and aggregate WAR / UAR."""
    per_fold = {}
    for k in folds:
        fold_cfg = cfg.replace(**{"name": f"{cfg.name}/fold{k}", "data.fold": k})
        metrics = run_pipeline(fold_cfg, stage)
        if "war" in metrics:
            per_fold[k] = {"war": metrics["war"], "uar": metrics["uar"]}
    summary: dict = {"folds": per_fold}
    for key in ("war", "uar"):
        values = [m[key] for m in per_fold.values()]
        if values:
            summary[key] = statistics.fmean(values)
            summary[f"{key}_std"] = statistics.stdev(values) if len(values) > 1 else 0.0
    write_json(cfg.run_dir / "folds.json", summary)
    return summary
