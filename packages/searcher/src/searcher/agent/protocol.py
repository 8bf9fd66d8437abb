"""The O² tag protocol: system prompt, response parser, observation rendering and sanitising.

A turn is a ``<think>`` block followed by either a ``<search>`` block holding one to
five ``<query>`` items or an ``<answer>`` block. Environment text comes back to the
model inside ``<learnings>`` tags, in a new user turn. Everything the environment
returns is sanitised first so that it can never open or close a protocol tag.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

TAGS = ("think", "search", "query", "answer", "learnings")
STOP_STRINGS = ["</search>", "</answer>"]
MAX_QUERIES = 5

# Our own wording of what the paper's system prompt asks for.
SYSTEM_PROMPT = (
    "You are an expert researcher. For an open-ended question, give comprehensive key "
    "findings; for a specific question, give a precise short answer.\n"
    "Each time you get new information, reason about it inside <think> </think>.\n"
    "If you lack knowledge, search: write one <search> </search> block holding one to five "
    "distinct queries, each inside <query> </query>. The results come back inside "
    "<learnings> </learnings>. You may search several times.\n"
    "When you are done, put the final output inside <answer> </answer>: a short span for a "
    "specific question, or one finding per line starting with '- ' for an open-ended one."
)
USER_PREFIX = "Initial query: "
OBSERVATION_LABEL = "Search learnings:"
INVALID_MESSAGE = (
    "Your previous response was invalid. Reason inside <think> </think>, then either put "
    "one to five queries, each inside <query> </query>, inside <search> </search>, or put "
    "your final output inside <answer> </answer>."
)
LAST_TURN_NOTE = "No searches are left. Give your final output inside <answer> </answer> now."

_ANSWER_RE = re.compile(r"<answer>(.*?)</answer>", re.DOTALL)
_SEARCH_RE = re.compile(r"<search>(.*?)</search>", re.DOTALL)
_QUERY_RE = re.compile(r"<query>(.*?)</query>", re.DOTALL)
# Any '<' or '>' could start or end a tag once the model's tokenizer merges text;
# replacing both brackets makes forming any tag impossible, whatever the spacing or case.
_BRACKETS = str.maketrans({"<": "‹", ">": "›"})


@dataclass
class Action:
    """What one assistant turn asked for."""

    kind: str  # "search", "answer" or "invalid"
    queries: list[str] = field(default_factory=list)
    answer: str | None = None
    text: str = ""


def cut_at_stop(text: str) -> str:
    """Cut ``text`` just after the first closing search or answer tag (generation stops there)."""
    ends = [text.find(s) + len(s) for s in STOP_STRINGS if s in text]
    return text[: min(ends)] if ends else text


def parse_action(response: str, *, max_queries: int | None = None) -> Action:
    """Parse one assistant turn (already cut at the first stop tag).

    ``<answer>`` wins when present. A search block with no non-empty query is invalid.
    The paper does not enforce the limit of five queries; ``max_queries`` truncates.
    """
    text = cut_at_stop(response)
    answers = _ANSWER_RE.findall(text)
    if answers:
        return Action("answer", answer=answers[-1].strip(), text=text)
    searches = _SEARCH_RE.findall(text)
    if searches:
        queries = [q.strip() for q in _QUERY_RE.findall(searches[-1]) if q.strip()]
        if not queries:
            # A bare search block without query tags: take its non-empty lines.
            queries = [ln.strip() for ln in searches[-1].splitlines() if ln.strip()]
        if max_queries is not None:
            queries = queries[:max_queries]
        if queries:
            return Action("search", queries=queries, text=text)
    return Action("invalid", text=text)


def sanitize(text: str) -> str:
    """Make environment text inert: no protocol tag can be opened or closed by it."""
    return text.translate(_BRACKETS)


def render_observation(learnings: str, *, last_turn: bool = False) -> str:
    """The user-turn content that carries search results back to the model."""
    body = f"{OBSERVATION_LABEL}\n<learnings>\n{sanitize(learnings).strip()}\n</learnings>"
    return f"{body}\n{LAST_TURN_NOTE}" if last_turn else body


def render_invalid(*, last_turn: bool = False) -> str:
    """The corrective user turn after a response with neither a search nor an answer."""
    return f"{INVALID_MESSAGE}\n{LAST_TURN_NOTE}" if last_turn else INVALID_MESSAGE


def initial_messages(question: str) -> list[dict[str, str]]:
    """The system prompt and the first user turn for ``question``."""
    return [
        {"role": "system", "content": SYSTEM_PROMPT},
        {"role": "user", "content": USER_PREFIX + question},
    ]


def extract_queries(responses: list[str]) -> list[str]:
    """All queries of all search turns, in order."""
    out: list[str] = []
    for r in responses:
        action = parse_action(r)
        if action.kind == "search":
            out.extend(action.queries)
    return out
