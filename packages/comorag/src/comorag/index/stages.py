"""The indexing stages: chunks, knowledge graph, semantic cluster tree, episodic windows.

Each stage writes its files atomically; every LLM result is appended per batch to a
stage log under ``work/`` (keyed by a hash of the input), so a killed build redoes only
unfinished batches.
"""

from __future__ import annotations

import hashlib
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import networkx as nx
import numpy as np

from comorag import prompts
from comorag.config import IndexConfig
from comorag.index.chunking import chunk_file
from comorag.index.episodic import window_size, windows
from comorag.index.graph import (
    add_synonym_edges,
    add_triples,
    link_mentions,
    name_words,
    triple_grounded,
)
from comorag.index.resources import Resources
from comorag.index.semantic import cluster
from comorag.index.store import StageLog, save_graph, save_npy
from labcore.io import write_json, write_jsonl


def input_key(*parts: Any) -> str:
    return hashlib.sha1(repr(parts).encode("utf-8")).hexdigest()[:20]


def log_line(msg: str, quiet: bool) -> None:
    if not quiet:
        print(msg, file=sys.stderr, flush=True)


def run_stage(
    res: Resources,
    log: StageLog,
    role: str,
    items: list[tuple[str, list[dict]]],
    parse: Callable[[str], Any],
    fallback: Callable[[int, str], Any],
    max_new_tokens: int,
    group: int,
    progress: bool = False,
) -> list[Any]:
    """LLM results for ``(key, conversation)`` items, reusing logged ones, in batches of ``group``."""
    todo = [i for i, (k, _) in enumerate(items) if k not in log]
    bar = None
    if progress and todo:
        from tqdm import tqdm

        bar = tqdm(total=len(todo), desc=role, file=sys.stderr)
    for g in range(0, len(todo), group):
        idx = todo[g : g + group]
        values = res.agents.run(
            role,
            [items[i][1] for i in idx],
            parse,
            max_new_tokens=max_new_tokens,
            reminder="Follow the output format exactly.",
        )
        fixed = [v if v is not None else fallback(i, "") for i, v in zip(idx, values, strict=True)]
        log.put_many([(items[i][0], v) for i, v in zip(idx, fixed, strict=True)])
        if bar is not None:
            bar.update(len(idx))
    if bar is not None:
        bar.close()
    return [log.get(k) for k, _ in items]


# ---------------------------------------------------------------------- stages


def stage_chunks(
    folder: Path, sources: list[dict], res: Resources, cfg: IndexConfig, progress: bool
) -> list[dict]:
    chunks: list[dict] = []
    for src in sources:
        for chunk in chunk_file(
            src["path"],
            res.counter,
            cfg.chunk_tokens,
            first_id=len(chunks),
            base_offset=src["offset"],
            progress=progress,
        ):
            chunks.append(chunk.as_dict())
    emb = res.embedder.encode([c["text"] for c in chunks])
    write_jsonl(folder / "chunks.jsonl", chunks)
    save_npy(folder / "chunk_emb.npy", emb)
    return chunks


def stage_kg(
    folder: Path, chunks: list[dict], res: Resources, cfg: IndexConfig, progress: bool
) -> None:
    log = StageLog(folder / "work" / "triples.jsonl")
    items = [(input_key("t", c["text"]), prompts.triples_prompt(c["text"])) for c in chunks]
    triples = run_stage(
        res,
        log,
        "triples",
        items,
        prompts.parse_triples,
        lambda i, o: [],
        cfg.triple_max_new_tokens,
        cfg.batch_size,
        progress,
    )
    graph = nx.Graph()
    facts: dict[str, dict] = {}
    dropped = 0
    for c, ts in zip(chunks, triples, strict=True):
        if cfg.ground_triples:
            words = set(name_words(c["text"]))
            kept = [t for t in ts if triple_grounded(t, words)]
            dropped += len(ts) - len(kept)
            ts = kept
        add_triples(graph, facts, c["id"], ts)
    entities = sorted(n[2:] for n, d in graph.nodes(data=True) if d.get("kind") == "entity")
    graph.graph["ungrounded_triples_dropped"] = dropped
    graph.graph["mention_edges"] = (
        link_mentions(graph, chunks, entities) if cfg.link_mentions else 0
    )
    entity_emb = res.embedder.encode(entities) if entities else np.zeros((0, res.embedder.dim))
    add_synonym_edges(graph, entities, entity_emb, cfg.synonym_threshold, cfg.synonym_max_per_node)
    fact_list = list(facts.values())
    fact_emb = (
        res.embedder.encode([f["text"] for f in fact_list])
        if fact_list
        else np.zeros((0, res.embedder.dim))
    )
    save_graph(folder / "graph.json", graph)
    write_jsonl(folder / "facts.jsonl", fact_list)
    save_npy(folder / "fact_emb.npy", fact_emb)
    write_json(folder / "entities.json", entities)
    save_npy(folder / "entity_emb.npy", entity_emb)


