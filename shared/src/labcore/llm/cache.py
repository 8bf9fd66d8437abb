"""An on-disk SQLite cache of chat answers, and the lookup-then-generate loop backends share."""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from labcore.llm.interface import Conversation
from labcore.llm.params import SamplingParams

# Bump when the key recipe changes, so old entries are never misread as hits.
_KEY_VERSION = 1


class ResponseCache:
    """Answers stored by a hash of (model name, messages, sampling parameters).

    Each :meth:`put` is committed at once, so a job that is interrupted keeps
    every answer it already produced and a rerun only generates the rest.
    One connection is shared by all threads behind a lock; WAL mode lets other
    processes read while one writes.

    Sampled answers (temperature > 0) are cached like greedy ones: with the same
    seed a rerun returns the stored sample instead of drawing a new one.

    Use as a context manager, or call :meth:`close`.
    """

    def __init__(self, path: str | os.PathLike) -> None:
        """Open (creating if needed) the cache database at ``path``."""
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        # isolation_level=None: autocommit, every put is durable on return.
        self._db = sqlite3.connect(
            self.path, timeout=30.0, isolation_level=None, check_same_thread=False
        )
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS responses (key TEXT PRIMARY KEY, response TEXT NOT NULL)"
        )

    @staticmethod
    def key(model_name: str, messages: Conversation, params: Mapping[str, Any]) -> str:
        """The cache key: a SHA-256 over the model, the messages and the sampling parameters.

        ``params`` is :meth:`SamplingParams.as_dict` (max_new_tokens, temperature,
        top_p, stop, seed); any change to any of them gives a different key.
        """
        payload = {"v": _KEY_VERSION, "model": model_name, "messages": messages, "params": params}
        blob = json.dumps(payload, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
        return hashlib.sha256(blob.encode("utf-8")).hexdigest()

    def get(self, key: str) -> str | None:
        """The stored answer, or None on a miss."""
        with self._lock:
            row = self._db.execute(
                "SELECT response FROM responses WHERE key = ?", (key,)
            ).fetchone()
        return None if row is None else row[0]

    def put(self, key: str, response: str) -> None:
        """Store (or replace) an answer; committed before returning."""
        with self._lock:
            self._db.execute(
                "INSERT OR REPLACE INTO responses (key, response) VALUES (?, ?)", (key, response)
            )

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and self.get(key) is not None

    def __len__(self) -> int:
        with self._lock:
            return self._db.execute("SELECT COUNT(*) FROM responses").fetchone()[0]

    def close(self) -> None:
        """Close the database connection."""
        with self._lock:
            self._db.close()

    def __enter__(self) -> ResponseCache:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"ResponseCache({str(self.path)!r})"


#: Generates answers for a batch, yielding ``(index in batch, answer)`` as each is ready.
Generate = Callable[[Sequence[Conversation], SamplingParams], Iterator[tuple[int, str]]]


def generate_with_cache(
    cache: ResponseCache | None,
    model_name: str,
    conversations: Sequence[Conversation],
    params: SamplingParams,
    generate: Generate,
) -> list[str]:
    """Answer ``conversations``, taking hits from ``cache`` and generating only the misses.

    Each generated answer is stored as soon as ``generate`` yields it, so if
    generation fails part-way the answers before the failure are kept.
    """
    results: list[str | None] = [None] * len(conversations)
    keys: list[str] = []
    if cache is not None:
        param_values = params.as_dict()
        keys = [ResponseCache.key(model_name, conv, param_values) for conv in conversations]
        results = [cache.get(key) for key in keys]
    misses = [i for i, result in enumerate(results) if result is None]
    if misses:
        for j, text in generate([conversations[i] for i in misses], params):
            i = misses[j]
            results[i] = text
            if cache is not None:
                cache.put(keys[i], text)
    missing = [i for i, result in enumerate(results) if result is None]
    if missing:  # a backend bug, not a user error
        raise RuntimeError(f"backend returned no answer for conversations {missing}")
    return [r for r in results if r is not None]
