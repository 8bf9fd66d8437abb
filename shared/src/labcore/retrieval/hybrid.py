"""Hybrid retrieval: BM25 and dense rankings over the same documents, fused with RRF."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from labcore.errors import DataError
from labcore.retrieval.bm25 import BM25Index
from labcore.retrieval.dense import UseGpu
from labcore.retrieval.dense_text import DenseTextIndex
from labcore.retrieval.embedder import Embedder
from labcore.retrieval.fusion import reciprocal_rank_fusion
from labcore.retrieval.hits import Ranking
from labcore.retrieval.storage import (
    check_k,
    check_texts,
    read_manifest,
    save_index_folder,
    write_manifest,
)

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

# Sub-folders of a saved hybrid index; each is a complete index of its own kind.
_BM25_DIR = "bm25"
_DENSE_DIR = "dense"


class HybridIndex:
    """Keyword (BM25) and semantic (dense) search over one corpus, fused by rank.

    BM25 finds rare exact terms (names, codes) that embeddings blur; the dense
    index finds paraphrases that share no words with the document. Each query
    takes the top ``candidates`` (at least ``k``) of both and fuses them with
    :func:`reciprocal_rank_fusion`.

    Args:
        bm25: the lexical index.
        dense: the dense index; it must hold the same ids in the same order.
        rrf_k: the RRF damping constant.
        weights: ``(bm25 weight, dense weight)``; equal by default.
        candidates: results taken from each index before fusion.
    """

    KIND = "hybrid"
    FORMAT_VERSION = 1

    def __init__(
        self,
        bm25: BM25Index,
        dense: DenseTextIndex,
        *,
        rrf_k: int = 60,
        weights: Sequence[float] | None = None,
        candidates: int = 100,
    ) -> None:
        if bm25.ids != dense.ids:
            raise ValueError("the BM25 and dense indexes must hold the same ids in the same order")
        weights = (1.0, 1.0) if weights is None else tuple(float(w) for w in weights)
        if len(weights) != 2:
            raise ValueError(f"weights must be (bm25, dense), got {weights}")
        check_k(candidates)
        # Fail now rather than at the first search.
        reciprocal_rank_fusion([[], []], k=rrf_k, weights=weights)
        self.bm25 = bm25
        self.dense = dense
        self.rrf_k = rrf_k
        self.weights: tuple[float, float] = (weights[0], weights[1])
        self.candidates = candidates

    @classmethod
    def build(
        cls,
        texts: Sequence[str],
        ids: Sequence[str],
        embedder: Embedder | str | os.PathLike | SentenceTransformer,
        *,
        rrf_k: int = 60,
        weights: Sequence[float] | None = None,
        candidates: int = 100,
        hnsw: bool = False,
        use_gpu: UseGpu = "auto",
        stem: bool | None = None,
    ) -> HybridIndex:
        """Index ``texts`` under ``ids`` with BM25 and with ``embedder``'s vectors.

        ``hnsw``/``use_gpu`` go to the dense index, ``stem`` to BM25.
        """
        texts = check_texts(texts)
        ids = list(ids)
        bm25 = BM25Index(texts, ids, stem=stem)
        dense = DenseTextIndex.build(texts, ids, embedder, hnsw=hnsw, use_gpu=use_gpu)
        return cls(bm25, dense, rrf_k=rrf_k, weights=weights, candidates=candidates)

    def search(self, queries: Sequence[str], k: int) -> list[Ranking]:
        """The ``k`` best ``(id, RRF score)`` pairs for each query, best first."""
        check_k(k)
        queries = check_texts(queries, "queries")
        depth = max(k, self.candidates)
        lexical = self.bm25.search(queries, depth)
        semantic = self.dense.search(queries, depth)
        return [
            reciprocal_rank_fusion([lex, sem], k=self.rrf_k, weights=self.weights)[:k]
            for lex, sem in zip(lexical, semantic, strict=True)
        ]

    def __len__(self) -> int:
        return len(self.bm25)

    @property
    def ids(self) -> list[str]:
        """Document ids in corpus order (a copy)."""
        return self.bm25.ids

    @property
    def embedder(self) -> Embedder:
        """The embedder used for queries."""
        return self.dense.embedder

    def save(self, folder: str | os.PathLike) -> Path:
        """Write both indexes and the fusion settings to ``folder``, atomically as a whole."""
        return save_index_folder(folder, self._write_into)

    @classmethod
    def load(
        cls,
        folder: str | os.PathLike,
        embedder: Embedder | str | os.PathLike | SentenceTransformer | None = None,
        use_gpu: UseGpu = "auto",
    ) -> HybridIndex:
        """Load an index written by :meth:`save`.

        Without ``embedder`` the model named in the manifest is loaded. Bad folders
        raise :class:`DataError`.
        """
        root = Path(folder)
        manifest = read_manifest(root, kind=cls.KIND, max_version=cls.FORMAT_VERSION)
        bm25 = BM25Index.load(root / _BM25_DIR)
        dense = DenseTextIndex.load(root / _DENSE_DIR, embedder, use_gpu)
        if not (bm25.ids == dense.ids == manifest.ids):
            raise DataError(f"{root}: the BM25 and dense parts hold different documents")
        try:
            return cls(
                bm25,
                dense,
                rrf_k=manifest.setting("rrf_k"),
                weights=manifest.setting("weights"),
                candidates=manifest.setting("candidates"),
            )
        except (TypeError, ValueError) as exc:
            raise DataError(f"{root}: invalid hybrid settings ({exc})") from None

    def _settings(self) -> dict[str, Any]:
        return {"rrf_k": self.rrf_k, "weights": list(self.weights), "candidates": self.candidates}

    def _write_into(self, folder: Path) -> None:
        # The parts are written straight into the temporary folder: the outer
        # save_index_folder makes the whole tree appear at once.
        for name, part in ((_BM25_DIR, self.bm25), (_DENSE_DIR, self.dense)):
            (folder / name).mkdir()
            part._write_into(folder / name)
        write_manifest(
            folder,
            kind=self.KIND,
            format_version=self.FORMAT_VERSION,
            settings=self._settings(),
            ids=self.ids,
            embedder=self.embedder.model_name,
        )

    def __repr__(self) -> str:
        return (
            f"HybridIndex(n={len(self)}, embedder={self.embedder.model_name!r}, "
            f"rrf_k={self.rrf_k}, weights={self.weights})"
        )
