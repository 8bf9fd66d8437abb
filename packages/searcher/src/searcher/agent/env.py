"""The search environment: closed-ended passage retrieval and open-ended web-page learnings.

:class:`SearchEnvironment` runs in-process; :class:`HTTPSearchEnvironment` (in
``searcher.client``) talks to ``searcher serve`` and offers the same :meth:`observe`.
Closed-ended questions get the top-k passages per query (raw contents, as the
official closed-ended wrapper returns them); open-ended questions get, per query,
the top-k web pages turned into at most three learnings.
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from collections.abc import Sequence

from labcore.config import check_choice
from labcore.errors import DataError
from labcore.llm import ChatModel
from searcher.agent.learnings import ExtractiveLearner, LLMLearner
from searcher.data.corpus import passage_text
from searcher.index import load_index_folder

ABILITIES = ("closed", "open")
#: How open-ended results become learnings.
LEARNINGS = ("paraphrased", "extractive", "llm")


class _LRU:
    """A thread-safe bounded cache."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.data: OrderedDict = OrderedDict()
        self.lock = threading.Lock()
        self.hits = self.misses = 0

    def get(self, key):
        with self.lock:
            if key in self.data:
                self.data.move_to_end(key)
                self.hits += 1
                return self.data[key]
            self.misses += 1
            return None

    def put(self, key, value) -> None:
        if self.size <= 0:
            return
        with self.lock:
            self.data[key] = value
            self.data.move_to_end(key)
            while len(self.data) > self.size:
                self.data.popitem(last=False)


class SearchEnvironment:
    """Retrieval over one index folder, with cached results.

    Args:
        passages, passage_index: the closed-ended corpus and its labcore index.
        pages, page_index: the web-page cache and its index (may be empty/None).
        topk: passages or pages per query (3 in the paper).
        learnings: ``"paraphrased"`` (the best-matching page sentences, restated by a
            deterministic paraphraser; no LLM), ``"extractive"`` (those sentences verbatim)
            or ``"llm"`` (needs ``llm``).
        llm: a labcore chat model for ``learnings="llm"``.
        cache_size: cached (query, topk) results per kind; 0 turns caching off.
    """

    def __init__(
        self,
        passages,
        passage_index,
        pages=(),
        page_index=None,
        *,
        topk: int = 3,
        learnings: str = "paraphrased",
        llm: ChatModel | None = None,
        num_learnings: int = 3,
        cache_size: int = 100_000,
    ) -> None:
        check_choice("learnings", learnings, LEARNINGS)
        if learnings == "llm" and llm is None:
            raise DataError("learnings='llm' needs a chat model")
        self.passages = {p["id"]: p["contents"] for p in passages}
        self.passage_index = passage_index
        self.pages = list(pages)
        self.page_index = page_index
        self.topk = topk
        self.learnings_kind = learnings
        self.extractive = ExtractiveLearner(
            [p["content"] for p in self.pages],
            num_learnings,
            paraphrased=learnings == "paraphrased",
        )
        self.llm_learner = LLMLearner(llm, num_learnings) if llm is not None else None
        self._retrieve_cache = _LRU(cache_size)
        self._learn_cache = _LRU(cache_size)
        # Index objects are not all documented as thread-safe; one search at a time.
        self._lock = threading.Lock()

    @classmethod
    def from_folder(cls, folder: str | os.PathLike, **kwargs) -> SearchEnvironment:
        """Load an index folder written by ``searcher index``."""
        _, passages, p_index, pages, w_index = load_index_folder(folder)
        return cls(passages, p_index, pages, w_index, **kwargs)

    # ------------------------------------------------------------ closed-ended

    def retrieve(
        self, queries: Sequence[str], topk: int | None = None
    ) -> list[list[tuple[dict, float]]]:
        """Per query, the top-k passages ``({id, contents}, score)``, best first (cached)."""
        k = topk or self.topk
        out: list = [None] * len(queries)
        todo = []
        for i, q in enumerate(queries):
            hit = self._retrieve_cache.get((q, k))
            if hit is None:
                todo.append(i)
            else:
                out[i] = hit
        if todo:
            with self._lock:
                rankings = self.passage_index.search([queries[i] for i in todo], k)
            for i, ranking in zip(todo, rankings, strict=True):
                res = [({"id": d, "contents": self.passages[d]}, s) for d, s in ranking]
                self._retrieve_cache.put((queries[i], k), res)
                out[i] = res
        return out

    # ------------------------------------------------------------ open-ended

    def search_pages(self, queries: Sequence[str], topk: int | None = None) -> list[list[dict]]:
        """Per query, the top-k web pages."""
        if self.page_index is None:
            raise DataError("this index has no web pages; build it with `searcher index --pages`")
        k = topk or self.topk
        with self._lock:
            rankings = self.page_index.search(list(queries), k)
        return [[self.pages[int(d)] for d, _ in r] for r in rankings]

    def learn(self, queries: Sequence[str], topk: int | None = None) -> list[list[str]]:
        """Per query, at most ``num_learnings`` learnings from its top-k pages (cached)."""
        k = topk or self.topk
        key = lambda q: (self.learnings_kind, q, k)
        out: list = [self._learn_cache.get(key(q)) for q in queries]
        todo = [i for i, v in enumerate(out) if v is None]
        if todo:
            pages = self.search_pages([queries[i] for i in todo], k)
            texts = [[p["content"] for p in ps] for ps in pages]
            if self.learnings_kind == "llm":
                learned = self.llm_learner.batch([queries[i] for i in todo], texts)
            else:
                learned = [self.extractive(queries[i], t) for i, t in zip(todo, texts, strict=True)]
            for i, ls in zip(todo, learned, strict=True):
                self._learn_cache.put(key(queries[i]), ls)
                out[i] = ls
        return out

    # ------------------------------------------------------------ the agent's view

    def observe(self, batch: Sequence[Sequence[str]], abilities: Sequence[str]) -> list[str]:
        """One observation text per sample, for all samples' queries in one batched search."""
        if len(batch) != len(abilities):
            raise ValueError("one ability per sample")
        flat = {"closed": [], "open": []}
        for qs, ab in zip(batch, abilities, strict=True):
            if ab not in ABILITIES:
                raise DataError(f"ability must be 'closed' or 'open' (got {ab!r})")
            flat[ab].extend(qs)
        closed = (
            dict(zip(flat["closed"], self.retrieve(flat["closed"]), strict=True))
            if flat["closed"]
            else {}
        )
        opened = (
            dict(zip(flat["open"], self.learn(flat["open"]), strict=True)) if flat["open"] else {}
        )
        return [
            render_results(qs, ab, closed, opened) for qs, ab in zip(batch, abilities, strict=True)
        ]


def render_results(queries, ability, closed, opened) -> str:
    """Observation text of one sample: de-duplicated passages or learnings, one per line."""
    lines: list[str] = []
    seen: set[str] = set()
    for q in queries:
        items = (
            [passage_text(doc["contents"]) for doc, _ in closed[q]]
            if ability == "closed"
            else opened[q]
        )
        for item in items:
            norm = " ".join(item.lower().split())
            if norm not in seen:
                seen.add(norm)
                lines.append(item)
    return "\n".join(lines) if lines else "No results."
