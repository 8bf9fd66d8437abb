"""ResponseCache: keys, persistence, threads, and backends skipping cached items."""

from __future__ import annotations

import sqlite3
import threading

import pytest

from labcore.errors import DataError
from labcore.llm import OpenAIChatModel, ResponseCache, SamplingParams
from labcore.llm.fake_server import FakeOpenAIServer, echo, error_body

MESSAGES = [{"role": "user", "content": "What is the capital of France?"}]
PARAMS = SamplingParams().as_dict()


def user(text: str) -> list[dict]:
    return [{"role": "user", "content": text}]


def test_miss_then_hit(tmp_path):
    with ResponseCache(tmp_path / "cache.sqlite") as cache:
        key = cache.key("m", MESSAGES, PARAMS)
        assert cache.get(key) is None and key not in cache
        cache.put(key, "Paris")
        assert cache.get(key) == "Paris" and key in cache
        cache.put(key, "Paris!")  # replacing is allowed
        assert cache.get(key) == "Paris!" and len(cache) == 1


@pytest.mark.parametrize(
    "change",
    [
        {"max_new_tokens": 17},
        {"temperature": 0.7},
        {"top_p": 0.9},
        {"stop": ["\n"]},
        {"seed": 0},
    ],
)
def test_key_changes_with_each_sampling_param(change):
    changed = {**PARAMS, **change}
    assert ResponseCache.key("m", MESSAGES, changed) != ResponseCache.key("m", MESSAGES, PARAMS)


def test_key_changes_with_model_and_messages_and_ignores_dict_order():
    base = ResponseCache.key("m", MESSAGES, PARAMS)
    assert ResponseCache.key("other", MESSAGES, PARAMS) != base
    assert ResponseCache.key("m", user("What is the capital of Spain?"), PARAMS) != base
    assert ResponseCache.key("m", [*MESSAGES, *user("and?")], PARAMS) != base
    reordered = [{"content": MESSAGES[0]["content"], "role": "user"}]
    assert ResponseCache.key("m", reordered, dict(reversed(PARAMS.items()))) == base


def test_persists_across_reopen(tmp_path):
    path = tmp_path / "sub" / "cache.sqlite"  # parent folders are created
    with ResponseCache(path) as cache:
        cache.put("k", "stored")
    with ResponseCache(path) as cache:
        assert cache.get("k") == "stored"
    # Committed for other readers too, not just this class.
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT response FROM responses").fetchall() == [("stored",)]


def test_safe_from_threads(tmp_path):
    errors = []

    def work(worker: int) -> None:
        try:
            for i in range(50):
                cache.put(f"{worker}-{i}", str(i))
                assert cache.get(f"{worker}-{i}") == str(i)
        except Exception as exc:
            errors.append(exc)

    with ResponseCache(tmp_path / "cache.sqlite") as cache:
        threads = [threading.Thread(target=work, args=(w,)) for w in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert not errors
        assert len(cache) == 400


def test_backend_skips_cached_items(tmp_path):
    with FakeOpenAIServer() as server, ResponseCache(tmp_path / "cache.sqlite") as cache:
        llm = OpenAIChatModel("fake-model", base_url=server.base_url, cache=cache)
        with llm:
            assert llm.chat([user("a"), user("b")]) == ["echo: a", "echo: b"]
            assert server.hits == 2
            # Two hits and one miss: only the miss reaches the server, order is kept.
            assert llm.chat([user("b"), user("c"), user("a")]) == ["echo: b", "echo: c", "echo: a"]
            assert server.hits == 3
            assert server.requests[-1].body["messages"] == user("c")
            # Different sampling parameters are a different entry.
            llm.chat([user("a")], max_new_tokens=5)
            assert server.hits == 4


def test_interrupted_job_resumes_where_it_stopped(tmp_path):
    broken = True

    def flaky(request):
        if broken and request.body["messages"][-1]["content"] == "c":
            return 400, error_body("simulated failure")
        return echo(request)

    batch = [user("a"), user("b"), user("c"), user("d")]
    with FakeOpenAIServer(flaky) as server, ResponseCache(tmp_path / "cache.sqlite") as cache:
        with OpenAIChatModel(
            "fake-model", base_url=server.base_url, cache=cache, max_workers=1
        ) as llm:
            with pytest.raises(DataError, match="simulated failure"):
                llm.chat(batch)
            assert server.hits == 3  # a, b, then c failed; d never started
            assert len(cache) == 2  # a and b were stored as they arrived
            broken = False
            assert llm.chat(batch) == ["echo: a", "echo: b", "echo: c", "echo: d"]
            assert server.hits == 5  # only c and d were requested again
