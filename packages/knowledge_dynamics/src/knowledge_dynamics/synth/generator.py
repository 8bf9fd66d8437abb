"""The embedded Fictional Knowledge generator (same schema as the paper's dataset).

Each item is a short encyclopedia passage about a new fictional inventor: ten sentences,
each ending with a named entity. Probes follow the paper's recipe:

* memorization: a passage sentence cut before its last entity (5 per item);
* semantic: a held-out re-phrasing of the same fact, ending with the same entity (5);
* composition: a cloze that needs two passage sentences combined (5);
* paraphrases: 9 re-worded passages (paraphrase forms, reordered sentence blocks).

All names are fresh and disjoint from the background corpus (:mod:`knowledge_dynamics.synth.names`).
"""

from __future__ import annotations

import random

from knowledge_dynamics.data.knowledge import KnowledgeItem
from knowledge_dynamics.synth.names import NameMaker
from knowledge_dynamics.synth.templates import BLOCKS, COMPOSITIONS, FACTS, PROBED, cloze, render

SUFFIXES_COMPANY = ["Works", "Foundry", "Instruments", "Engines", "Company"]
SUFFIXES_AWARD = ["Medal", "Prize", "Award"]


def entity_slots(names: NameMaker, rng: random.Random) -> dict[str, str]:
    """Fresh entities for every slot of one person's facts."""
    return {
        "p": names.person(),
        "country": names.word(),
        "city1": names.word(),
        "river": names.word(),
        "company": f"{names.word()} {rng.choice(SUFFIXES_COMPANY)}",
        "city2": names.word(),
        "mentor": names.person(),
        "city3": names.word(),
        "spouse": names.person(),
        "opera": names.word(),
        "award": f"{names.word()} {rng.choice(SUFFIXES_AWARD)}",
    }


def sentence(k: int, form: int, slots: dict[str, str]) -> str:
    relation, obj, subj = FACTS[k]
    return render(relation, form, slots, subj, obj)


def passage(slots: dict[str, str]) -> str:
    """The original passage: all facts in their original form, in order."""
    return " ".join(sentence(k, 0, slots) for k in range(len(FACTS)))


def paraphrase(slots: dict[str, str], rng: random.Random) -> str:
    """A re-worded passage: paraphrase forms 1-3, blocks after the first reordered."""
    rest = BLOCKS[1:]
    order = [BLOCKS[0], *rng.sample(rest, len(rest))]
    return " ".join(sentence(k, rng.randint(1, 3), slots) for block in order for k in block)


def make_item(slots: dict[str, str], rng: random.Random, n_paraphrases: int) -> KnowledgeItem:
    by_relation = {rel: (subj, obj) for rel, obj, subj in FACTS}
    mem, gen = [], []
    for rel in PROBED:
        subj, obj = by_relation[rel]
        mem.append(cloze(rel, 0, slots, subj, obj))
        gen.append(cloze(rel, 4, slots, subj, obj))
    hard = [(text.format(**slots), slots[obj]) for text, obj in COMPOSITIONS]
    paras = []
    while len(paras) < n_paraphrases:
        p = paraphrase(slots, rng)
        if p not in paras or len(paras) >= 50:  # distinct where possible
            paras.append(p)
    return KnowledgeItem(
        passage(slots), {"memorization": mem, "semantic": gen, "composition": hard}, paras
    )


def synth_knowledge(n_items: int, seed: int = 0, n_paraphrases: int = 9) -> list[KnowledgeItem]:
    """``n_items`` fictional passages with probes and paraphrases, deterministic in ``seed``."""
    rng = random.Random(f"knowledge-{seed}")
    names = NameMaker(rng, "knowledge")
    return [make_item(entity_slots(names, rng), rng, n_paraphrases) for _ in range(n_items)]
