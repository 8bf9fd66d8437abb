"""The embedded benchmark and the dataset loaders."""

from __future__ import annotations

import json

import pytest

from comorag.config import SynthConfig
from comorag.data import convert, load_questions
from comorag.synth import generate, write
from labcore.errors import DataError

SMALL = SynthConfig(target_tokens=3000, n_characters=8, n_places=5, n_events=30, n_questions=16)


def test_synth_is_deterministic_and_spans_match(tmp_path):
    text, questions, _meta = generate(SMALL)
    assert generate(SMALL)[0] == text
    assert generate(SynthConfig(**{**SMALL.__dict__, "seed": 1}))[0] != text
    assert len(questions) == 16
    kinds = {q["type"] for q in questions}
    assert {"temporal", "event-order"} <= kinds
    for q in questions:
        assert q["evidence"]
        for span in q["evidence"]:
            assert text[span["start"] : span["end"]] == span["text"]
        if "choices" in q:
            assert len(q["choices"]) == 4 and len(set(q["choices"])) == 4
            assert q["choices"][q["answer_index"]] == q["answers"][0]
        if q["type"] == "event-order":
            # The stem names the events (retrieval never sees the options).
            assert all(c in q["question"] for c in q["choices"])
    # Multi-passage questions: evidence sentences far apart in the text.
    spread = [
        q["evidence"][-1]["start"] - q["evidence"][0]["end"]
        for q in questions
        if len(q["evidence"]) > 1
    ]
    assert max(spread) > len(text) // 4
    write(SMALL, tmp_path)
    assert load_questions(tmp_path / "questions.jsonl")[0]["question"]
    assert json.loads((tmp_path / "meta.json").read_text())["n_questions"] == 16


def test_synth_answers_follow_the_world():
    _, questions, _ = generate(SynthConfig(seed=3, target_tokens=4000, n_events=40))
    text = generate(SynthConfig(seed=3, target_tokens=4000, n_events=40))[0]
    for q in questions:
        if q["question"].startswith("How many times did"):
            name = q["question"].split()[4]
            moves = [s for s in q["evidence"] if name in s["text"]]
            words = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
            assert words.index(q["answers"][0]) == len(moves)
            assert text.count(f"{name} left ") + text.count(f"{name} moved from ") == len(moves)


def test_load_questions_rejects_bad_records(tmp_path):
    path = tmp_path / "q.jsonl"
    path.write_text('{"question": "  ", "answers": ["x"]}\n')
    with pytest.raises(DataError, match="record 1: empty question"):
        load_questions(path)
    path.write_text(
        '{"question": "q", "answers": ["x"], "choices": ["a", "b"], "answer_index": 5}\n'
    )
    with pytest.raises(DataError, match="answer_index"):
        load_questions(path)


def test_convert_formats(tmp_path):
    nqa = tmp_path / "nqa.jsonl"
    nqa.write_text(
        json.dumps(
            {
                "document": {"id": "d1", "text": "Once upon a time."},
                "question": {"text": "When?"},
                "answers": [{"text": "once"}, {"text": "long ago"}],
            }
        )
        + "\n"
    )
    assert convert("narrativeqa", nqa, tmp_path / "a") == {"documents": 1, "questions": 1}
    [q] = load_questions(tmp_path / "a" / "d1.questions.jsonl")
    assert q["answers"] == ["once", "long ago"]
    assert (tmp_path / "a" / "docs" / "d1.txt").read_text() == "Once upon a time."

    mc = tmp_path / "mc.jsonl"
    mc.write_text(
        json.dumps(
            {
                "id": 7,
                "context": "A story.",
                "input": "Who?",
                "answer": ["Bob"],
                "options": ["Al", "Bob", "Cy", "Di"],
            }
        )
        + "\n"
    )
    convert("infbench-mc", mc, tmp_path / "b")
    [f] = list((tmp_path / "b").glob("*.questions.jsonl"))
    [q] = load_questions(f)
    assert q["answer_index"] == 1 and q["choices"][1] == "Bob"

    det = tmp_path / "det.json"
    det.write_text(
        json.dumps(
            [
                {
                    "question": "Who did it?",
                    "answer": "C",
                    "options": {"A": "x", "B": "y", "C": "z", "D": "w"},
                }
            ]
        )
    )
    novel = tmp_path / "novel.txt"
    novel.write_text("The butler did it.")
    convert("detectiveqa", det, tmp_path / "c", text=novel)
    [q] = load_questions(tmp_path / "c" / "novel.questions.jsonl")
    assert q["choices"][q["answer_index"]] == "z"

    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"context": "x"}\n')
    with pytest.raises(DataError, match="record 1: not in the infbench-qa format"):
        convert("infbench-qa", bad, tmp_path / "d")
