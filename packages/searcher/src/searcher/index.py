"""Index folders: passages and web pages with a labcore BM25, dense or hybrid index each.

Layout of an index folder::

    meta.json        kind, counts
    passages.jsonl   the FlashRAG corpus (id, contents)
    passages/        labcore index over passage contents
    pages.jsonl      the web-page cache (url, title, content), optional
    pages/           labcore index over page title + content
"""

from __future__ import annotations

import os
from pathlib import Path

from labcore.config import check_choice
from labcore.errors import DataError
from labcore.io import atomic_path, read_json, write_json, write_jsonl
from labcore.retrieval import BM25Index, DenseTextIndex, Embedder, HybridIndex
from searcher.data.corpus import read_pages, read_passages

KINDS = ("bm25", "dense", "hybrid")
_CLASSES = {"bm25": BM25Index, "dense": DenseTextIndex, "hybrid": HybridIndex}


def build_text_index(texts: list[str], ids: list[str], kind: str, embedder: Embedder | None = None):
    """A labcore index of ``kind`` over ``texts``."""
    check_choice("kind", kind, KINDS)
    if kind == "bm25":
        return BM25Index(texts, ids)
    embedder = embedder or Embedder()
    if kind == "dense":
        return DenseTextIndex.build(texts, ids, embedder)
    return HybridIndex.build(texts, ids, embedder)


def build_index_folder(
    corpus: str | os.PathLike,
    out: str | os.PathLike,
    *,
    pages: str | os.PathLike | None = None,
    kind: str = "bm25",
    embedder: Embedder | None = None,
) -> Path:
    """Read and check the corpus (and pages), index them and write ``out`` atomically."""
    passages = read_passages(corpus)
    page_rows = read_pages(pages) if pages else []
    if kind != "bm25" and embedder is None:
        embedder = Embedder()
    p_index = build_text_index(
        [p["contents"] for p in passages], [p["id"] for p in passages], kind, embedder
    )
    w_index = None
    if page_rows:
        w_index = build_text_index(
            [f"{p['title']}\n{p['content']}" for p in page_rows],
            [str(i) for i in range(len(page_rows))],
            kind,
            embedder,
        )
    out = Path(out)
    with atomic_path(out) as tmp:
        tmp.mkdir(parents=True)
        write_jsonl(tmp / "passages.jsonl", passages)
        p_index.save(tmp / "passages")
        if w_index is not None:
            write_jsonl(tmp / "pages.jsonl", page_rows)
            w_index.save(tmp / "pages")
        write_json(
            tmp / "meta.json",
            {"kind": kind, "passages": len(passages), "pages": len(page_rows), "format": 1},
        )
    return out


def load_index_folder(folder: str | os.PathLike, embedder: Embedder | None = None):
    """``(kind, passages, passage_index, pages, page_index)`` from an index folder."""
    root = Path(folder)
    meta_path = root / "meta.json"
    if not meta_path.is_file():
        raise DataError(f"{root}: not a searcher index folder (no meta.json); run `searcher index`")
    meta = read_json(meta_path)
    kind = meta.get("kind")
    if kind not in KINDS:
        raise DataError(f"{meta_path}: unknown index kind {kind!r}")
    cls = _CLASSES[kind]
    kwargs = {} if kind == "bm25" or embedder is None else {"embedder": embedder}
    passages = read_passages(root / "passages.jsonl")
    p_index = cls.load(root / "passages", **kwargs)
    if kind != "bm25" and not kwargs:
        # One embedder for both indexes, not one model copy each.
        kwargs = {"embedder": p_index.embedder}
    pages, w_index = [], None
    if (root / "pages.jsonl").is_file():
        pages = read_pages(root / "pages.jsonl")
        w_index = cls.load(root / "pages", **kwargs)
    return kind, passages, p_index, pages, w_index
