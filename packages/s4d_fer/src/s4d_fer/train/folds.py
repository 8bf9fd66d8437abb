"""Several folds one after another (DFEW / MAFW protocol), aggregated as mean ± std.

``OUT/`` is a run folder (command ``folds``) holding one pipeline run folder per fold,
``OUT/fold{k}/``; its ``metrics.json`` has the per-fold and the mean ± std WAR / UAR.
"""

from __future__ import annotations

import copy

from labcore.config import replace_dotted
from labcore.errors import DataError
from labcore.report import mean_std
from labcore.rundir import RunDir
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


def run_folds(cfg, folds: list[int], run: RunDir, resolved: dict, stage: str = "all", device="cpu"):
    """Run the pipeline per fold (run folder ``OUT/fold{k}``) and aggregate WAR / UAR."""
    per_fold = {}
    for k in folds:
        sub = copy.deepcopy(resolved)
        sub.setdefault("data", {})["fold"] = k
        metrics = run_pipeline(
            replace_dotted(cfg, "data.fold", k),
            run.path / f"fold{k}",
            stage,
            resolved=sub,
            device=device,
        )
        if "war" in metrics:
            per_fold[k] = {"war": metrics["war"], "uar": metrics["uar"]}
            run.log(k, war=metrics["war"], uar=metrics["uar"])
    summary: dict = {"folds": per_fold}
    for key in ("war", "uar"):
        values = [m[key] for m in per_fold.values()]
        if values:
            summary[key], summary[f"{key}_std"] = mean_std(values)
    return summary
