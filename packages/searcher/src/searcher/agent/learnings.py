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


# Rewrites of the clause shapes that fact sentences take (the embedded benchmark's, and
# generic passives), in order; the first pattern that matches the whole sentence wins.
_REWRITES: list[tuple[re.Pattern, str]] = [
    (re.compile(p), r)
    for p, r in [
        (r"^(?P<a>.+?), a (?P<o>.+?), works for (?P<b>.+)\.$", "{b} employs {a} as a {o}."),
        (r"^(?P<a>.+?), the founder of (?P<b>.+?), was born in (?P<c>.+)\.$",
         "{c} is the birthplace of {a}, who set up {b}."),
        (r"^(?P<a>.+?) was founded by (?P<b>.+)\.$", "{b} set up {a}."),
        (r"^(?P<a>.+?) was founded in (?P<y>\d+)\.$", "{y} is the year {a} began."),
        (r"^(?P<a>.+?) is headquartered in (?P<c>.+)\.$", "The head office of {a} sits in {c}."),
        (r"^(?P<a>.+?) works in (?P<i>.+)\.$", "{i} is the line of business of {a}."),
        (r"^(?P<a>.+?) was born in (?P<y>\d+)\.$", "{y} is the birth year of {a}."),
        (r"^(?P<a>.+?) was born in (?P<c>.+)\.$", "{c} is the birthplace of {a}."),
        (r"^(?P<a>.+?) works for (?P<b>.+)\.$", "{b} employs {a}."),
        (r"^(?P<a>.+?) is a city in (?P<k>.+)\.$", "{k} includes the city of {a}."),
        (r"^(?P<a>.+?) is a country\.$", "{a} is a nation."),
        (r"^(?P<a>.+?) lies on (?P<r>.+)\.$", "{r} runs through {a}."),
        (r"^(?P<o>.+?) organised the (?P<e>.+?) in (?P<c>.+?) in (?P<y>\d+)\.$",
         "In {y}, {c} hosted the {e}, run by {o}."),
        (r"^The (?P<e>.+?) was held in (?P<c>.+?) in (?P<y>\d+)\.$", "In {y}, {c} hosted the {e}."),
        (r"^The (?P<e>.+?) was held in (?P<c>.+)\.$", "{c} hosted the {e}."),
        (r"^The (?P<e>.+?) took place in (?P<y>\d+)\.$", "{y} is the year of the {e}."),
        (r"^The (?P<e>.+?) was organised by (?P<o>.+)\.$", "{o} ran the {e}."),
        (r"^(?P<a>.+?) is an? (?P<o>.+)\.$", "By occupation, {a} is a {o}."),
        (r"^(?P<a>.+?) (?:was|were) (?P<v>\w+ed) by (?P<b>.+)\.$", "{b} {v} {a}."),
    ]
]  # fmt: skip


def paraphrase(sentence: str) -> str:
    """A deterministic paraphrase of one fact sentence (the sentence itself if no rule fits).

    The environment's learnings are restatements, as an LLM summariser writes them, not
    copies of the pages' sentences: the reference findings are written in the pages'
    wording, so an agent that copies its observations does not get the findings for free.
    """
    s = " ".join(sentence.split())
    for pattern, template in _REWRITES:
        m = pattern.match(s)
        if m:
            out = template.format(**m.groupdict())
            return out[0].upper() + out[1:]
    return s


class ExtractiveLearner:
    """Pick the sentences of the retrieved pages that best match the query (IDF-weighted overlap).

    With ``paraphrased`` each chosen sentence is restated by :func:`paraphrase`.

    Sentences are de-duplicated after whitespace and case normalisation, and near
    duplicates (Jaccard word overlap ≥ 0.8) are dropped; at most ``num_learnings`` per query.
    """

    def __init__(
        self, page_texts: Sequence[str], num_learnings: int = 3, paraphrased: bool = False
    ) -> None:
        df: Counter[str] = Counter()
        n = 0
        for text in page_texts:
            for s in sentences(text):
                df.update(set(words(s)))
                n += 1
        self.idf = {w: math.log(1 + n / c) for w, c in df.items()}
        self.default_idf = math.log(1 + n)
        self.num_learnings = num_learnings
        self.paraphrased = paraphrased

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
        return [paraphrase(c) for c in chosen] if self.paraphrased else chosen


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
