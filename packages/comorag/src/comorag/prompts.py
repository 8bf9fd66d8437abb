"""Our prompts for every agent role, each with a strict output format and its parser.

Parsers return None when the output does not follow the format, so that
:meth:`comorag.llm.Agents.run` can retry; fallbacks say what happens after that.
Each system message starts with the role's name, which also lets a scripted test
model tell the roles apart.
"""

from __future__ import annotations

import re

LETTERS = "ABCDEFGHIJ"


def _conv(system: str, user: str) -> list[dict]:
    return [{"role": "system", "content": system}, {"role": "user", "content": user}]


# ----------------------------------------------------------------- indexing


EXAMPLE_PASSAGE = "Anna left Rome and settled in Milan. The weather was cold. Anna married Marco."
EXAMPLE_TRIPLES = "Anna | left | Rome\nAnna | settled in | Milan\nAnna | married | Marco"


def triples_prompt(passage: str) -> list[dict]:
    # One worked example as a real chat turn: small models follow a shown format far more
    # often than a described one (a 135M model listed no triple at all without it).
    return [
        {
            "role": "system",
            "content": "Triple extractor. You list facts stated in a story "
            "passage, one per line, as subject | relation | object, with names instead of "
            "pronouns. If the passage states no fact, write NONE.",
        },
        {"role": "user", "content": f"Passage: {EXAMPLE_PASSAGE}"},
        {"role": "assistant", "content": EXAMPLE_TRIPLES},
        {"role": "user", "content": f"Passage: {passage}"},
    ]


def parse_triples(text: str) -> list[tuple[str, str, str]] | None:
    """Triples from ``subject | relation | object`` lines; the prompt's example is dropped."""
    triples = []
    if text.strip().upper().startswith("NONE"):
        return []
    for line in text.splitlines():
        parts = [p.strip(" -*\t\"'.") for p in line.split("|")]
        if len(parts) > 3:  # "a | complained | about | ink": the middle is the relation
            parts = [parts[0], " ".join(parts[1:-1]), parts[-1]]
        if " | ".join(parts) in EXAMPLE_TRIPLES.splitlines():
            continue  # small models copy the example
        if len(parts) == 3 and all(parts) and all(len(p) <= 80 for p in parts):
            triples.append((parts[0], parts[1], parts[2]))
    return triples or None


def cluster_summary_prompt(texts: list[str]) -> list[dict]:
    joined = "\n\n".join(texts)
    return _conv(
        "Summariser. You condense story passages that share a topic.",
        "Summarise the passages below in a few sentences. Keep names, places and what "
        f"happened to whom.\n\nPassages:\n{joined}\n\nSummary:",
    )


def window_summary_prompt(chunks: list[str]) -> list[dict]:
    joined = "\n\n".join(f"[{i + 1}] {c}" for i, c in enumerate(chunks))
    return _conv(
        "Timeline writer. You summarise consecutive story passages in order.",
        "Summarise these consecutive passages in story order: the key events, who was "
        f"involved, where, and what caused what.\n\nPassages:\n{joined}\n\nTimeline summary:",
    )


def parse_prose(text: str) -> str | None:
    text = text.strip()
    return text if len(text) >= 3 else None


# ----------------------------------------------------------------- veridical fact filter


def fact_filter_prompt(query: str, facts: list[str]) -> list[dict]:
    listed = "\n".join(f"{i + 1}. {f}" for i, f in enumerate(facts))
    return _conv(
        "Fact filter. You pick the facts that help answer a question.",
        f"Question: {query}\n\nFacts:\n{listed}\n\n"
        "Reply with one line: KEEP: followed by the numbers of the useful facts, "
        "separated by commas (for example KEEP: 1, 3), or KEEP: none.",
    )


def parse_keep(n: int) -> callable:
    def parse(text: str) -> list[int] | None:
        m = re.search(r"KEEP\s*:\s*(.*)", text, re.I)
        if not m:
            return None
        if m.group(1).strip().lower().startswith("none"):
            return []
        nums = [int(x) - 1 for x in re.findall(r"\d+", m.group(1))]
        return sorted({i for i in nums if 0 <= i < n})

    return parse


# ----------------------------------------------------------------- the loop


def probe_prompt(question: str, previous_probes: list[str], notes: list[str], k: int) -> list[dict]:
    prev = "\n".join(f"- {p}" for p in previous_probes) or "(none)"
    found = "\n".join(notes) or "(nothing yet)"
    return _conv(
        "Probe writer. The question could not be answered from the evidence so far; you "
        "write new search queries that look for what is still missing.",
        f"Question: {question}\n\nWhat was found so far:\n{found}\n\n"
        f"Queries already used:\n{prev}\n\n"
        f"Write 1 to {k} new short search queries about the people, places, objects or "
        "events the answer depends on that are not covered yet. One per line, each "
        "starting with PROBE:",
    )


