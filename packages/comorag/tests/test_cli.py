"""The command line over a real local HTTP server with scripted replies (labcore's fake)."""

from __future__ import annotations

import json

import pytest

from comorag.cli import main
from comorag.evaluate import span_recall, summarise
from labcore.llm.fake_server import FakeOpenAIServer, chat_completion


@pytest.fixture
def server(reply):
    def respond(request):
        conv = request.body["messages"]
        role = conv[0]["content"].split()[0].rstrip(".")
        return 200, chat_completion(reply(role, conv))

    with FakeOpenAIServer(respond) as srv:
        yield srv


def _llm(server):
    return ["--llm", "openai:fake", "--base-url", server.base_url]


def test_synth_index_ask_retrieve_eval(tmp_path, server, story_file, capsys):
    assert main(["synth", "--out", str(tmp_path / "syn"), "--preset", "smoke"]) == 0
    assert (tmp_path / "syn" / "questions.jsonl").exists()
    capsys.readouterr()
    idx = str(tmp_path / "idx")
    assert (
        main(
            [
                "index",
                str(story_file),
                "--out",
                idx,
                "--chunk-tokens",
                "20",
                "--quiet",
                *_llm(server),
            ]
        )
        == 0
    )
    summary = json.loads(capsys.readouterr().out)
    assert summary["chunks"] >= 5 and summary["calls"] > 0
    hits = server.hits
    # Rebuilding from scratch reuses the response cache: no new requests.
    assert (
        main(
            [
                "index",
                str(story_file),
                "--out",
                idx,
                "--chunk-tokens",
                "20",
                "--quiet",
                "--force",
                *_llm(server),
            ]
        )
        == 0
    )
    assert server.hits == hits
    capsys.readouterr()
    trace = tmp_path / "trace.json"
    assert main(["ask", idx, "Where did Mara die?", "--trace", str(trace), *_llm(server)]) == 0
    assert capsys.readouterr().out.strip() == "Ashford"
    assert json.loads(trace.read_text())["steps"][0]["retrieved"][0]["veridical"]
    assert main(["retrieve", idx, "Tomas betrayed", "--layer", "episodic", "--k", "2"]) == 0
    assert capsys.readouterr().out.startswith("[episodic")
    more = tmp_path / "more.txt"
    more.write_text("Ilsa arrived in Greywater and opened a forge. Ilsa married Bren.\n")
    assert main(["add", idx, str(more), "--quiet", *_llm(server)]) == 0
    added = json.loads(capsys.readouterr().out)
    assert added["chunks"] == summary["chunks"] + 1
    data = tmp_path / "q.jsonl"
    text = story_file.read_text()
    start = text.index("Mara died")
    data.write_text(
        json.dumps(
            {
                "question": "Where did Mara die?",
                "answers": ["Ashford"],
                "evidence": [{"start": start, "end": start + 20}],
            }
        )
        + "\n"
    )
    for method in ("comorag", "naive", "raptor"):
        out = tmp_path / f"{method}.json"
        assert (
            main(
                [
                    "eval",
                    "--data",
                    str(data),
                    "--index",
                    idx,
                    "--method",
                    method,
                    "--out",
                    str(out),
                    *_llm(server),
                ]
            )
            == 0
        )
        result = json.loads(out.read_text())["summary"]
        assert result["f1"] == 1.0 and result["evidence_recall"] == 1.0
        assert result["calls_per_q"] >= 1


def test_bad_inputs_exit_2(tmp_path, server, story_file, capsys):
    empty = tmp_path / "empty.txt"
    empty.write_text("")
    with pytest.raises(SystemExit) as exc:
        main(["index", str(empty), "--out", str(tmp_path / "i"), *_llm(server)])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("error:") and "no text" in err and len(err.strip().splitlines()) == 1
    binary = tmp_path / "x.bin"
    binary.write_bytes(bytes(range(256)))
    with pytest.raises(SystemExit):
        main(["index", str(binary), "--out", str(tmp_path / "i"), *_llm(server)])
    assert "binary" in capsys.readouterr().err
    assert not (tmp_path / "i" / "chunks.jsonl").exists()
    idx = str(tmp_path / "idx")
    main(
        [
            "index",
            str(story_file),
            "--out",
            idx,
            "--chunk-tokens",
            "20",
            "--quiet",
            "--no-kg",
            *_llm(server),
        ]
    )
    for argv, message in [
        (["ask", idx, "   ", *_llm(server)], "question is empty"),
        (["ask", str(tmp_path / "nope"), "q?", *_llm(server)], "index folder not found"),
        (["index", str(story_file), "--out", idx, *_llm(server)], "already there"),
        (["ask", idx, "q?", "--llm", "gpt4"], "--llm"),
        (["ask", idx, "q?", "--set", "loop.max_cycles=x", *_llm(server)], "cannot read"),
    ]:
        with pytest.raises(SystemExit) as exc:
            main(argv)
        assert exc.value.code == 2
        last = capsys.readouterr().err.strip().splitlines()[-1]
        assert last.startswith("error:") and message in last


def test_span_recall_and_summary():
    chunks = [{"start": 0, "end": 10}, {"start": 10, "end": 20}, {"start": 20, "end": 30}]
    spans = [{"start": 2, "end": 5}, {"start": 21, "end": 25}]
    assert span_recall(spans, [0], chunks) == 0.5
    assert span_recall(spans, [0, 2], chunks) == 1.0
    assert span_recall([], [0], chunks) is None
    rows = [
        {"mc": False, "f1": 1.0, "em": 1.0, "type": "temporal", "evidence_recall": 0.5},
        {"mc": True, "correct": 0.0, "type": "late-reveal", "evidence_recall": None},
    ]
    s = summarise(rows)
    assert s["f1"] == 1.0 and s["mc_accuracy"] == 0.0 and s["evidence_recall"] == 0.5
