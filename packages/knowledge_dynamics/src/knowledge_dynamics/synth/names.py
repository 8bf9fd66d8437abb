"""Pronounceable fictional names from syllables.

Background and injected entities come from the same syllable inventory (so the tokenizer
trained on the background covers both) but are disjoint by construction: a name's CRC32
parity decides which side may use it.
"""

from __future__ import annotations

import random
import zlib

_ONSETS = "b d f g k l m n p r s t v z br dr kr st th sh tr gr pl fl".split()
_VOWELS = "a e i o u a e i o u ai ou".split()
_CODAS = ["", "", "", "", "", "n", "r", "l", "s"]


def side_of(name: str) -> str:
    """``background`` or ``knowledge``: which generator may use ``name``."""
    return "knowledge" if zlib.crc32(name.encode()) % 2 else "background"


class NameMaker:
    """Draws fresh names for one side, never repeating a name it already gave out."""

    def __init__(self, rng: random.Random, side: str):
        self.rng = rng
        self.side = side
        self.used: set[str] = set()

    def word(self, min_syl: int = 2, max_syl: int = 2) -> str:
        while True:
            n = self.rng.randint(min_syl, max_syl)
            w = "".join(
                self.rng.choice(_ONSETS) + self.rng.choice(_VOWELS) + self.rng.choice(_CODAS)
                for _ in range(n)
            ).capitalize()
            if side_of(w) == self.side and w not in self.used:
                self.used.add(w)
                return w

    def person(self) -> str:
        return f"{self.word()} {self.word()}"
