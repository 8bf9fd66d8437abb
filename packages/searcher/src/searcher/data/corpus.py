"""Reading and checking corpus files (FlashRAG passages, web pages) and question files.

JSON parsing goes through :mod:`labcore.io` (bad JSON names the file and line); a record that
parses but lacks a field names the file and the record's number (1-based, blank lines skipped).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

from labcore.errors import DataError
from labcore.io import iter_jsonl, read_json


def _records(path: str | os.PathLike) -> Iterator[tuple[int, dict]]:
    """``(record number, object)`` for every record of a JSONL file; refuses non-objects."""
    p = Path(path)
    if p.is_dir():
        raise DataError(f"{p}: is a folder, expected a JSONL file")
    n = 0
    for n, obj in enumerate(iter_jsonl(p), 1):
        if not isinstance(obj, dict):
            raise DataError(f"{p}: record {n}: expected a JSON object")
        yield n, obj
    if n == 0:
        raise DataError(f"{p}: no records")


def read_passages(path: str | os.PathLike) -> list[dict]:
    """A FlashRAG corpus: objects with ``id`` and ``contents`` (title, newline, text)."""
    out, seen = [], set()
    for n, obj in _records(path):
        doc_id, contents = obj.get("id"), obj.get("contents")
        if (
            not isinstance(doc_id, str | int)
            or not isinstance(contents, str)
            or not contents.strip()
        ):
            raise DataError(
                f"{path}: record {n}: a passage needs an 'id' and a non-empty 'contents'"
            )
        doc_id = str(doc_id)
        if doc_id in seen:
            raise DataError(f"{path}: record {n}: duplicate id {doc_id!r}")
        seen.add(doc_id)
        out.append({"id": doc_id, "contents": contents})
    return out


def check_passages(path: str | os.PathLike) -> None:
    """Cheap check before work: a ``.jsonl`` file whose first record is a passage."""
    if Path(path).suffix != ".jsonl":
        raise DataError(f"{path}: unrecognised corpus file; expected FlashRAG JSONL (.jsonl)")
    for n, obj in _records(path):
        if not isinstance(obj.get("id"), str | int) or not isinstance(obj.get("contents"), str):
            raise DataError(f"{path}: record {n}: a passage needs an 'id' and a 'contents'")
        return


def read_pages(path: str | os.PathLike) -> list[dict]:
    """A web-page cache: objects with ``url``, ``title`` and ``content``."""
    out = []
    for n, obj in _records(path):
        if not all(isinstance(obj.get(k), str) for k in ("url", "title", "content")):
            raise DataError(f"{path}: record {n}: a page needs string 'url', 'title' and 'content'")
        out.append({"url": obj["url"], "title": obj["title"], "content": obj["content"]})
    return out


def _o2qa_rows(path: Path) -> list[dict]:
    """O²-QA's ``*_gt.json``: ``{question: [finding, ...]}`` → open rows."""
    data = read_json(path)
    if not isinstance(data, dict) or not data:
        raise DataError(f"{path}: expected O²-QA findings, a JSON object {{question: [findings]}}")
    rows = []
    for i, (question, findings) in enumerate(data.items(), 1):
        if not isinstance(findings, list) or not findings or not question.strip():
            raise DataError(f"{path}: question {i}: needs a non-empty list of findings")
        rows.append(
            {
                "id": f"{path.stem}-{i}",
                "question": question,
                "findings": [str(f) for f in findings],
                "ability": "open",
            }
        )
    return rows


#: Search-R1 / O²-Searcher ``data_source`` values scored by exact match (closed-ended).
CLOSED_SOURCES = frozenset(
    "nq_hotpotqa nq triviaqa popqa hotpotqa 2wikimultihopqa musique bamboogle".split()
)
#: ``ability`` values of Search-R1 and O²-Searcher rows, as this package names them.
_ABILITY = {
    "closed": "closed",
    "closedended": "closed",
    "fact-reasoning": "closed",
    "open": "open",
    "openended": "open",
}
QUESTION_FORMATS = (
    "FlashRAG JSONL (.jsonl), O²-QA {question: [findings]} (.json) or Search-R1 parquet (.parquet)"
)


