"""Tri-retrieve: candidates from the veridical, semantic and episodic layers, packed into budgets.

Veridical retrieval follows HippoRAG 2: facts matched to the query, an LLM fact filter,
then personalized PageRank from the kept facts' entities (plus a small reset weight on
dense-matched chunks); by default that PPR ranking is fused with the dense chunk ranking
by reciprocal rank fusion (``ranking="rrf"``), so a chunk the graph cannot reach keeps
its dense rank; ``ranking="ppr"`` is the PPR order alone. With no graph or no kept fact
it falls back to dense retrieval.
The other layers are dense over their summaries. Packing fills each layer's token budget
best-first by score (``pack="score"``) or, as the official code does, re-sorts the
candidates into story order and stops at the first that does not fit (``pack="story"``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from comorag import prompts
from comorag.config import LoopConfig
from comorag.index.graph import ppr_chunks
from comorag.index.resources import Resources
from comorag.index.store import Index
from labcore.retrieval.fusion import reciprocal_rank_fusion

LAYERS = ("veridical", "semantic", "episodic")


@dataclass
class Unit:
    """One retrieved item."""

    layer: str
    id: int
    text: str
    score: float
    tokens: int
    chunks: list[int] = field(default_factory=list)
    """Source chunks (the chunk itself for veridical units)."""

    def ref(self) -> dict:
        return {
            "layer": self.layer,
            "id": self.id,
            "score": round(self.score, 4),
            "tokens": self.tokens,
            "chunks": self.chunks,
        }


def _minmax(x: np.ndarray) -> np.ndarray:
    if x.size == 0:
        return x
    lo, hi = float(x.min()), float(x.max())
    return (x - lo) / (hi - lo) if hi > lo else np.ones_like(x)


class Retriever:
    """Searches one loaded index; all LLM calls of one tri-retrieve go out as one batch."""

    def __init__(self, index: Index, res: Resources, cfg: LoopConfig) -> None:
        self.index = index
        self.res = res
        self.cfg = cfg
        self._tokens: dict[tuple[str, int], int] = {}
        self._entity_chunks: dict[str, int] = {}
        for node, data in index.graph.nodes(data=True):
            if data.get("kind") == "entity":
                self._entity_chunks[node[2:]] = sum(
                    1 for nb in index.graph.neighbors(node) if nb.startswith("c:")
                )

    def embed(self, texts: list[str]) -> np.ndarray:
        return self.res.embedder.encode(texts)

    def unit(self, layer: str, i: int, score: float) -> Unit:
        """Item ``i`` of ``layer`` as a retrieved unit with ``score``."""
        if layer == "veridical":
            c = self.index.chunks[i]
            return Unit(layer, i, c["text"], score, c["tokens"], [i])
        node = (self.index.semantic if layer == "semantic" else self.index.episodic)[i]
        key = (layer, i)
        if key not in self._tokens:
            self._tokens[key] = self.res.counter.count(node["text"])
        return Unit(layer, i, node["text"], score, self._tokens[key], list(node["chunks"]))

    def dense(self, layer: str, qvecs: np.ndarray, k: int) -> list[list[Unit]]:
        emb = {
            "veridical": self.index.chunk_emb,
            "semantic": self.index.semantic_emb,
            "episodic": self.index.episodic_emb,
        }[layer]
        if emb.shape[0] == 0:
            return [[] for _ in range(len(qvecs))]
        scores = qvecs @ emb.T
        out = []
        for row in scores:
            order = np.argsort(-row, kind="stable")[:k]
            out.append([self.unit(layer, int(i), float(row[i])) for i in order])
        return out

    def veridical(self, queries: list[str], qvecs: np.ndarray, k: int) -> list[list[Unit]]:
        dense = self.dense("veridical", qvecs, len(self.index.chunks))
        if not self.index.facts or self.index.fact_emb.shape[0] == 0:
            return [d[:k] for d in dense]
        fact_scores = qvecs @ self.index.fact_emb.T
        tops = [np.argsort(-row, kind="stable")[: self.cfg.linking_top_k] for row in fact_scores]
        kept: list[list[int]] = [list(range(len(t))) for t in tops]
        if self.cfg.fact_filter:
            convs = [
                prompts.fact_filter_prompt(q, [self.index.facts[i]["text"] for i in t])
                for q, t in zip(queries, tops, strict=True)
            ]
            parsed = self.res.agents.run(
                "fact filter",
                convs,
                prompts.parse_keep(len(tops[0])),
                max_new_tokens=self.cfg.filter_tokens,
                reminder="Reply with one line: KEEP: followed by numbers, or KEEP: none.",
                prefill="KEEP:" if self.cfg.prefill else "",
            )
            # An unparseable filter reply keeps every candidate fact (recall over precision).
            kept = [
                p if p is not None else list(range(len(t)))
                for p, t in zip(parsed, tops, strict=True)
            ]
        out = []
        for qi, (row, top) in enumerate(zip(fact_scores, tops, strict=True)):
            if not kept[qi]:
                out.append(dense[qi][:k])
                continue
            ranked = ppr_chunks(
                self.index.graph,
                self._seeds(row, top, kept[qi]),
                self._passage_weights(dense[qi]),
                self.cfg.damping,
            )
            if not ranked:
                out.append(dense[qi][:k])
                continue
            if self.cfg.ranking == "rrf":
                fused = reciprocal_rank_fusion(
                    [
                        [(str(u.id), u.score) for u in dense[qi]],
                        [(str(cid), sc) for cid, sc in ranked],
                    ],
                    k=self.cfg.rrf_k,
                )
                ranked = [(int(cid), sc) for cid, sc in fused]
            out.append([self.unit("veridical", cid, sc) for cid, sc in ranked[:k]])
        return out

    def _seeds(self, fact_row: np.ndarray, top: np.ndarray, kept: list[int]) -> dict[str, float]:
        """PPR reset weights of entities, as HippoRAG 2 sets them: fact scores min-max
        normalised over *all* facts (so the 5th-best kept fact does not get weight 0),
        and each kept fact's subject and object *assigned* (not summed) that score divided
        by the number of chunks mentioning the entity, in rank order."""
        norm = _minmax(fact_row)
        weights: dict[str, float] = {}
        for j in kept:
            fact = self.index.facts[int(top[j])]
            for ent in (fact["subject"], fact["object"]):
                weights[ent] = float(norm[int(top[j])]) / max(1, self._entity_chunks.get(ent, 1))
        return weights

    def _passage_weights(self, dense_units: list[Unit]) -> dict[int, float]:
        """Chunk reset weights: min-max normalised dense score x ``passage_weight``."""
        dnorm = _minmax(np.array([u.score for u in dense_units]))
        return {
            u.id: float(w) * self.cfg.passage_weight
            for u, w in zip(dense_units, dnorm, strict=True)
        }

    def candidates(
        self, queries: list[str], layers: tuple[str, ...]
    ) -> list[dict[str, list[Unit]]]:
        """Top-k candidates per layer for each query."""
        qvecs = self.embed(queries)
        per_layer = {}
        for layer in layers:
            if layer == "veridical":
                per_layer[layer] = self.veridical(queries, qvecs, self.cfg.top_k)
            else:
                per_layer[layer] = self.dense(layer, qvecs, self.cfg.top_k)
        return [{layer: per_layer[layer][i] for layer in layers} for i in range(len(queries))]

    def pack(
        self,
        units: list[Unit],
        budget: int,
        exclude: set[tuple[str, int]] = frozenset(),
        story_order: bool | None = None,
    ) -> list[Unit]:
        """Choose units within ``budget`` tokens."""
        units = [u for u in units if (u.layer, u.id) not in exclude]
        story = self.cfg.pack == "story" if story_order is None else story_order
        if story and units and units[0].layer in ("veridical", "episodic"):
            picked = []
            used = 0
            for u in sorted(units, key=lambda u: u.id):
                if used + u.tokens > budget:
                    break  # official behaviour: stop at the first item that does not fit
                picked.append(u)
                used += u.tokens
            return picked
        picked, used = [], 0
        for u in units:
            if used + u.tokens <= budget:
                picked.append(u)
                used += u.tokens
        return picked

    def tri_retrieve(
        self,
        queries: list[str],
        exclude: set[tuple[str, int]] = frozenset(),
    ) -> list[dict[str, list[Unit]]]:
        """Packed evidence per layer for each query."""
        budgets = self.cfg.budgets()
        out = []
        for cands in self.candidates(queries, self.cfg.layers):
            out.append(
                {layer: self.pack(units, budgets[layer], exclude) for layer, units in cands.items()}
            )
        return out


def format_units(units: list[Unit]) -> str:
    """Evidence text for a prompt, in story order for passages and timelines."""
    if units and units[0].layer in ("veridical", "episodic"):
        units = sorted(units, key=lambda u: u.id)
    return "\n\n".join(u.text for u in units)
