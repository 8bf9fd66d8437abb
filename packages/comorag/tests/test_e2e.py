"""The whole pipeline with the bundled SmolLM2-135M-Instruct on a short story (few real calls)."""

from __future__ import annotations

import pytest

from comorag.agent.loop import ComoRAG
from comorag.agent.retrieve import Retriever
from comorag.config import IndexConfig, LoopConfig
from comorag.index.build import build_index
from comorag.index.store import Index
from comorag.llm import make_llm


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
    loop_cfg = LoopConfig(
        context_tokens=200,
        max_cycles=1,
        answer_tokens=8,
        probe_tokens=16,
        encode_tokens=12,
        fuse_tokens=12,
        format_retries=0,
    )
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
