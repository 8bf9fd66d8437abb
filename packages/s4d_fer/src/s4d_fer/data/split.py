"""A seeded, stratified validation split carved out of a training split."""

from __future__ import annotations

import numpy as np


def stratified_split(labels: list[int], fraction: float, seed: int) -> tuple[list[int], list[int]]:
    """(fit indices, val indices): ``fraction`` of each class (at least one if it has two) goes to val."""
    rng = np.random.default_rng(seed)
    labels_arr = np.asarray(labels)
    fit, val = [], []
    for y in np.unique(labels_arr):
        idx = rng.permutation(np.flatnonzero(labels_arr == y))
        k = round(fraction * len(idx))
        if fraction > 0 and len(idx) >= 2:
            k = max(k, 1)
        val.extend(idx[:k].tolist())
        fit.extend(idx[k:].tolist())
    return sorted(fit), sorted(val)
