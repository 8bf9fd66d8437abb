"""Sampling parameters shared by every backend, validated once."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class SamplingParams:
    """How to decode one batch; see :meth:`labcore.llm.ChatModel.chat` for the meaning.

    Invalid values raise :class:`ValueError` at construction, before any model
    work starts.
    """

    max_new_tokens: int = 256
    temperature: float = 0.0
    top_p: float = 1.0
    stop: tuple[str, ...] = ()
    seed: int | None = None

    def __post_init__(self) -> None:
        if isinstance(self.stop, str):
            # A bare string would silently become one stop string per character.
            raise ValueError(f"stop must be a list of strings, got the string {self.stop!r}")
        # Accept any iterable (callers pass lists); store a tuple so the object stays hashable.
        object.__setattr__(self, "stop", tuple(self.stop or ()))
        if self.max_new_tokens < 1:
            raise ValueError(f"max_new_tokens must be >= 1, got {self.max_new_tokens}")
        if self.temperature < 0:
            raise ValueError(f"temperature must be >= 0, got {self.temperature}")
        if not 0 < self.top_p <= 1:
            raise ValueError(f"top_p must be in (0, 1], got {self.top_p}")
        if any(not isinstance(s, str) or not s for s in self.stop):
            raise ValueError(f"stop strings must be non-empty strings, got {list(self.stop)!r}")

    @property
    def greedy(self) -> bool:
        """True when decoding is deterministic (temperature 0)."""
        return self.temperature == 0

    def as_dict(self) -> dict[str, Any]:
        """Plain JSON-ready values (``stop`` as a list), e.g. for cache keys."""
        values = asdict(self)
        values["stop"] = list(self.stop)
        return values
