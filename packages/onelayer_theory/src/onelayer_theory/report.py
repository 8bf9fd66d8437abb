"""Results of a sweep: ``results.csv`` (one row per config x seed), summaries, plots and the
markdown tables of ``onelayer report``. Nothing here imports torch."""

from __future__ import annotations

import csv
import io
import math
import sys
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path

from labcore.errors import DataError
from labcore.io import write_text_atomic
from labcore.report import markdown_table, mean_std
from labcore.rundir import find_runs

PACKAGE = "onelayer_theory"
RESULTS = "results.csv"

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
    "heldout_acc_before_ft",
    "heldout_acc",
    "stored_acc_pretrain",
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
    path = Path(path)
    if path.is_dir():
        path = path / RESULTS
    if not path.is_file():
        raise DataError(f"{path}: no {RESULTS} here (run `onelayer run ... --out DIR` first)")
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
    """Mean and sample std over seeds for each group, in first-seen order."""
    groups: dict[tuple, list[dict]] = defaultdict(list)
    for row in rows:
        groups[tuple(row[g] for g in group_by)].append(row)
    out = []
    for key, members in groups.items():
        entry = dict(zip(group_by, key, strict=True))
        entry["seeds"] = len(members)
        for m in metrics:
            values = [float(r[m]) for r in members if m in r and r[m] != ""]
            entry[m] = mean_std(v for v in values if not math.isnan(v))
        out.append(entry)
    return out


def _fmt_value(v) -> str:
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    if isinstance(v, float):
        return f"{v:.4g}"
    return str(v)


def table(
    summary: Sequence[dict], group_by: Sequence[str], metrics: Sequence[str] = SUMMARY_METRICS
) -> str:
    """The markdown table of a summary: grid point, seeds, then ``mean ± std`` per metric."""
    rows = []
    for entry in summary:
        row = {g: _fmt_value(entry[g]) for g in group_by} | {"seeds": str(entry["seeds"])}
        for m in metrics:
            mean, std = entry[m]
            row[m] = f"{mean:.3f} ± {std:.3f}"
        rows.append(row)
    return markdown_table(rows, [*group_by, "seeds", *metrics])


def summary_metrics(rows: Sequence[dict], group_by: Sequence[str]) -> list[dict]:
    """The summary as JSON-able rows (``metric_mean`` / ``metric_std``), for ``metrics.json``."""
    out = []
    for entry in summarize(rows, group_by):
        point = {g: entry[g] for g in group_by} | {"seeds": entry["seeds"]}
        for m in SUMMARY_METRICS:
            point[f"{m}_mean"], point[f"{m}_std"] = entry[m]
        out.append(point)
    return out


def experiment_report(name: str, rows: Sequence[dict], title: str) -> str:
    """``## experiment (preset, seeds) — claim`` and its table."""
    from onelayer_theory.experiments import EXPERIMENTS

    experiment = EXPERIMENTS.get(name)
    if experiment is None:
        raise DataError(f"{RESULTS} names an unknown experiment {name!r}")
    summary = summarize(rows, experiment.group_by)
    return f"## {title} — {experiment.claim}\n\n{table(summary, experiment.group_by)}\n"


def report(paths: Sequence[str | Path]) -> str:
    """The markdown tables of every finished ``onelayer run`` folder at or below ``paths``."""
    parts = []
    for run in find_runs(list(paths), PACKAGE):
        if not (run.path / RESULTS).is_file():
            print(f"{run.path}: not finished yet, skipped", file=sys.stderr)
            continue
        config = run.config()
        rows = read_results(run.path)
        name = str(config.get("experiment") or (rows[0]["experiment"] if rows else ""))
        n_seeds = len({r["seed"] for r in rows})
        title = f"{name} ({config.get('preset', '?')}, {n_seeds} seeds; {run.path})"
        parts.append(experiment_report(name, rows, title))
    if not parts:
        raise DataError(f"{', '.join(map(str, paths))}: no finished onelayer run to report")
    return "\n".join(parts)


def plot_experiment(
    path: Path, rows: Sequence[dict], variable: str, series: str | None = None
) -> Path:
    """Held-out (extraction) and stored accuracy against the swept variable, mean over seeds."""
    from labcore.plots import plot_bars, plot_curves

    group_by = [series, variable] if series else [variable]
    summary = summarize(rows, group_by)
    numeric = all(isinstance(e[variable], (int, float)) for e in summary)
    if not numeric:

        def name(e: dict) -> str:
            return (
                f"{e[variable]} ({series}={_fmt_value(e[series])})" if series else str(e[variable])
            )

        values = {name(e): e["heldout_acc"][0] for e in summary}
        errors = {name(e): e["heldout_acc"][1] for e in summary}
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


def plot_losses(path: Path, history: Sequence[dict]) -> Path | None:
    """Training loss (mean over an ensemble's members) per stage and group, from ``metrics.csv``."""
    from labcore.plots import plot_curves

    curves: dict[str, tuple[list, list]] = {}
    for row in history:
        if "loss_mean" not in row:
            continue
        label = f"{row.get('stage', '?')} {row.get('group', '')}".strip()
        xs, ys = curves.setdefault(label, ([], []))
        xs.append(row["step"])
        ys.append(row["loss_mean"])
    if not curves:
        return None
    return plot_curves(
        path, curves, xlabel="step", ylabel="training loss (mean over members)", logy=True
    )
