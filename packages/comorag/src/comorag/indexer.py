"""Build the three-layer index from a text file, resume a killed build, add text later.

Stages run in order (chunks, kg, semantic, episodic); each writes its files atomically
and is recorded in the manifest, and every LLM result is logged per batch under
``work/`` so that a rerun after a kill redoes nothing that finished. The manifest's
``status`` is ``complete`` only at the very end; readers refuse anything else.
"""

from __future__ import annotations

import hashlib
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import networkx as nx
import numpy as np

from comorag import prompts
from comorag.chunking import TokenCounter, check_fit, chunk_file
from comorag.config import IndexConfig
from comorag.episodic import window_size, windows
from comorag.graph import add_synonym_edges, add_triples
from comorag.llm import Agents
from comorag.semantic import cluster
from comorag.store import (
    FORMAT_VERSION,
    Index,
    StageLog,
    load_graph,
    read_manifest,
    save_graph,
    save_npy,
    write_manifest,
)
from labcore.errors import DataError
from labcore.io import write_json, write_jsonl
from labcore.retrieval import Embedder

STAGES = ("chunks", "kg", "semantic", "episodic")


@dataclass
class Resources:
    """What indexing and answering need: the embedder, its token counter, the LLM agents."""

    embedder: Embedder
    counter: TokenCounter
    agents: Agents


def make_resources(embedder_name: str, agents: Agents) -> Resources:
    embedder = Embedder(embedder_name)
    counter = TokenCounter(
        embedder.model.tokenizer, getattr(embedder.model, "max_seq_length", None)
    )
    return Resources(embedder, counter, agents)


def _key(*parts: Any) -> str:
    return hashlib.sha1(repr(parts).encode("utf-8")).hexdigest()[:20]


def _log(msg: str, quiet: bool) -> None:
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


