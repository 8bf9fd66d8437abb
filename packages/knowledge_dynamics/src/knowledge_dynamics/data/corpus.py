"""The background corpus: the embedded synthetic encyclopedia or user text, and its packing.

Readers: ``synthetic`` (:mod:`knowledge_dynamics.synth.background`), a ``.txt`` file
(documents separated by blank lines), a ``.jsonl`` file with a ``text`` field, or a
``datasets`` name. Documents are shuffled once with the corpus seed, then
split into a pretraining part and a held-out injection stream; packing concatenates
documents (each followed by EOS) and cuts fixed-length rows in that fixed order, so every
condition sees the same stream.
"""

from __future__ import annotations

import hashlib
import json
import random
from pathlib import Path

import numpy as np

from knowledge_dynamics.config import CorpusConfig
from knowledge_dynamics.synth.background import synthetic_documents
from labcore.errors import DataError
from labcore.io import iter_jsonl


def _read_source(source: str) -> list[str]:
    if source.startswith("hf:"):
        name, _, conf = source[3:].partition(":")
        try:
            import datasets

            ds = datasets.load_dataset(name, conf or None, split="train")
        except Exception as exc:
            raise DataError(f"corpus.source {source!r}: could not load ({exc})") from None
        if "text" not in ds.column_names:
            raise DataError(f"corpus.source {source!r}: no 'text' column")
        return [t for t in ds["text"] if t and t.strip()]
    path = Path(source)
    if not path.is_file():
        raise DataError(f"corpus.source {source!r}: file not found (or use 'synthetic')")
    if path.suffix == ".jsonl":
        docs = []
        for k, rec in enumerate(iter_jsonl(path)):
            if not isinstance(rec, dict) or not isinstance(rec.get("text"), str):
                raise DataError(
                    f"{path}: line {_line_of_record(path, k)}: expected an object with a 'text' string"
                )
            docs.append(rec["text"])
        return docs
    text = path.read_text(encoding="utf-8")
    return [d.strip() for d in text.split("\n\n") if d.strip()]


def _line_of_record(path: Path, k: int) -> int:
    """1-based line of the ``k``-th non-blank line (the ``k``-th record :func:`iter_jsonl` yields)."""
    with open(path, encoding="utf-8") as fh:
        lines = [n for n, line in enumerate(fh, start=1) if line.strip()]
    return lines[k]


def load_documents(cfg: CorpusConfig) -> tuple[list[str], list[str]]:
    """(pretraining documents, injection-stream documents), in their fixed order."""
    if cfg.source == "synthetic":
        docs = synthetic_documents(cfg.n_docs, cfg.seed)
    else:
        docs = _read_source(cfg.source)
    if cfg.dedup:
        seen: set[str] = set()
        docs = [d for d in docs if not (d in seen or seen.add(d))]
    if len(docs) < 2:
        raise DataError(f"corpus.source {cfg.source!r}: need at least 2 documents, got {len(docs)}")
    random.Random(f"order-{cfg.seed}").shuffle(docs)
    cut = max(1, min(len(docs) - 1, round(len(docs) * (1 - cfg.stream_fraction))))
    return docs[:cut], docs[cut:]


def pack(docs: list[str], tokenizer, seq_len: int) -> np.ndarray:
    """Concatenate documents (each + EOS) and cut ``(n_rows, seq_len)`` rows, in order."""
    eos = tokenizer.eos_token_id
    ids = tokenizer(docs, add_special_tokens=False).input_ids
    flat = np.fromiter((t for doc in ids for t in (*doc, eos)), dtype=np.int32)
    n_rows = len(flat) // seq_len
    if n_rows < 1:
        raise DataError(f"the corpus has {len(flat)} tokens, fewer than one row of {seq_len}")
    return flat[: n_rows * seq_len].reshape(n_rows, seq_len)


def corpus_key(cfg: CorpusConfig, tokenizer_name: str, seq_len: int) -> str:
    """A cache key for a packed corpus (config, tokenizer and row length)."""
    blob = json.dumps([cfg.__dict__, tokenizer_name, seq_len], sort_keys=True, default=str)
    return hashlib.sha1(blob.encode()).hexdigest()[:12]
