"""``comorag convert``: the NovelQA reader, on tiny files written here."""

from __future__ import annotations

import importlib
import json

import pytest

from comorag.cli import main
from comorag.data import convert, load_questions
from labcore.errors import DataError

BOOK0 = (
    "Chapter I\n\nElinor kept the lighthouse at Carrow Point.\n\n"
    "In the spring her brother\n  Tam came home from the sea.\n\n"
    "Chapter II\n\nTam sailed again in autumn and did not return.\n"
)
BOOK1 = "The miller's daughter married the smith. They moved to Ludd."


def _novelqa_folders(tmp_path):
    data, books = tmp_path / "Data", tmp_path / "Books"
    data.mkdir()
    books.mkdir()
    (books / "B00.txt").write_text(BOOK0)
    (books / "B01.txt").write_text(BOOK1)
    questions0 = [
        {
            "QID": "Q0001",
            "Aspect": "character",
            "Complexity": "mh",
            "Question": "Who came home from the sea in spring?",
            "Options": {"A": "Elinor", "B": "Tam", "C": "the smith", "D": "nobody"},
            "Answer": "B",
            # One exact quote, one whose line break differs, one not in the book.
            "Evidence": [
                "Elinor kept the lighthouse",
                "her brother Tam came home",
                "Tam was a fisherman",
            ],
        },
        {
            "QID": "Q0002",
            "Aspect": "times",
            "Complexity": "sh",
            "Question": "When did Tam sail again?",
            "Options": {"A": "spring", "B": "summer", "C": "autumn", "D": "winter"},
            "Answer": "C",
        },
    ]
    (data / "B00.json").write_text(json.dumps(questions0))
    questions1 = {
        "Q0001": {
            "Aspect": "plot",
            "Complexity": "dtl",
            "Question": "Where did they move?",
            "Options": ["Carrow", "Ludd", "Eastport", "Ashford"],
            "Answer": "Ludd",
            "Evidences": "They moved to Ludd.",
        }
    }
    (data / "B01.json").write_text(json.dumps(questions1))
    return data, books


