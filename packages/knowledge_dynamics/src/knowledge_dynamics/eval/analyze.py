"""Per-run analysis: metrics.json (scenario -> probe type) and plots from a run's probe log."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from knowledge_dynamics.config import AnalysisConfig
from knowledge_dynamics.data.knowledge import PROBE_TYPES
from knowledge_dynamics.eval.metrics import (
    Trajectory,
    effectivity,
    filtered_mean,
    fit_log_decay,
    mean_retention_all,
    mean_retention_grid,
)
from knowledge_dynamics.eval.probe_log import read_probe_log
from knowledge_dynamics.train.injection import SCENARIOS
from knowledge_dynamics.train.schedule import retention_grid
from labcore.errors import DataError
from labcore.io import read_json, write_json

METRIC_KEYS = ("effectivity", "decay_constant", "r2", "learnability_threshold")
#: where an injection run keeps its sham control (``runner.SHAM_DIR``)
SHAM_DIR = "sham"


def _sham_trajectory(run: Path, measure: str, steps: np.ndarray, n_probes: int):
    """The sham control's trajectory of the same probes at the same steps, or None."""
    from knowledge_dynamics.eval.probe_log import PROBE_LOG

    if not (run / SHAM_DIR / PROBE_LOG).is_file():
        return None
    log = read_probe_log(run / SHAM_DIR)
    if log["steps"].tolist() != steps.tolist() or log[measure].shape[1] != n_probes:
        raise DataError(f"{run / SHAM_DIR}: its probe log does not match the run's (steps/probes)")
    return Trajectory(log["steps"], log[measure])


def step_noise(traj: Trajectory, injections: list[int], window: int) -> float:
    """Std of one probe's change over one update, at plain steps (outside every acquisition
    window): the noise a single probe value carries from step to step."""
    busy = {t for t_i in injections for t in range(t_i, t_i + window + 1)}
    diffs = [
        traj.at(s + 1) - traj.at(s)
        for s in traj.steps.tolist()
        if s + 1 in traj.index and s not in busy and s + 1 not in busy
    ]
    return float(np.std(np.concatenate(diffs))) if diffs else float("nan")


def _clean(x):
    if isinstance(x, float) and not math.isfinite(x):
        return None
    if isinstance(x, dict):
        return {k: _clean(v) for k, v in x.items()}
    if isinstance(x, list):
        return [_clean(v) for v in x]
    return x


