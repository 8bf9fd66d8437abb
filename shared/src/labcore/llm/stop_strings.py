"""Cutting answers at stop strings (pure text; both backends use it)."""

from __future__ import annotations

from collections.abc import Sequence


def truncate_at_stop(text: str, stop: Sequence[str]) -> str:
    """Cut ``text`` before the earliest occurrence of any stop string."""
    positions = [i for i in (text.find(s) for s in stop) if i != -1]
    return text[: min(positions)] if positions else text
