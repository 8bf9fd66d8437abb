"""The veridical layer's knowledge graph: entities, facts, chunks, synonym edges, PPR.

Nodes are ``e:<entity>`` and ``c:<chunk id>``. A triple links its two entities (weight =
how often the pair occurs) and each entity to the chunk it came from; a triple whose
subject or object its chunk does not mention is dropped (small models copy the prompt's
example or invent names). Every chunk is also linked to every entity whose name (or
unambiguous alias) it mentions, so a chunk the extractor wrote nothing usable for is
still reachable through the graph. Entities whose name embeddings are close get synonym
edges (faiss kNN). Ranking is personalized PageRank from the entities of the facts that
match a query, plus a small reset weight on dense-matched chunks, as in HippoRAG 2.
"""

from __future__ import annotations

import re

import networkx as nx
import numpy as np


def entity_key(name: str) -> str:
    """A normal form for entity names: lower case, single spaces, no edge punctuation."""
    return re.sub(r"\s+", " ", name.lower()).strip(" .,;:'\"")


#: Words that never make an entity name or alias match on their own.
_STOP = frozenset(
    "a an the of and or in on at to for by with from his her hers its their them they he "
    "she him it i we you me my our your this that these those who whom one".split()
)


def name_words(text: str) -> list[str]:
    """Lower-case words (letters and digits) of a name or a passage."""
    return re.findall(r"[a-z0-9]+", text.lower())


def triple_grounded(triple: list[str] | tuple[str, ...], passage_words: set[str]) -> bool:
    """Whether the passage mentions the triple's subject and object: every word of each
    name that is not a stop word occurs in the passage ("the capital" needs "capital")."""
    for name in (triple[0], triple[2]):
        content = [w for w in name_words(name) if w not in _STOP]
        if not content or any(w not in passage_words for w in content):
            return False
    return True


def mention_patterns(entities: list[str]) -> dict[tuple[str, ...], str]:
    """Word sequences that mention each entity: its whole name, and each word of a
    multi-word name (at least 4 letters, not a stop word) that no other entity shares
    ("Orla" for "orla vance"). Names with at most 2 letters or digits, or only stop
    words, are left out."""
    patterns: dict[tuple[str, ...], str] = {}
    alias_owner: dict[str, set[str]] = {}
    for ent in entities:
        words = name_words(ent)
        if len("".join(words)) <= 2 or all(w in _STOP for w in words):
            continue
        patterns[tuple(words)] = ent
        if len(words) > 1:
            for w in words:
                if len(w) >= 4 and w not in _STOP:
                    alias_owner.setdefault(w, set()).add(ent)
    for w, owners in alias_owner.items():
        if len(owners) == 1 and (w,) not in patterns:
            patterns[(w,)] = next(iter(owners))
    return patterns


def link_mentions(graph: nx.Graph, chunks: list[dict], entities: list[str]) -> int:
    """Add a mention edge from each chunk to every entity it names; returns edges added."""
    patterns = mention_patterns(entities)
    longest = max((len(p) for p in patterns), default=0)
    added = 0
    for c in chunks:
        words = name_words(c["text"])
        found = {
            patterns[tuple(words[i : i + n])]
            for n in range(1, longest + 1)
            for i in range(len(words) - n + 1)
            if tuple(words[i : i + n]) in patterns
        }
        cnode = f"c:{c['id']}"
        graph.add_node(cnode, kind="chunk")
        for ent in sorted(found):
            enode = f"e:{ent}"
            if not graph.has_edge(cnode, enode):
                graph.add_edge(cnode, enode, weight=1.0, kind="mention")
                added += 1
    return added


