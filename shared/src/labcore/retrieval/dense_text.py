"""Dense retrieval over texts: an :class:`Embedder` in front of a :class:`DenseIndex`."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from labcore.errors import DataError
from labcore.retrieval.dense import DenseIndex, UseGpu
from labcore.retrieval.embedder import Embedder, as_embedder
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


class DenseTextIndex:
    """Texts embedded with ``embedder`` and searched by cosine similarity.

    The folder it saves to holds the same faiss payload as a :class:`DenseIndex`,
    with the embedder's model name in the manifest so that :meth:`load` can
    reload the model that made the vectors.
    """

    KIND = "dense_text"
    FORMAT_VERSION = 1

    def __init__(self, embedder: Embedder, index: DenseIndex) -> None:
        if index.dim != embedder.dim:
            raise ValueError(f"embedder makes {embedder.dim}-dim vectors, index holds {index.dim}")
        self.embedder = embedder
        self.index = index

    @classmethod
    def build(
        cls,
        texts: Sequence[str],
        ids: Sequence[str],
        embedder: Embedder | str | os.PathLike | SentenceTransformer,
        *,
        hnsw: bool = False,
        hnsw_m: int = 32,
        use_gpu: UseGpu = "auto",
    ) -> DenseTextIndex:
        """Embed ``texts`` and index them under ``ids``.

        ``embedder`` may also be a model name/path or a loaded ``SentenceTransformer``.
        """
        embedder = as_embedder(embedder)
        index = cls(
            embedder,
            DenseIndex(embedder.dim, metric="ip", hnsw=hnsw, hnsw_m=hnsw_m, use_gpu=use_gpu),
        )
        index.add(texts, ids)
        return index

    def add(self, texts: Sequence[str], ids: Sequence[str]) -> None:
        """Embed and add more documents; ids must be new."""
        texts = check_texts(texts)
        self.index.add(self.embedder.encode(texts), ids)

    def search(self, queries: Sequence[str], k: int) -> list[Ranking]:
        """The ``k`` most similar ``(id, cosine)`` pairs for each query, best first."""
        check_k(k)
        queries = check_texts(queries, "queries")
        return self.index.search(self.embedder.encode(queries), k)

    def __len__(self) -> int:
        return len(self.index)

    @property
    def ids(self) -> list[str]:
        """Document ids in insertion order (a copy)."""
        return self.index.ids

    def save(self, folder: str | os.PathLike) -> Path:
        """Write the index to ``folder`` atomically; the embedder itself is not copied."""
        return save_index_folder(folder, self._write_into)

    @classmethod
    def load(
        cls,
        folder: str | os.PathLike,
        embedder: Embedder | str | os.PathLike | SentenceTransformer | None = None,
        use_gpu: UseGpu = "auto",
    ) -> DenseTextIndex:
        """Load an index written by :meth:`save`.

        Without ``embedder`` the model named in the manifest is loaded. Bad folders,
        and an embedder whose dimension does not match, raise :class:`DataError`.
        """
        root = Path(folder)
        manifest = read_manifest(root, kind=cls.KIND, max_version=cls.FORMAT_VERSION)
        if embedder is None:
            if manifest.embedder is None:
                raise DataError(
                    f"{root}: the manifest names no embedder model; pass embedder= to load it"
                )
            embedder = Embedder(manifest.embedder)
        embedder = as_embedder(embedder)
        index = DenseIndex._from_payload(root, manifest.settings, manifest.ids, use_gpu)
        if index.dim != embedder.dim:
            raise DataError(
                f"{root}: index vectors have dim {index.dim} but the embedder "
                f"{embedder.model_name!r} makes dim {embedder.dim}"
            )
        return cls(embedder, index)

    def _write_into(self, folder: Path) -> None:
        self.index._write_payload(folder)
        write_manifest(
            folder,
            kind=self.KIND,
            format_version=self.FORMAT_VERSION,
            settings=self.index._settings(),
            ids=self.index.ids,
            embedder=self.embedder.model_name,
        )

    def __repr__(self) -> str:
        return f"DenseTextIndex({self.embedder!r}, {self.index!r})"
