"""The paper's metrics on probe trajectories (log-probabilities, higher = better).

Notation: ``v[t]`` = a probe's value with the parameters *before* the update of step ``t``.
For an injection at step ``t_i`` and window ``w``:

* local acquisition maximum: ``t_LAM = argmax_{t_i < t <= t_i + w} v[t]``;
* effectivity: ``E = v[t_LAM] - v[t_i]``;
* retainability after the last injection ``L`` (first injection ``t_pre``):
  ``R(t) = (v[sp + t] - v[t_pre]) / (v[sp] - v[t_pre])`` with ``sp = t_LAM`` of ``L``; probes
  with ``v[sp] == v[t_pre]`` are skipped;
* decay constant ``a``: minus the slope of a linear fit of mean R against ``log10 t``
  (per decade, R as a fraction), with its R² and the x-intercept (the learnability
  threshold estimate, in log10 steps).

Group means use an IQR outlier filter (values outside ``[Q1 - f*IQR, Q3 + f*IQR]`` dropped).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from labcore.errors import DataError


class Trajectory:
    """Values of a set of probes at the logged steps; indexable by step."""

    def __init__(self, steps: np.ndarray, values: np.ndarray):
        self.steps = np.asarray(steps)
        self.values = np.asarray(values, dtype=np.float64)  # (n_steps, n_probes)
        self.index = {int(s): r for r, s in enumerate(self.steps)}

    def at(self, step: int) -> np.ndarray:
        try:
            return self.values[self.index[int(step)]]
        except KeyError:
            raise DataError(f"probe log has no evaluation at step {step}") from None

    def window(self, start: int, stop: int) -> np.ndarray:
        """Rows for steps ``start..stop`` inclusive, shape (stop - start + 1, n_probes)."""
        return np.stack([self.at(s) for s in range(start, stop + 1)])


def iqr_filter(x: np.ndarray, factor: float) -> np.ndarray:
    """``x`` without values outside ``[Q1 - factor*IQR, Q3 + factor*IQR]`` (NaNs dropped too)."""
    x = np.asarray(x, dtype=np.float64)
    x = x[np.isfinite(x)]
    if factor <= 0 or x.size < 4:
        return x
    q1, q3 = np.percentile(x, [25, 75])
    iqr = q3 - q1
    return x[(x >= q1 - factor * iqr) & (x <= q3 + factor * iqr)]


def filtered_mean(x: np.ndarray, factor: float) -> float:
    kept = iqr_filter(x, factor)
    return float(kept.mean()) if kept.size else float("nan")


def local_acquisition_max(traj: Trajectory, t_i: int, window: int) -> tuple[np.ndarray, np.ndarray]:
    """(step of the maximum in ``(t_i, t_i + window]``, value there), per probe."""
    block = traj.window(t_i + 1, t_i + window)
    arg = block.argmax(axis=0)
    return t_i + 1 + arg, block[arg, np.arange(block.shape[1])]


def effectivity(traj: Trajectory, injections: list[int], window: int) -> np.ndarray:
    """``(n_injections, n_probes)`` effectivity of each encounter."""
    rows = []
    for t_i in injections:
        _, best = local_acquisition_max(traj, t_i, window)
        rows.append(best - traj.at(t_i))
    return np.stack(rows)


def retainability_at(
    traj: Trajectory, injections: list[int], window: int, steps_after: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """R and t for every probe at absolute steps ``steps_after``.

    Returns ``(R, t)`` of shape ``(len(steps_after), n_probes)``; probes whose gain is zero
    are NaN. ``t = step - sp`` differs per probe because ``sp`` does.
    """
    t_pre, last = min(injections), max(injections)
    sp, v_sp = local_acquisition_max(traj, last, window)
    v_pre = traj.at(t_pre)
    gain = v_sp - v_pre
    with np.errstate(divide="ignore", invalid="ignore"):
        rs = np.stack([(traj.at(s) - v_pre) / gain for s in steps_after])
    rs[:, gain == 0] = np.nan
    ts = np.asarray(steps_after)[:, None] - sp[None, :]
    return rs, ts


def retainability_curve(
    traj: Trajectory, injections: list[int], window: int, total: int
) -> tuple[np.ndarray, np.ndarray]:
    """Paper-code alignment: R(t) for t = 0..T-(L+w), each probe from its own ``sp``.

    Returns ``(t, R)`` with R of shape ``(len(t), n_probes)``. Needs every step logged.
    """
    last, t_pre = max(injections), min(injections)
    sp, v_sp = local_acquisition_max(traj, last, window)
    v_pre = traj.at(t_pre)
    gain = v_sp - v_pre
    t = np.arange(0, total - (last + window) + 1)
    cols = np.arange(traj.values.shape[1])
    rows = np.stack([traj.values[[traj.index.get(int(s), -1) for s in sp + tt], cols] for tt in t])
    missing = [int(s) for tt in t for s in sp + tt if int(s) not in traj.index]
    if missing:
        raise DataError(
            f"analysis.fit_points=all needs every step logged (step {missing[0]} is missing); "
            "use inject.schedule=every or analysis.fit_points=grid"
        )
    with np.errstate(divide="ignore", invalid="ignore"):
        r = (rows - v_pre) / gain
    r[:, gain == 0] = np.nan
    return t, r


@dataclass(frozen=True)
class DecayFit:
    """Linear fit ``R = intercept + slope * log10 t``."""

    decay_constant: float  # -slope, per decade
    slope_stderr: float
    intercept: float
    r2: float
    x_intercept: float  # log10 steps where the fit reaches R = 0 (learnability threshold)
    n_points: int

    def as_dict(self) -> dict:
        return dict(self.__dict__)


def fit_log_decay(log_t: np.ndarray, r: np.ndarray) -> DecayFit:
    """Least squares of mean R against log10 t."""
    x, y = np.asarray(log_t, float), np.asarray(r, float)
    ok = np.isfinite(x) & np.isfinite(y)
    x, y = x[ok], y[ok]
    if x.size < 3 or np.ptp(x) == 0:
        nan = float("nan")
        return DecayFit(nan, nan, nan, nan, nan, int(x.size))
    slope, intercept = np.polyfit(x, y, 1)
    pred = intercept + slope * x
    ss_res = float(((y - pred) ** 2).sum())
    ss_tot = float(((y - y.mean()) ** 2).sum())
    r2 = 1 - ss_res / ss_tot if ss_tot > 0 else float("nan")
    stderr = (
        float(np.sqrt(ss_res / (x.size - 2) / ((x - x.mean()) ** 2).sum()))
        if x.size > 2
        else float("nan")
    )
    x0 = -intercept / slope if slope != 0 else float("nan")
    return DecayFit(float(-slope), stderr, float(intercept), float(r2), float(x0), int(x.size))


def mean_retention_grid(
    traj: Trajectory, injections: list[int], window: int, grid: list[int], factor: float
) -> tuple[np.ndarray, np.ndarray]:
    """Per grid step: (mean log10 t of the kept probes, IQR-filtered mean R)."""
    rs, ts = retainability_at(traj, injections, window, np.asarray(grid))
    xs, ys = [], []
    for r_row, t_row in zip(rs, ts, strict=True):
        ok = np.isfinite(r_row)
        kept = iqr_filter(r_row[ok], factor)
        if kept.size == 0:
            continue
        lo, hi = (kept.min(), kept.max())
        sel = ok & (r_row >= lo) & (r_row <= hi)
        xs.append(np.log10(t_row[sel]).mean())
        ys.append(kept.mean())
    return np.array(xs), np.array(ys)


def mean_retention_all(
    traj: Trajectory, injections: list[int], window: int, total: int, factor: float
) -> tuple[np.ndarray, np.ndarray]:
    """Paper code: (log10 t, IQR-filtered mean R(t)) for t = 1..T-(L+w)."""
    t, r = retainability_curve(traj, injections, window, total)
    ys = np.array([filtered_mean(row, factor) for row in r[1:]])
    return np.log10(t[1:]), ys
