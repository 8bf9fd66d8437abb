"""Our question format (what ``comorag synth`` writes and ``comorag eval`` reads).

One JSON object per line: ``id``, ``question``, ``answers`` (list of gold strings),
optional ``choices`` (list) with ``answer_index``, optional ``evidence`` (list of
``{start, end, text}`` character spans of the indexed text) and ``type``.
"""

from __future__ import annotations

from pathlib import Path

from labcore.errors import DataError
from labcore.io import iter_jsonl


def load_questions(path: str | Path) -> list[dict]:
    """Read our question JSONL, checking each record."""
    out = []
    for n, rec in enumerate(iter_jsonl(path), start=1):
        where = f"{path}: record {n}"
        if not isinstance(rec, dict) or not isinstance(rec.get("question"), str):
            raise DataError(f"{where}: needs a 'question' string")
        if not rec["question"].strip():
            raise DataError(f"{where}: empty question")
        answers = rec.get("answers")
        if not isinstance(answers, list) or not answers:
            raise DataError(f"{where}: needs a non-empty 'answers' list")
        if "choices" in rec:
            if not isinstance(rec["choices"], list) or not 2 <= len(rec["choices"]) <= 10:
                raise DataError(f"{where}: 'choices' must be a list of 2-10 options")
            if not isinstance(rec.get("answer_index"), int) or not 0 <= rec["answer_index"] < len(
                rec["choices"]
            ):
                raise DataError(f"{where}: 'answer_index' must index 'choices'")
        rec.setdefault("id", f"q{n:04d}")
        out.append(rec)
    if not out:
        raise DataError(f"{path}: no questions")
    return out
