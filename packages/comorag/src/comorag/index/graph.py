"""The veridical layer's knowledge graph: entities, facts, chunks, synonym edges, PPR.

Nodes are ``e:<entity>`` and ``c:<chunk id>``. A triple links its two entities (weight =
how often the pair occurs) and each entity to the chunk it came from; entities whose name
embeddings are close get synonym edges. Ranking is personalized PageRank from the
entities of the facts that match a query, plus a small reset weight on dense-matched
chunks, as in HippoRAG 2.
"""

from __future__ import annotations

import re

import networkx as nx
import numpy as np


def entity_key(name: str) -> str:
    """A normal form for entity names: lower case, single spaces, no edge punctuation."""
    return re.sub(r"\s+", " ", name.lower()).strip(" .,;:'\"")


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

    ``only``: entity keys to link (new ones, on incremental add); default all.
    Names with at most 2 letters or digits are skipped, as in the official code.
    """
    ok = [i for i, n in enumerate(names) if len(re.sub(r"[^a-z0-9]", "", n)) > 2]
    if len(ok) < 2:
        return 0
    sub = emb[ok]
    sims = sub @ sub.T
    added = 0
    for row, i in enumerate(ok):
        if only is not None and names[i] not in only:
            continue
        order = np.argsort(-sims[row])
        linked = 0
        for col in order:
            j = ok[col]
            if j == i:
                continue
            if sims[row, col] < threshold or linked >= max_per_node:
                break
            a, b = f"e:{names[i]}", f"e:{names[j]}"
            if not graph.has_edge(a, b):
                graph.add_edge(a, b, weight=float(sims[row, col]), kind="synonym")
                added += 1
            linked += 1
    return added


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
