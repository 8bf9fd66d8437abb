"""Seeded, stratified splits of a training split: the validation split and clip budgets."""

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


def stratified_subset(labels: list[int], fraction: float, seed: int = 0) -> list[int]:
    """Indices of ``fraction`` of each class (at least one per class), sorted.

    Subsets of one ``seed`` are nested: the 25% subset lies inside the 50% one, so a
    data-scarcity curve only removes clips as the budget shrinks.
    """
    rng = np.random.default_rng(seed)
    labels_arr = np.asarray(labels)
    keep: list[int] = []
    for y in np.unique(labels_arr):
        idx = rng.permutation(np.flatnonzero(labels_arr == y))
        keep.extend(idx[: max(1, round(fraction * len(idx)))].tolist())
    return sorted(keep)
