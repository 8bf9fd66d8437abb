"""OpenAIChatModel against a real HTTP server on 127.0.0.1 (labcore.llm.fake_server)."""

from __future__ import annotations

import socket
import time

import pytest

from labcore.errors import DataError
from labcore.llm import APIError, OpenAIChatModel
from labcore.llm.fake_server import FakeOpenAIServer, chat_completion, echo, error_body


def user(text: str) -> list[dict]:
    return [{"role": "user", "content": text}]


def client(server: FakeOpenAIServer, **kwargs) -> OpenAIChatModel:
    kwargs.setdefault("backoff", 0.01)
    return OpenAIChatModel("fake-model", base_url=server.base_url, **kwargs)


def test_success_sends_all_fields_and_keeps_batch_order():
    def slow_for_early_items(request):
        # Earlier items answer later, so completion order is the reverse of input order.
        index = int(request.body["messages"][-1]["content"].split()[-1])
        time.sleep(0.02 * (5 - index))
        return echo(request)

    with FakeOpenAIServer(slow_for_early_items) as server:
        with client(server, api_key="test-key", max_workers=5) as llm:
            conversations = [user(f"question {i}") for i in range(5)]
            answers = llm.chat(
                conversations, max_new_tokens=7, temperature=0.5, top_p=0.9, stop=["\n"], seed=3
            )
        assert answers == [f"echo: question {i}" for i in range(5)]
        assert server.hits == 5
        request = server.requests[0]
        assert request.path == "/v1/chat/completions"
        assert request.headers["authorization"] == "Bearer test-key"
        body = request.body
        assert body["model"] == "fake-model"
        assert body["messages"][0]["role"] == "user"
        assert (body["max_tokens"], body["temperature"], body["top_p"]) == (7, 0.5, 0.9)
        assert (body["stop"], body["seed"]) == (["\n"], 3)


def test_optional_fields_and_key_left_out(monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with FakeOpenAIServer() as server, client(server) as llm:
        assert llm.chat([user("hi")]) == ["echo: hi"]
        request = server.requests[0]
    assert "authorization" not in request.headers
    assert "stop" not in request.body and "seed" not in request.body


def test_base_url_and_key_from_environment(monkeypatch):
    with FakeOpenAIServer() as server:
        monkeypatch.setenv("OPENAI_BASE_URL", server.base_url + "/")
        monkeypatch.setenv("OPENAI_API_KEY", "env-key")
        with OpenAIChatModel("fake-model") as llm:
            assert llm.chat([user("hi")]) == ["echo: hi"]
        assert server.requests[0].headers["authorization"] == "Bearer env-key"


def test_stop_strings_are_applied_even_if_the_server_ignores_them():
    with FakeOpenAIServer(lambda r: (200, chat_completion("one. two. three."))) as server:
        with client(server) as llm:
            assert llm.chat([user("count")], stop=["two"]) == ["one. "]


def test_500_is_retried_then_succeeds():
    def fail_twice(request):
        if request.number <= 2:
            return 500, error_body("overloaded", "server_error")
        return echo(request)

    with FakeOpenAIServer(fail_twice) as server, client(server, max_retries=3) as llm:
        assert llm.chat([user("hi")]) == ["echo: hi"]
        assert server.hits == 3


def test_429_honours_retry_after():
    def rate_limited_once(request):
        if request.number == 1:
            return 429, error_body("slow down", "rate_limit_error"), {"Retry-After": "0.2"}
        return echo(request)

    with FakeOpenAIServer(rate_limited_once) as server, client(server) as llm:
        start = time.perf_counter()
        assert llm.chat([user("hi")]) == ["echo: hi"]
        assert time.perf_counter() - start >= 0.2
        assert server.hits == 2


def test_persistent_500_gives_up_after_max_retries():
    with FakeOpenAIServer(lambda r: (503, error_body("down for maintenance"))) as server:
        with client(server, max_retries=2) as llm, pytest.raises(APIError) as info:
            llm.chat([user("hi")])
        assert server.hits == 3
    message = str(info.value)
    assert "503 Service Unavailable" in message
    assert "down for maintenance" in message
    assert "gave up after 3 attempts" in message


def test_401_fails_at_once_with_a_clear_message():
    with FakeOpenAIServer(lambda r: (401, error_body("invalid api key"))) as server:
        with client(server, api_key="wrong") as llm, pytest.raises(DataError) as info:
            llm.chat([user("hi")])
        assert server.hits == 1  # not retried
    message = str(info.value)
    assert message == (
        f"401 Unauthorized from {server.base_url}/chat/completions: invalid api key"
        " — check OPENAI_API_KEY or --api-key"
    )
    assert "\n" not in message


def test_404_names_the_model_and_url_to_check():
    with FakeOpenAIServer(lambda r: (404, {"detail": "model 'x' not found"})) as server:
        with client(server) as llm, pytest.raises(DataError, match="404 Not Found") as info:
            llm.chat([user("hi")])
        assert server.hits == 1
    assert "model 'x' not found" in str(info.value)
    assert "base URL" in str(info.value)


def test_failure_in_a_batch_stops_queued_requests():
    def reject_bad(request):
        if "bad" in request.body["messages"][-1]["content"]:
            return 400, error_body("prompt too long")
        time.sleep(0.05)  # the 20 good requests would take >= 0.5 s with 2 workers
        return echo(request)

    with FakeOpenAIServer(reject_bad) as server:
        with client(server, max_workers=2) as llm, pytest.raises(DataError, match="400"):
            llm.chat([user("bad")] + [user(f"ok {i}") for i in range(20)])
        assert server.hits < 21


def test_timeout_is_retried():
    def slow_first(request):
        if request.number == 1:
            time.sleep(0.5)
        return echo(request)

    with FakeOpenAIServer(slow_first) as server, client(server, timeout=0.1) as llm:
        assert llm.chat([user("hi")]) == ["echo: hi"]
        assert server.hits == 2


def test_connection_refused_is_retried_then_reported():
    with socket.socket() as sock:  # a port that was free a moment ago: nothing listens there
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    llm = OpenAIChatModel(
        "fake-model", base_url=f"http://127.0.0.1:{port}/v1", max_retries=1, backoff=0.01
    )
    with llm, pytest.raises(APIError, match=r"ConnectError.*gave up after 2 attempts"):
        llm.chat([user("hi")])


def test_base_url_without_scheme_is_rejected():
    with pytest.raises(DataError, match="must start with http"):
        OpenAIChatModel("fake-model", base_url="localhost:8000/v1")


def test_malformed_reply_is_reported():
    with FakeOpenAIServer(lambda r: (200, {"unexpected": True})) as server:
        with client(server) as llm, pytest.raises(APIError, match="unexpected reply"):
            llm.chat([user("hi")])


def test_a_single_conversation_instead_of_a_batch_is_rejected():
    with FakeOpenAIServer() as server, client(server) as llm:
        with pytest.raises(DataError, match="wrap a single conversation in a list"):
            llm.chat(user("hi"))  # type: ignore[arg-type]
        assert llm.chat([]) == []
        assert server.hits == 0