def parse_probes(text: str) -> list[str] | None:
    probes = [m.strip().strip("\"'") for m in re.findall(r"PROBE\s*\d*\s*:\s*(.+)", text, re.I)]
    probes = [p for p in probes if len(p) >= 3]
    return probes or None


def encode_prompt(question: str, probe: str, layer: str, evidence: str) -> list[dict]:
    kind = {
        "veridical": "original passages",
        "semantic": "topic summaries",
        "episodic": "timeline summaries",
    }[layer]
    return _conv(
        "Evidence note-taker. You read retrieved story evidence and write down only what "
        "bears on the question, with its place in time.",
        f"Question: {question}\nSearch query: {probe}\n\nEvidence ({kind}):\n{evidence}\n\n"
        "Write up to 5 short lines, each starting with '- ', stating facts from the evidence "
        "that help answer the question (who, where, when, before/after). If nothing helps, "
        "write '- nothing relevant'.",
    )


def parse_notes(text: str) -> str | None:
    lines = [ln.strip() for ln in text.splitlines() if ln.strip().startswith(("-", "*", "\u2022"))]
    if not lines:
        return None
    return "\n".join("- " + ln.lstrip("-*\u2022 ").strip() for ln in lines[:5])


def notes_fallback(text: str) -> str:
    """Unformatted notes: keep the first lines as they are rather than lose them."""
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()][:5]
    return "\n".join(f"- {ln}" for ln in lines)


def fuse_prompt(question: str, notes: list[str]) -> list[dict]:
    listed = "\n".join(f"{i + 1}. {n}" for i, n in enumerate(notes))
    return _conv(
        "Memory fuser. You combine earlier findings into one account that bears on a question.",
        f"Question: {question}\n\nEarlier findings:\n{listed}\n\n"
        "Combine these findings into a short account in story order that helps answer "
        "the question. Write plain sentences.",
    )


def answer_prompt(
    question: str,
    sections: dict[str, str],
    choices: list[str] | None,
    *,
    allow_unknown: bool,
    style: str = "short",
) -> list[dict]:
    """The answer agent's conversation. ``style="short"``: one ``ANSWER:`` line (what a
    small model can write); ``"reasoning"``: the official layout, four headed sections
    of reasoning and then ``### Final Answer`` (for capable models)."""
    if style == "reasoning":
        return _reasoning_answer_prompt(question, sections, choices, allow_unknown)
    titles = {
        "veridical": "Passages from the story",
        "semantic": "Topic summaries",
        "episodic": "Timeline",
        "historical": "Earlier findings",
    }
    body = "\n\n".join(f"## {titles[k]}\n{v}" for k, v in sections.items() if v.strip())
    if choices:
        opts = "\n".join(f"{LETTERS[i]}. {c}" for i, c in enumerate(choices))
        fmt = "ANSWER: <letter>"
        task = f"Question: {question}\nOptions:\n{opts}"
    else:
        fmt = "ANSWER: <shortest answer, a few words>"
        task = f"Question: {question}"
    unknown = (
        " If the evidence is not enough to answer, reply exactly ANSWER: *"
        if allow_unknown
        else " Give your best answer even if unsure."
    )
    return _conv(
        "Answer agent. You answer questions about a story using only the evidence given.",
        f"{body}\n\n{task}\n\nReply with one line in the form {fmt}.{unknown} "
        "Write numbers as words.",
    )


def option_prior_prompt(choices: list[str]) -> list[dict]:
    """The answer prompt with neither evidence nor question: what the model would say for
    each option anyway, subtracted to calibrate option-text scores."""
    return answer_prompt("N/A", {}, choices, allow_unknown=False)


REASONING_HEADINGS = {
    False: ("Content Understanding", "Relevant Information Analysis", "Key Facts"),
    True: ("Content Understanding", "Question Analysis", "Options Analysis"),
}


