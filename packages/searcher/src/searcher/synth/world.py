"""A fictional world of people, organisations, cities, countries and events.

Every name is made of invented syllables, so no pretrained model can answer a
question about it from memory: the facts exist only in the generated corpus.
Deterministic from the seed.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

_ONSETS = [
    "b",
    "br",
    "d",
    "dr",
    "f",
    "g",
    "k",
    "kr",
    "l",
    "m",
    "n",
    "p",
    "qu",
    "r",
    "s",
    "t",
    "th",
    "v",
    "vr",
    "z",
    "ol",
    "an",
    "el",
    "or",
    "ul",
]
_NUCLEI = ["a", "e", "i", "o", "u", "ae", "ei", "ou", "ya"]
_CODAS = ["", "n", "r", "s", "th", "l", "m", "x", "nd", "rk", "sh"]
OCCUPATIONS = [
    "glassmaker",
    "cartographer",
    "botanist",
    "engineer",
    "archivist",
    "composer",
    "surveyor",
    "physician",
    "chemist",
    "architect",
    "shipwright",
    "astronomer",
]
INDUSTRIES = [
    "textiles",
    "shipbuilding",
    "optics",
    "publishing",
    "mining",
    "medicine",
    "clockmaking",
    "railways",
    "agriculture",
    "printing",
]
ORG_SUFFIXES = [
    "Institute",
    "Company",
    "Works",
    "Society",
    "Foundry",
    "Guild",
    "Bank",
    "Collective",
    "Trust",
    "Laboratories",
]
EVENT_KINDS = ["Fair", "Congress", "Exhibition", "Festival", "Regatta", "Symposium"]
CITY_SUFFIXES = ["wick", "holm", "stead", "mouth", "ford", "gard", "vale", "port"]


@dataclass
class World:
    """All entities; every relation points at entity names."""

    countries: list[dict] = field(default_factory=list)
    cities: list[dict] = field(default_factory=list)
    orgs: list[dict] = field(default_factory=list)
    people: list[dict] = field(default_factory=list)
    events: list[dict] = field(default_factory=list)

    def by_name(self) -> dict[str, dict]:
        """Every entity keyed by its name."""
        out: dict[str, dict] = {}
        for group in (self.countries, self.cities, self.orgs, self.people, self.events):
            for e in group:
                out[e["name"]] = e
        return out


class _Names:
    """Unique invented names."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.used: set[str] = set()

    def word(self, syllables: int) -> str:
        parts = [self.rng.choice(_ONSETS) + self.rng.choice(_NUCLEI) for _ in range(syllables)]
        return ("".join(parts) + self.rng.choice(_CODAS)).capitalize()

    def unique(self, make) -> str:
        for _ in range(1000):
            name = make()
            if name.lower() not in self.used:
                self.used.add(name.lower())
                return name
        raise RuntimeError("name space exhausted; use fewer entities")


def make_world(
    seed: int = 0,
    n_countries: int = 4,
    n_cities: int = 12,
    n_orgs: int = 20,
    n_people: int = 60,
    n_events: int = 16,
) -> World:
    """Generate a consistent world: each relation refers to an existing entity."""
    rng = random.Random(seed)
    names = _Names(rng)
    w = World()
    for _ in range(n_countries):
        w.countries.append({"type": "country", "name": names.unique(lambda: names.word(2) + "ia")})
    for _ in range(n_cities):
        w.cities.append(
            {
                "type": "city",
                "name": names.unique(lambda: names.word(1) + rng.choice(CITY_SUFFIXES)),
                "country": rng.choice(w.countries)["name"],
                "river": names.unique(lambda: "the " + names.word(2) + " river"),
            }
        )
    for _ in range(n_orgs):
        w.orgs.append(
            {
                "type": "org",
                "name": names.unique(lambda: f"{names.word(2)} {rng.choice(ORG_SUFFIXES)}"),
                "founded": rng.randint(1780, 1960),
                "hq": rng.choice(w.cities)["name"],
                "industry": rng.choice(INDUSTRIES),
            }
        )
    for _ in range(n_people):
        w.people.append(
            {
                "type": "person",
                "name": names.unique(lambda: f"{names.word(2)} {names.word(2)}"),
                "born": rng.randint(1740, 1940),
                "birth_city": rng.choice(w.cities)["name"],
                "occupation": rng.choice(OCCUPATIONS),
                "employer": rng.choice(w.orgs)["name"],
            }
        )
    # Founders are people; an organisation's founder is born before it was founded.
    for org in w.orgs:
        older = [p for p in w.people if p["born"] < org["founded"] - 20] or w.people
        org["founder"] = rng.choice(older)["name"]
    for _ in range(n_events):
        w.events.append(
            {
                "type": "event",
                "name": names.unique(lambda: f"{names.word(2)} {rng.choice(EVENT_KINDS)}"),
                "city": rng.choice(w.cities)["name"],
                "organiser": rng.choice(w.orgs)["name"],
                "year": rng.randint(1800, 1990),
            }
        )
    return w


def facts(entity: dict, world: World) -> list[str]:
    """Plain-sentence facts about one entity (the ground truth of every text)."""
    n = entity["name"]
    t = entity["type"]
    if t == "country":
        cities = [c["name"] for c in world.cities if c["country"] == n]
        out = [f"{n} is a country."]
        out += [f"{c} is a city in {n}." for c in cities]
        return out
    if t == "city":
        return [f"{n} is a city in {entity['country']}.", f"{n} lies on {entity['river']}."]
    if t == "org":
        return [
            f"{n} was founded in {entity['founded']}.",
            f"{n} was founded by {entity['founder']}.",
            f"{n} is headquartered in {entity['hq']}.",
            f"{n} works in {entity['industry']}.",
        ]
    if t == "person":
        return [
            f"{n} was born in {entity['birth_city']}.",
            f"{n} was born in {entity['born']}.",
            f"{n} is a {entity['occupation']}.",
            f"{n} works for {entity['employer']}.",
        ]
    if t == "event":
        return [
            f"The {n} was held in {entity['city']}.",
            f"The {n} took place in {entity['year']}.",
            f"The {n} was organised by {entity['organiser']}.",
        ]
    raise ValueError(f"unknown entity type {t!r}")
