"""The episodic layer: summaries of windows of consecutive chunks, in story order."""

from __future__ import annotations

import math


def window_size(n_chunks: int) -> int:
    """The paper's schedule (plus the official W = 2 for tiny books), from the real count."""
    if n_chunks <= 5:
        return 2
    if n_chunks <= 20:
        return 3
    if n_chunks <= 50:
        return 5
    if n_chunks <= 100:
        return 8
    if n_chunks <= 200:
        return 10
    return min(20, max(10, int(2 * math.log2(n_chunks))))


def windows(n_chunks: int, size: int, overlap: bool = False) -> list[tuple[int, int]]:
    """Half-open chunk ranges; non-overlapping (official) or sliding by half a window."""
    if n_chunks <= 0:
        return []
    step = max(1, size // 2) if overlap else size
    out = []
    for start in range(0, n_chunks, step):
        end = min(start + size, n_chunks)
        out.append((start, end))
        if end == n_chunks:
            break
    return out
