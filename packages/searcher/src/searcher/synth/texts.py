"""Texts of the embedded benchmark: wiki passages (FlashRAG JSONL) and a noisy web-page cache."""

from __future__ import annotations

import random

from searcher.synth.world import World, facts

_BOILER = [
    "Skip to main content.",
    "Accept cookies to continue reading.",
    "Subscribe to our newsletter.",
    "Share this page.",
    "Related articles are listed below.",
    "Last edited by an anonymous user.",
    "Advertisement.",
    "Sign in to save this article.",
    "Page views this month: many.",
]
_FILLER = [
    "Historians still debate parts of this account.",
    "Local archives hold several letters on the subject.",
    "Visitors often ask about this in the reading room.",
    "The story is retold in many regional guidebooks.",
    "Little else is recorded about the early years.",
]
_SITES = ["chronicle", "wikiarchive", "heritage-notes", "cityguide", "annals", "factbook"]


def _slug(name: str) -> str:
    return "-".join(name.lower().split())


def wiki_passages(world: World) -> list[dict]:
    """One FlashRAG passage per entity: ``contents`` is the title, a newline, then the text."""
    out = []
    for e in world.countries + world.cities + world.orgs + world.people + world.events:
        text = " ".join(facts(e, world))
        extra = []
        if e["type"] == "org":
            staff = [p["name"] for p in world.people if p["employer"] == e["name"]][:3]
            if staff:
                extra.append(f"People working for {e['name']} include {', '.join(staff)}.")
        if e["type"] == "city":
            orgs = [o["name"] for o in world.orgs if o["hq"] == e["name"]]
            if orgs:
                extra.append(f"Organisations based in {e['name']}: {', '.join(orgs)}.")
        out.append({"id": str(len(out)), "contents": f"{e['name']}\n" + " ".join([text, *extra])})
    return out


def related_facts(entity: dict, world: World) -> list[str]:
    """Facts about other entities that a page on ``entity`` would also mention."""
    n = entity["name"]
    out: list[str] = []
    if entity["type"] == "org":
        out += [
            f"{p['name']}, a {p['occupation']}, works for {n}."
            for p in world.people
            if p["employer"] == n
        ][:3]
        out += [
            f"{n} organised the {ev['name']} in {ev['city']} in {ev['year']}."
            for ev in world.events
            if ev["organiser"] == n
        ]
    elif entity["type"] == "city":
        out += [f"{o['name']} is headquartered in {n}." for o in world.orgs if o["hq"] == n]
        out += [
            f"The {ev['name']} was held in {n} in {ev['year']}."
            for ev in world.events
            if ev["city"] == n
        ]
        out += [f"{p['name']} was born in {n}." for p in world.people if p["birth_city"] == n][:3]
    elif entity["type"] == "person":
        out += [f"{o['name']} was founded by {n}." for o in world.orgs if o["founder"] == n]
    return out


def web_pages(world: World, seed: int = 0, duplicate_rate: float = 0.3) -> list[dict]:
    """Longer, noisier pages: boilerplate, filler, distractor facts and near-duplicate mirrors."""
    rng = random.Random(seed + 1)
    people = world.people
    pages: list[dict] = []
    for e in world.cities + world.orgs + world.people + world.events:
        body = facts(e, world) + related_facts(e, world)
        rng.shuffle(body)
        distractors = [rng.choice(facts(rng.choice(people), world)) for _ in range(2)]
        sentences = (
            rng.sample(_BOILER, 2)
            + body[:4]
            + [rng.choice(_FILLER)]
            + body[4:]
            + distractors
            + rng.sample(_BOILER, 1)
        )
        site = rng.choice(_SITES)
        title = f"{e['name']} - {site}"
        pages.append(
            {
                "url": f"https://{site}.example/{_slug(e['name'])}",
                "title": title,
                "content": " ".join(sentences),
            }
        )
        if rng.random() < duplicate_rate:
            mirror = [s for s in sentences if s not in _BOILER]
            if len(mirror) > 3:
                mirror.pop(rng.randrange(len(mirror)))
            other = rng.choice([s for s in _SITES if s != site])
            pages.append(
                {
                    "url": f"https://{other}.example/mirror/{_slug(e['name'])}",
                    "title": f"{e['name']} (mirror)",
                    "content": " ".join(rng.sample(_BOILER, 1) + mirror),
                }
            )
    return pages
