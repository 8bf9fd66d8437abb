"""The index folder: manifest, atomic files, per-stage logs for resuming, and loading."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import networkx as nx
import numpy as np

from labcore.errors import DataError
from labcore.io import atomic_path, iter_jsonl, read_json, write_json, write_jsonl

FORMAT = "comorag-index"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
#: What a build writes besides the response cache (``--force`` removes only these).
INDEX_FILES = frozenset(
    {
        MANIFEST,
        "chunks.jsonl",
        "chunk_emb.npy",
        "graph.json",
        "facts.jsonl",
        "fact_emb.npy",
        "entities.json",
        "entity_emb.npy",
        "semantic.jsonl",
        "semantic_emb.npy",
        "episodic.jsonl",
        "episodic_emb.npy",
        "work",
    }
)


def save_npy(path: Path, array: np.ndarray) -> None:
    """Write an array atomically (np.save on a temp file, then rename)."""
    with atomic_path(path) as tmp, open(tmp, "wb") as fh:
        np.save(fh, np.ascontiguousarray(array, dtype=np.float32))
        fh.flush()
        os.fsync(fh.fileno())


def load_npy(path: Path, dim: int) -> np.ndarray:
    if not path.exists():
        return np.zeros((0, dim), dtype=np.float32)
    return np.load(path)


def save_graph(path: Path, graph: nx.Graph) -> None:
    write_json(path, nx.node_link_data(graph, edges="edges"), indent=None)


def load_graph(path: Path) -> nx.Graph:
    if not path.exists():
        return nx.Graph()
    return nx.node_link_graph(read_json(path), edges="edges")


class StageLog:
    """Results of one indexing stage, appended per batch so a killed build resumes.

    Keys identify the input (a hash of the text sent), so a rerun, or an incremental
    add, reuses every result whose input has not changed. A torn last line from a kill
    is ignored.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.values: dict[str, Any] = {}
        if path.exists():
            with open(path, encoding="utf-8") as fh:
                for line in fh:
                    try:
                        record = json.loads(line)
                    except json.JSONDecodeError:
                        continue
                    self.values[record["key"]] = record["value"]

    def __contains__(self, key: str) -> bool:
        return key in self.values

    def get(self, key: str) -> Any:
        return self.values[key]

    def put_many(self, items: list[tuple[str, Any]]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path, "a", encoding="utf-8") as fh:
            for key, value in items:
                fh.write(json.dumps({"key": key, "value": value}, ensure_ascii=False) + "\n")
                self.values[key] = value
            fh.flush()
            os.fsync(fh.fileno())


def read_manifest(folder: Path) -> dict | None:
    path = folder / MANIFEST
    if not path.exists():
        return None
    manifest = read_json(path)
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise DataError(f"{path}: not a comorag index manifest")
    if manifest.get("format_version") != FORMAT_VERSION:
        raise DataError(
            f"{path}: index format version {manifest.get('format_version')} is not supported "
            f"(this comorag reads version {FORMAT_VERSION}); rebuild it with comorag index"
        )
    return manifest


def write_manifest(folder: Path, manifest: dict) -> None:
    manifest = dict(manifest, format=FORMAT, format_version=FORMAT_VERSION)
    write_json(folder / MANIFEST, manifest)


def check_index(folder: str | os.PathLike) -> dict:
    """The manifest of the complete index in ``folder``; refuses anything else (nothing loads)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise DataError(f"{folder}: index folder not found")
    manifest = read_manifest(folder)
    if manifest is None:
        raise DataError(f"{folder}: no {MANIFEST}; not a comorag index")
    if manifest.get("status") != "complete":
        raise DataError(
            f"{folder}: index is incomplete ({manifest.get('status')}); rerun the same "
            "comorag index/add command to resume it"
        )
    return manifest


@dataclass
class Index:
    """A loaded, complete index."""

    folder: Path
    manifest: dict
    chunks: list[dict]
    chunk_emb: np.ndarray
    graph: nx.Graph
    facts: list[dict]
    fact_emb: np.ndarray
    entities: list[str]
    entity_emb: np.ndarray
    semantic: list[dict]
    semantic_emb: np.ndarray
    episodic: list[dict]
    episodic_emb: np.ndarray
    extra: dict = field(default_factory=dict)

    @classmethod
    def load(cls, folder: str | os.PathLike) -> Index:
        folder = Path(folder)
        manifest = check_index(folder)
        dim = int(manifest["embedding_dim"])
        return cls(
            folder=folder,
            manifest=manifest,
            chunks=list(iter_jsonl(folder / "chunks.jsonl")),
            chunk_emb=load_npy(folder / "chunk_emb.npy", dim),
            graph=load_graph(folder / "graph.json"),
            facts=list(iter_jsonl(folder / "facts.jsonl"))
            if (folder / "facts.jsonl").exists()
            else [],
            fact_emb=load_npy(folder / "fact_emb.npy", dim),
            entities=read_json(folder / "entities.json")
            if (folder / "entities.json").exists()
            else [],
            entity_emb=load_npy(folder / "entity_emb.npy", dim),
            semantic=list(iter_jsonl(folder / "semantic.jsonl")),
            semantic_emb=load_npy(folder / "semantic_emb.npy", dim),
            episodic=list(iter_jsonl(folder / "episodic.jsonl")),
            episodic_emb=load_npy(folder / "episodic_emb.npy", dim),
        )


__all__ = [
    "INDEX_FILES",
    "Index",
    "StageLog",
    "check_index",
    "load_graph",
    "read_manifest",
    "save_graph",
    "save_npy",
    "write_jsonl",
    "write_manifest",
]
