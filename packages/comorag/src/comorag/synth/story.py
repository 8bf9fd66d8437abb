"""The narrative: one sentence per event, placed between paragraphs of scenery and routine."""

from __future__ import annotations

import random

from comorag.config import SynthConfig
from comorag.synth.questions import questions_for
from comorag.synth.world import CHORES, MOODS, PLACE_TRAITS, WEATHER, Event, World


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


def _filler(rng: random.Random, world: World, n_words: int) -> list[str]:
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
    world = World(cfg, rng)
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
    questions = questions_for(cfg, world, rng)
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
