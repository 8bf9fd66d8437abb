"""Build the three-layer index from a text file, resume a killed build, add text later.

Stages run in order (chunks, kg, semantic, episodic; see :mod:`comorag.index.stages`) and
each is recorded in the manifest when done. The manifest's ``status`` is ``complete`` only
at the very end; readers refuse anything else.
"""

from __future__ import annotations

import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np

from comorag.config import IndexConfig
from comorag.index.chunking import check_fit, chunk_file
from comorag.index.resources import Resources
from comorag.index.stages import (
    log_line,
    stage_chunks,
    stage_episodic,
    stage_kg,
    stage_semantic,
    summarise_tree,
)
from comorag.index.store import (
    FORMAT_VERSION,
    INDEX_FILES,
    Index,
    load_graph,
    read_manifest,
    save_npy,
    write_manifest,
)
from labcore.errors import DataError
from labcore.io import write_jsonl

STAGES = ("chunks", "kg", "semantic", "episodic")


def _settings(cfg: IndexConfig) -> dict:
    d = asdict(cfg)
    d.pop("batch_size")  # how calls are grouped does not change the index
    return d


def _is_cache(entry: Path) -> bool:
    return entry.name.startswith("llm_cache.sqlite")


def check_out(folder: Path, cfg: IndexConfig, file: Path, force: bool = False) -> dict | None:
    """Refuse an ``--out`` that a build must not touch; the manifest of a build to resume.

    ``None`` means a new build. A folder that holds anything but a comorag index (or the
    response cache of a build killed before its manifest) is refused, with or without
    ``force``; ``force`` replaces only a comorag index.
    """
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise DataError(f"--out {folder}: exists and is not a folder")
    manifest = read_manifest(folder) if folder.is_dir() else None
    if manifest is None:
        if folder.is_dir() and any(not _is_cache(e) for e in folder.iterdir()):
            raise DataError(
                f"--out {folder}: exists and is not a comorag index (no manifest.json); "
                "nothing was changed - choose another folder"
            )
        return None
    if force:
        return manifest
    if manifest.get("status") == "complete":
        raise DataError(
            f"--out {folder}: an index is already there; use comorag add to "
            "append text, or --force true to rebuild"
        )
    source = manifest.get("sources", [{}])[0].get("path")
    if manifest.get("settings") != _settings(cfg) or source != str(Path(file).resolve()):
        raise DataError(
            f"--out {folder}: holds an unfinished build of other settings or "
            "another file; use --force true to start over"
        )
    return manifest


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
    manifest = check_out(folder, cfg, file, force)
    settings = _settings(cfg)
    if manifest is not None and not force:
        log_line(
            f"resuming the build in {folder} (done: {', '.join(manifest['stages']) or 'none'})",
            quiet,
        )
    if manifest is None or force:
        if force and folder.exists():
            import shutil

            # Only the index's own files go; the response cache stays (a forced rebuild
            # should not pay for answers again) and so does anything else in the folder.
            for entry in folder.iterdir():
                if entry.name not in INDEX_FILES:
                    continue
                if entry.is_dir():
                    shutil.rmtree(entry)
                else:
                    entry.unlink()
        warning = check_fit(cfg.chunk_tokens, res.counter)
        if warning:
            log_line(warning, quiet)
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
        chunks = stage_chunks(folder, manifest["sources"], res, cfg, progress)
        _done(folder, manifest, "chunks", n_chunks=len(chunks))
    chunks = _read_chunks(folder)
    log_line(f"{len(chunks)} chunks of <= {cfg.chunk_tokens} tokens", quiet)
    if "kg" not in manifest["stages"]:
        if cfg.kg:
            stage_kg(folder, chunks, res, cfg, progress)
        _done(folder, manifest, "kg")
    if "semantic" not in manifest["stages"]:
        stage_semantic(folder, chunks, res, cfg, progress)
        _done(folder, manifest, "semantic")
    if "episodic" not in manifest["stages"]:
        size = stage_episodic(folder, chunks, res, cfg, progress)
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
            stage_kg(folder, chunks, res, cfg, progress)
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
        nodes, emb = summarise_tree(
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
        manifest["episodic_window"] = stage_episodic(folder, chunks, res, cfg, progress)
        manifest["add_stages"].append("episodic")
        write_manifest(folder, manifest)
    manifest.pop("adding", None)
    manifest.pop("add_stages", None)
    manifest["status"] = "complete"
    manifest["n_chunks"] = len(chunks)
    manifest["counts"] = _counts(folder)
    write_manifest(folder, manifest)
    log_line(f"added {len(new)} chunks from {file}", quiet)
    return manifest


__all__ = ["FORMAT_VERSION", "STAGES", "add_text", "build_index", "check_out"]
