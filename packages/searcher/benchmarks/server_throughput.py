"""Search throughput on a 100k-passage corpus: HTTP server vs in-process vs naive baselines.

Builds a synthetic 100k-passage corpus (invented words, Zipf-like frequencies), a BM25
index and a dense index, then measures in one run, with the result cache off and
distinct queries:

* in-process ``SearchEnvironment.retrieve`` in batches;
* ``searcher serve`` in a subprocess on 127.0.0.1, hit by concurrent clients sending
  batched ``/retrieve`` requests (queries/s, per-request p50/p99 latency);
* naive baselines: ``rank_bm25`` (BM25Okapi, one query at a time) and brute-force numpy
  (MiniLM query vectors times the full passage matrix).

Dense passages: embedding 100k passages with MiniLM takes many minutes on 2 cores, and
search cost does not depend on what the vectors are, so ``--real-dense`` passages are
encoded and the rest are noisy copies of them (normalised). Queries are always encoded
by MiniLM at search time, as in real use.

    uv run python packages/searcher/benchmarks/server_throughput.py
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import random
import socket
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import numpy as np


def make_corpus(n: int, seed: int = 0) -> tuple[list[str], list[str]]:
    rng = random.Random(seed)
    syll = [
        "ka",
        "lo",
        "mi",
        "ru",
        "ten",
        "vo",
        "shi",
        "ar",
        "bel",
        "dor",
        "fen",
        "gal",
        "hu",
        "is",
    ]
    vocab = sorted(
        {"".join(rng.choice(syll) for _ in range(rng.randint(2, 4))) for _ in range(30000)}
    )
    weights = [1.0 / (r + 1) ** 0.9 for r in range(len(vocab))]
    cum = list(itertools.accumulate(weights))
    texts = []
    for i in range(n):
        words = rng.choices(vocab, cum_weights=cum, k=rng.randint(20, 40))
        texts.append(f"{words[0].title()} {i}\n" + " ".join(words))
    queries = [
        " ".join(rng.choices(vocab, cum_weights=cum, k=rng.randint(2, 5))) for _ in range(4000)
    ]
    return texts, queries


def build_folders(texts, root: Path, real_dense: int, seed: int = 0):
    from labcore.io import write_json, write_jsonl
    from labcore.retrieval import BM25Index, DenseIndex, DenseTextIndex, Embedder

    ids = [str(i) for i in range(len(texts))]
    passages = [{"id": i, "contents": t} for i, t in zip(ids, texts, strict=True)]
    t0 = time.perf_counter()
    bm25 = BM25Index(texts, ids)
    print(f"bm25 index over {len(texts)} passages built in {time.perf_counter() - t0:.1f} s")
    emb = Embedder()
    t0 = time.perf_counter()
    base = emb.encode(texts[:real_dense])
    rng = np.random.default_rng(seed)
    reps = -(-len(texts) // real_dense)
    vecs = np.concatenate([base] * reps)[: len(texts)]
    vecs = vecs + 0.05 * rng.standard_normal(vecs.shape).astype(np.float32)
    vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
    dense = DenseTextIndex(emb, DenseIndex(emb.dim, use_gpu=False))
    dense.index.add(vecs, ids)
    print(
        f"dense index: {real_dense} passages encoded, {len(texts)} vectors, {time.perf_counter() - t0:.1f} s"
    )
    folders = {}
    for kind, index in (("bm25", bm25), ("dense", dense)):
        folder = root / kind
        folder.mkdir(parents=True)
        write_jsonl(folder / "passages.jsonl", passages)
        index.save(folder / "passages")
        write_json(
            folder / "meta.json", {"kind": kind, "passages": len(texts), "pages": 0, "format": 1}
        )
        folders[kind] = folder
    return folders, bm25, dense, vecs, emb


def in_process(env, queries, batch: int) -> float:
    t0 = time.perf_counter()
    for i in range(0, len(queries), batch):
        env.retrieve(queries[i : i + batch], 3)
    return len(queries) / (time.perf_counter() - t0)


def over_http(url: str, queries, batch: int, clients: int):
    chunks = [queries[i : i + batch] for i in range(0, len(queries), batch)]
    lat = []

    def call(chunk):
        with httpx.Client(timeout=120) as c:
            t = time.perf_counter()
            r = c.post(url + "/retrieve", json={"queries": chunk, "topk": 3, "return_scores": True})
            r.raise_for_status()
            assert len(r.json()["result"]) == len(chunk)
            lat.append(time.perf_counter() - t)

    t0 = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        list(pool.map(call, chunks))
    qps = len(queries) / (time.perf_counter() - t0)
    return qps, 1000 * float(np.percentile(lat, 50)), 1000 * float(np.percentile(lat, 99))


def start_server(folder: Path) -> tuple[subprocess.Popen, str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "searcher.cli",
            "serve",
            "--env.index",
            str(folder),
            "--port",
            str(port),
        ],
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    for _ in range(600):
        try:
            if httpx.get(url + "/health").status_code == 200:
                return proc, url
        except httpx.TransportError:
            time.sleep(0.2)
    proc.kill()
    raise RuntimeError("server did not start")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--passages", type=int, default=100_000)
    ap.add_argument("--queries", type=int, default=2048)
    ap.add_argument("--batch", type=int, default=64, help="queries per request / in-process call")
    ap.add_argument("--clients", type=int, default=4)
    ap.add_argument("--real-dense", type=int, default=2000)
    ap.add_argument("--naive-queries", type=int, default=20)
    args = ap.parse_args()
    from searcher.agent.env import SearchEnvironment

    texts, queries = make_corpus(args.passages)
    queries = queries[: args.queries]
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        folders, bm25, dense, vecs, emb = build_folders(texts, Path(tmp), args.real_dense)
        passages = [{"id": str(i), "contents": t} for i, t in enumerate(texts)]
        for kind, index in (("bm25", bm25), ("dense", dense)):
            env = SearchEnvironment(passages, index, cache_size=0)
            in_qps = in_process(env, queries, args.batch)
            proc, url = start_server(folders[kind])
            try:
                over_http(url, queries[:256], args.batch, args.clients)  # warm-up
                http_qps, p50, p99 = over_http(url, queries, args.batch, args.clients)
            finally:
                proc.terminate()
                proc.wait(timeout=30)
            results[kind] = {
                "in_process_qps": in_qps,
                "http_qps": http_qps,
                "p50_ms": p50,
                "p99_ms": p99,
            }
        # Naive baselines, same corpus and queries.
        from rank_bm25 import BM25Okapi

        t0 = time.perf_counter()
        okapi = BM25Okapi([t.lower().split() for t in texts])
        build = time.perf_counter() - t0
        nq = args.naive_queries
        t0 = time.perf_counter()
        for q in queries[:nq]:
            np.argpartition(-okapi.get_scores(q.lower().split()), 3)[:3]
        results["bm25"]["naive_rank_bm25_qps"] = nq / (time.perf_counter() - t0)
        results["bm25"]["naive_build_s"] = build
        t0 = time.perf_counter()
        for i in range(0, len(queries), args.batch):
            qv = emb.encode(queries[i : i + args.batch])
            scores = qv @ vecs.T
            np.argpartition(-scores, 3, axis=1)[:, :3]
        results["dense"]["naive_numpy_qps"] = len(queries) / (time.perf_counter() - t0)

    threads = os.environ.get("OMP_NUM_THREADS", "default")
    print(
        f"\n{args.passages} passages, {len(queries)} distinct queries, batches of {args.batch}, "
        f"{args.clients} HTTP clients, top-3, cache off, OMP_NUM_THREADS={threads}"
    )
    b, d = results["bm25"], results["dense"]
    print(
        f"BM25  in-process {b['in_process_qps']:8.1f} q/s | HTTP {b['http_qps']:8.1f} q/s "
        f"({b['http_qps'] / b['in_process_qps']:.2f}x in-process), p50 {b['p50_ms']:.0f} ms, p99 {b['p99_ms']:.0f} ms"
        f" | rank_bm25 {b['naive_rank_bm25_qps']:.2f} q/s (HTTP {b['http_qps'] / b['naive_rank_bm25_qps']:.0f}x)"
    )
    print(
        f"dense in-process {d['in_process_qps']:8.1f} q/s | HTTP {d['http_qps']:8.1f} q/s "
        f"({d['http_qps'] / d['in_process_qps']:.2f}x in-process), p50 {d['p50_ms']:.0f} ms, p99 {d['p99_ms']:.0f} ms"
        f" | numpy brute force {d['naive_numpy_qps']:.1f} q/s (HTTP {d['http_qps'] / d['naive_numpy_qps']:.2f}x)"
    )
    print(json.dumps(results))


if __name__ == "__main__":
    main()
