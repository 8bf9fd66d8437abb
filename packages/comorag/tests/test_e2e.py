"""The whole pipeline with the bundled SmolLM2-135M-Instruct on a short story (few real calls)."""

from __future__ import annotations

import pytest

from comorag.agent.loop import ComoRAG
from comorag.agent.retrieve import Retriever
from comorag.config import IndexConfig, LoopConfig
from comorag.index.build import build_index
from comorag.index.store import Index
from comorag.llm import make_llm

#: One cycle with short generations: a few real calls of the bundled model.
TINY_LOOP = LoopConfig(
    context_tokens=200,
    max_cycles=1,
    answer_tokens=8,
    probe_tokens=16,
    encode_tokens=12,
    fuse_tokens=12,
    filter_tokens=12,
    format_retries=0,
)


@pytest.mark.slow
def test_index_and_ask_with_the_bundled_model(story_file, tmp_path, make_res):
    llm = make_llm("local:smollm2-135m-instruct", cache_path=tmp_path / "cache.sqlite")
    res = make_res(llm)
    cfg = IndexConfig(
        chunk_tokens=40, kg=False, cluster_summary_tokens=12, window_summary_tokens=12
    )
    build_index(
        story_file, tmp_path / "idx", cfg, res, llm_name="local", quiet=True, progress=False
    )
    index = Index.load(tmp_path / "idx")
    assert len(index.chunks) == 3 and index.episodic and index.semantic
    loop_cfg = TINY_LOOP
    loop = ComoRAG(Retriever(index, res, loop_cfg), loop_cfg)
    result = loop.ask("Where did Mara die?")
    assert isinstance(result.answer, str) and result.answer
    assert result.trace["cost"]["calls"] >= 1
    assert all(c["prompt_tokens"] > 0 for c in result.trace["calls"])
    # Same question again: every call is a response-cache hit, so the answer repeats.
    calls_before = res.agents.cost.calls
    again = loop.ask("Where did Mara die?")
    assert again.answer == result.answer
    assert res.agents.cost.calls - calls_before == result.trace["cost"]["calls"]


@pytest.mark.slow
def test_knowledge_graph_index_and_ask_with_the_bundled_model(story_file, tmp_path, make_res):
    """kg=True: real triples from SmolLM2, grounded and linked; the fused ranking and the
    fact filter run on them."""
    from comorag.index.graph import name_words, triple_grounded
    from comorag.index.store import StageLog

    llm = make_llm("local:smollm2-135m-instruct", cache_path=tmp_path / "cache.sqlite")
    res = make_res(llm)
    cfg = IndexConfig(
        chunk_tokens=40,
        kg=True,
        triple_max_new_tokens=48,
        cluster_summary_tokens=12,
        window_summary_tokens=12,
    )
    build_index(
        story_file, tmp_path / "idx", cfg, res, llm_name="local", quiet=True, progress=False
    )
    index = Index.load(tmp_path / "idx")
    assert len(index.chunks) == 3
    # One triple call per chunk, its reply kept in the stage log.
    assert len(StageLog(tmp_path / "idx" / "work" / "triples.jsonl").values) == 3
    # Greedy decoding: SmolLM2 writes grounded triples for this story (4 facts when this
    # test was written); none would leave the graph path below untested.
    assert index.facts, "no grounded triple: the knowledge-graph path would go untested"
    # Every chunk is a graph node; every kept fact names only what its chunks mention.
    chunk_nodes = {n for n, d in index.graph.nodes(data=True) if d.get("kind") == "chunk"}
    assert chunk_nodes == {f"c:{c['id']}" for c in index.chunks}
    for fact in index.facts:
        for c in fact["chunks"]:
            words = set(name_words(index.chunks[c]["text"]))
            assert triple_grounded((fact["subject"], "", fact["object"]), words), fact
    # Every entity hangs off some chunk (triples or mention links).
    for node, data in index.graph.nodes(data=True):
        if data.get("kind") == "entity":
            assert any(nb.startswith("c:") for nb in index.graph.neighbors(node)), node

    loop_cfg = TINY_LOOP
    retriever = Retriever(index, res, loop_cfg)
    question = "Where did Mara die?"
    [ranked] = retriever.veridical([question], retriever.embed([question]), k=2)
    assert any("Mara died" in u.text for u in ranked)
    result = ComoRAG(retriever, loop_cfg).ask(question)
    assert isinstance(result.answer, str) and result.answer
    roles = [c["role"] for c in result.trace["calls"]]
    assert "fact filter" in roles
