"""Rewards of O²-Searcher: exact match for closed questions; format + factual F1 + query
diversity for open-ended ones.

By default answers are read from the model's response only and findings are split
on bullet lines. ``faithful=True`` reproduces the official code: the answer is read
from prompt + response (at least two answer-tag matches, the last one wins, an answer
of "and" — the system prompt's own mention — counts as none) and findings are split
on every '-' character.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from functools import lru_cache

import numpy as np
from scipy.optimize import linear_sum_assignment

from labcore.metrics import exact_match, f1_score

_ANSWER_RE = re.compile(r"<answer>(.*?)</answer>", re.DOTALL)
_QUERY_RE = re.compile(r"<query>(.*?)</query>", re.DOTALL)

#: cosine threshold for a generated finding to match a reference finding (client value).
TAU = 0.75


@lru_cache(maxsize=1)
def default_embedder():
    """The bundled MiniLM (all-MiniLM-L6-v2), loaded once."""
    from labcore.retrieval import Embedder

    return Embedder("all-minilm-l6-v2")


def extract_answer(response: str, *, prompt: str = "", faithful: bool = False) -> str | None:
    """The last ``<answer>`` content of ``response`` (``faithful``: of prompt + response)."""
    if faithful:
        matches = _ANSWER_RE.findall(prompt + response)
        if len(matches) < 2:
            return None
        answer = matches[-1].strip()
        return None if answer == "and" else answer
    matches = _ANSWER_RE.findall(response)
    return matches[-1].strip() if matches else None


def closed_ended_reward(
    response: str,
    golden_answers: str | Sequence[str],
    *,
    metric: str = "em",
    prompt: str = "",
    faithful: bool = False,
) -> float:
    """1.0 when the normalised answer equals a gold answer, else 0.0 (``metric="f1"``: token F1)."""
    answer = extract_answer(response, prompt=prompt, faithful=faithful)
    if answer is None:
        return 0.0
    golds = [golden_answers] if isinstance(golden_answers, str) else list(golden_answers)
    return float(f1_score(answer, golds) if metric == "f1" else exact_match(answer, golds))


# ------------------------------------------------------------------ format


def tfidf_diversity(items: Sequence[str]) -> float:
    """1 − a penalty on pairwise TF-IDF similarity of the bullet texts (1.0 for ≤ 1 item)."""
    if len(items) <= 1:
        return 1.0
    try:
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.metrics.pairwise import cosine_similarity

        sims = cosine_similarity(TfidfVectorizer().fit_transform(items))
        u = sims[np.triu_indices(len(items), k=1)]
        s = 0.5 * u.max() + 0.3 * (2 * (u > 0.6).sum() / len(u)) + 0.2 * u.mean()
        return float(max(0.0, 1.0 - s**1.5))
    except Exception:
        return 0.5


def format_reward(answer: str | None) -> float:
    """R_fmt: bullet validity, count up to 10, TF-IDF diversity, minus a duplicate penalty."""
    if answer is None or not answer.strip() or answer.strip() == "and":
        return 0.0
    lines = [ln.strip() for ln in answer.splitlines() if ln.strip()]
    items = [ln[2:].strip() for ln in lines if ln.startswith("- ") and ln[2:].strip()]
    errors = len(lines) - len(items)
    f = 1.0 - errors / len(lines)
    c = min(len(items) / 10.0, 1.0)
    d = tfidf_diversity(items)
    dup = 1.0 - len(set(items)) / len(items) if items else 0.0
    return float(np.clip((0.5 * f + 0.3 * c + 0.5 * d) / 1.3 - 3.0 * dup, 0.0, 1.0))


# ------------------------------------------------------------------ factual


def split_findings(answer: str, *, faithful: bool = False) -> list[str]:
    """Findings of an answer: one per bullet line (``faithful``: split on every '-')."""
    if faithful:
        return [p.strip() for p in answer.split("-") if p.strip()]
    out = []
    for ln in answer.splitlines():
        ln = ln.strip()
        if ln.startswith(("- ", "* ", "• ")):
            ln = ln[2:].strip()
        if ln:
            out.append(ln)
    return out


@dataclass
class FindingScores:
    precision: float
    recall: float
    f1: float
    matches: int


def finding_scores(
    generated: Sequence[str], references: Sequence[str], *, tau: float = TAU, embedder=None
) -> FindingScores:
    """One-to-one matching of generated to reference findings (Hungarian on 1 − cosine).

    For a reference with several generated findings at ≥ τ only the most similar one is
    kept (as the official metric server does); matches are assigned pairs at ≥ τ.
    """
    if not generated or not references:
        return FindingScores(0.0, 0.0, 0.0, 0)
    emb = embedder or default_embedder()
    g = emb.encode(list(generated))
    r = emb.encode(list(references))
    s = g @ r.T
    for j in range(s.shape[1]):
        above = np.flatnonzero(s[:, j] >= tau)
        if len(above) > 1:
            keep = above[np.argmax(s[above, j])]
            s[above[above != keep], j] = 0.0
    rows, cols = linear_sum_assignment(1.0 - s)
    m = int(sum(s[i, j] >= tau for i, j in zip(rows, cols, strict=True)))
    p, rec = m / len(generated), m / len(references)
    return FindingScores(p, rec, 2 * p * rec / (p + rec) if p + rec else 0.0, m)


# ------------------------------------------------------------------ diversity


def _length_weight(n: int) -> float:
    if n <= 5:
        return 0.5
    if n <= 15:
        return 0.5 + 0.05 * (n - 5)
    return 0.9 - 0.02 * (n - 15)


def query_diversity(queries: Sequence[str], *, embedder=None) -> float:
    """R_div over the first 20 queries of all turns (0 with fewer than two)."""
    queries = list(queries)[:20]
    n = len(queries)
    if n < 2:
        return 0.0
    emb = embedder or default_embedder()
    v = emb.encode(queries)
    sim = v @ v.T
    off = sim[~np.eye(n, dtype=bool)]
    if np.all(off > 0.98):
        return float(0.5 * 0.2 ** (n - 1))
    tok = emb.model.tokenizer
    scores = []
    for i in range(n):
        s_i = round(
            float(np.mean([1.0 - sim[i, j] for j in range(n) if j != i])) * _length_weight(n), 2
        )
        length = len(tok(queries[i])["input_ids"])
        scores.append(s_i * (1.0 if length >= 8 else max(0.1, length / 8)))
    return round(float(np.mean(scores)), 2)


# ------------------------------------------------------------------ total


@dataclass
class OpenReward:
    total: float
    format: float
    factual: float
    diversity: float
    precision: float
    recall: float

    def as_dict(self) -> dict:
        return asdict(self)


def open_ended_reward(
    response: str,
    reference_findings: Sequence[str],
    queries: Sequence[str] | None = None,
    *,
    prompt: str = "",
    faithful: bool = False,
    tau: float = TAU,
    scale: float = 0.5,
    embedder=None,
) -> OpenReward:
    """``scale · (R_fmt + R_F1 + 0.5·R_div) / 2.5`` (scale 0.5 as the paper: max 0.5).

    ``queries`` defaults to every ``<query>`` in ``response`` (all turns).
    """
    if queries is None:
        queries = [q.strip() for q in _QUERY_RE.findall(response) if q.strip()]
    answer = extract_answer(response, prompt=prompt, faithful=faithful)
    fmt = format_reward(answer)
    if answer is None or answer == "and":
        fs = FindingScores(0.0, 0.0, 0.0, 0)
    else:
        fs = finding_scores(
            split_findings(answer, faithful=faithful),
            reference_findings,
            tau=tau,
            embedder=embedder,
        )
    div = query_diversity(queries, embedder=embedder)
    total = scale * (1.0 * fmt + 1.0 * fs.f1 + 0.5 * div) / 2.5
    return OpenReward(total, fmt, fs.f1, div, fs.precision, fs.recall)
