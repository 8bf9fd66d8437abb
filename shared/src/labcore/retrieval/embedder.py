"""Sentence embeddings for dense retrieval: float32, L2-normalised, batched."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch

from labcore.models import BUNDLED, MINILM, load_embedder
from labcore.retrieval.storage import check_texts

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer


class Embedder:
    """A sentence-transformers model that turns texts into unit-length float32 vectors.

    Args:
        name_or_path: a registry name (``"all-minilm-l6-v2"``, bundled and offline),
            a local model folder, a hub id, or an already loaded ``SentenceTransformer``.
        device: where the model runs; ``None`` picks CUDA when available, else CPU.
        batch_size: texts per forward pass in :meth:`encode`.
        model_name: the name recorded in saved indexes so that they can reload this
            model. Defaults to ``name_or_path`` (a local folder as an absolute path);
            for an already loaded model it is ``None`` unless given, and indexes saved
            with such an embedder need ``embedder=`` when they are loaded.
    """

    def __init__(
        self,
        name_or_path: str | os.PathLike | SentenceTransformer = MINILM,
        device: str | torch.device | None = None,
        batch_size: int = 64,
        *,
        model_name: str | None = None,
    ) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size must be positive, got {batch_size}")
        if isinstance(name_or_path, str | os.PathLike):
            self.model = load_embedder(name_or_path, device=device)
            self.model_name: str | None = model_name or _reloadable_name(name_or_path)
        else:
            self.model = name_or_path
            if device is not None:
                self.model.to(device)
            self.model_name = model_name
        self.batch_size = batch_size
        self._dim: int | None = None

    @property
    def dim(self) -> int:
        """Length of each embedding vector."""
        if self._dim is None:
            # sentence-transformers 6 renamed get_sentence_embedding_dimension (still
            # there, with a deprecation warning); older releases only have the old name.
            getter = getattr(self.model, "get_embedding_dimension", None)
            if getter is None:
                getter = self.model.get_sentence_embedding_dimension
            dim = getter()
            # Some models cannot tell without running; ask them with one probe text.
            self._dim = (
                int(dim) if dim is not None else int(self.encode(["dimension probe"]).shape[1])
            )
        return self._dim

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Embed ``texts`` into a C-contiguous ``(len(texts), dim)`` float32 array of unit rows.

        Inner products of these rows are cosine similarities.
        """
        texts = check_texts(texts)
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        vectors = self.model.encode(
            texts,
            batch_size=self.batch_size,
            convert_to_numpy=True,
            normalize_embeddings=True,
            show_progress_bar=False,
        )
        return np.ascontiguousarray(vectors, dtype=np.float32)

    def __repr__(self) -> str:
        return f"Embedder(model_name={self.model_name!r}, batch_size={self.batch_size})"


def as_embedder(embedder: Embedder | str | os.PathLike | SentenceTransformer) -> Embedder:
    """Accept an :class:`Embedder`, a model name/path, or a loaded ``SentenceTransformer``."""
    return embedder if isinstance(embedder, Embedder) else Embedder(embedder)


def _reloadable_name(name_or_path: str | os.PathLike) -> str:
    """The name to store in a manifest: registry names and hub ids as given, local
    folders as absolute paths so that loading does not depend on the working directory."""
    text = os.fspath(name_or_path)
    if text in BUNDLED:
        return text
    path = Path(text).expanduser()
    return str(path.resolve()) if path.exists() else text
