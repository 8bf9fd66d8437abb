"""Veridical retrieval on a story written here (not by the benchmark generator).

The scripted triple extractor behaves like a small model: it copies the prompt's example
for most passages, invents a triple its passage does not state, and writes real triples
for a few passages only. Plain factual questions must still find their evidence chunk
in the top 3: every chunk is linked to the entities it names, and the graph ranking is
fused with the dense one.
"""

from __future__ import annotations

import pytest

from comorag.agent.retrieve import Retriever
from comorag.config import IndexConfig, LoopConfig
from comorag.index.build import build_index
from comorag.index.store import Index
from comorag.prompts import EXAMPLE_TRIPLES

PARAGRAPHS = [
    "Orla Vance kept the ferry at Dunmere for thirty years. Each spring she painted its "
    "hull green, and each autumn she hauled it onto the gravel beside her cottage.",
    "The bells rang twice.",
    "Her brother Cathal ran the bakery on Tanner Street. He rose at four, fed the ovens "
    "with beech logs, and sold rye loaves to the quarrymen before dawn.",
    "When the river froze in the hard winter, Orla hid the brass key of the ferry house "
    "under a loose board in the floor of the old mill, where no one went.",
    "A surveyor named Idris Holm arrived from the capital with a chest of instruments. "
    "He lodged above the chandlery and measured the riverbanks for a new bridge.",
    "Cathal quarrelled with the surveyor over the bridge, because a bridge would ruin "
    "the ferry. The two men shouted at each other outside the guildhall on market day.",
    "The schoolmistress, Wenna Pryce, taught the village children to read from a single "
    "battered atlas. She kept a pet jackdaw that stole thimbles from the seamstresses.",
    "In the thaw a flood carried away the chandlery's jetty. Idris Holm lost his "
    "theodolite in the water and wrote to the capital for another.",
    "Wenna Pryce married the miller, Bram Tolley, in the chapel on the hill. The whole "
    "village ate honey cakes, and the jackdaw sat on the altar rail.",
    "Bram Tolley found the brass key while mending the mill floor and carried it to the "
    "magistrate, who locked it in an iron box until its owner claimed it.",
    "At midsummer the council voted against the bridge. Idris Holm packed his chest, "
    "paid the chandler, and took the mail coach north to Carrick.",
    "Orla gave the ferry to her niece Sorcha on her seventieth birthday and moved into "
    "the rooms above Cathal's bakery, where she could smell the bread at dawn.",
]
STORY = "\n\n".join(PARAGRAPHS) + "\n"

#: (question, a phrase of the one sentence that answers it)
QUESTIONS = [
    ("Where did Orla hide the brass key?", "hid the brass key"),
    ("What did Cathal burn in his ovens?", "beech logs"),
    ("Where did the surveyor lodge?", "lodged above the chandlery"),
    ("Who did Wenna Pryce marry?", "married the miller"),
    ("What did Idris Holm lose in the flood?", "lost his theodolite"),
    ("Where did Idris Holm go after the council vote?", "mail coach north"),
    ("Who found the brass key?", "Bram Tolley found the brass key"),
    ("What pet did the schoolmistress keep?", "pet jackdaw"),
    ("Who did Orla give the ferry to?", "niece Sorcha"),
    ("Why did Cathal quarrel with the surveyor?", "would ruin"),
]


def small_model_triples(passage: str) -> str:
    """Triples as a 135M model writes them: mostly the example, one invented, few real."""
    if "Idris Holm arrived" in passage:
        return "Idris Holm | arrived from | capital\nIdris Holm | lodged above | chandlery"
    if "bells" in passage:
        return "bells | rang | twice"
    if "Wenna Pryce married" in passage:
        return "Lorcan | married | Marco\nWenna Pryce | married | Bram Tolley"
    return EXAMPLE_TRIPLES


@pytest.fixture(scope="module")
def retriever(tmp_path_factory, embedder, scripted, reply):
    from comorag.index.chunking import TokenCounter
    from comorag.index.resources import Resources
    from comorag.llm import Agents

    def script(role, conv):
        if role == "Triple":
            return small_model_triples(conv[-1]["content"])
        return reply(role, conv)

    folder = tmp_path_factory.mktemp("veridical")
    path = folder / "story.txt"
    path.write_text(STORY, encoding="utf-8")
    counter = TokenCounter(embedder.model.tokenizer, embedder.model.max_seq_length)
    res = Resources(embedder, counter, Agents(scripted(script)))
    build_index(path, folder / "idx", IndexConfig(chunk_tokens=48), res, llm_name="s", quiet=True)
    index = Index.load(folder / "idx")
    return Retriever(index, res, LoopConfig())


def _evidence_chunk(index: Index, phrase: str) -> int:
    at = STORY.index(phrase)
    [cid] = [c["id"] for c in index.chunks if c["start"] <= at < c["end"]]
    return cid


def test_index_has_one_chunk_per_paragraph_and_a_graph(retriever):
    index = retriever.index
    assert len(index.chunks) >= 10
    assert index.facts and index.graph.number_of_edges() > 0


def test_top3_finds_the_evidence_of_plain_questions(retriever):
    queries = [q for q, _ in QUESTIONS]
    ranked = retriever.veridical(queries, retriever.embed(queries), 3)
    hits = [
        _evidence_chunk(retriever.index, phrase) in [u.id for u in units]
        for (_, phrase), units in zip(QUESTIONS, ranked, strict=True)
    ]
    assert sum(hits) >= 9, [q for (q, _), h in zip(QUESTIONS, hits, strict=True) if not h]
    # No chunk (such as the few with real triples) comes first for many questions it
    # does not answer (graph ranking alone puts the chunks with triples first for 5).
    first = [units[0].id for units in ranked]
    evidence = [_evidence_chunk(retriever.index, phrase) for _, phrase in QUESTIONS]
    wrong = [f for f, e in zip(first, evidence, strict=True) if f != e]
    assert max(map(wrong.count, wrong), default=0) <= 2, (first, evidence)


def test_ungrounded_triples_are_dropped_and_every_named_entity_is_linked(retriever):
    index = retriever.index
    assert "Lorcan married Marco" not in {f["text"] for f in index.facts}
    assert "Wenna Pryce married Bram Tolley" in {f["text"] for f in index.facts}
    assert index.graph.graph["ungrounded_triples_dropped"] == 1
    # Every chunk that names Idris Holm (in full or by an alias) is linked to him, though
    # only one chunk's triples mention him.
    graph = index.graph
    naming = {c["id"] for c in index.chunks if "Idris" in c["text"] or "Holm" in c["text"]}
    linked = {int(n[2:]) for n in graph.neighbors("e:idris holm") if n.startswith("c:")}
    assert len(naming) >= 3 and linked == naming
    bram = {int(n[2:]) for n in graph.neighbors("e:bram tolley") if n.startswith("c:")}
    assert bram == {c["id"] for c in index.chunks if "Bram" in c["text"]}
