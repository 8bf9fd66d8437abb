"""When to score probes: ``every`` step (paper) or ``adaptive``.

``adaptive`` evaluates densely in ``[t_i, t_i + w]`` around each injection step (enough for
the local acquisition maximum and effectivity), and after each scenario's last window on a
log-spaced grid (enough for the retainability fit), plus the first and last step. Metrics
computed on those steps are the same whichever schedule produced the log.
"""

from __future__ import annotations

import numpy as np


def retention_grid(last: int, window: int, total: int, n_points: int) -> list[int]:
    """Log-spaced steps after ``last + window`` up to ``total`` (inclusive)."""
    start = last + window
    span = total - start
    if span < 1:
        return []
    offsets = np.unique(np.round(np.geomspace(1, span, max(n_points, 1))).astype(int))
    return [start + int(o) for o in offsets]


def adaptive_steps(
    injection_steps: list[int], last_steps: list[int], window: int, total: int, n_points: int
) -> list[int]:
    """Sorted evaluation steps of the adaptive schedule, in ``[0, total]``."""
    steps = {0, total}
    for t in injection_steps:
        steps.update(range(t, min(t + window, total) + 1))
    for last in set(last_steps):
        steps.update(retention_grid(last, window, total, n_points))
    return sorted(steps)


def eval_steps(kind: str, injection_steps, last_steps, window: int, total: int, n_points: int):
    """Evaluation steps (parameters *before* the update of that step; ``total`` = after all)."""
    if kind == "every":
        return list(range(total + 1))
    return adaptive_steps(list(injection_steps), list(last_steps), window, total, n_points)
