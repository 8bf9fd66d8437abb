"""Lexical retrieval: BM25 scoring with ``bm25s``, English stopwords, optional stemming."""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from labcore.errors import DataError
from labcore.retrieval.hits import Ranking
from labcore.retrieval.storage import (
    check_k,
    check_new_ids,
    check_texts,
    read_manifest,
    save_index_folder,
    write_manifest,
)

# bm25s is imported inside the methods: importing it takes about a second, which
# every `import labcore.retrieval` would otherwise pay.

# bm25s writes several files of its own; they live in a subfolder so that their
# names can never clash with the manifest.
_BM25S_DIR = "bm25s"
_STEM_LANGUAGE = "english"


def stemmer_available() -> bool:
    """Whether PyStemmer (module ``Stemmer``), the optional stemming backend, is installed."""
    return importlib.util.find_spec("Stemmer") is not None


def _make_stemmer(language: str | None) -> Any:
    if language is None:
        return None
    import Stemmer  # PyStemmer: optional, checked by the callers

    return Stemmer.Stemmer(language)


class BM25Index:
    """A BM25 index over ``texts``, searched with free-text queries.

    Texts are lower-cased and split into words of two or more characters;
    stopwords are dropped and, when PyStemmer is installed (or ``stem=True``),
    words are reduced to their English stems. Only documents sharing at least one
    term with a query are returned, so a query may get fewer than ``k`` hits.

    Args:
        texts: the documents.
        ids: one unique id per document.
        stopwords: ``"en"`` (bm25s's English list), another bm25s language code,
            a list of words, or ``None``.
        stem: ``None`` stems when PyStemmer is installed, ``True`` requires it,
            ``False`` never stems. The choice is stored with the index.
        k1, b, method: BM25 parameters, as in ``bm25s.BM25``.
    """

    KIND = "bm25"
    #: queries per search from which bm25s scores them on one thread per core
    THREADED_BATCH = 16
    FORMAT_VERSION = 1

    def __init__(
        self,
        texts: Sequence[str],
        ids: Sequence[str],
        *,
        stopwords: str | Sequence[str] | None = "en",
        stem: bool | None = None,
        k1: float = 1.5,
        b: float = 0.75,
        method: str = "lucene",
    ) -> None:
        import bm25s

        texts = check_texts(texts)
        if not texts:
            raise ValueError("a BM25 index needs at least one document")
        if stem is True and not stemmer_available():
            raise ImportError("stem=True needs PyStemmer (`pip install PyStemmer`)")
        use_stemmer = stemmer_available() if stem is None else stem
        self._ids = check_new_ids(ids, len(texts))
        self.stopwords = (
            stopwords if stopwords is None or isinstance(stopwords, str) else list(stopwords)
        )
        self.stem_language = _STEM_LANGUAGE if use_stemmer else None
        self.k1, self.b, self.method = k1, b, method

        tokens = bm25s.tokenize(
            texts,
            stopwords=self.stopwords,
            stemmer=_make_stemmer(self.stem_language),
            show_progress=False,
        )
        if not tokens.vocab:
            # bm25s cannot build a vocabulary from nothing (all empty / all stopwords).
            raise ValueError("no document contains an indexable word (all empty or stopwords)")
        self._retriever = bm25s.BM25(k1=k1, b=b, method=method)
        self._retriever.index(tokens, show_progress=False)

    @classmethod
    def build(cls, texts: Sequence[str], ids: Sequence[str], **settings: Any) -> BM25Index:
        """Same as the constructor; named like the other indexes' builders."""
        return cls(texts, ids, **settings)

    def search(self, queries: Sequence[str], k: int) -> list[Ranking]:
        """Up to ``k`` ``(id, BM25 score)`` pairs per query, best first; ``k`` may exceed the corpus."""
        import bm25s

        check_k(k)
        queries = check_texts(queries, "queries")
        if not queries:
            return []
        tokens = bm25s.tokenize(
            queries,
            stopwords=self.stopwords,
            stemmer=_make_stemmer(self.stem_language),
            return_ids=False,  # strings: bm25s maps them onto the corpus vocabulary
            show_progress=False,
        )
        # bm25s refuses k above the corpus size.
        # bm25s scores query chunks on a thread pool when asked: 1.6x on 2 cores for 512
        # queries; a pool costs more than it saves on a handful of queries.
        threads = (os.cpu_count() or 1) if len(queries) >= self.THREADED_BATCH else 0
        docs, scores = self._retriever.retrieve(
            tokens, k=min(k, len(self)), show_progress=False, n_threads=threads
        )
        # Documents sharing no term with the query score 0 and come back in
        # arbitrary order; they are not matches, and would pollute rank fusion.
        return [
            [(self._ids[d], float(s)) for d, s in zip(row_docs, row_scores, strict=True) if s > 0]
            for row_docs, row_scores in zip(docs.tolist(), scores.tolist(), strict=True)
        ]

    def __len__(self) -> int:
        return len(self._ids)

    @property
    def ids(self) -> list[str]:
        """Document ids in corpus order (a copy)."""
        return list(self._ids)

    # ------------------------------------------------------------ saving and loading

    def save(self, folder: str | os.PathLike) -> Path:
        """Write the index to ``folder`` atomically; the texts themselves are not stored."""
        return save_index_folder(folder, self._write_into)

    @classmethod
    def load(cls, folder: str | os.PathLike) -> BM25Index:
        """Load an index written by :meth:`save`; bad folders raise :class:`DataError`."""
        import bm25s

        root = Path(folder)
        manifest = read_manifest(root, kind=cls.KIND, max_version=cls.FORMAT_VERSION)
        stem_language = manifest.setting("stem_language")
        if stem_language is not None and not stemmer_available():
            raise DataError(
                f"{root}: index was built with {stem_language} stemming; install PyStemmer to use it"
            )
        try:
            retriever = bm25s.BM25.load(root / _BM25S_DIR, show_progress=False)
        except (OSError, ValueError, TypeError) as exc:
            raise DataError(f"{root}: cannot read the bm25s files ({type(exc).__name__})") from None
        if retriever.scores["num_docs"] != len(manifest.ids):
            raise DataError(
                f"{root}: bm25s index holds {retriever.scores['num_docs']} documents, "
                f"manifest lists {len(manifest.ids)}"
            )
        # The constructor tokenizes and indexes texts; a loaded index has neither.
        index = cls.__new__(cls)
        index._ids = list(manifest.ids)
        index._retriever = retriever
        index.stopwords = manifest.setting("stopwords")
        index.stem_language = stem_language
        index.k1 = manifest.setting("k1")
        index.b = manifest.setting("b")
        index.method = manifest.setting("method")
        return index

    def _write_into(self, folder: Path) -> None:
        self._retriever.save(folder / _BM25S_DIR, show_progress=False)
        write_manifest(
            folder,
            kind=self.KIND,
            format_version=self.FORMAT_VERSION,
            settings={
                "stopwords": self.stopwords,
                "stem_language": self.stem_language,
                "k1": self.k1,
                "b": self.b,
                "method": self.method,
            },
            ids=self._ids,
        )

    def __repr__(self) -> str:
        stopwords = self.stopwords if not isinstance(self.stopwords, list) else "custom"
        return f"BM25Index(n={len(self)}, stopwords={stopwords!r}, stem={self.stem_language!r})"