def compute_metrics(run_dir: str | Path, cfg: AnalysisConfig | None = None) -> dict:
    """All metrics of one run, nested scenario -> probe type."""
    cfg = cfg or AnalysisConfig()
    measure = cfg.measure
    run = Path(run_dir)
    plan = read_json(run / "plan.json")
    meta = read_json(run / "probes.json")
    log = read_probe_log(run)
    traj_all = Trajectory(log["steps"], log[measure])
    window, total = plan["window"], plan["total_steps"]
    tokens_per_step = plan["tokens_per_step"]
    item = np.array(meta["item"])
    ptype = np.array(meta["type"])
    out: dict = {k: {} for k in METRIC_KEYS}
    sham = _sham_trajectory(run, measure, traj_all.steps, traj_all.values.shape[1])
    if sham is not None:
        out["effectivity_item_specific"] = {}
        out["effectivity_sham"] = {}
    extra: dict = {
        "learnability_threshold_log10_tokens": {},
        "decay_constant_stderr": {},
        "effectivity_by_injection": {},
        "retention_curve": {},
        "n_probes": {},
    }
    for scenario in SCENARIOS:
        items = [i for i, s in enumerate(plan["scenario"]) if s == scenario]
        if not items:
            continue
        inj = plan["item_steps"][str(items[0])]
        for key in (*out, *extra):
            (out if key in out else extra)[key][scenario] = {}
        for pt in PROBE_TYPES:
            cols = np.flatnonzero(np.isin(item, items) & (ptype == pt))
            traj = Trajectory(traj_all.steps, traj_all.values[:, cols])
            eff = effectivity(traj, inj, window)
            out["effectivity"][scenario][pt] = filtered_mean(eff.ravel(), cfg.iqr_factor)
            extra["effectivity_by_injection"][scenario][pt] = [
                filtered_mean(row, cfg.iqr_factor) for row in eff
            ]
            if sham is not None:
                # the same probes, steps and windows with another set's passages injected
                eff_sham = effectivity(Trajectory(sham.steps, sham.values[:, cols]), inj, window)
                out["effectivity_sham"][scenario][pt] = filtered_mean(
                    eff_sham.ravel(), cfg.iqr_factor
                )
                out["effectivity_item_specific"][scenario][pt] = filtered_mean(
                    (eff - eff_sham).ravel(), cfg.iqr_factor
                )
            if cfg.fit_points == "all":
                x, y = mean_retention_all(traj, inj, window, total, cfg.iqr_factor)
            else:
                grid = retention_grid(max(inj), window, total, plan["log_points"])
                x, y = mean_retention_grid(traj, inj, window, grid, cfg.iqr_factor)
            fit = fit_log_decay(x, y)
            out["decay_constant"][scenario][pt] = fit.decay_constant
            out["r2"][scenario][pt] = fit.r2
            out["learnability_threshold"][scenario][pt] = fit.x_intercept
            extra["learnability_threshold_log10_tokens"][scenario][pt] = (
                fit.x_intercept + math.log10(tokens_per_step)
            )
            extra["decay_constant_stderr"][scenario][pt] = fit.slope_stderr
            extra["retention_curve"][scenario][pt] = {
                "log10_t": x.tolist(),
                "R": y.tolist(),
                "intercept": fit.intercept,
            }
            extra["n_probes"][scenario][pt] = int(cols.size)
    # Control: "once" items in the windows after the *other* injection steps, where they are not
    # injected. Their "effectivity" is what the LAM picks up from noise and from transfer of the
    # other passages; compare every effectivity with it.
    once_items = [i for i, s in enumerate(plan["scenario"]) if s == "once"]
    others = sorted(
        {
            t
            for i, s in enumerate(plan["scenario"])
            if s in ("paraphrase", "duplicate")
            for t in plan["item_steps"][str(i)]
        }
        - {0}
    )
    extra["control_effectivity"] = {}
    extra["control_effectivity_std"] = {}
    if once_items and others:
        for pt in PROBE_TYPES:
            cols = np.flatnonzero(np.isin(item, once_items) & (ptype == pt))
            traj = Trajectory(traj_all.steps, traj_all.values[:, cols])
            eff = effectivity(traj, others, window)
            extra["control_effectivity"][pt] = filtered_mean(eff.ravel(), cfg.iqr_factor)
            extra["control_effectivity_std"][pt] = float(np.std(eff))
    all_inj = sorted({t for v in plan["item_steps"].values() for t in v})
    extra["step_noise"] = {
        pt: step_noise(Trajectory(traj_all.steps, traj_all.values[:, ptype == pt]), all_inj, window)
        for pt in PROBE_TYPES
    }
    settings = {
        "measure": measure,
        "iqr_factor": cfg.iqr_factor,
        "fit_points": cfg.fit_points,
        "window": window,
        "sham_control": sham is not None,
        "units": {
            "effectivity": "mean target-token log-prob gain",
            "decay_constant": "R lost per decade of steps",
            "learnability_threshold": "log10 steps after the LAM where the fit reaches R=0",
        },
    }
    return _clean({**out, **extra, "settings": settings})


def analyze(run_dir: str | Path, cfg: AnalysisConfig | None = None) -> dict:
    """Write ``RUN_DIR/metrics.json`` (merged with what is there) and ``RUN_DIR/plots/*.png``."""
    from knowledge_dynamics.eval.plots import plot_run

    cfg = cfg or AnalysisConfig()
    metrics = compute_metrics(run_dir, cfg)
    path = Path(run_dir) / "metrics.json"
    old = read_json(path) if path.is_file() else {}
    write_json(path, {**old, **metrics})
    plot_run(run_dir, metrics, cfg.measure)
    return metrics
