"""Results tables: ``results.csv`` (one row per config x seed), summary plots and markdown reports."""

from __future__ import annotations

import csv
import io
import math
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from labcore.errors import DataError
from labcore.io import write_text_atomic
from labcore.plots import plot_bars, plot_curves

FIRST_COLUMNS = [
    "experiment",
    "seed",
    "heldout_acc",
    "stored_acc",
    "ft_acc",
    "pretrain_loss",
    "bayes_loss",
]
SUMMARY_METRICS = [
    "heldout_acc",
    "stored_acc",
    "ft_acc",
    "stored_not_extracted",
    "pretrain_loss",
    "bayes_loss",
]


def write_results(path: Path, rows: Sequence[dict], variables: Sequence[str]) -> Path:
    """Write rows as CSV (swept variables first, then the headline metrics), atomically."""
    keys = list(
        dict.fromkeys(
            [FIRST_COLUMNS[0], *variables, *FIRST_COLUMNS[1:], *(k for r in rows for k in r)]
        )
    )
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=keys)
    writer.writeheader()
    writer.writerows(rows)
    return write_text_atomic(path, buf.getvalue())


def read_results(path: Path) -> list[dict]:
    """Read a ``results.csv`` (numbers parsed back to floats where possible)."""
    if path.is_dir():
        path = path / "results.csv"
    if not path.is_file():
        raise DataError(f"{path}: no results.csv here (run `onelayer run ... --out DIR` first)")
    with open(path, newline="") as fh:
        rows = list(csv.DictReader(fh))
    for row in rows:
        for k, v in row.items():
            try:
                row[k] = float(v)
            except (TypeError, ValueError):
                pass
    return rows


def summarize(
    rows: Sequence[dict], group_by: Sequence[str], metrics: Sequence[str] = SUMMARY_METRICS
) -> list[dict]:
    """Mean and std over seeds for each group, in first-seen order."""
    groups: dict[tuple, list[dict]] = defaultdict(list)
    for row in rows:
        groups[tuple(row[g] for g in group_by)].append(row)
    out = []
    for key, members in groups.items():
        entry = dict(zip(group_by, key, strict=True))
        entry["seeds"] = len(members)
        for m in metrics:
            values = np.array([float(r[m]) for r in members if m in r and r[m] != ""], dtype=float)
            entry[m] = (
                (float(values.mean()), float(values.std())) if len(values) else (math.nan, math.nan)
            )
        out.append(entry)
    return out


def _fmt_value(v) -> str:
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    if isinstance(v, float):
        return f"{v:.4g}"
    return str(v)


def markdown_table(
    summary: Sequence[dict], group_by: Sequence[str], metrics: Sequence[str] = SUMMARY_METRICS
) -> str:
    header = [*group_by, "seeds", *metrics]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for entry in summary:
        cells = [_fmt_value(entry[g]) for g in group_by] + [str(entry["seeds"])]
        cells += [f"{entry[m][0]:.3f} ± {entry[m][1]:.3f}" for m in metrics]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def plot_experiment(
    path: Path, rows: Sequence[dict], variable: str, series: str | None = None
) -> Path:
    """Held-out (extraction) and stored accuracy against the swept variable, mean over seeds."""
    group_by = [series, variable] if series else [variable]
    summary = summarize(rows, group_by)
    numeric = all(isinstance(e[variable], (int, float)) for e in summary)
    if not numeric:
        values = {str(e[variable]): e["heldout_acc"][0] for e in summary}
        errors = {str(e[variable]): e["heldout_acc"][1] for e in summary}
        return plot_bars(
            path, values, errors=errors, ylabel="held-out Q&A accuracy", title=variable
        )
    curves = {}
    for s in dict.fromkeys(e[series] for e in summary) if series else [None]:
        part = [e for e in summary if not series or e[series] == s]
        xs = [e[variable] for e in part]
        suffix = f" ({series}={_fmt_value(s)})" if series else ""
        curves[f"heldout_acc{suffix}"] = (xs, [e["heldout_acc"][0] for e in part])
        curves[f"stored_acc{suffix}"] = (xs, [e["stored_acc"][0] for e in part])
    positive = all(x > 0 for xs, _ in curves.values() for x in xs)
    return plot_curves(
        path,
        curves,
        xlabel=variable,
        ylabel="accuracy (mean over seeds)",
        logx=positive and len(curves[next(iter(curves))][0]) > 2,
    )
