"""The embedded background corpus: a synthetic encyclopedia about *other* people.

The world has a fixed set of countries, cities (each on one river, in one country) and
awards; every document is about a new person (all names from the background side of
:mod:`knowledge_dynamics.synth.names`, so disjoint from injected entities) and states a
random subset of the person's facts in random forms, plus sometimes a compositional
sentence, so the model can learn the relations in general.
"""

from __future__ import annotations

import random

from knowledge_dynamics.synth.generator import SUFFIXES_AWARD, SUFFIXES_COMPANY, sentence
from knowledge_dynamics.synth.names import NameMaker
from knowledge_dynamics.synth.templates import BLOCKS, COMPOSITIONS


class BackgroundWorld:
    """Fixed background entities: countries, cities with rivers, awards, famous composers."""

    def __init__(self, seed: int):
        self.rng = random.Random(f"background-{seed}")
        self.names = NameMaker(self.rng, "background")
        self.countries = [self.names.word() for _ in range(40)]
        self.cities = [self.names.word() for _ in range(300)]
        rivers = [self.names.word() for _ in range(80)]
        self.river_of = {c: self.rng.choice(rivers) for c in self.cities}
        self.awards = [f"{self.names.word()} {self.rng.choice(SUFFIXES_AWARD)}" for _ in range(50)]

    def document(self) -> str:
        rng, names = self.rng, self.names
        city1, city2, city3 = rng.sample(self.cities, 3)
        slots = {
            "p": names.person(),
            "country": rng.choice(self.countries),
            "city1": city1,
            "river": self.river_of[city1],
            "company": f"{names.word()} {rng.choice(SUFFIXES_COMPANY)}",
            "city2": city2,
            "mentor": names.person(),
            "city3": city3,
            "spouse": names.person(),
            "opera": names.word(),
            "award": rng.choice(self.awards),
        }
        blocks = [BLOCKS[0], *rng.sample(BLOCKS[1:], len(BLOCKS) - 1)]
        blocks = blocks[: rng.randint(3, len(blocks))]
        sentences = [sentence(k, rng.randint(0, 4), slots) for b in blocks for k in b]
        if rng.random() < 0.5:
            text, obj = rng.choice(COMPOSITIONS)
            sentences.append(f"{text.format(**slots)} {slots[obj]}.")
        return " ".join(sentences)


def synthetic_documents(n_docs: int, seed: int) -> list[str]:
    world = BackgroundWorld(seed)
    return [world.document() for _ in range(n_docs)]
