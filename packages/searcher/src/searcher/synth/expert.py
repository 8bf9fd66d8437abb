"""A scripted expert that solves benchmark questions by calling the real search environment.

It knows the reasoning chain of each question (from the world) but takes its evidence
from what the environment returns: a hop whose result does not show up in the
observation is retried once with a plainer query, and a trajectory whose evidence never
shows up is dropped. The resulting conversations are the cold-start SFT data.
"""

from __future__ import annotations

import re

from searcher.agent.protocol import initial_messages, render_observation

_PHRASE = {
    "born city": "birth city",
    "born year": "birth year",
    "works for": "employer",
    "headquartered": "headquarters city",
    "founded by": "founder",
    "founded year": "founding year",
    "country": "country",
    "held in city": "host city",
    "organised by": "organiser",
}


def _search_turn(thought: str, queries: list[str]) -> str:
    body = "".join(f"<query>{q}</query>" for q in queries)
    return f"<think>{thought}</think>\n<search>{body}</search>"


def _answer_turn(thought: str, answer: str) -> str:
    return f"<think>{thought}</think>\n<answer>{answer}</answer>"


def closed_trajectory(q: dict, env) -> list[dict] | None:
    """Messages of an expert episode for a closed question, or None if evidence was missing."""
    messages = initial_messages(q["question"])
    targets = q["bridge"] + q["golden_answers"][:1]
    found = None
    for hop, ((entity, keyword), target) in enumerate(zip(q["chain"], targets, strict=True)):
        what = _PHRASE.get(keyword, keyword)
        if hop == 0:
            thought = f"I need the {what} of {entity}. I will search for it."
        else:
            thought = f"{q['chain'][hop - 1][0]} is linked to {entity}. Now I need the {what} of {entity}."
        for attempt, query in enumerate([f"{entity} {keyword}", entity]):
            if attempt:
                thought = f"The results do not mention it yet. I will search for {entity} directly."
            messages.append({"role": "assistant", "content": _search_turn(thought, [query])})
            obs = env.observe([[query]], ["closed"])[0]
            messages.append({"role": "user", "content": render_observation(obs)})
            if target.lower() in obs.lower():
                found = target
                break
        else:
            return None
    answer = q["golden_answers"][0]
    messages.append(
        {
            "role": "assistant",
            "content": _answer_turn(f"The learnings show that the answer is {found}.", answer),
        }
    )
    return messages


_KEY = re.compile(r"\b(?:[A-Z][a-z]+|\d+)\b")


def _supported(finding: str, evidence: str) -> bool:
    """The evidence states the finding's names and numbers (the learnings restate sentences,
    so their wording differs; what a fact is about and its value do not)."""
    keys = set(_KEY.findall(finding)) - {"The"}
    found = set(_KEY.findall(evidence))
    return bool(keys) and keys <= found


def open_trajectory(q: dict, env) -> list[dict] | None:
    """Messages of an expert episode for an open question: two search rounds, then findings."""
    messages = initial_messages(q["question"])
    aspects = q["aspects"]
    rounds = [aspects[:2], aspects[2:]]
    thoughts = [
        "This is a broad question. I will search several aspects of it.",
        "I have some facts. I will search the remaining aspects.",
    ]
    evidence = ""
    for thought, queries in zip(thoughts, rounds, strict=True):
        messages.append({"role": "assistant", "content": _search_turn(thought, queries)})
        obs = env.observe([queries], ["open"])[0]
        evidence += "\n" + obs
        messages.append({"role": "user", "content": render_observation(obs)})
    # The expert states each supported fact in its own (the reference) wording, one bullet
    # each: it rewrites what it learnt rather than copying the learnings.
    supported = [f for f in q["findings"] if _supported(f, evidence)]
    if len(supported) < 2:
        return None
    answer = "\n".join(f"- {f}" for f in supported)
    messages.append(
        {
            "role": "assistant",
            "content": _answer_turn("I have enough facts to list the key findings.", answer),
        }
    )
    return messages
