"""Readers of the published formats: NarrativeQA, InfiniteBench, DetectiveQA and NovelQA.

``comorag convert`` turns the published formats into one text file per document plus
our JSONL:

* NarrativeQA (the ``narrativeqa`` dataset as exported to JSONL): per line
  ``document.id``, ``document.text``, ``question.text``, ``answers[].text``.
* InfiniteBench ``longbook_qa_eng.jsonl`` / ``longbook_choice_eng.jsonl``: per line
  ``id``, ``context``, ``input``, ``answer`` (list), ``options`` (list, EN.MC only).
* DetectiveQA: a JSON list (or JSONL) of questions with ``question``, ``options``
  (dict letter -> text, or list), ``answer`` (letter) and optional ``clue_position`` /
  ``answer_position``, and the novel text in a separate file (``--text``). Field names
  follow the public release as we read it; check them against your copy.
* NovelQA: one book's questions as a JSON file (``Data/.../B00.json``) and its text
  (``Books/.../B00.txt``, ``--text``), or a folder of question files and a folder of
  books paired by name. A question file is a list of questions or an object keyed by
  question id; each has ``Question``, ``Options`` (dict letter -> text, or list),
  ``Answer`` (a letter or the option's text), optional ``Aspect``, ``Complexity``
  (``mh`` becomes our type ``multi-hop``) and ``Evidence`` / ``Evidences`` (quotes of
  the book; each quote found in the text, whitespace aside, becomes an evidence span).
  The test split hides its answers, so only questions with an ``Answer`` convert. Field
  names follow the public release as we read it; check them against your copy.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

from comorag.prompts import LETTERS
from labcore.errors import DataError
from labcore.io import iter_jsonl, read_json, write_text_atomic

FORMATS = ("narrativeqa", "infbench-qa", "infbench-mc", "detectiveqa", "novelqa")
"""The ``--format`` values of ``comorag convert``."""


def _doc_name(text: str) -> str:
    return hashlib.sha1(text[:10000].encode("utf-8")).hexdigest()[:12]


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise DataError(f"{path}: file not found") from None
    except UnicodeDecodeError as exc:
        raise DataError(f"{path}: not UTF-8 text (byte {exc.start})") from None


def _choices(options, answer) -> tuple[list[str], int]:
    """Options (dict letter -> text, or list) and the answer (letter or option text) as our
    ``choices`` and ``answer_index``."""
    if isinstance(options, dict):
        labelled = sorted((str(k).strip().upper(), str(v)) for k, v in options.items())
        keys, choices = [k for k, _ in labelled], [v for _, v in labelled]
    else:
        choices = [str(c) for c in options]
        keys = list(LETTERS[: len(choices)])
    text = str(answer).strip()
    if text.upper() in keys:
        return choices, keys.index(text.upper())
    if text in choices:
        return choices, choices.index(text)
    # A leading label: "B.", "(B)", "B) Paris".
    label = re.match(r"\(?([A-Za-z])(?:\)|\.|:|$)", text)
    if label and label.group(1).upper() in keys:
        return choices, keys.index(label.group(1).upper())
    raise ValueError(f"answer {text!r} is neither an option letter nor an option's text")


def _find_quote(text: str, quote: str) -> dict | None:
    """The character span of ``quote`` in ``text`` (runs of whitespace may differ)."""
    quote = quote.strip()
    if not quote:
        return None
    start = text.find(quote)
    if start >= 0:
        return {"start": start, "end": start + len(quote), "text": quote}
    match = re.search(r"\s+".join(map(re.escape, quote.split())), text)
    if match is None:
        return None
    return {"start": match.start(), "end": match.end(), "text": match.group(0)}


#: NovelQA ``Complexity`` codes -> our ``type`` (others are kept as written, lowercased).
NOVELQA_TYPES = {"mh": "multi-hop", "sh": "single-hop", "dtl": "detail"}


def _novelqa_pairs(path: Path, text: Path) -> list[tuple[Path, Path]]:
    """(question file, book) pairs: one of each, or two folders paired by file name."""
    if not path.is_dir():
        return [(path, text)]
    if not text.is_dir():
        raise DataError(f"--text {text}: must be the books folder when --input is a folder")
    pairs = []
    for qfile in sorted(path.glob("*.json")):
        book = text / f"{qfile.stem}.txt"
        if not book.is_file():
            raise DataError(f"{qfile}: no book {book}")
        pairs.append((qfile, book))
    if not pairs:
        raise DataError(f"--input {path}: holds no .json question file")
    return pairs


def _novelqa_question(rec: dict, novel: str, qid: str, stats: dict) -> dict:
    """One NovelQA record as our question (KeyError/TypeError/ValueError when malformed)."""
    choices, idx = _choices(rec["Options"], rec["Answer"])
    quotes = rec.get("Evidence", rec.get("Evidences")) or []
    quotes = [quotes] if isinstance(quotes, str) else [str(q) for q in quotes]
    spans = [span for span in (_find_quote(novel, q) for q in quotes) if span]
    stats["evidence_quotes"] = stats.get("evidence_quotes", 0) + len(quotes)
    stats["evidence_found"] = stats.get("evidence_found", 0) + len(spans)
    complexity = str(rec.get("Complexity", "")).strip().lower()
    q = {
        "id": qid,
        "question": rec["Question"],
        "choices": choices,
        "answer_index": idx,
        "answers": [choices[idx]],
        "type": NOVELQA_TYPES.get(complexity, complexity),
        "aspect": str(rec.get("Aspect", "")),
        "complexity": complexity,
    }
    if spans:
        q["evidence"] = spans
    return q


def _novelqa(path: Path, text: Path, stats: dict) -> Iterator[tuple[str, str, dict]]:
    """(book name, book text, question) for every NovelQA question."""
    for qfile, book in _novelqa_pairs(path, text):
        data = read_json(qfile)
        if isinstance(data, dict):
            items = list(data.items())
        elif isinstance(data, list):
            items = [
                (rec.get("QID", n) if isinstance(rec, dict) else n, rec)
                for n, rec in enumerate(data, start=1)
            ]
        else:
            raise DataError(
                f"{qfile}: not in the novelqa format (a list or an object of questions)"
            )
        novel = _read_text(book)
        for qid, rec in items:
            if isinstance(rec, dict) and rec.get("Answer") is None and "Options" in rec:
                raise DataError(
                    f"{qfile}: question {qid} has no Answer (the NovelQA test split hides "
                    "its answers; convert a split that has them)"
                )
            try:
                if not isinstance(rec, dict):
                    raise TypeError("a question must be an object")
                q = _novelqa_question(rec, novel, f"{book.stem}-{qid}", stats)
            except (KeyError, TypeError, ValueError) as exc:
                raise DataError(
                    f"{qfile}: question {qid}: not in the novelqa format "
                    f"({type(exc).__name__}: {exc})"
                ) from None
            yield book.stem, novel, q


def _records(path: Path) -> Iterator[dict]:
    """The records of a JSONL file, one at a time, or of a JSON list."""
    if path.suffix == ".json":
        data = read_json(path)
        yield from data if isinstance(data, list) else data.get("data", [data])
    else:
        yield from iter_jsonl(path)


def _questions(
    fmt: str, path: Path, text: Path | None, stats: dict
) -> Iterator[tuple[str | None, str, dict]]:
    """(document id or None, document text, question) for every record, in file order."""
    if fmt == "novelqa":
        yield from _novelqa(path, text, stats)
        return
    novel = None
    for n, rec in enumerate(_records(path), start=1):
        try:
            if fmt == "narrativeqa":
                doc = rec["document"]
                q = {
                    "question": rec["question"]["text"],
                    "answers": [a["text"] for a in rec["answers"]],
                }
                item = (str(doc["id"]) if doc.get("id") else None, doc["text"], q)
            elif fmt in ("infbench-qa", "infbench-mc"):
                answers = rec["answer"] if isinstance(rec["answer"], list) else [rec["answer"]]
                q = {
                    "id": str(rec.get("id", n)),
                    "question": rec["input"],
                    "answers": [str(a) for a in answers],
                }
                if fmt == "infbench-mc":
                    q["choices"] = list(rec["options"])
                    q["answer_index"] = q["choices"].index(q["answers"][0])
                item = (None, rec["context"], q)
            else:  # detectiveqa
                choices, idx = _choices(rec["options"], rec["answer"])
                if novel is None:
                    novel = _read_text(text)
                q = {
                    "question": rec["question"],
                    "choices": choices,
                    "answer_index": idx,
                    "answers": [choices[idx]],
                }
                item = (text.stem, novel, q)
            if not isinstance(item[1], str):
                raise TypeError("the document text must be a string")
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise DataError(
                f"{path}: record {n}: not in the {fmt} format ({type(exc).__name__}: {exc})"
            ) from None
        yield item


def _stage_root(out: Path) -> Path:
    """The nearest existing folder above ``out``: the staging folder goes there, so the
    finished files are renamed, not copied, into ``out``."""
    root = out.absolute().parent
    while not root.is_dir():
        root = root.parent
    return root


def convert(fmt: str, path: str | Path, out: str | Path, text: str | Path | None = None) -> dict:
    """Write ``out/docs/<doc>.txt`` and ``out/<doc>.questions.jsonl``; returns counts.

    Records are read one at a time (a JSONL file never sits in memory whole) and each
    document is written once, when its first question arrives: NarrativeQA repeats the
    whole book on every question's line. Everything goes to a staging folder beside
    ``out`` and moves into ``out`` only when every record was read, so bad input leaves
    ``out`` as it was; ``convert.json`` is written last.
    """
    path, out = Path(path), Path(out)
    if fmt not in FORMATS:
        raise DataError(f"--format must be one of {', '.join(FORMATS)} (got {fmt!r})")
    if fmt in ("detectiveqa", "novelqa") and text is None:
        raise DataError(f"--text NOVEL.txt is required for {fmt}")
    stats: dict[str, int] = {}
    counts: dict[str, int] = {}  # questions written per document, in order of first sight
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.convert-", dir=_stage_root(out)))
    try:
        (staging / "docs").mkdir()
        for doc_id, doc_text, q in _questions(
            fmt, path, None if text is None else Path(text), stats
        ):
            # A document id becomes a file name: nothing in it may leave the folder.
            name = re.sub(r"[^\w.-]", "_", doc_id).lstrip(".") if doc_id else ""
            name = name or _doc_name(doc_text)
            if name not in counts:
                write_document(staging / "docs" / f"{name}.txt", doc_text)
                counts[name] = 0
            q.setdefault("id", f"{name}-{counts[name]}")
            if not isinstance(q["question"], str) or not q["question"].strip():
                raise DataError(f"{path}: question {q['id']} is empty or not a string")
            with open(staging / f"{name}.questions.jsonl", "a", encoding="utf-8") as fh:
                fh.write(json.dumps(q, ensure_ascii=False) + "\n")
            counts[name] += 1
        if not counts:
            raise DataError(f"{path}: no questions")
        (out / "docs").mkdir(parents=True, exist_ok=True)
        for name in counts:
            os.replace(staging / "docs" / f"{name}.txt", out / "docs" / f"{name}.txt")
            os.replace(staging / f"{name}.questions.jsonl", out / f"{name}.questions.jsonl")
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    summary = {"documents": len(counts), "questions": sum(counts.values()), **stats}
    write_text_atomic(out / "convert.json", json.dumps(summary) + "\n")
    return summary


def write_document(path: Path, text: str) -> None:
    """One document's text file (a module function, so tests can count the writes)."""
    with open(path, "w", encoding="utf-8") as fh:
        fh.write(text)
