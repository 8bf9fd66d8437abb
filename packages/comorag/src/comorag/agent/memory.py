"""Memory units and the per-question memory pool of the metacognitive loop."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

import numpy as np


@dataclass
class MemoryUnit:
    """What one probe found in one layer (or a fusion of earlier units), as a note."""

    probe: str
    layer: str  # veridical / semantic / episodic / fusion
    evidence: list[dict]  # unit refs (layer, id, score, tokens, chunks)
    note: str
    embedding: np.ndarray
    cycle: int

    @property
    def key(self) -> str:
        """One hashing scheme for every unit (the official prefixes never matched)."""
        blob = f"{self.layer}|{self.probe}|{self.note}"
        return hashlib.md5(blob.encode("utf-8")).hexdigest()

    def as_dict(self) -> dict:
        return {
            "probe": self.probe,
            "layer": self.layer,
            "evidence": self.evidence,
            "note": self.note,
            "cycle": self.cycle,
        }


@dataclass
class MemoryPool:
    """The global pool plus the units of the current cycle, merged at the next cycle's start."""

    units: list[MemoryUnit] = field(default_factory=list)
    pending: list[MemoryUnit] = field(default_factory=list)

    def add_pending(self, units: list[MemoryUnit]) -> None:
        self.pending.extend(units)

    def merge(self) -> None:
        """Mem-update: the union of the pool and the new units (duplicates dropped)."""
        have = {u.key for u in self.units}
        for u in self.pending:
            if u.key not in have:
                self.units.append(u)
                have.add(u.key)
        self.pending = []

    def seen_evidence(self) -> set[tuple[str, int]]:
        """Items already encoded, so that later retrievals bring new ones."""
        return {(e["layer"], e["id"]) for u in self.units + self.pending for e in u.evidence}

    def closest(self, query_emb: np.ndarray, share: float) -> list[MemoryUnit]:
        """The ``share`` of pool units closest to the question, best first (ties: oldest first)."""
        units = [u for u in self.units if u.note.strip()]
        if not units:
            return []
        sims = np.array([float(u.embedding @ query_emb) for u in units])
        order = np.argsort(-sims, kind="stable")
        n = max(1, int(np.ceil(share * len(units))))
        return [units[i] for i in order[:n]]
