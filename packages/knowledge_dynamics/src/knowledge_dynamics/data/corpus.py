"""The background corpus: embedded synthetic encyclopedia, or user text, and its packing.

The synthetic world has a fixed set of countries, cities (each on one river, in one
country) and awards; every document is about a new person (all names from the background
side of :mod:`.names`, so disjoint from injected entities) and states a random subset of
the person's facts in random forms, plus sometimes a compositional sentence, so the model
can learn the relations in general. Documents are shuffled once with the corpus seed, then
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
from knowledge_dynamics.data.names import NameMaker
from knowledge_dynamics.data.synth import SUFFIXES_AWARD, SUFFIXES_COMPANY, _sentence
from knowledge_dynamics.data.templates import BLOCKS, COMPOSITIONS
from labcore.errors import DataError


class BackgroundWorld:
    """Fixed background entities: countries, cities with rivers, awards, famous composers."""

    def __init__(self, seed: int):
        self.rng = random.Random(f"background-{seed}")
        self.names = NameMaker(self.rng, "background")
        self.countries = [self.names.word() for _ in range(40)]
        self.cities = [self.names.word() for _ in range(300)]
        rivers = [self.names.word() for _ in range(80)]
        self.river_of = {c: self.rng.choice(rivers) for c in self.cities}
        self.awards = [f"{self.names.word()} {self.rng.choice(SUFFIXES_AWARD)}" for _ in range(50)]

    def document(self) -> str:
        rng, names = self.rng, self.names
        city1, city2, city3 = rng.sample(self.cities, 3)
        slots = {
            "p": names.person(),
            "country": rng.choice(self.countries),
            "city1": city1,
            "river": self.river_of[city1],
            "company": f"{names.word()} {rng.choice(SUFFIXES_COMPANY)}",
            "city2": city2,
            "mentor": names.person(),
            "city3": city3,
            "spouse": names.person(),
            "opera": names.word(),
            "award": rng.choice(self.awards),
        }
        blocks = [BLOCKS[0], *rng.sample(BLOCKS[1:], len(BLOCKS) - 1)]
        blocks = blocks[: rng.randint(3, len(blocks))]
        sentences = [_sentence(k, rng.randint(0, 4), slots) for b in blocks for k in b]
        if rng.random() < 0.5:
            text, obj = rng.choice(COMPOSITIONS)
            sentences.append(f"{text.format(**slots)} {slots[obj]}.")
        return " ".join(sentences)


def synthetic_documents(n_docs: int, seed: int) -> list[str]:
    world = BackgroundWorld(seed)
    return [world.document() for _ in range(n_docs)]


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
        for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
            except json.JSONDecodeError as exc:
                raise DataError(f"{path}: line {lineno}: invalid JSON ({exc.msg})") from None
            if not isinstance(rec, dict) or not isinstance(rec.get("text"), str):
                raise DataError(f"{path}: line {lineno}: expected an object with a 'text' string")
            docs.append(rec["text"])
        return docs
    text = path.read_text(encoding="utf-8")
    return [d.strip() for d in text.split("\n\n") if d.strip()]


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
