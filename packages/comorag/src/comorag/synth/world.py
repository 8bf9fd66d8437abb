"""The simulated world of the embedded benchmark: people, towns, and the events between them."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

from comorag.config import SynthConfig

FIRST_NAMES = [
    "Mara",
    "Tomas",
    "Ilsa",
    "Bren",
    "Corin",
    "Dessa",
    "Edric",
    "Fenna",
    "Gideon",
    "Halla",
    "Ivo",
    "Jorun",
    "Kesta",
    "Lorcan",
    "Mirelle",
    "Nils",
    "Orla",
    "Piet",
    "Quilla",
    "Rurik",
    "Sabine",
    "Tarin",
    "Ulla",
    "Vesper",
]
PLACES = [
    "Eastport",
    "Kellmoor",
    "Ashford",
    "Brindle Cross",
    "Greywater",
    "Holloway",
    "Marrow Hill",
    "Northreach",
    "Saltmere",
    "Thornbury",
    "Vale Lodge",
    "Wyncliff",
]
NUMBER_WORDS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]

PLACE_TRAITS = [
    "its slate roofs",
    "the smell of tar from its boatyards",
    "a market that never closed",
    "narrow lanes that flooded each spring",
    "an old bell tower",
    "orchards on every slope",
    "a quarry that shook the windows",
    "its famous blue dye works",
    "a ruined abbey",
    "a ferry that crossed twice a day",
]
WEATHER = [
    "Rain came in off the hills for a week and turned the roads to mud.",
    "The summer was dry, and dust hung over the fields until the harvest.",
    "A hard frost settled early that year, and the wells froze at their rims.",
    "Fog lay on the valley most mornings, lifting only after noon.",
    "Storms broke the fences along the river and scattered the sheep.",
    "The days were mild, and travellers filled the inns along the high road.",
]
CHORES = [
    "spent long evenings mending nets and arguing about the price of salt",
    "copied old ledgers by candlelight and complained about the ink",
    "walked the boundary stones and counted the missing ones",
    "trained a young horse that refused to take a saddle",
    "kept bees and sold the honey to anyone who asked",
    "played cards with the carters and usually lost",
    "repaired a broken loom and taught two apprentices to use it",
    "wrote long letters that were never sent",
]
MOODS = [
    "Nobody spoke much about the old quarrels that season.",
    "Gossip travelled faster than the post riders.",
    "The price of bread rose twice before midsummer.",
    "A travelling choir stayed for three nights and left without paying.",
    "Children played at being soldiers in the square.",
    "The council argued for a month about a new bridge and built nothing.",
]


@dataclass
class Event:
    """One thing that happened, and where its sentence ended up in the text."""

    index: int
    kind: str
    actors: list[str]
    place: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    sentence: str = ""
    start: int = -1
    end: int = -1


class World:
    """The simulated state: where everyone lives, who is married, allied, alive."""

    def __init__(self, cfg: SynthConfig, rng: random.Random) -> None:
        self.rng = rng
        self.people = rng.sample(FIRST_NAMES, cfg.n_characters)
        self.places = rng.sample(PLACES, cfg.n_places)
        self.home = {p: rng.choice(self.places) for p in self.people}
        self.spouse: dict[str, str] = {}
        self.allies: set[frozenset[str]] = set()
        self.alive = set(self.people)
        # Secret parentage: hinted early, revealed late.
        parents = rng.sample(self.people, 2)
        children = rng.sample([p for p in self.people if p not in parents], 2)
        self.secrets = list(zip(children, parents, strict=True))
        self.events: list[Event] = []

    def living(self) -> list[str]:
        return sorted(self.alive)

    def step(self, n_events: int) -> None:
        for person in self.people:
            self._add("intro", [person], self.home[person])
        for child, parent in self.secrets:
            self._add("hint", [child, parent])
        kinds = ["move"] * 5 + ["ally"] * 2 + ["betray"] * 2 + ["marry"] * 2 + ["death"]
        while len(self.events) < n_events + len(self.people):
            kind = self.rng.choice(kinds)
            getattr(self, f"_try_{kind}")()
        for child, parent in self.secrets:
            self._add("reveal", [child, parent])

    def _add(self, kind: str, actors: list[str], place: str | None = None, **extra: Any) -> None:
        self.events.append(Event(len(self.events), kind, actors, place, extra))

    def _try_move(self) -> None:
        person = self.rng.choice(self.living())
        old = self.home[person]
        new = self.rng.choice([p for p in self.places if p != old])
        self.home[person] = new
        self._add("move", [person], new, old=old)

    def _try_ally(self) -> None:
        a, b = self.rng.sample(self.living(), 2)
        if frozenset((a, b)) in self.allies:
            return
        self.allies.add(frozenset((a, b)))
        self._add("ally", [a, b], self.home[a])

    def _try_betray(self) -> None:
        pairs = [tuple(sorted(p)) for p in self.allies if p <= self.alive]
        if not pairs:
            return
        a, b = self.rng.choice(sorted(pairs))
        traitor, victim = (a, b) if self.rng.random() < 0.5 else (b, a)
        self.allies.discard(frozenset((a, b)))
        self._add("betray", [traitor, victim], self.home[traitor])

    def _try_marry(self) -> None:
        single = [p for p in self.living() if p not in self.spouse]
        if len(single) < 2:
            return
        a, b = self.rng.sample(single, 2)
        if {a, b} & {x for pair in self.secrets for x in pair} == {a, b}:
            return  # keep secret parent/child pairs out of marriages
        self.spouse[a], self.spouse[b] = b, a
        # The spouse moves in: the marriage sentence says where they live now.
        self.home[b] = self.home[a]
        self._add("marry", [a, b], self.home[a])

    def _try_death(self) -> None:
        candidates = [p for p in self.living() if p not in {c for c, _ in self.secrets}]
        # Die late rather than early, so that people have a history first.
        if len(self.events) < 3 * len(self.people) or len(self.alive) <= len(self.people) - 3:
            return
        person = self.rng.choice(candidates)
        self.alive.discard(person)
        self.allies = {p for p in self.allies if person not in p}
        self._add("death", [person], self.home[person])
