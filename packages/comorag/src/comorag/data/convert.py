"""Readers of the published formats: NarrativeQA, InfiniteBench and DetectiveQA.

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
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from comorag.prompts import LETTERS
from labcore.errors import DataError
from labcore.io import iter_jsonl, read_json, write_jsonl, write_text_atomic

FORMATS = ("narrativeqa", "infbench-qa", "infbench-mc", "detectiveqa")
"""The ``--format`` values of ``comorag convert``."""


def _read_records(path: Path) -> list[dict]:
    if path.suffix == ".json":
        data = read_json(path)
        return data if isinstance(data, list) else data.get("data", [data])
    return list(iter_jsonl(path))


def _doc_name(text: str) -> str:
    return hashlib.sha1(text[:10000].encode("utf-8")).hexdigest()[:12]


def convert(fmt: str, path: str | Path, out: str | Path, text: str | Path | None = None) -> dict:
    """Write ``out/docs/<doc>.txt`` and ``out/<doc>.questions.jsonl``; returns counts."""
    path, out = Path(path), Path(out)
    records = _read_records(path)
    docs: dict[str, str] = {}
    questions: dict[str, list[dict]] = {}

    def add(doc_text: str, q: dict, doc_id: str | None = None) -> None:
        name = doc_id or _doc_name(doc_text)
        docs.setdefault(name, doc_text)
        qs = questions.setdefault(name, [])
        q.setdefault("id", f"{name}-{len(qs)}")
        if not str(q["question"]).strip():
            raise DataError(f"{path}: question {q['id']} is empty")
        qs.append(q)

    for n, rec in enumerate(records, start=1):
        where = f"{path}: record {n}"
        try:
            if fmt == "narrativeqa":
                doc = rec["document"]
                add(
                    doc["text"],
                    {
                        "question": rec["question"]["text"],
                        "answers": [a["text"] for a in rec["answers"]],
                    },
                    str(doc.get("id")) if doc.get("id") else None,
                )
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
                add(rec["context"], q)
            elif fmt == "detectiveqa":
                if text is None:
                    raise DataError("--text NOVEL.txt is required for detectiveqa")
                options = rec["options"]
                if isinstance(options, dict):
                    keys = sorted(options)
                    choices = [options[k] for k in keys]
                    idx = keys.index(str(rec["answer"]).strip()[:1])
                else:
                    choices = list(options)
                    idx = LETTERS.index(str(rec["answer"]).strip()[:1])
                novel = Path(text).read_text(encoding="utf-8")
                add(
                    novel,
                    {
                        "question": rec["question"],
                        "choices": choices,
                        "answer_index": idx,
                        "answers": [choices[idx]],
                    },
                    Path(text).stem,
                )
            else:
                raise DataError(
                    f"--format must be narrativeqa, infbench-qa, infbench-mc or "
                    f"detectiveqa (got {fmt!r})"
                )
        except (KeyError, TypeError, ValueError) as exc:
            raise DataError(
                f"{where}: not in the {fmt} format ({type(exc).__name__}: {exc})"
            ) from None
    for name, doc in docs.items():
        write_text_atomic(out / "docs" / f"{name}.txt", doc)
        write_jsonl(out / f"{name}.questions.jsonl", questions[name])
    summary = {"documents": len(docs), "questions": sum(len(q) for q in questions.values())}
    write_text_atomic(out / "convert.json", json.dumps(summary) + "\n")
    return summary
