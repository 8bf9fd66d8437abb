"""The environment: closed observations, extractive learnings, LLM learnings, caching."""

from __future__ import annotations

import pytest

from labcore.llm import OpenAIChatModel
from labcore.llm.fake_server import FakeOpenAIServer, chat_completion
from searcher.agent.env import SearchEnvironment
from searcher.agent.learnings import ExtractiveLearner


def test_closed_observation_has_top3_passages(env):
    obs = env.observe([["Institute founded"]], ["closed"])[0]
    hits = env.retrieve(["Institute founded"], 3)[0]
    assert len(hits) == 3
    assert obs.splitlines()[0].startswith(hits[0][0]["contents"].split("\n")[0] + ":")
    assert len(obs.splitlines()) == 3


def test_extractive_learnings():
    pages = [
        "Cookies please. Velmora Institute was founded in 1873. Velmora Institute was "
        "founded in 1873. Rain falls. Velmora Institute is headquartered in Tarnwick.",
        "Velmora  institute was founded in 1873. Unrelated words here.",
    ]
    learner = ExtractiveLearner(pages, num_learnings=3)
    got = learner("When was Velmora Institute founded?", pages)
    assert got[0] == "Velmora Institute was founded in 1873."
    # Exact and near duplicates (case/space variants) appear once.
    assert sum("1873" in s for s in got) == 1
    assert "Rain falls." not in got and len(got) <= 3


def test_llm_learnings_and_cache(index_dir):
    server = FakeOpenAIServer(
        lambda req: (200, chat_completion("- first learning\n- second\n- third\n- fourth"))
    )
    llm = OpenAIChatModel("fake", base_url=server.base_url, api_key="x")
    env = SearchEnvironment.from_folder(index_dir, learnings="llm", llm=llm)
    out = env.observe([["Institute founded", "river city"]], ["open"])[0]
    assert out.splitlines() == ["first learning", "second", "third"]  # at most 3, de-duplicated
    assert server.hits == 2  # one chat per query
    env.observe([["Institute founded"]], ["open"])
    assert server.hits == 2  # cached
    # The two queries' chats may reach the server in either order.
    prompts = [r.body["messages"][0]["content"] for r in server.requests]
    assert any("Institute founded" in p for p in prompts)


@pytest.mark.slow
def test_paraphrased_learnings_restate_rather_than_copy(index_dir, bench, tiny_world):
    """The default learnings restate the page sentences (never a reference finding verbatim),
    keep their names and values, and the open reward is not maximised by copying the
    observation: the reference findings themselves score higher."""
    from labcore.io import read_jsonl
    from searcher.agent.learnings import paraphrase
    from searcher.agent.rewards import open_ended_reward
    from searcher.synth.questions import open_questions
    from searcher.synth.world import make_world

    sizes = [tiny_world[k] for k in ("n_countries", "n_cities", "n_orgs", "n_people", "n_events")]
    questions = open_questions(make_world(0, *sizes))[:4]
    assert (
        paraphrase("Velmora Institute was founded by Ana Vel.")
        == "Ana Vel set up Velmora Institute."
    )
    env = SearchEnvironment.from_folder(index_dir)
    verbatim = SearchEnvironment.from_folder(index_dir, learnings="extractive")
    findings = {f for q in questions for f in q["findings"]}
    page_text = " ".join(p["content"] for p in read_jsonl(bench / "webpages.jsonl"))
    margins = []
    for q in questions:
        obs = env.observe([q["aspects"]], ["open"])[0]
        lines = obs.splitlines()
        assert lines and not any(ln in findings or ln in page_text for ln in lines), lines
        # The names and values survive: the extractive line each one restates is present.
        copied = verbatim.observe([q["aspects"]], ["open"])[0].splitlines()
        assert [paraphrase(c) for c in copied] == lines
        copy = "<answer>" + "\n".join(f"- {ln}" for ln in lines) + "</answer>"
        best = "<answer>" + "\n".join(f"- {f}" for f in q["findings"]) + "</answer>"
        margins.append(
            open_ended_reward(best, q["findings"], q["aspects"]).total
            - open_ended_reward(copy, q["findings"], q["aspects"]).total
        )
    # Copying (even as well-formed bullets) is never the best answer, and loses on average.
    assert min(margins) >= 0 and sum(margins) / len(margins) > 0.02, margins
