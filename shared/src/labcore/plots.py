"""Small matplotlib helpers that write PNGs (Agg canvas, no display, atomic writes)."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from labcore.io import atomic_path


def save_figure(fig: Figure, path: str | os.PathLike) -> Path:
    """Save a matplotlib ``Figure`` (built without pyplot) as a PNG at ``path``, atomically."""
    FigureCanvasAgg(fig)  # attach an Agg canvas: works whatever backend pyplot would pick
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=120)
    return Path(path)


def plot_curves(
    path: str | os.PathLike,
    curves: Mapping[str, tuple[Sequence[float], Sequence[float]]],
    *,
    xlabel: str = "",
    ylabel: str = "",
    title: str = "",
    logx: bool = False,
    logy: bool = False,
) -> Path:
    """Line plot of ``{label: (xs, ys)}`` saved as a PNG at ``path``."""
    fig = Figure(figsize=(6, 4))
    ax = fig.add_subplot()
    for label, (xs, ys) in curves.items():
        ax.plot(list(xs), list(ys), label=label, marker="o" if len(xs) <= 20 else None)
    ax.set(xlabel=xlabel, ylabel=ylabel, title=title)
    if logx:
        ax.set_xscale("log")
    if logy:
        ax.set_yscale("log")
    if len(curves) > 1:
        ax.legend()
    ax.grid(alpha=0.3)
    return save_figure(fig, path)


def plot_bars(
    path: str | os.PathLike,
    values: Mapping[str, float],
    *,
    ylabel: str = "",
    title: str = "",
    errors: Mapping[str, float] | None = None,
) -> Path:
    """Bar chart of ``{label: value}`` (optional error bars) saved as a PNG at ``path``."""
    fig = Figure(figsize=(max(4, 0.8 * len(values) + 2), 4))
    ax = fig.add_subplot()
    labels = list(values)
    yerr = [errors.get(k, 0.0) for k in labels] if errors else None
    ax.bar(labels, [values[k] for k in labels], yerr=yerr, capsize=3 if yerr else 0)
    ax.set(ylabel=ylabel, title=title)
    ax.tick_params(axis="x", rotation=30 if len(labels) > 4 else 0)
    ax.grid(axis="y", alpha=0.3)
    return save_figure(fig, path)
