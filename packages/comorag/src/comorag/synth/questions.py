"""Questions on the generated world, with gold answers and the spans of every sentence needed."""

from __future__ import annotations

import random
from typing import Any

from comorag.config import SynthConfig
from comorag.synth.world import NUMBER_WORDS, Event, World


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


def questions_for(cfg: SynthConfig, world: World, rng: random.Random) -> list[dict]:
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
    # Order questions: four events, which happened first. Only events whose description
    # is unique in the story, so the four options differ and each names one event.
    order_qs = []
    pool = [e for e in events if e.kind in ("move", "marry", "betray", "ally", "death")]
    counts: dict[str, int] = {}
    for e in pool:
        counts[_describe(e)] = counts.get(_describe(e), 0) + 1
    pool = [e for e in pool if counts[_describe(e)] == 1]
    for _ in range(max(1, cfg.n_questions // 6) if len(pool) >= 4 else 0):
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
        # The events are named in the question itself: retrieval never sees the options,
        # and "which of these happened first?" alone would retrieve nothing useful.
        listed = ", ".join(shuffled[:-1]) + f" or {shuffled[-1]}"
        questions.append(
            {
                "id": f"q{len(questions):03d}",
                "type": "event-order",
                "question": f"Which happened first in the story: {listed}?",
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
