"""Turning retrieved web pages into short "learnings": extractive (no LLM) or by a chat model."""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Sequence

from labcore.llm import ChatModel

_SPLIT = re.compile(r"(?<=[.!?])\s+")
_WORD = re.compile(r"[a-z0-9]+")
_STOP = set(
    "a an the of in on at to for by and or is are was were be been what which who whom where "
    "when how its it this that with from as about into key facts known".split()
)


def sentences(text: str) -> list[str]:
    """Split page text into sentences."""
    return [s.strip() for s in _SPLIT.split(text) if s.strip()]


def words(text: str) -> list[str]:
    """Lower-case content words."""
    return [w for w in _WORD.findall(text.lower()) if w not in _STOP and len(w) > 1]


class ExtractiveLearner:
    """Pick the sentences of the retrieved pages that best match the query (IDF-weighted overlap).

    Sentences are de-duplicated after whitespace and case normalisation, and near
    duplicates (Jaccard word overlap ≥ 0.8) are dropped; at most ``num_learnings`` per query.
    """

    def __init__(self, page_texts: Sequence[str], num_learnings: int = 3) -> None:
        df: Counter[str] = Counter()
        n = 0
        for text in page_texts:
            for s in sentences(text):
                df.update(set(words(s)))
                n += 1
        self.idf = {w: math.log(1 + n / c) for w, c in df.items()}
        self.default_idf = math.log(1 + n)
        self.num_learnings = num_learnings

    def __call__(self, query: str, pages: Sequence[str]) -> list[str]:
        q = set(words(query))
        scored = []
        for rank, text in enumerate(pages):
            for pos, s in enumerate(sentences(text)):
                overlap = q & set(words(s))
                if overlap:
                    score = sum(self.idf.get(w, self.default_idf) for w in overlap)
                    scored.append((-score, rank, pos, s))
        scored.sort()
        chosen: list[str] = []
        chosen_words: list[set[str]] = []
        for _, _, _, s in scored:
            ws = set(words(s))
            if any(len(ws & c) / max(1, len(ws | c)) >= 0.8 for c in chosen_words):
                continue
            chosen.append(s)
            chosen_words.append(ws)
            if len(chosen) == self.num_learnings:
                break
        return chosen


_LLM_PROMPT = (
    "Given the search query and the web pages below, write at most {n} distinct, concise "
    "learnings that help answer the query, in English, one per line, without numbering. "
    "Use only facts stated in the pages.\n\nQuery: {query}\n\nPages:\n{pages}"
)


class LLMLearner:
    """Ask a labcore chat model for at most ``num_learnings`` learnings (the paper's way)."""

    def __init__(
        self,
        llm: ChatModel,
        num_learnings: int = 3,
        max_page_chars: int = 2000,
        max_new_tokens: int = 160,
    ) -> None:
        self.llm = llm
        self.num_learnings = num_learnings
        self.max_page_chars = max_page_chars
        self.max_new_tokens = max_new_tokens

    def batch(self, queries: Sequence[str], pages: Sequence[Sequence[str]]) -> list[list[str]]:
        """Learnings for many queries in one batched chat call."""
        convs = []
        for q, ps in zip(queries, pages, strict=True):
            joined = (
                "\n\n".join(p[: self.max_page_chars] for p in ps).replace("{", "").replace("}", "")
            )
            convs.append(
                [
                    {
                        "role": "user",
                        "content": _LLM_PROMPT.format(n=self.num_learnings, query=q, pages=joined),
                    }
                ]
            )
        answers = self.llm.chat(convs, max_new_tokens=self.max_new_tokens, temperature=0.0)
        out = []
        for a in answers:
            lines = [ln.strip().lstrip("-*0123456789.) ").strip() for ln in a.splitlines()]
            out.append([ln for ln in lines if ln][: self.num_learnings])
        return out
