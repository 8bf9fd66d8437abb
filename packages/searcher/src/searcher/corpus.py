"""Reading and checking corpus files (FlashRAG passages, web pages) and question files."""

from __future__ import annotations

import json
import os
from pathlib import Path

from labcore.errors import DataError


def _records(path: str | os.PathLike) -> list[tuple[int, dict]]:
    """Every non-blank line of a JSONL file as ``(line number, object)``; bad lines name the line."""
    p = Path(path)
    if not p.is_file():
        raise DataError(f"{p}: file not found")
    out = []
    with p.open(encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as exc:
                raise DataError(f"{p}:{lineno}: not valid JSON ({exc.msg})") from None
            if not isinstance(obj, dict):
                raise DataError(f"{p}:{lineno}: expected a JSON object")
            out.append((lineno, obj))
    if not out:
        raise DataError(f"{p}: no records")
    return out


def read_passages(path: str | os.PathLike) -> list[dict]:
    """A FlashRAG corpus: objects with ``id`` and ``contents`` (title, newline, text)."""
    out, seen = [], set()
    for lineno, obj in _records(path):
        doc_id, contents = obj.get("id"), obj.get("contents")
        if (
            not isinstance(doc_id, str | int)
            or not isinstance(contents, str)
            or not contents.strip()
        ):
            raise DataError(f"{path}:{lineno}: a passage needs an 'id' and a non-empty 'contents'")
        doc_id = str(doc_id)
        if doc_id in seen:
            raise DataError(f"{path}:{lineno}: duplicate id {doc_id!r}")
        seen.add(doc_id)
        out.append({"id": doc_id, "contents": contents})
    return out


def read_pages(path: str | os.PathLike) -> list[dict]:
    """A web-page cache: objects with ``url``, ``title`` and ``content``."""
    out = []
    for lineno, obj in _records(path):
        if not all(isinstance(obj.get(k), str) for k in ("url", "title", "content")):
            raise DataError(f"{path}:{lineno}: a page needs string 'url', 'title' and 'content'")
        out.append({"url": obj["url"], "title": obj["title"], "content": obj["content"]})
    return out


def read_questions(path: str | os.PathLike) -> list[dict]:
    """Closed (``golden_answers``) or open (``findings``) questions, each with a ``question``.

    Closed-ended rows follow FlashRAG (``id``, ``question``, ``golden_answers``); open-ended
    rows carry ``findings``, the reference key findings. ``ability`` is filled in from that.
    """
    out = []
    for lineno, obj in _records(path):
        q = obj.get("question")
        if not isinstance(q, str) or not q.strip():
            raise DataError(f"{path}:{lineno}: missing 'question'")
        if isinstance(obj.get("golden_answers"), list) and obj["golden_answers"]:
            obj.setdefault("ability", "closed")
        elif isinstance(obj.get("findings"), list) and obj["findings"]:
            obj.setdefault("ability", "open")
        else:
            raise DataError(
                f"{path}:{lineno}: needs a non-empty 'golden_answers' or 'findings' list"
            )
        obj.setdefault("id", f"{Path(path).stem}-{lineno}")
        out.append(obj)
    return out


def passage_text(contents: str) -> str:
    """``Title: text`` on one line, for observations."""
    title, _, text = contents.partition("\n")
    return f"{title.strip()}: {' '.join(text.split())}" if text else " ".join(title.split())