def _reasoning_answer_prompt(
    question: str, sections: dict[str, str], choices: list[str] | None, allow_unknown: bool
) -> list[dict]:
    titles = {
        "veridical": "Detail passages",
        "semantic": "Semantic summaries",
        "episodic": "Timeline summaries",
        "historical": "Historical findings",
    }
    body = "\n\n".join(f"## {titles[k]}\n{v}" for k, v in sections.items() if v.strip())
    heads = REASONING_HEADINGS[bool(choices)]
    steps = "\n".join(f"### {h}\n<your analysis>" for h in heads)
    if choices:
        opts = "\n".join(f"{LETTERS[i]}. {c}" for i, c in enumerate(choices))
        task = f"Question: {question}\nOptions:\n{opts}"
        final = "the letter of the option that the evidence supports"
    else:
        task = f"Question: {question}"
        final = "the shortest answer taken from the story, numbers written as words"
    unknown = (
        " If the evidence does not settle it, write * as the final answer."
        if allow_unknown
        else " Always commit to an answer."
    )
    return _conv(
        "Answer agent. You read evidence retrieved from a long story and reason step by "
        "step before answering; you use only the evidence.",
        f"{body}\n\n{task}\n\nWrite these sections in order:\n{steps}\n"
        f"### Final Answer\n<{final}>\n{unknown.strip()}",
    )


def parse_final_answer(choices: list[str] | None) -> callable:
    """Parser for the reasoning layout: the first non-empty line after the last
    ``### Final Answer`` heading (official), then as :func:`parse_answer`."""
    short = parse_answer(choices)

    def parse(text: str) -> str | None:
        parts = re.split(r"#+\s*Final Answer\s*:?", text, flags=re.I)
        if len(parts) < 2:
            return None
        lines = [ln.strip() for ln in parts[-1].splitlines() if ln.strip()]
        return short(f"ANSWER: {lines[0]}") if lines else None

    return parse


def parse_answer(choices: list[str] | None) -> callable:
    """Parser for the answer agent: the answer text, ``*``, or None when unparseable.

    Only the last ``ANSWER:`` line counts; a reply without one is unparseable, also for
    multiple choice (a reply's first letter is not an option letter: "Dessa moved ..."
    is not D). A multiple-choice answer must name one option, see :func:`match_choice`.
    """

    def parse(text: str) -> str | None:
        found = re.findall(r"ANSWER\s*[:\uff1a]\s*(.+)", text, re.I)
        if not found:
            return None
        answer = found[-1].strip()
        if answer.startswith("*"):
            return "*"
        if choices is None:
            return answer.strip(" .\"'") or None
        return match_choice(answer, choices)

    return parse


def _norm(text: str) -> str:
    return " ".join(re.sub(r"[^\w\s]", " ", text.lower()).split())


def option_mentions(text: str, choices: list[str]) -> list[int]:
    """Options whose words occur in ``text`` (word-bounded, case and punctuation ignored).

    An option whose words lie inside another mentioned option's words ("Ash" inside
    "Ashford Hall") is not counted separately.
    """
    t = f" {_norm(text)} "
    hits = [i for i, c in enumerate(choices) if _norm(c) and f" {_norm(c)} " in t]
    return [
        i
        for i in hits
        if not any(j != i and f" {_norm(choices[i])} " in f" {_norm(choices[j])} " for j in hits)
    ]


def _label(text: str, n_choices: int) -> re.Match | None:
    """A leading option label; letters are upper case except after the word "option"."""
    up = LETTERS[:n_choices]
    return re.match(
        rf"\s*(?:(?i:option)\s+([{up}{up.lower()}])\b[.:,)]?"
        rf"|\(([{up}])\)|\[([{up}])\]|([{up}])(?:[.:,)]|\s*$))",
        text,
    )


def option_letter(text: str, n_choices: int) -> str | None:
    """The option label ``text`` starts with: ``C``, ``(C)``, ``C.``, ``C)``, ``C:``,
    ``Option C``. A letter followed by a word ("A man ...", "Dessa ...") is not a label,
    so the article "A" is never read as option A."""
    m = _label(text, n_choices)
    return next(g for g in m.groups() if g).upper() if m else None


def match_choice(text: str, choices: list[str], *, letters: bool = True) -> str | None:
    """The option ``text`` names, as a letter, or None.

    The rule: the text of exactly one option, when it appears, decides, even against a
    letter ("D. Northreach" with Northreach as option C is C): small models copy the
    right option with the wrong letter far more often than the reverse, and the option's
    words are what the answer says. Otherwise a leading option label (``C``, ``(C)``,
    ``C. ...``; never the article "A") decides. With ``letters=False`` (replies that
    did not follow the answer format) only option texts count.
    """
    m = _label(text, len(choices)) if letters else None
    label = next(g for g in m.groups() if g).upper() if m else None
    rest = text[m.end() :] if m else text
    hits = option_mentions(rest, choices)
    if len(hits) == 1:
        return LETTERS[hits[0]]
    return label