def summarise_tree(
    folder: Path,
    chunks: list[dict],
    chunk_emb: np.ndarray,
    res: Resources,
    cfg: IndexConfig,
    progress: bool,
    first_id: int = 0,
    tag: str = "",
) -> tuple[list[dict], np.ndarray]:
    """Recursive cluster summaries over ``chunks``; nodes carry their source chunk ids."""
    log = StageLog(folder / "work" / "clusters.jsonl")
    texts = [c["text"] for c in chunks]
    prov = [[c["id"]] for c in chunks]
    emb = chunk_emb
    nodes: list[dict] = []
    embs: list[np.ndarray] = []
    for level in range(1, cfg.cluster_max_levels + 1):
        if len(texts) <= 1:
            break
        groups = cluster(emb, cfg.membership_threshold, cfg.seed, cfg.local_recluster_min)
        if level > 1 and len(groups) >= len(texts):
            break  # no reduction: the tree stops here
        inputs = []
        for members in groups:
            picked, used = [], 0
            for i in members:
                n = res.counter.count(texts[i])
                if used + n > cfg.cluster_input_tokens and picked:
                    break
                picked.append(res.counter.truncate(texts[i], cfg.cluster_input_tokens))
                used += n
            inputs.append(picked)
        items = [(input_key("s", tuple(p)), prompts.cluster_summary_prompt(p)) for p in inputs]
        summaries = _run_summaries(res, log, level, items, inputs, cfg, progress)
        new_prov = [sorted({c for i in members for c in prov[i]}) for members in groups]
        level_emb = res.embedder.encode(summaries)
        for text, p in zip(summaries, new_prov, strict=True):
            nodes.append(
                {
                    "id": first_id + len(nodes),
                    "level": level,
                    "text": text,
                    "chunks": p,
                    "tree": tag,
                }
            )
        embs.append(level_emb)
        texts, prov, emb = summaries, new_prov, level_emb
        if len(groups) == 1:
            break
    all_emb = np.concatenate(embs) if embs else np.zeros((0, res.embedder.dim), np.float32)
    return nodes, all_emb


def _run_summaries(res, log, level, items, inputs, cfg, progress) -> list[str]:
    def fallback(i: int) -> str:
        # Extractive fallback: the first sentence of each member, when the model's
        # summary was empty twice.
        return " ".join(t.split(". ")[0].strip() + "." for t in inputs[i])[:800]

    values = run_stage(
        res,
        log,
        f"cluster summaries L{level}",
        items,
        prompts.parse_prose,
        lambda i, o: None,
        cfg.cluster_summary_tokens,
        cfg.batch_size,
        progress,
    )
    out = []
    for i, v in enumerate(values):
        out.append(v if v else fallback(i))
    return out


def stage_semantic(
    folder: Path, chunks: list[dict], res: Resources, cfg: IndexConfig, progress: bool
) -> None:
    chunk_emb = np.load(folder / "chunk_emb.npy")
    nodes, emb = summarise_tree(folder, chunks, chunk_emb, res, cfg, progress, tag="t0")
    write_jsonl(folder / "semantic.jsonl", nodes)
    save_npy(folder / "semantic_emb.npy", emb)


def stage_episodic(
    folder: Path, chunks: list[dict], res: Resources, cfg: IndexConfig, progress: bool
) -> int:
    size = window_size(len(chunks))
    ranges = windows(len(chunks), size, cfg.window_overlap)
    log = StageLog(folder / "work" / "windows.jsonl")
    items, verbatim = [], {}
    for r, (a, b) in enumerate(ranges):
        texts = [c["text"] for c in chunks[a:b]]
        if b - a == 1:
            verbatim[r] = texts[0]  # a one-chunk window is kept as it is
        else:
            items.append((r, (input_key("w", tuple(texts)), prompts.window_summary_prompt(texts))))
    values = run_stage(
        res,
        log,
        "window summaries",
        [it for _, it in items],
        prompts.parse_prose,
        lambda i, o: None,
        cfg.window_summary_tokens,
        cfg.batch_size,
        progress,
    )
    summaries = dict(verbatim)
    for (r, _), v in zip(items, values, strict=True):
        a, b = ranges[r]
        summaries[r] = v or " ".join(c["text"].split(". ")[0] + "." for c in chunks[a:b])
    nodes = [
        {
            "id": r,
            "start_chunk": a,
            "end_chunk": b,
            "text": summaries[r],
            "chunks": list(range(a, b)),
        }
        for r, (a, b) in enumerate(ranges)
    ]
    write_jsonl(folder / "episodic.jsonl", nodes)
    save_npy(folder / "episodic_emb.npy", res.embedder.encode([n["text"] for n in nodes]))
    return size
