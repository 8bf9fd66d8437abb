"""The command line over a real local HTTP server with scripted replies (labcore's fake)."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import pytest

from comorag.cli import main
from comorag.eval.metrics import span_recall, summarise
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
    return ["--llm.model", "openai:fake", "--llm.base_url", server.base_url]


def _index(story_file, idx, server, *extra):
    argv = ["index", str(story_file), "--out", str(idx), "--index.chunk_tokens", "20"]
    return main([*argv, "--quiet", "true", *_llm(server), *extra])


def _data(tmp_path, story_file):
    data = tmp_path / "q.jsonl"
    text = story_file.read_text()
    start = text.index("Mara died")
    record = {
        "question": "Where did Mara die?",
        "answers": ["Ashford"],
        "type": "temporal",
        "evidence": [{"start": start, "end": start + 20}],
    }
    data.write_text(json.dumps(record) + "\n")
    return data


def _tree(folder):
    return sorted(
        (p.relative_to(folder).as_posix(), p.read_bytes()) for p in folder.rglob("*") if p.is_file()
    )


def test_synth_index_ask_retrieve_eval_report(tmp_path, server, story_file, capsys):
    syn = tmp_path / "syn"
    assert main(["synth", "--out", str(syn), "--preset", "smoke"]) == 0
    assert (syn / "questions.jsonl").exists()
    before = _tree(syn)
    assert main(["synth", "--out", str(syn), "--preset", "smoke"]) == 0  # same: untouched
    assert _tree(syn) == before
    assert main(["synth", "--out", str(syn), "--preset", "smoke", "--seed", "3"]) == 2
    capsys.readouterr()
    idx = tmp_path / "idx"
    assert _index(story_file, idx, server) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["chunks"] >= 5 and summary["calls"] > 0
    hits = server.hits
    # Rebuilding from scratch reuses the response cache: no new requests.
    assert _index(story_file, idx, server, "--force", "true") == 0
    assert server.hits == hits
    capsys.readouterr()
    trace = tmp_path / "trace.json"
    argv = ["ask", str(idx), "Where did Mara die?", "--trace", str(trace), *_llm(server)]
    assert main(argv) == 0
    assert capsys.readouterr().out.strip() == "Ashford"
    assert json.loads(trace.read_text())["steps"][0]["retrieved"][0]["veridical"]
    argv = ["retrieve", str(idx), "Tomas betrayed", "--layer", "episodic", "--k", "2"]
    assert main(argv) == 0
    assert capsys.readouterr().out.startswith("[episodic")
    more = tmp_path / "more.txt"
    more.write_text("Ilsa arrived in Greywater and opened a forge. Ilsa married Bren.\n")
    assert main(["add", str(idx), str(more), "--quiet", "true", *_llm(server)]) == 0
    added = json.loads(capsys.readouterr().out)
    assert added["chunks"] == summary["chunks"] + 1
    data = _data(tmp_path, story_file)
    runs = tmp_path / "runs"
    for method in ("comorag", "naive", "raptor", "gold"):
        out = runs / method
        argv = ["eval", "--data", str(data), "--index", str(idx), "--method", method]
        assert main([*argv, "--out", str(out), *_llm(server)]) == 0
        result = json.loads((out / "metrics.json").read_text())
        assert result["f1"] == 1.0 and result["evidence_recall"] == 1.0
        assert result["calls_per_q"] >= 1
        assert json.loads((out / "config.json").read_text())["method"] == method
        [row] = [json.loads(x) for x in (out / "rows.jsonl").read_text().splitlines()]
        assert row["f1"] == 1.0
        assert (out / "traces.jsonl").read_text().count("\n") == 1
        assert (out / "metrics.csv").read_text().count("\n") == 2  # header + one question
        assert (out / "plots" / "llm_calls.png").is_file() and (out / "log.txt").is_file()
    capsys.readouterr()
    # A finished run is skipped: no new requests.
    hits = server.hits
    argv = ["eval", "--data", str(data), "--index", str(idx), "--method", "naive"]
    assert main([*argv, "--out", str(runs / "naive"), *_llm(server)]) == 0
    assert server.hits == hits and "already finished" in capsys.readouterr().err
    assert main(["report", str(runs)]) == 0
    table = capsys.readouterr().out
    assert table.startswith("| method |") and table.count("\n") == 6
    for method in ("comorag", "naive", "raptor", "gold"):
        assert f"| {method} | default | openai:fake | 1 | 1 | 1.00 |" in table


def test_eval_resumes_after_the_last_finished_question(tmp_path, server, story_file, capsys):
    idx = tmp_path / "idx"
    assert _index(story_file, idx, server, "--index.kg", "false") == 0
    data = tmp_path / "q.jsonl"
    records = [{"question": f"Where did Mara die? ({i})", "answers": ["Ashford"]} for i in range(3)]
    data.write_text("".join(json.dumps(r) + "\n" for r in records))
    out = tmp_path / "run"
    argv = ["eval", "--data", str(data), "--index", str(idx), "--method", "naive"]
    argv += ["--out", str(out), *_llm(server)]
    assert main(argv) == 0
    # Pretend the run was killed after its first question.
    info = json.loads((out / "run.json").read_text())
    (out / "run.json").write_text(json.dumps({**info, "status": "running"}))
    first = (out / "rows.jsonl").read_text().splitlines()[0]
    (out / "rows.jsonl").write_text(first + "\n")
    hits = server.hits
    gold = [*argv[:6], "gold", "--out", str(tmp_path / "gold"), *_llm(server)]
    assert main(gold) == 2 and not (tmp_path / "gold").exists()  # no evidence spans
    assert "has no evidence spans" in capsys.readouterr().err
    assert main([*argv, "--llm.cache", "false"]) == 2  # another config: refused
    assert main(argv) == 0
    assert server.hits == hits  # the two remaining answers came from the cache
    assert "resuming after 1 of 3" in (out / "log.txt").read_text()
    assert len((out / "rows.jsonl").read_text().splitlines()) == 3
    assert json.loads((out / "metrics.json").read_text())["questions"] == 3


def test_print_config_round_trip(tmp_path, server, story_file, capsys):
    idx = tmp_path / "idx"
    assert _index(story_file, idx, server, "--index.kg", "false") == 0
    data = _data(tmp_path, story_file)
    argv = ["eval", "--data", str(data), "--index", str(idx), "--method", "naive"]
    argv += ["--preset", "smoke", "--loop.layers", "[veridical, semantic]", *_llm(server)]
    assert main([*argv, "--out", str(tmp_path / "a")]) == 0
    capsys.readouterr()
    assert main([*argv, "--out", str(tmp_path / "b"), "--print_config"]) == 0
    printed = capsys.readouterr().out
    assert not (tmp_path / "b").exists()
    (tmp_path / "c.yaml").write_text(printed)
    assert main(["eval", "--config", str(tmp_path / "c.yaml")]) == 0
    a = json.loads((tmp_path / "a" / "config.json").read_text())
    assert a == json.loads((tmp_path / "b" / "config.json").read_text())
    assert a["loop"]["layers"] == ["veridical", "semantic"] and a["loop"]["context_tokens"] == 600


def test_typo_is_refused_fast_with_the_closest_key(tmp_path, story_file):
    start = time.perf_counter()
    argv = ["index", str(story_file), "--out", str(tmp_path / "i"), "--index.chunk_tokenz", "5"]
    proc = subprocess.run(
        [sys.executable, "-m", "comorag", *argv], capture_output=True, text=True, timeout=60
    )
    elapsed = time.perf_counter() - start
    assert proc.returncode == 2
    assert "--index.chunk_tokens" in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "i").exists()
    assert elapsed < 2.0, f"refusal took {elapsed:.2f} s"


def test_bad_values_are_refused_before_any_work(tmp_path, story_file, capsys):
    out = tmp_path / "i"
    for argv, message in [
        (["index", str(story_file), "--out", str(out), "--index.chunk_tokens", "5"], ">= 16"),
        (["index", str(story_file), "--out", str(out), "--llm.model", "gpt4"], "llm.model"),
        (["index", str(story_file), "--out", str(out), "--llm.batch_size", "0"], "batch_size"),
        (["index", str(tmp_path / "nope.txt"), "--out", str(out)], "not found"),
        (["eval", "--data", str(story_file), "--index", str(out), "--out", str(out)], "line 1"),
        (["ask", str(out), "q?", "--loop.max_cycles", "x"], "max_cycles"),
        (["ask", str(out), "q?", "--loop.pack", "stroy"], "loop.pack"),
        (["ask", str(out), "q?", "--loop.layers", "[veridical, smantic]"], "loop.layers"),
        (["ask", str(out), "   "], "question is empty"),
        (["ask", str(out), "q?"], "index folder not found"),
        (["synth", "--out", str(out), "--n_characters", "40"], "n_characters"),
    ]:
        assert main(argv) == 2, argv
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and err[0].startswith("error:") and message in err[0], (argv, err)
        assert not out.exists()


def test_other_folders_are_left_untouched(tmp_path, server, story_file, capsys):
    other = tmp_path / "mine"
    other.mkdir()
    (other / "notes.txt").write_text("precious")
    before = _tree(other)
    idx = tmp_path / "idx"
    assert _index(story_file, idx, server, "--index.kg", "false") == 0
    data = _data(tmp_path, story_file)
    capsys.readouterr()
    cases = [
        ["index", str(story_file), "--out", str(other), *_llm(server)],
        ["index", str(story_file), "--out", str(other), "--force", "true", *_llm(server)],
        ["synth", "--out", str(other), "--preset", "smoke"],
        ["eval", "--data", str(data), "--index", str(idx), "--out", str(other), *_llm(server)],
        ["eval", "--data", str(other), "--index", str(idx), "--out", str(tmp_path / "r")],
        ["eval", "--data", str(data), "--index", str(other), "--out", str(tmp_path / "r")],
        ["ask", str(other), "Where?", *_llm(server)],
        ["add", str(other), str(story_file), *_llm(server)],
        ["convert", "--format", "narrativeqa", "--input", str(data), "--out", str(other)],
    ]
    for argv in cases:
        hits = server.hits
        assert main(argv) == 2, argv
        assert capsys.readouterr().err.startswith("error:")
        assert server.hits == hits and _tree(other) == before, argv
        assert not (tmp_path / "r").exists()
    # An index is not an eval run folder either.
    index_files = _tree(idx)
    argv = ["eval", "--data", str(data), "--index", str(idx), "--out", str(idx), *_llm(server)]
    assert main(argv) == 2
    assert _tree(idx) == index_files


def test_bad_text_files_exit_2(tmp_path, capsys):
    empty = tmp_path / "empty.txt"
    empty.write_text("")
    assert main(["index", str(empty), "--out", str(tmp_path / "i")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error:") and "no text" in err and len(err.strip().splitlines()) == 1
    binary = tmp_path / "x.bin"
    binary.write_bytes(bytes(range(256)))
    assert main(["index", str(binary), "--out", str(tmp_path / "i")]) == 2
    assert "binary" in capsys.readouterr().err
    assert not (tmp_path / "i").exists()


def test_help_is_fast():
    start = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "comorag", "eval", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0 and "--loop.max_cycles" in proc.stdout
    assert "Probe-retrieve-encode-fuse-answer cycles" in " ".join(proc.stdout.split())
    assert time.perf_counter() - start < 2.0


def test_report_labels_name_the_changed_loop_options():
    from dataclasses import asdict

    from comorag.config import PRESETS
    from comorag.report import label

    loop = asdict(PRESETS["smoke"].loop)
    assert label({"method": "naive", "preset": "smoke", "loop": loop}) == "naive"
    changed = {**loop, "memory": False, "layers": ["veridical", "episodic"]}
    assert (
        label({"method": "comorag", "preset": "smoke", "loop": changed})
        == "comorag loop.layers=[veridical, episodic] loop.memory=false"
    )


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
