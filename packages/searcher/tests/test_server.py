"""Indexes and the HTTP server (real uvicorn on 127.0.0.1): shapes, concurrency, bad input."""

from __future__ import annotations

import json
import random
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from labcore.errors import DataError
from searcher.cli import main
from searcher.client import HTTPSearchEnvironment
from searcher.index import build_index_folder, load_index_folder
from searcher.server import Limits, make_app


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(env):
    import uvicorn

    port = _free_port()
    config = uvicorn.Config(
        make_app(
            env, Limits(max_queries=64, max_query_chars=200, max_topk=10, max_body_bytes=10_000)
        ),
        host="127.0.0.1",
        port=port,
        log_level="error",
    )
    srv = uvicorn.Server(config)
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    for _ in range(200):
        try:
            if httpx.get(url + "/health").status_code == 200:
                break
        except httpx.TransportError:
            time.sleep(0.05)
    yield url
    srv.should_exit = True
    thread.join(timeout=10)


def test_index_kinds_agree(bench, tmp_path):
    dense = build_index_folder(bench / "corpus.jsonl", tmp_path / "dense", kind="dense")
    kind, passages, p_index, _pages, w_index = load_index_folder(dense)
    assert kind == "dense" and w_index is None and len(passages) == len(p_index)
    title = passages[3]["contents"].split("\n")[0]
    hits = p_index.search([f"{title} facts"], 3)[0]
    assert passages[3]["id"] in [d for d, _ in hits]


def test_broken_corpus_line_is_refused(tmp_path, capsys):
    corpus = tmp_path / "corpus.jsonl"
    corpus.write_text('{"id": "0", "contents": "A\\ntext"}\n{"id": "1", "contents": \n')
    assert main(["index", "--corpus", str(corpus), "--out", str(tmp_path / "idx")]) == 2
    err = capsys.readouterr().err
    assert f"{corpus}: line 2:" in err and err.count("\n") == 1
    assert not (tmp_path / "idx").exists()  # nothing half-written
    corpus.write_text('{"id": "0"}\n')
    with pytest.raises(DataError, match="record 1: a passage needs"):
        build_index_folder(corpus, tmp_path / "idx")


def test_retrieve_shapes(server, env):
    q = ["Institute founded", "river city"]
    r = httpx.post(server + "/retrieve", json={"queries": q, "topk": 3, "return_scores": True})
    assert r.status_code == 200
    result = r.json()["result"]
    assert len(result) == 2 and all(len(x) == 3 for x in result)
    assert set(result[0][0]) == {"document", "score"} and set(result[0][0]["document"]) == {
        "id",
        "contents",
    }
    local = env.retrieve(q, 3)
    assert [[x["document"]["id"] for x in row] for row in result] == [
        [d["id"] for d, _ in row] for row in local
    ]
    r = httpx.post(server + "/retrieve", json={"queries": q, "topk": 2, "return_scores": False})
    assert set(r.json()["result"][0][0]) == {"id", "contents"}
    assert httpx.get(server + "/health").json()["status"] == "ok"


def test_http_env_matches_in_process(server, env):
    client = HTTPSearchEnvironment(server)
    batch = [["Institute founded"], ["river city", "was born"]]
    for ability in ("closed", "open"):
        assert client.observe(batch, [ability] * 2) == env.observe(batch, [ability] * 2)


def test_32_concurrent_clients(server, env):
    rng = random.Random(0)
    words = ["founded", "river", "born", "Institute", "city", "works", "held", "country"]
    requests = [[" ".join(rng.sample(words, 2)) for _ in range(4)] for _ in range(96)]
    expected = [[[d["id"] for d, _ in row] for row in env.retrieve(qs, 3)] for qs in requests]

    def call(qs):
        with httpx.Client(timeout=30) as c:
            r = c.post(server + "/retrieve", json={"queries": qs, "topk": 3})
            r.raise_for_status()
            return [[x["document"]["id"] for x in row] for row in r.json()["result"]]

    with ThreadPoolExecutor(32) as pool:
        got = list(pool.map(call, requests))
    assert got == expected  # no errors, nothing lost or mixed up


def _random_json(rng: random.Random, depth: int = 0):
    kinds = ["int", "str", "list", "dict", "null", "bool", "float"] if depth < 3 else ["int", "str"]
    k = rng.choice(kinds)
    if k == "int":
        return rng.choice([-1, 0, 1, 3, 10**12])
    if k == "str":
        return rng.choice(["", "q", "x" * 300, "<answer>", "\u0000"])
    if k == "list":
        return [_random_json(rng, depth + 1) for _ in range(rng.randint(0, 4))]
    if k == "dict":
        keys = ["queries", "topk", "return_scores", "ability", "junk"]
        return {rng.choice(keys): _random_json(rng, depth + 1) for _ in range(rng.randint(0, 4))}
    return {"null": None, "bool": True, "float": 1.5}[k]


def test_fuzzed_requests_get_4xx_never_5xx(server):
    rng = random.Random(1)
    with httpx.Client(timeout=30) as c:
        for _i in range(150):
            path = rng.choice(["/retrieve", "/search"])
            body = _random_json(rng)
            r = c.post(
                server + path,
                content=json.dumps(body),
                headers={"content-type": "application/json"},
            )
            assert r.status_code < 500, (path, body, r.text)
            if r.status_code >= 400:
                assert r.json().get("detail")
        for raw in [b"{not json", b"", b"[1,2", b"\xff\xfe"]:
            r = c.post(
                server + "/retrieve", content=raw, headers={"content-type": "application/json"}
            )
            assert 400 <= r.status_code < 500
        limits = [
            {"queries": ["q"] * 65},  # too many queries
            {"queries": ["x" * 201]},  # query too long
            {"queries": ["q"], "topk": 11},  # top-k too large
            {"queries": ["q"], "topk": 0},
            {"queries": []},
            {"queries": ["   "]},
        ]
        for body in limits:
            assert c.post(server + "/retrieve", json=body).status_code == 422, body
        assert (
            c.post(server + "/search", json={"queries": [["q"]] * 40 + [["q"] * 30]}).status_code
            == 422
        )
        assert (
            c.post(server + "/search", json={"queries": [["q"]], "ability": "maybe"}).status_code
            == 422
        )
        big = {"queries": ["q " * 90] * 60}
        assert c.post(server + "/retrieve", json=big).status_code == 413
        assert c.get(server + "/health").status_code == 200  # still alive
