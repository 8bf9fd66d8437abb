"""The embedded benchmark: a generated long narrative whose world changes, and questions on it.

A small world (characters, places) is simulated event by event: moves, alliances,
betrayals, marriages, deaths and secret parentage revealed late. Each event becomes one
sentence placed between filler paragraphs, so facts that a question needs sit far apart.
Questions record their gold answers and the character spans of every sentence needed
(the gold evidence). Everything is drawn from one ``random.Random(seed)``: the same
config gives the same files byte for byte.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from comorag.config import SynthConfig
from labcore.io import write_json, write_jsonl, write_text_atomic

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


class _World:
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


def _sentence(ev: Event, rng: random.Random) -> str:
    a = ev.actors
    if ev.kind == "intro":
        return rng.choice(
            [
                f"{a[0]} had lived in {ev.place} for as long as anyone could remember.",
                f"At that time {a[0]} made a home in {ev.place}.",
            ]
        )
    if ev.kind == "hint":
        return f"{a[0]} kept a sealed letter from {a[1]} and would not say what it held."
    if ev.kind == "move":
        return rng.choice(
            [
                f"{a[0]} left {ev.extra['old']} and settled in {ev.place}.",
                f"After a bitter winter, {a[0]} moved from {ev.extra['old']} to {ev.place}.",
            ]
        )
    if ev.kind == "ally":
        return f"{a[0]} and {a[1]} swore an alliance and shook hands on it in {ev.place}."
    if ev.kind == "betray":
        return rng.choice(
            [
                f"{a[0]} betrayed {a[1]}, selling {a[1]}'s plans to the council.",
                f"In secret, {a[0]} broke faith with {a[1]} and betrayed every promise.",
            ]
        )
    if ev.kind == "marry":
        return f"{a[0]} married {a[1]} in {ev.place}, and {a[1]} came to live in {ev.place}."
    if ev.kind == "death":
        return f"{a[0]} died in {ev.place} and was buried outside the town walls."
    if ev.kind == "reveal":
        return (
            f"At last the letter was opened: it was revealed that {a[0]} was the child of {a[1]}."
        )
    raise ValueError(ev.kind)


def _filler(rng: random.Random, world: _World, n_words: int) -> list[str]:
    """Paragraphs of scenery and routine that mention people and places but state no event."""
    paragraphs: list[str] = []
    words = 0
    while words < n_words:
        place = rng.choice(world.places)
        person = rng.choice(world.people)
        sentences = [
            f"{place} was known for {rng.choice(PLACE_TRAITS)}.",
            rng.choice(WEATHER),
            f"{person} {rng.choice(CHORES)}.",
            rng.choice(MOODS),
        ]
        rng.shuffle(sentences)
        text = " ".join(sentences[: rng.randint(2, 4)])
        paragraphs.append(text)
        words += len(text.split())
    return paragraphs


def generate(cfg: SynthConfig) -> tuple[str, list[dict], dict]:
    """Generate ``(narrative, questions, meta)``; deterministic in ``cfg``."""
    cfg.validate()
    rng = random.Random(cfg.seed)
    world = _World(cfg, rng)
    world.step(cfg.n_events)
    events = world.events
    for ev in events:
        ev.sentence = _sentence(ev, rng)
    # ~1.25 embedder tokens per word on this vocabulary; filler makes up the rest.
    target_words = int(cfg.target_tokens / 1.25)
    event_words = sum(len(e.sentence.split()) for e in events)
    # Each event also costs a chapter share and a lead sentence (~12 words).
    per_gap = max(0, (target_words - event_words - 12 * len(events)) // len(events))
    parts: list[str] = []
    offset = 0
    chapter = 0
    for i, ev in enumerate(events):
        if i % max(1, len(events) // 12) == 0:
            chapter += 1
            parts.append(f"Chapter {chapter}")
            offset += len(parts[-1]) + 2
        for paragraph in _filler(rng, world, per_gap // 2):
            parts.append(paragraph)
            offset += len(paragraph) + 2
        # The event sentence closes a short scene paragraph, like any other sentence.
        lead = _filler(rng, world, 1)[0] if per_gap else ""
        lead = " ".join(lead.split(". ")[:1]).rstrip(".") + "." if lead else ""
        paragraph = f"{lead} {ev.sentence}" if lead else ev.sentence
        ev.start = offset + (len(lead) + 1 if lead else 0)
        ev.end = ev.start + len(ev.sentence)
        parts.append(paragraph)
        offset += len(paragraph) + 2
        for paragraph in _filler(rng, world, per_gap - per_gap // 2):
            parts.append(paragraph)
            offset += len(paragraph) + 2
    text = "\n\n".join(parts) + "\n"
    for ev in events:
        assert text[ev.start : ev.end] == ev.sentence
    questions = _questions(cfg, world, rng)
    meta = {
        "generator": "comorag.synth",
        "config": cfg.__dict__,
        "characters": world.people,
        "places": world.places,
        "n_events": len(events),
        "n_words": len(text.split()),
        "n_questions": len(questions),
    }
    return text, questions, meta


def _span(ev: Event) -> dict:
    return {"start": ev.start, "end": ev.end, "text": ev.sentence, "event": ev.index}


def _home_before(events: list[Event], person: str, index: int) -> Event:
    """The event that last set ``person``'s home before event ``index``."""
    last = None
    for ev in events[:index]:
        if ev.kind in ("intro", "move") and ev.actors[0] == person:
            last = ev
        elif ev.kind == "marry" and person in ev.actors:
            last = ev
    assert last is not None
    return last