def test_novelqa_folders_convert_to_our_format(tmp_path, capsys):
    data, books = _novelqa_folders(tmp_path)
    out = tmp_path / "out"
    argv = ["convert", "--format", "novelqa", "--input", str(data), "--text", str(books)]
    assert main([*argv, "--out", str(out)]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary == {"documents": 2, "questions": 3, "evidence_quotes": 4, "evidence_found": 3}
    assert (out / "docs" / "B00.txt").read_text() == BOOK0
    assert (out / "docs" / "B01.txt").read_text() == BOOK1
    q1, q2 = load_questions(out / "B00.questions.jsonl")
    assert q1["id"] == "B00-Q0001" and q1["choices"][q1["answer_index"]] == "Tam"
    assert q1["answers"] == ["Tam"] and q1["type"] == "multi-hop" and q1["aspect"] == "character"
    assert [BOOK0[s["start"] : s["end"]] for s in q1["evidence"]] == [
        "Elinor kept the lighthouse",
        "her brother\n  Tam came home",
    ]
    assert q2["answer_index"] == 2 and q2["type"] == "single-hop" and "evidence" not in q2
    [q3] = load_questions(out / "B01.questions.jsonl")
    assert q3["id"] == "B01-Q0001" and q3["answer_index"] == 1 and q3["type"] == "detail"
    [span] = q3["evidence"]
    assert BOOK1[span["start"] : span["end"]] == "They moved to Ludd."


def test_novelqa_one_book(tmp_path):
    data, books = _novelqa_folders(tmp_path)
    summary = convert("novelqa", data / "B01.json", tmp_path / "one", text=books / "B01.txt")
    assert summary["documents"] == 1 and summary["questions"] == 1
    assert [p.name for p in (tmp_path / "one" / "docs").iterdir()] == ["B01.txt"]


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda d, b: _edit(d / "B00.json", lambda q: q[1].pop("Answer")), "B00.json: question"),
        (lambda d, b: _edit(d / "B00.json", lambda q: q[0].pop("Options")), "B00.json: question"),
        (lambda d, b: _edit(d / "B00.json", lambda q: q[0].update(Answer="E")), "B00.json"),
        (lambda d, b: (d / "B01.json").write_text("[{"), "B01.json: line 1"),
        (lambda d, b: (d / "B01.json").write_text('"text"'), "B01.json: not in the novelqa"),
        (lambda d, b: (b / "B01.txt").unlink(), "B01.json: no book"),
        (lambda d, b: (b / "B01.txt").write_bytes(b"\xff\xfe caf\xe9"), "B01.txt: not UTF-8"),
    ],
)
def test_novelqa_bad_input_exits_2_naming_the_file(tmp_path, capsys, damage, message):
    data, books = _novelqa_folders(tmp_path)
    damage(data, books)
    out = tmp_path / "out"
    argv = ["convert", "--format", "novelqa", "--input", str(data), "--text", str(books)]
    assert main([*argv, "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and "\n" not in err
    assert not out.exists()  # nothing half-written


def test_novelqa_needs_the_books(tmp_path, capsys):
    data, books = _novelqa_folders(tmp_path)
    argv = ["convert", "--format", "novelqa", "--input", str(data), "--out", str(tmp_path / "o")]
    assert main(argv) == 2 and "--text" in capsys.readouterr().err
    assert main([*argv, "--text", str(books / "B00.txt")]) == 2
    assert "must be the books folder" in capsys.readouterr().err
    with pytest.raises(DataError, match=r"no \.json question file"):
        convert("novelqa", books, tmp_path / "o", text=books)


def _edit(path, change):
    records = json.loads(path.read_text())
    change(records)
    path.write_text(json.dumps(records))


def _nqa_line(doc_id, text, question):
    record = {
        "document": {"id": doc_id, "text": text},
        "question": {"text": question},
        "answers": [{"text": "x"}],
    }
    return json.dumps(record) + "\n"


def test_narrativeqa_streams_and_writes_each_document_once(tmp_path, monkeypatch):
    # The package's `convert` is the function; the module is reached by its full name.
    module = importlib.import_module("comorag.data.convert")

    book = "A long book. " * 1000
    lines = [
        _nqa_line("d1", book, "q1?"),
        _nqa_line("d1", book, "q2?"),
        _nqa_line("../d2", "Another book.", "q3?"),
        _nqa_line("d1", book, "q4?"),
    ]
    src = tmp_path / "nqa.jsonl"
    src.write_text("".join(lines))
    read, written = [], []
    real_iter, real_write = module.iter_jsonl, module.write_document

    def counting_iter(path):
        for rec in real_iter(path):
            read.append(rec)
            yield rec

    def counting_write(path, text):
        written.append((path.name, len(read)))  # records read when the document is written
        real_write(path, text)

    monkeypatch.setattr(module, "iter_jsonl", counting_iter)
    monkeypatch.setattr(module, "write_document", counting_write)
    out = tmp_path / "out"
    assert convert("narrativeqa", src, out) == {"documents": 2, "questions": 4}
    # Each document once, as soon as its first record is read (not after the whole file).
    assert written == [("d1.txt", 1), ("_d2.txt", 3)]
    assert sorted(p.name for p in (out / "docs").iterdir()) == ["_d2.txt", "d1.txt"]
    assert (out / "docs" / "d1.txt").read_text() == book
    qs = load_questions(out / "d1.questions.jsonl")
    assert [q["id"] for q in qs] == ["d1-0", "d1-1", "d1-2"]
    assert [q["question"] for q in qs] == ["q1?", "q2?", "q4?"]
    assert [q["id"] for q in load_questions(out / "_d2.questions.jsonl")] == ["_d2-0"]

    # A bad record after documents were written: `out` keeps the previous convert's files,
    # and no staging folder is left behind.
    before = sorted((p.relative_to(out), p.read_bytes()) for p in out.rglob("*") if p.is_file())
    src.write_text("".join([_nqa_line("d3", "New book.", "q?"), '{"document": {}}\n']))
    with pytest.raises(DataError, match=r"nqa\.jsonl: record 2: not in the narrativeqa format"):
        convert("narrativeqa", src, out)
    after = sorted((p.relative_to(out), p.read_bytes()) for p in out.rglob("*") if p.is_file())
    assert after == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["nqa.jsonl", "out"]
    with pytest.raises(DataError, match="record 2"):
        convert("narrativeqa", src, tmp_path / "new" / "out")
    assert not (tmp_path / "new").exists()
