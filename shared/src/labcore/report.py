"""Building blocks of every package's ``report``: statistics over seeds and markdown tables."""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

__all__ = ["ci95", "format_mean_std", "markdown_table", "mean_std"]

# Two-sided 97.5% quantiles of Student's t for 1..30 degrees of freedom.
_T975 = [12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228,
         2.201, 2.179, 2.160, 2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086,
         2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042]  # fmt: skip


def mean_std(values: Iterable[float]) -> tuple[float, float]:
    """Mean and sample standard deviation (0 for a single value)."""
    xs = [float(v) for v in values]
    if not xs:
        return math.nan, math.nan
    return statistics.fmean(xs), statistics.stdev(xs) if len(xs) > 1 else 0.0


def ci95(values: Iterable[float]) -> tuple[float, float]:
    """A 95% confidence interval of the mean (Student's t; normal beyond 30 values)."""
    xs = [float(v) for v in values]
    mean, std = mean_std(xs)
    if len(xs) < 2:
        return mean, mean
    t = _T975[len(xs) - 2] if len(xs) - 1 <= len(_T975) else 1.96
    half = t * std / math.sqrt(len(xs))
    return mean - half, mean + half


def format_mean_std(values: Sequence[float], digits: int = 3, interval: bool = False) -> str:
    """``0.812 ± 0.010`` (± std over the values), optionally with ``[lo, hi]`` (95% CI)."""
    mean, std = mean_std(values)
    text = f"{mean:.{digits}f}" if len(values) < 2 else f"{mean:.{digits}f} ± {std:.{digits}f}"
    if interval and len(values) > 1:
        lo, hi = ci95(values)
        text += f" [{lo:.{digits}f}, {hi:.{digits}f}]"
    return text


def markdown_table(rows: Sequence[Mapping[str, Any]], columns: Sequence[str] | None = None) -> str:
    """A GitHub markdown table of ``rows`` (floats to 3 decimals, missing cells blank)."""
    if not rows:
        return "(no rows)"
    columns = list(columns or rows[0].keys())

    def cell(value: Any) -> str:
        if value is None:
            return ""
        if isinstance(value, float):
            return f"{value:.3f}"
        return str(value)

    lines = ["| " + " | ".join(columns) + " |", "|" + "|".join("---" for _ in columns) + "|"]
    lines += ["| " + " | ".join(cell(r.get(c)) for c in columns) + " |" for r in rows]
    return "\n".join(lines)
