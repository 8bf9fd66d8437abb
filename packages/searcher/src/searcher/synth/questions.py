"""Closed-ended (single-hop and 2-hop) and open-ended (O²-QA style) questions over the world."""

from __future__ import annotations

import random

from searcher.synth.texts import related_facts
from searcher.synth.world import World, facts


def closed_questions(world: World) -> list[dict]:
    """Every single-hop and 2-hop question the world supports, with its reasoning chain.

    ``chain`` lists ``(entity, keyword)`` hops the scripted expert searches for, and
    ``bridge`` the intermediate answers it must find on the way.
    """
    by = world.by_name()
    qs: list[dict] = []

    def add(question, answer, hops, chain, bridge=()):
        qs.append(
            {
                "question": question,
                "golden_answers": [str(answer)],
                "hops": hops,
                "chain": chain,
                "bridge": list(bridge),
            }
        )

    for p in world.people:
        n = p["name"]
        add(f"In which city was {n} born?", p["birth_city"], 1, [[n, "born city"]])
        add(f"In what year was {n} born?", p["born"], 1, [[n, "born year"]])
        add(f"Which organisation does {n} work for?", p["employer"], 1, [[n, "works for"]])
        org = by[p["employer"]]
        add(
            f"In which city is the organisation that employs {n} headquartered?",
            org["hq"],
            2,
            [[n, "works for"], [org["name"], "headquartered"]],
            [org["name"]],
        )
        add(
            f"Who founded the organisation that {n} works for?",
            org["founder"],
            2,
            [[n, "works for"], [org["name"], "founded by"]],
            [org["name"]],
        )
        add(
            f"In which country was {n} born?",
            by[p["birth_city"]]["country"],
            2,
            [[n, "born city"], [p["birth_city"], "country"]],
            [p["birth_city"]],
        )
    for o in world.orgs:
        n = o["name"]
        add(f"In which city is {n} headquartered?", o["hq"], 1, [[n, "headquartered"]])
        add(f"Who founded {n}?", o["founder"], 1, [[n, "founded by"]])
        add(f"In what year was {n} founded?", o["founded"], 1, [[n, "founded year"]])
        add(
            f"In what year was the founder of {n} born?",
            by[o["founder"]]["born"],
            2,
            [[n, "founded by"], [o["founder"], "born year"]],
            [o["founder"]],
        )
    for c in world.cities:
        add(f"In which country is {c['name']}?", c["country"], 1, [[c["name"], "country"]])
    for ev in world.events:
        n = ev["name"]
        add(f"In which city was the {n} held?", ev["city"], 1, [[n, "held in city"]])
        add(
            f"In which country was the {n} held?",
            by[ev["city"]]["country"],
            2,
            [[n, "held in city"], [ev["city"], "country"]],
            [ev["city"]],
        )
        add(
            f"Who founded the organisation that organised the {n}?",
            by[ev["organiser"]]["founder"],
            2,
            [[n, "organised by"], [ev["organiser"], "founded by"]],
            [ev["organiser"]],
        )
    return qs


def open_questions(world: World) -> list[dict]:
    """One open question per organisation and per city; findings come from several pages."""
    by = world.by_name()
    qs = []
    for o in world.orgs:
        founder = by[o["founder"]]
        findings = facts(o, world) + related_facts(o, world)
        findings.append(
            f"{founder['name']}, the founder of {o['name']}, was born in {founder['birth_city']}."
        )
        qs.append(
            {
                "question": f"What are the key facts about {o['name']}: its founding, location, "
                "people and events?",
                "findings": findings,
                "aspects": [
                    f"{o['name']} founded",
                    f"{o['name']} headquartered",
                    f"{o['name']} people events",
                    f"{founder['name']} born",
                ],
            }
        )
    for c in world.cities:
        findings = facts(c, world) + related_facts(c, world)
        qs.append(
            {
                "question": f"What is known about the city of {c['name']}: its country, river, "
                "organisations, events and people?",
                "findings": findings,
                "aspects": [
                    f"{c['name']} country river",
                    f"{c['name']} headquartered",
                    f"{c['name']} held events",
                    f"{c['name']} born people",
                ],
            }
        )
    return qs


def split(items: list[dict], test_fraction: float, seed: int, prefix: str) -> tuple[list, list]:
    """Shuffle with ``seed`` and give every item a unique id before splitting."""
    rng = random.Random(seed)
    items = list(items)
    rng.shuffle(items)
    for i, item in enumerate(items):
        item["id"] = f"{prefix}-{i}"
    n_test = max(1, round(test_fraction * len(items)))
    return items[n_test:], items[:n_test]
