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
    """Cheap check before work: the file exists and its first record is a passage."""
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


def read_questions(path: str | os.PathLike) -> list[dict]:
    """Closed (``golden_answers``) or open (``findings``) questions, each with a ``question``.

    JSONL rows follow FlashRAG (``id``, ``question``, ``golden_answers``) for closed questions;
    open rows carry ``findings``, the reference key findings. ``ability`` is filled in from
    that. A ``.json`` file is read as O²-QA's ``{question: [findings]}``.
    """
    p = Path(path)
    if p.suffix == ".json":
        return _o2qa_rows(p)
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
