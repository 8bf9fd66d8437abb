"""Figures: log-prob trajectories around injections, retainability with fits, effectivity bars."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from knowledge_dynamics.data.knowledge import PROBE_TYPES
from knowledge_dynamics.eval.probe_log import read_probe_log
from knowledge_dynamics.train.injection import SCENARIOS
from labcore.io import read_json
from labcore.plots import save_figure

COLORS = {"memorization": "C0", "semantic": "C1", "composition": "C2"}


def save(fig: Figure, path: str | Path) -> Path:
    """Write a multi-panel figure as a PNG (labcore's Agg canvas + atomic write)."""
    return save_figure(fig, path)


def plot_run(run_dir: str | Path, metrics: dict, measure: str = "target") -> None:
    run = Path(run_dir)
    plan, meta, log = (
        read_json(run / "plan.json"),
        read_json(run / "probes.json"),
        read_probe_log(run),
    )
    item, ptype = np.array(meta["item"]), np.array(meta["type"])
    fig = Figure(figsize=(12, 3.4))
    for a, scenario in enumerate(SCENARIOS):
        ax = fig.add_subplot(1, 3, a + 1)
        items = [i for i, s in enumerate(plan["scenario"]) if s == scenario]
        for pt in PROBE_TYPES:
            cols = np.isin(item, items) & (ptype == pt)
            ax.plot(log["steps"], log[measure][:, cols].mean(1), label=pt, color=COLORS[pt], lw=1)
        for t in plan["item_steps"][str(items[0])] if items else []:
            ax.axvline(t, color="grey", lw=0.4, ls=":")
        ax.set(title=scenario, xlabel="step", ylabel=f"mean {measure} log-prob")
        ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    save(fig, run / "plots" / "trajectories.png")

    fig = Figure(figsize=(12, 3.4))
    for a, scenario in enumerate(SCENARIOS):
        ax = fig.add_subplot(1, 3, a + 1)
        for pt in PROBE_TYPES:
            curve = metrics["retention_curve"].get(scenario, {}).get(pt)
            if not curve or not curve["log10_t"]:
                continue
            x = np.array(curve["log10_t"])
            ax.plot(x, curve["R"], "o", ms=3, color=COLORS[pt], label=pt)
            a_ = metrics["decay_constant"][scenario][pt]
            if a_ is not None and curve["intercept"] is not None:
                ax.plot(x, curve["intercept"] - a_ * x, "-", color=COLORS[pt], lw=1)
        ax.set(title=scenario, xlabel="log10 t (steps after LAM)", ylabel="retainability R")
        ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    save(fig, run / "plots" / "retainability.png")

    fig = Figure(figsize=(6, 3.4))
    ax = fig.add_subplot()
    width = 0.25
    for k, pt in enumerate(PROBE_TYPES):
        vals = [metrics["effectivity"].get(s, {}).get(pt) or 0.0 for s in SCENARIOS]
        ax.bar(np.arange(3) + (k - 1) * width, vals, width, label=pt, color=COLORS[pt])
    ax.set_xticks(np.arange(3), SCENARIOS)
    ax.set(ylabel="effectivity (log-prob gain)")
    ax.legend(fontsize=7)
    ax.grid(axis="y", alpha=0.3)
    save(fig, run / "plots" / "effectivity.png")