def _parquet_rows(path: Path) -> list[dict]:
    """A Search-R1 / O²-Searcher question parquet → closed or open rows.

    Search-R1 rows keep FlashRAG's ``question`` and ``golden_answers`` and add ``prompt``,
    ``data_source``, ``ability``, ``reward_model.ground_truth.target`` and
    ``extra_info.index``. O²-Searcher's RL rows hold the reference findings of an open
    question in ``reward_model.ground_truth.target`` with ``ability`` ``openended``. The
    question is the raw ``question`` column, else the last message of ``prompt``.
    """
    try:
        import pyarrow.parquet as pq

        records = pq.read_table(path).to_pylist()
    except Exception as e:  # pyarrow raises several types for a file that is not parquet
        raise DataError(f"{path}: not a readable parquet file ({type(e).__name__})") from None
    if not records:
        raise DataError(f"{path}: no records")
    rows = []
    for n, obj in enumerate(records, 1):
        question = obj.get("question")
        prompt = obj.get("prompt")
        if not isinstance(question, str) and isinstance(prompt, list) and prompt:
            last = prompt[-1]
            question = last.get("content") if isinstance(last, dict) else None
        if not isinstance(question, str) or not question.strip():
            raise DataError(f"{path}: row {n}: no 'question' (or 'prompt' message)")
        target = ((obj.get("reward_model") or {}).get("ground_truth") or {}).get("target")
        answers = obj.get("golden_answers")
        if not isinstance(answers, list) or not answers:
            answers = target
        if not isinstance(answers, list) or not answers:
            raise DataError(
                f"{path}: row {n}: needs 'golden_answers' or 'reward_model.ground_truth.target'"
            )
        source = obj.get("data_source")
        ability = _ABILITY.get(str(obj.get("ability", "")).lower())
        if ability is None:
            # The official reward routing: exact-match sources are closed, the rest open.
            ability = "closed" if source in CLOSED_SOURCES or source is None else "open"
        extra = obj.get("extra_info") or {}
        row_id = next((v for v in (obj.get("id"), extra.get("index")) if v is not None), n)
        row = {
            "id": str(row_id),
            "question": question.strip(),
            "ability": ability,
        }
        row["golden_answers" if ability == "closed" else "findings"] = [str(a) for a in answers]
        if source is not None:
            row["data_source"] = source
        rows.append(row)
    return rows


def read_questions(path: str | os.PathLike) -> list[dict]:
    """Closed (``golden_answers``) or open (``findings``) questions, each with a ``question``.

    By suffix: ``.jsonl`` rows follow FlashRAG (``id``, ``question``, ``golden_answers``) for
    closed questions, and open rows carry ``findings``, the reference key findings;
    ``ability`` is filled in from that. ``.json`` is O²-QA's ``{question: [findings]}``;
    ``.parquet`` is a Search-R1 (or O²-Searcher RL) question file. Anything else is refused.
    """
    p = Path(path)
    if p.is_dir():
        raise DataError(f"{p}: is a folder, expected a question file ({QUESTION_FORMATS})")
    if p.suffix == ".json":
        return _o2qa_rows(p)
    if p.suffix == ".parquet":
        return _parquet_rows(p)
    if p.suffix != ".jsonl":
        raise DataError(f"{p}: unrecognised question file; expected {QUESTION_FORMATS}")
    out = []
    for n, obj in _records(p):
        q = obj.get("question")
        if not isinstance(q, str) or not q.strip():
            raise DataError(f"{p}: record {n}: missing 'question'")
        if isinstance(obj.get("golden_answers"), list) and obj["golden_answers"]:
            obj.setdefault("ability", "closed")
        elif isinstance(obj.get("findings"), list) and obj["findings"]:
            obj.setdefault("ability", "open")
        else:
            raise DataError(
                f"{p}: record {n}: needs a non-empty 'golden_answers' or 'findings' list"
            )
        if obj["ability"] not in ("closed", "open"):
            raise DataError(f"{p}: record {n}: ability must be 'closed' or 'open'")
        obj.setdefault("id", f"{p.stem}-{n}")
        out.append(obj)
    return out


def read_conversations(path: str | os.PathLike) -> list[dict]:
    """Cold-start conversations: objects with ``messages`` (system, user, assistant, ...)."""
    out = []
    for n, obj in _records(path):
        msgs = obj.get("messages")
        if (
            not isinstance(msgs, list)
            or len(msgs) < 3
            or not all(isinstance(m, dict) and "role" in m and "content" in m for m in msgs)
            or [m["role"] for m in msgs[:2]] != ["system", "user"]
        ):
            raise DataError(
                f"{path}: record {n}: 'messages' must start with system, user, assistant messages"
            )
        out.append(obj)
    return out


def passage_text(contents: str) -> str:
    """``Title: text`` on one line, for observations."""
    title, _, text = contents.partition("\n")
    return f"{title.strip()}: {' '.join(text.split())}" if text else " ".join(title.split())
