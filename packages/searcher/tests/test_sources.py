"""`searcher train --train/--test/--corpus`: FlashRAG JSONL, O²-QA JSON and Search-R1 parquet
question files are read; anything else is refused with exit 2, naming the file, before work."""

from __future__ import annotations

import json

import pytest

from labcore.errors import DataError
from searcher.cli import main
from searcher.data.corpus import read_questions


@pytest.fixture
def files(tmp_path):
    """Small question files of every accepted format, and a corpus."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    corpus = tmp_path / "wiki.jsonl"
    corpus.write_text(
        '{"id": "0", "contents": "Paris\\nParis is the capital of France."}\n'
        '{"id": "1", "contents": "Rome\\nRome is the capital of Italy."}\n'
    )
    flashrag = tmp_path / "nq_test.jsonl"
    flashrag.write_text(
        json.dumps({"id": "test_0", "question": "capital of france?", "golden_answers": ["Paris"]})
        + "\n"
    )
    o2qa = tmp_path / "test_gt.json"
    o2qa.write_text(json.dumps({"What changed in 2024?": ["A happened.", "B happened."]}))
    # Search-R1's nq_hotpotqa_train layout (FlashRAG columns kept, verl columns added) and
    # one O²-Searcher open row whose reference findings sit in the reward target.
    table = pa.Table.from_pylist(
        [
            {
                "id": "train_0",
                "question": "who wrote hamlet?",
                "golden_answers": ["Shakespeare", "William Shakespeare"],
                "data_source": "nq",
                "prompt": [{"role": "user", "content": "Answer the question... who wrote hamlet?"}],
                "ability": "fact-reasoning",
                "reward_model": {
                    "style": "rule",
                    "ground_truth": {"target": ["Shakespeare", "William Shakespeare"]},
                },
                "extra_info": {"split": "train", "index": 0},
            },
            {
                "id": None,
                "question": None,
                "golden_answers": None,
                "data_source": "o2qa",
                "prompt": [{"role": "user", "content": "Trends in EV batteries?"}],
                "ability": "openended",
                "reward_model": {
                    "style": "rule",
                    "ground_truth": {"target": ["Solid-state cells advanced.", "Costs fell."]},
                },
                "extra_info": {"split": "train", "index": 7},
            },
        ]
    )
    parquet = tmp_path / "nq_hotpotqa_train.parquet"
    pq.write_table(table, parquet)
    return {"corpus": corpus, "flashrag": flashrag, "o2qa": o2qa, "parquet": parquet}


def test_search_r1_parquet_rows(files):
    closed, opened = read_questions(files["parquet"])
    assert closed["ability"] == "closed" and closed["question"] == "who wrote hamlet?"
    assert closed["golden_answers"] == ["Shakespeare", "William Shakespeare"]
    assert closed["id"] == "train_0" and closed["data_source"] == "nq"
    assert opened["ability"] == "open" and opened["question"] == "Trends in EV batteries?"
    assert opened["findings"] == ["Solid-state cells advanced.", "Costs fell."]
    assert opened["id"] == "7"


def _train(tmp_path, capsys, monkeypatch, train, test, corpus):
    import searcher.train.pipeline as pipeline

    calls = []
    monkeypatch.setattr(
        pipeline,
        "run_pipeline",
        lambda cfg, run, data, device="cpu": calls.append(data) or {"sft": {"n": 1}},
    )
    out = tmp_path / "run"
    argv = ["train", "--out", str(out), "--train", str(train), "--test", str(test)]
    code = main([*argv, "--corpus", str(corpus)])
    _, err = capsys.readouterr()
    return code, err, calls, out


@pytest.mark.parametrize(("train", "test"), [("parquet", "o2qa"), ("flashrag", "parquet")])
def test_every_format_is_accepted_by_train(files, train, test, tmp_path, capsys, monkeypatch):
    code, err, calls, _ = _train(
        tmp_path, capsys, monkeypatch, files[train], files[test], files["corpus"]
    )
    assert code == 0, err
    assert calls[0].rl_train == files[train] and calls[0].test == files[test]


def test_unrecognised_files_are_refused_naming_them(files, tmp_path, capsys, monkeypatch):
    csv = tmp_path / "questions.csv"
    csv.write_text("question,answer\nwho?,me\n")
    fake_parquet = tmp_path / "broken.parquet"
    fake_parquet.write_text("not parquet at all")
    no_answers = tmp_path / "no_answers.jsonl"
    no_answers.write_text('{"question": "who?"}\n')
    wrong_json = tmp_path / "list.json"
    wrong_json.write_text('["who?"]')
    corpus_csv = tmp_path / "corpus.tsv"
    corpus_csv.write_text("id\ttext\n")
    cases = [
        (csv, files["o2qa"], files["corpus"], csv),
        (files["flashrag"], fake_parquet, files["corpus"], fake_parquet),
        (no_answers, files["o2qa"], files["corpus"], no_answers),
        (files["flashrag"], wrong_json, files["corpus"], wrong_json),
        (files["flashrag"], files["o2qa"], corpus_csv, corpus_csv),
    ]
    before = {p: p.read_bytes() for p in tmp_path.iterdir() if p.is_file()}
    for train, test, corpus, bad in cases:
        code, err, calls, out = _train(tmp_path, capsys, monkeypatch, train, test, corpus)
        assert code == 2 and str(bad) in err and err.count("\n") == 1, err
        assert not calls and not out.exists()
    # Nothing was written or changed beside the inputs.
    assert {p: p.read_bytes() for p in tmp_path.iterdir() if p.is_file()} == before


def test_question_folder_is_refused(tmp_path):
    with pytest.raises(DataError, match="is a folder"):
        read_questions(tmp_path)
