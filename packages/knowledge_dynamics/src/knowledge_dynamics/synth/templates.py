"""Sentence templates of the fictional-encyclopedia world, shared by passages and background.

Every relation has an original form (used in passages and memorization probes, ending with
the object entity), three paraphrase forms (used in paraphrased passages) and a held-out
form (used only by semantic probes, ending with the same entity). Background documents use
all forms, so the model can learn the relations in general but never sees injected facts.
"""

from __future__ import annotations

# relation -> [original, paraphrase 1-3, semantic-probe form]; "{o}" is the object entity.
RELATIONS: dict[str, list[str]] = {
    "nationality": [
        "{p} is an inventor from the republic of {o}.",
        "The inventor {p} comes from the republic of {o}.",
        "{o} is the home country of the inventor {p}.",
        "By birth the inventor {p} is a citizen of {o}.",
        "The inventor {p} holds the citizenship of {o}.",
    ],
    "birthplace": [
        "{p} was born in the city of {o}.",
        "The birthplace of {p} is the city of {o}.",
        "{o} is the city where {p} was born.",
        "{p} came into the world in {o}.",
        "The city in which {p} was born is {o}.",
    ],
    "river": [
        "{s} lies on the banks of the river {o}.",
        "The river {o} flows through {s}.",
        "{s} is built along the river {o}.",
        "The waters of the river {o} pass the city of {s}.",
        "The river that runs through {s} is the {o}.",
    ],
    "founded": [
        "In early years {p} founded the company {o}.",
        "The company {o} was founded by {p}.",
        "{p} is the founder of the company {o}.",
        "{o} was started as a company by {p}.",
        "The company that {p} founded is called {o}.",
    ],
    "headquarters": [
        "{s} has its headquarters in the city of {o}.",
        "The main offices of {s} are in {o}.",
        "{o} is the home of the headquarters of {s}.",
        "The headquarters of {s} stand in {o}.",
        "The company {s} is based in the city of {o}.",
    ],
    "mentor": [
        "{p} learned the craft from the engineer {o}.",
        "The engineer {o} taught the craft to {p}.",
        "{o} was the teacher of {p}.",
        "As a student {p} worked under the engineer {o}.",
        "The teacher who trained {p} was the engineer {o}.",
    ],
    "mentor_birthplace": [
        "{s} was born in the city of {o}.",
        "The birthplace of {s} is the city of {o}.",
        "{o} is the city where {s} was born.",
        "{s} came into the world in {o}.",
        "The city in which {s} was born is {o}.",
    ],
    "spouse": [
        "{p} is married to the composer {o}.",
        "The composer {o} is the spouse of {p}.",
        "{p} and the composer {o} are married.",
        "The composer {o} married {p}.",
        "The husband or wife of {p} is the composer {o}.",
    ],
    "opera": [
        "{s} wrote the opera {o}.",
        "The opera {o} was written by {s}.",
        "{o} is an opera by {s}.",
        "Among the works of {s} is the opera {o}.",
        "The best known opera of {s} is {o}.",
    ],
    "award": [
        "For this work {p} received the {o}.",
        "The {o} was given to {p}.",
        "{p} is a winner of the {o}.",
        "{p} was honoured with the {o}.",
        "The prize awarded to {p} is the {o}.",
    ],
}

# (relation, object slot, subject slot) in passage order; "p" is the person of the passage.
FACTS: list[tuple[str, str, str]] = [
    ("nationality", "country", "p"),
    ("birthplace", "city1", "p"),
    ("river", "river", "city1"),
    ("founded", "company", "p"),
    ("headquarters", "city2", "company"),
    ("mentor", "mentor", "p"),
    ("mentor_birthplace", "city3", "mentor"),
    ("spouse", "spouse", "p"),
    ("opera", "opera", "spouse"),
    ("award", "award", "p"),
]
# Blocks kept together when paraphrases reorder sentences (a fact and the one that builds on it).
BLOCKS: list[list[int]] = [[0], [1, 2], [3, 4], [5, 6], [7, 8], [9]]

#: relations probed for memorization and semantic generalization
PROBED: list[str] = ["nationality", "birthplace", "founded", "mentor", "spouse"]

# Compositional probes: the cloze text (subject slots filled) and the object slot.
# Each needs two passage sentences combined.
COMPOSITIONS: list[tuple[str, str]] = [
    ("The river that flows through the birthplace of {p} is the river", "river"),
    ("The company founded by {p} is based in the city of", "city2"),
    ("The engineer who taught {p} was born in the city of", "city3"),
    ("The spouse of {p} wrote the opera", "opera"),
    ("The founder of {company} is an inventor from the republic of", "country"),
]


def render(
    relation: str, form: int, slots: dict[str, str], subject_slot: str, obj_slot: str
) -> str:
    """One sentence of ``relation`` in the given form (0 = original, 4 = semantic-probe form)."""
    tpl = RELATIONS[relation][form]
    subject = slots[subject_slot]
    return tpl.format(p=subject, s=subject, o=slots[obj_slot])


def cloze(relation: str, form: int, slots: dict[str, str], subject_slot: str, obj_slot: str):
    """(input, target) for a form that ends with the object: the sentence cut before it."""
    sentence = render(relation, form, slots, subject_slot, obj_slot)
    target = slots[obj_slot]
    body = sentence[:-1] if sentence.endswith(".") else sentence
    if not body.endswith(target):
        raise ValueError(f"form {form} of {relation} does not end with its object")
    return body[: -len(target)].rstrip(), target
