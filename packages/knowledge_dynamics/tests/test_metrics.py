import numpy as np
import pytest

from knowledge_dynamics.eval.metrics import (
    Trajectory,
    effectivity,
    filtered_mean,
    fit_log_decay,
    iqr_filter,
    local_acquisition_max,
    mean_retention_all,
    mean_retention_grid,
    retainability_curve,
)
from knowledge_dynamics.train.schedule import adaptive_steps, retention_grid


def test_lam_and_effectivity_on_hand_made_trajectory():
    # one probe; injections at 0 and 10; window 3
    v = np.array([-5, -4, -2, -3, -3, -3, -3, -3, -3, -3, -3.5, -3.2, -3.0, -1.5, -9, -9, -9])
    traj = Trajectory(np.arange(len(v)), v[:, None])
    step, best = local_acquisition_max(traj, 0, 3)
    assert step[0] == 2 and best[0] == -2
    eff = effectivity(traj, [0, 10], 3)
    np.testing.assert_allclose(eff[:, 0], [3.0, 2.0])  # -2 - (-5); -1.5 - (-3.5)


def test_retainability_definition():
    # last injection 0 (once), LAM at step 2 (v=-1), v[t_pre]=-5: R(t) = (v[2+t]+5)/4
    v = np.array([-5.0, -3, -1, -2, -3, -4, -5, -5])
    traj = Trajectory(np.arange(8), v[:, None])
    t, r = retainability_curve(traj, [0], 3, 7)
    assert t.tolist() == [0, 1, 2, 3, 4]
    np.testing.assert_allclose(r[:, 0], [1, 0.75, 0.5, 0.25, 0.0])
    # probes without a gain are skipped (NaN)
    flat = Trajectory(np.arange(8), np.full((8, 1), -5.0))
    assert np.isnan(retainability_curve(flat, [0], 3, 7)[1]).all()


def test_decay_fit_recovers_power_law_and_threshold():
    a, t = 0.4, np.arange(1, 200)
    fit = fit_log_decay(np.log10(t), 1 - a * np.log10(t))
    assert fit.decay_constant == pytest.approx(a)
    assert fit.r2 == pytest.approx(1.0)
    assert fit.x_intercept == pytest.approx(1 / a)  # R = 0 at log10 t = 2.5


def test_iqr_filter_factor():
    x = np.array([1.0, 1.1, 0.9, 1.0, 1.05, 0.95, 10.0])
    assert 10.0 not in iqr_filter(x, 1.5)
    assert filtered_mean(x, 1.5) == pytest.approx(1.0)
    assert 10.0 in iqr_filter(x, 0)  # 0 disables


def _synthetic_run(total=200, inj=(0, 20, 40), window=5, n=12, seed=0):
    """Trajectories with a jump after each injection and power-law forgetting after."""
    rng = np.random.default_rng(seed)
    v = np.full((total + 1, n), -6.0)
    level = np.full(n, -6.0)
    for s in range(total + 1):
        jumps = [s - t for t in inj if 0 < s - t <= window]
        if jumps and jumps[0] == 2:
            level = level + rng.uniform(0.5, 1.5, n)
        last = max(t for t in inj if t <= s) if s >= min(inj) else 0
        decay = 0.2 * np.log10(max(1, s - last - 1))
        v[s] = level - decay + rng.normal(0, 0.01, n)
    return v


def test_adaptive_gives_identical_metrics_to_every():
    total, inj, window, n_log = 200, [0, 20, 40], 5, 10
    v = _synthetic_run(total, tuple(inj), window)
    every = Trajectory(np.arange(total + 1), v)
    steps = adaptive_steps(inj, [40], window, total, n_log)
    assert len(steps) < (total + 1) / 2
    adaptive = Trajectory(np.array(steps), v[steps])
    np.testing.assert_array_equal(
        effectivity(every, inj, window), effectivity(adaptive, inj, window)
    )
    grid = retention_grid(40, window, total, n_log)
    assert set(grid) <= set(steps) and grid[-1] == total
    xe, ye = mean_retention_grid(every, inj, window, grid, 1.5)
    xa, ya = mean_retention_grid(adaptive, inj, window, grid, 1.5)
    np.testing.assert_array_equal(xe, xa)
    np.testing.assert_array_equal(ye, ya)
    fit = fit_log_decay(xe, ye)
    assert fit.decay_constant > 0
    # the paper-code alignment needs every step
    x_all, y_all = mean_retention_all(every, inj, window, total, 1.5)
    assert fit_log_decay(x_all, y_all).decay_constant > 0
    with pytest.raises(Exception, match="fit_points"):
        mean_retention_all(adaptive, inj, window, total, 1.5)
