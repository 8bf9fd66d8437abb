"""The embedded benchmark: formats, determinism, expert trajectories."""

from __future__ import annotations

import json

from labcore.io import read_jsonl
from searcher.agent.protocol import parse_action
from searcher.synth.build import SynthConfig, synthesize


def test_formats(bench):
    corpus = read_jsonl(bench / "corpus.jsonl")
    assert all(set(p) == {"id", "contents"} and "\n" in p["contents"] for p in corpus)
    assert len({p["id"] for p in corpus}) == len(corpus)
    pages = read_jsonl(bench / "webpages.jsonl")
    assert all(set(p) == {"url", "title", "content"} for p in pages)
    # Pages are longer and noisier than passages, with near-duplicate mirrors.
    assert sum(len(p["content"]) for p in pages) / len(pages) > sum(
        len(p["contents"]) for p in corpus
    ) / len(corpus)
    assert any("/mirror/" in p["url"] for p in pages)
    closed = read_jsonl(bench / "closed_test.jsonl")
    assert {q["hops"] for q in closed} == {1, 2}
    assert all(isinstance(q["golden_answers"], list) and q["id"] for q in closed)
    opened = read_jsonl(bench / "open_train.jsonl")
    assert all(len(q["findings"]) >= 4 for q in opened)
    gt = json.loads((bench / "open_train_gt.json").read_text())
    assert set(gt) == {q["question"] for q in opened}
    # No question is in both splits.
    train_q = {q["question"] for q in read_jsonl(bench / "closed_train.jsonl")}
    assert not train_q & {q["question"] for q in closed}


def test_deterministic(tmp_path, bench, tiny_world):
    synthesize(tmp_path / "again", SynthConfig(**tiny_world))
    for name in (
        "corpus.jsonl",
        "webpages.jsonl",
        "test.jsonl",
        "coldstart.jsonl",
        "rl_train.jsonl",
    ):
        assert (tmp_path / "again" / name).read_bytes() == (bench / name).read_bytes(), name


def test_expert_trajectories_follow_protocol(bench):
    rows = read_jsonl(bench / "coldstart.jsonl")
    assert {r["ability"] for r in rows} == {"closed", "open"}
    closed = {q["id"]: q for q in read_jsonl(bench / "closed_train.jsonl")}
    for r in rows:
        msgs = r["messages"]
        assert [m["role"] for m in msgs[:2]] == ["system", "user"]
        turns = [m["content"] for m in msgs if m["role"] == "assistant"]
        assert all(parse_action(t).kind == "search" for t in turns[:-1])
        final = parse_action(turns[-1])
        assert final.kind == "answer"
        if r["ability"] == "closed":
            assert final.answer in closed[r["id"]]["golden_answers"]
            # The evidence for the answer really came from the environment.
            obs = [m["content"] for m in msgs if m["role"] == "user"][1:]
            assert final.answer.lower() in obs[-1].lower()
        else:
            assert final.answer.startswith("- ")