def _questions(cfg: SynthConfig, world: _World, rng: random.Random) -> list[dict]:
    events = world.events
    makers = []
    for ev in events:
        if ev.kind == "death":
            for other in world.people:
                if other != ev.actors[0] and any(
                    e.kind == "move" and e.actors[0] == other for e in events[: ev.index]
                ):
                    home = _home_before(events, other, ev.index)
                    makers.append(
                        (
                            "temporal",
                            f"Where was {other} living when {ev.actors[0]} died?",
                            home.place,
                            [home, ev],
                            "place",
                        )
                    )
        if ev.kind == "betray":
            victim = ev.actors[1]
            for m in events[: ev.index]:
                if m.kind == "marry" and victim in m.actors:
                    partner = m.actors[0] if m.actors[1] == victim else m.actors[1]
                    makers.append(
                        (
                            "multi-hop",
                            f"Who betrayed the person that {partner} married?",
                            ev.actors[0],
                            [m, ev],
                            "person",
                        )
                    )
        if ev.kind == "reveal":
            child, parent = ev.actors
            deaths = [d for d in events if d.kind == "death" and d.actors[0] == parent]
            if deaths:
                makers.append(
                    (
                        "multi-hop",
                        f"Where did the parent of {child} die?",
                        deaths[0].place,
                        [ev, deaths[0]],
                        "place",
                    )
                )
            makers.append(
                (
                    "late-reveal",
                    f"Whose child was {child} revealed to be?",
                    parent,
                    [ev],
                    "person",
                )
            )
            hint = next(h for h in events if h.kind == "hint" and h.actors[0] == child)
            makers.append(
                (
                    "late-reveal",
                    f"Who wrote the sealed letter that {child} kept?",
                    parent,
                    [hint],
                    "person",
                )
            )
        if ev.kind == "marry":
            a, b = ev.actors
            if any(e.kind == "move" and e.actors[0] == b for e in events[: ev.index]):
                home = _home_before(events, b, ev.index)
                makers.append(
                    (
                        "temporal",
                        f"Where did {b} live just before marrying {a}?",
                        home.place,
                        [home, ev],
                        "place",
                    )
                )
    for person in world.people:
        moves = [e for e in events if e.kind == "move" and e.actors[0] == person]
        if 2 <= len(moves) <= 9:
            makers.append(
                (
                    "temporal",
                    f"How many times did {person} move from one town to another?",
                    NUMBER_WORDS[len(moves)],
                    moves,
                    "count",
                )
            )
            makers.append(
                (
                    "temporal",
                    f"Where did {person} settle on their first move?",
                    moves[0].place,
                    moves[:1],
                    "place",
                )
            )
            home = _home_before(events, person, len(events))
            makers.append(
                (
                    "temporal",
                    f"Where was {person} living at the end of the story?",
                    home.place,
                    [home],
                    "place",
                )
            )
    rng.shuffle(makers)
    # Round-robin over question templates so that no single template dominates.
    groups: dict[str, list] = {}
    for maker in makers:
        words = maker[1].split()
        template = " ".join(w for w in words[1:] if not w[0].isupper())
        groups.setdefault(words[0] + " " + template, []).append(maker)
    makers = []
    while any(groups.values()):
        for key in sorted(groups):
            if groups[key]:
                makers.append(groups[key].pop(0))
    # Order questions: four events, which happened first.
    order_qs = []
    pool = [e for e in events if e.kind in ("move", "marry", "betray", "ally", "death")]
    for _ in range(max(1, cfg.n_questions // 6)):
        picked = sorted(rng.sample(pool, 4), key=lambda e: e.index)
        order_qs.append(picked)
    questions: list[dict] = []
    seen: set[str] = set()
    for kind, question, answer, evidence, answer_type in makers:
        if question in seen:
            continue
        seen.add(question)
        questions.append(
            _question(
                len(questions),
                kind,
                question,
                answer,
                evidence,
                answer_type,
                world,
                rng,
                mc=len(questions) % 2 == 1,
            )
        )
        if len(questions) >= cfg.n_questions - len(order_qs):
            break
    for picked in order_qs:
        options = [_describe(e) for e in picked]
        shuffled = options[:]
        rng.shuffle(shuffled)
        questions.append(
            {
                "id": f"q{len(questions):03d}",
                "type": "event-order",
                "question": "Which of these happened first in the story?",
                "choices": shuffled,
                "answer_index": shuffled.index(options[0]),
                "answers": [options[0]],
                "evidence": [_span(e) for e in picked],
            }
        )
    return questions


def _describe(ev: Event) -> str:
    a = ev.actors
    return {
        "move": lambda: f"{a[0]} moved to {ev.place}",
        "marry": lambda: f"{a[0]} married {a[1]}",
        "betray": lambda: f"{a[0]} betrayed {a[1]}",
        "ally": lambda: f"{a[0]} allied with {a[1]}",
        "death": lambda: f"{a[0]} died",
    }[ev.kind]()


def _question(i, kind, question, answer, evidence, answer_type, world, rng, *, mc) -> dict:
    record: dict[str, Any] = {
        "id": f"q{i:03d}",
        "type": kind,
        "question": question,
        "answers": [answer],
        "evidence": [_span(e) for e in sorted(evidence, key=lambda e: e.index)],
    }
    if mc:
        if answer_type == "place":
            others = [p for p in world.places if p != answer]
        elif answer_type == "person":
            others = [p for p in world.people if p != answer]
        else:
            others = [w for w in NUMBER_WORDS[1:] if w != answer]
        choices = [*rng.sample(others, 3), answer]
        rng.shuffle(choices)
        record["choices"] = choices
        record["answer_index"] = choices.index(answer)
    return record


def write(cfg: SynthConfig, out: str | Path) -> dict:
    """Write ``narrative.txt``, ``questions.jsonl`` and ``meta.json`` under ``out``."""
    text, questions, meta = generate(cfg)
    out = Path(out)
    write_text_atomic(out / "narrative.txt", text)
    write_jsonl(out / "questions.jsonl", questions)
    write_json(out / "meta.json", meta)
    return meta