def _stage_chunks(
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


def _stage_kg(
    folder: Path, chunks: list[dict], res: Resources, cfg: IndexConfig, progress: bool
) -> None:
    log = StageLog(folder / "work" / "triples.jsonl")
    items = [(_key("t", c["text"]), prompts.triples_prompt(c["text"])) for c in chunks]
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
    for c, ts in zip(chunks, triples, strict=True):
        add_triples(graph, facts, c["id"], ts)
    entities = sorted(n[2:] for n, d in graph.nodes(data=True) if d.get("kind") == "entity")
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


def _summarise_tree(
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
        items = [(_key("s", tuple(p)), prompts.cluster_summary_prompt(p)) for p in inputs]
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


def _stage_semantic(
    folder: Path, chunks: list[dict], res: Resources, cfg: IndexConfig, progress: bool
) -> None:
    chunk_emb = np.load(folder / "chunk_emb.npy")
    nodes, emb = _summarise_tree(folder, chunks, chunk_emb, res, cfg, progress, tag="t0")
    write_jsonl(folder / "semantic.jsonl", nodes)
    save_npy(folder / "semantic_emb.npy", emb)


def _stage_episodic(
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
            items.append((r, (_key("w", tuple(texts)), prompts.window_summary_prompt(texts))))
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


# ---------------------------------------------------------------------- build and add


def _settings(cfg: IndexConfig) -> dict:
    d = asdict(cfg)
    d.pop("batch_size")  # how calls are grouped does not change the index
    return d


def build_index(
    file: str | Path,
    out: str | Path,
    cfg: IndexConfig,
    res: Resources,
    *,
    llm_name: str,
    force: bool = False,
    progress: bool = True,
    quiet: bool = False,
) -> dict:
    """Build (or resume building) the index of ``file`` in folder ``out``; returns the manifest."""
    cfg.validate()
    folder = Path(out)
    file = Path(file)
    if folder.exists() and not folder.is_dir():
        raise DataError(f"--out {folder}: exists and is not a folder")
    manifest = read_manifest(folder) if folder.exists() else None
    settings = _settings(cfg)
    if manifest is not None and not force:
        if manifest.get("status") == "complete":
            raise DataError(
                f"--out {folder}: an index is already there; use comorag add to "
                "append text, or --force to rebuild"
            )
        if manifest.get("settings") != settings or manifest.get("sources", [{}])[0].get(
            "path"
        ) != str(file.resolve()):
            raise DataError(
                f"--out {folder}: holds an unfinished build of other settings or "
                "another file; use --force to start over"
            )
        _log(
            f"resuming the build in {folder} (done: {', '.join(manifest['stages']) or 'none'})",
            quiet,
        )
    if manifest is None or force:
        if force and folder.exists():
            import shutil

            # Keep the response cache: a forced rebuild should not pay for answers again.
            for entry in folder.iterdir():
                if entry.name.startswith("llm_cache.sqlite"):
                    continue
                if entry.is_dir():
                    shutil.rmtree(entry)
                else:
                    entry.unlink()
        warning = check_fit(cfg.chunk_tokens, res.counter)
        if warning:
            _log(warning, quiet)
        manifest = {
            "status": "building",
            "stages": [],
            "settings": settings,
            "models": {"llm": llm_name, "embedder": cfg.embedder},
            "embedding_dim": res.embedder.dim,
            "sources": [{"path": str(file.resolve()), "offset": 0}],
            "created": time.strftime("%Y-%m-%dT%H:%M:%S"),
        }
        if not file.is_file():
            raise DataError(f"{file}: file not found")
        folder.mkdir(parents=True, exist_ok=True)
        write_manifest(folder, manifest)
    _run_stages(folder, manifest, res, cfg, progress, quiet)
    return manifest


def _run_stages(
    folder: Path, manifest: dict, res: Resources, cfg: IndexConfig, progress: bool, quiet: bool
) -> None:
    start = time.perf_counter()
    if "chunks" not in manifest["stages"]:
        chunks = _stage_chunks(folder, manifest["sources"], res, cfg, progress)
        _done(folder, manifest, "chunks", n_chunks=len(chunks))
    chunks = _read_chunks(folder)
    _log(f"{len(chunks)} chunks of <= {cfg.chunk_tokens} tokens", quiet)
    if "kg" not in manifest["stages"]:
        if cfg.kg:
            _stage_kg(folder, chunks, res, cfg, progress)
        _done(folder, manifest, "kg")
    if "semantic" not in manifest["stages"]:
        _stage_semantic(folder, chunks, res, cfg, progress)
        _done(folder, manifest, "semantic")
    if "episodic" not in manifest["stages"]:
        size = _stage_episodic(folder, chunks, res, cfg, progress)
        _done(folder, manifest, "episodic", episodic_window=size)
    manifest["status"] = "complete"
    manifest["index_seconds"] = round(
        manifest.get("index_seconds", 0) + time.perf_counter() - start, 2
    )
    manifest["counts"] = _counts(folder)
    write_manifest(folder, manifest)


def _read_chunks(folder: Path) -> list[dict]:
    from labcore.io import read_jsonl

    return read_jsonl(folder / "chunks.jsonl")


def _done(folder: Path, manifest: dict, stage: str, **extra: Any) -> None:
    manifest["stages"] = [*manifest["stages"], stage]
    manifest.update(extra)
    write_manifest(folder, manifest)


def _counts(folder: Path) -> dict:
    def lines(name: str) -> int:
        p = folder / name
        return sum(1 for _ in open(p, encoding="utf-8")) if p.exists() else 0

    graph = load_graph(folder / "graph.json")
    return {
        "chunks": lines("chunks.jsonl"),
        "facts": lines("facts.jsonl"),
        "graph_nodes": graph.number_of_nodes(),
        "graph_edges": graph.number_of_edges(),
        "semantic": lines("semantic.jsonl"),
        "episodic": lines("episodic.jsonl"),
    }


def add_text(
    folder: str | Path,
    file: str | Path,
    res: Resources,
    cfg: IndexConfig | None = None,
    *,
    progress: bool = True,
    quiet: bool = False,
) -> dict:
    """Append ``file`` to an index and update each layer without rebuilding the rest.

    New chunks get embeddings and triples (merged into the graph, with synonym edges for
    their entities); they form their own cluster tree in the semantic layer; episodic
    windows are recomputed with the window size for the new chunk count, and every
    window whose chunks did not change reuses its logged summary.
    """
    folder = Path(folder)
    file = Path(file)
    manifest = read_manifest(folder) if folder.is_dir() else None
    if manifest is None:
        raise DataError(f"{folder}: no comorag index here")
    if not file.is_file():
        raise DataError(f"{file}: file not found")
    if cfg is None:
        cfg = IndexConfig(**{**asdict(IndexConfig()), **manifest["settings"]})
    pending = manifest.get("adding")
    if manifest["status"] != "complete" and pending != str(file.resolve()):
        raise DataError(f"{folder}: index is incomplete; finish it first (rerun its last command)")
    if pending is None:
        index = Index.load(folder)
        end = max((c["end"] for c in index.chunks), default=0) + 2
        manifest["sources"].append(
            {"path": str(file.resolve()), "offset": end, "first_chunk": len(index.chunks)}
        )
        manifest.update(status="adding", adding=str(file.resolve()), add_stages=[])
        write_manifest(folder, manifest)
    src = manifest["sources"][-1]
    old_chunks = _read_chunks(folder)
    if "chunks" not in manifest["add_stages"]:
        old_chunks = [c for c in old_chunks if c["id"] < src["first_chunk"]]
        new = [
            c.as_dict()
            for c in chunk_file(
                file,
                res.counter,
                cfg.chunk_tokens,
                first_id=src["first_chunk"],
                base_offset=src["offset"],
                progress=progress,
            )
        ]
        emb = np.load(folder / "chunk_emb.npy")[: src["first_chunk"]]
        new_emb = res.embedder.encode([c["text"] for c in new])
        write_jsonl(folder / "chunks.jsonl", old_chunks + new)
        save_npy(folder / "chunk_emb.npy", np.concatenate([emb, new_emb]))
        manifest["add_stages"].append("chunks")
        write_manifest(folder, manifest)
    chunks = _read_chunks(folder)
    new = [c for c in chunks if c["id"] >= src["first_chunk"]]
    if "kg" not in manifest["add_stages"]:
        if cfg.kg:
            # Rebuilding the graph from the triple log is cheap: old chunks are all hits.
            _stage_kg(folder, chunks, res, cfg, progress)
        manifest["add_stages"].append("kg")
        write_manifest(folder, manifest)
    if "semantic" not in manifest["add_stages"]:
        from labcore.io import read_jsonl

        old_nodes = [
            n
            for n in read_jsonl(folder / "semantic.jsonl")
            if n.get("tree") != f"t{len(manifest['sources']) - 1}"
        ]
        old_emb = np.load(folder / "semantic_emb.npy")[: len(old_nodes)]
        emb_all = np.load(folder / "chunk_emb.npy")
        nodes, emb = _summarise_tree(
            folder,
            new,
            emb_all[src["first_chunk"] :],
            res,
            cfg,
            progress,
            first_id=len(old_nodes),
            tag=f"t{len(manifest['sources']) - 1}",
        )
        write_jsonl(folder / "semantic.jsonl", old_nodes + nodes)
        save_npy(
            folder / "semantic_emb.npy", np.concatenate([old_emb, emb]) if len(nodes) else old_emb
        )
        manifest["add_stages"].append("semantic")
        write_manifest(folder, manifest)
    if "episodic" not in manifest["add_stages"]:
        manifest["episodic_window"] = _stage_episodic(folder, chunks, res, cfg, progress)
        manifest["add_stages"].append("episodic")
        write_manifest(folder, manifest)
    manifest.pop("adding", None)
    manifest.pop("add_stages", None)
    manifest["status"] = "complete"
    manifest["n_chunks"] = len(chunks)
    manifest["counts"] = _counts(folder)
    write_manifest(folder, manifest)
    _log(f"added {len(new)} chunks from {file}", quiet)
    return manifest


__all__ = ["FORMAT_VERSION", "Resources", "add_text", "build_index", "make_resources"]