def add_triples(
    graph: nx.Graph, facts: dict[str, dict], chunk_id: int, triples: list[list[str]]
) -> None:
    """Add one chunk's triples to ``graph`` and ``facts`` (fact text -> record)."""
    cnode = f"c:{chunk_id}"
    graph.add_node(cnode, kind="chunk")
    for s, p, o in triples:
        sk, ok = entity_key(s), entity_key(o)
        if not sk or not ok:
            continue
        for key, name in ((sk, s), (ok, o)):
            node = f"e:{key}"
            if node not in graph:
                graph.add_node(node, kind="entity", name=name)
            _bump(graph, node, cnode, "mention")
        if sk != ok:
            _bump(graph, f"e:{sk}", f"e:{ok}", "relation")
        text = f"{s} {p} {o}"
        record = facts.setdefault(text, {"text": text, "subject": sk, "object": ok, "chunks": []})
        if chunk_id not in record["chunks"]:
            record["chunks"].append(chunk_id)


def _bump(graph: nx.Graph, a: str, b: str, kind: str) -> None:
    if graph.has_edge(a, b):
        if kind == "relation":
            graph[a][b]["weight"] += 1.0
    else:
        graph.add_edge(a, b, weight=1.0, kind=kind)


def add_synonym_edges(
    graph: nx.Graph,
    names: list[str],
    emb: np.ndarray,
    threshold: float,
    max_per_node: int,
    only: set[str] | None = None,
) -> int:
    """Link entity nodes whose name embeddings have cosine >= ``threshold``.

    Neighbours come from a faiss kNN search (``max_per_node`` + 1 per entity), so no
    entity x entity matrix is formed. ``only``: entity keys to link (new ones, on
    incremental add); default all. Names with at most 2 letters or digits are skipped,
    as in the official code.
    """
    ok = [i for i, n in enumerate(names) if len(re.sub(r"[^a-z0-9]", "", n)) > 2]
    if len(ok) < 2:
        return 0
    sub = np.ascontiguousarray(emb[ok], dtype=np.float32)
    rows = [r for r, i in enumerate(ok) if only is None or names[i] in only]
    if not rows:
        return 0
    sims, cols = knn(sub, sub[rows], min(len(ok), max_per_node + 1))
    added = 0
    for r, row_sims, row_cols in zip(rows, sims, cols, strict=True):
        i = ok[r]
        linked = 0
        for sim, col in zip(row_sims, row_cols, strict=True):
            j = ok[int(col)]
            if j == i or col < 0:
                continue
            if sim < threshold or linked >= max_per_node:
                break
            a, b = f"e:{names[i]}", f"e:{names[j]}"
            if not graph.has_edge(a, b):
                graph.add_edge(a, b, weight=float(sim), kind="synonym")
                added += 1
            linked += 1
    return added


def knn(base: np.ndarray, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Inner-product top ``k`` of each query among ``base`` rows: (scores, row indices),
    best first. faiss (labcore's ``cpu`` extra) when installed, else numpy in blocks
    of queries so memory stays at one block x base."""
    try:
        import faiss
    except ImportError:
        faiss = None
    if faiss is not None:
        index = faiss.IndexFlatIP(base.shape[1])
        index.add(base)
        return index.search(np.ascontiguousarray(queries, dtype=np.float32), k)
    scores, idx = [], []
    for start in range(0, len(queries), 1024):
        block = queries[start : start + 1024] @ base.T
        top = np.argsort(-block, axis=1, kind="stable")[:, :k]
        idx.append(top)
        scores.append(np.take_along_axis(block, top, axis=1))
    return np.concatenate(scores), np.concatenate(idx)


def ppr_chunks(
    graph: nx.Graph,
    entity_weights: dict[str, float],
    chunk_weights: dict[int, float],
    damping: float,
) -> list[tuple[int, float]]:
    """Chunks ranked by personalized PageRank from the given reset weights, best first."""
    reset = {f"e:{k}": v for k, v in entity_weights.items() if f"e:{k}" in graph and v > 0}
    for cid, v in chunk_weights.items():
        node = f"c:{cid}"
        if node in graph and v > 0:
            reset[node] = reset.get(node, 0.0) + v
    if not reset:
        return []
    scores = nx.pagerank(
        graph, alpha=damping, personalization=reset, weight="weight", max_iter=200, tol=1e-8
    )
    ranked = [(int(n[2:]), s) for n, s in scores.items() if n.startswith("c:")]
    ranked.sort(key=lambda x: (-x[1], x[0]))
    return ranked
