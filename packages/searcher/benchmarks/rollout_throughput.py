"""Batched rollouts vs one trajectory at a time, with a cold-started SmolLM2 on the same questions.

Runs the full agent loop (generation, parsing, environment calls, observation turns)
over N benchmark questions twice in one run: all trajectories advancing together (one
``generate`` call per turn) and each question on its own. Reports generated model
tokens per second and the ratio. Greedy decoding; EOS is not suppressed, so token
counts can differ slightly between the modes (padding changes float rounding).

With no arguments it first makes (or reuses) what it needs in ``--work`` (default
``runs/searcher/rollout-bench``): the `smoke` benchmark, its BM25 index and the `smoke`
cold-start SFT model (32 conversations, a few minutes on 2 cores), through
``searcher train --preset smoke --grpo.steps 0`` with no evaluation, so the policy
writes the protocol's tags and several queries per search turn, as a trained agent does:

    uv run --package searcher python packages/searcher/benchmarks/rollout_throughput.py

Or point it at your own files and model:

    uv run --package searcher python packages/searcher/benchmarks/rollout_throughput.py \
        --data DIR/test.jsonl --index INDEX_DIR --model RUN/sft/model
"""

from __future__ import annotations

import argparse
import dataclasses
import time
from pathlib import Path

import torch


def build_work_folder(work: Path) -> None:
    """The smoke benchmark, its BM25 index and the smoke SFT model in ``work`` (a run folder
    of ``searcher train``, which refuses a folder it did not make and resumes its own)."""
    from searcher.cli import main as searcher_main

    argv = ["train", "--preset", "smoke", "--grpo.steps", "0", "--eval_closed", "0"]
    argv += ["--eval_open", "0", "--out", str(work)]
    if searcher_main(argv) != 0:
        raise SystemExit(2)  # the train command has said why


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", help="question file (default: the work folder's test.jsonl)")
    ap.add_argument("--index", help="index folder (default: the work folder's BM25 index)")
    ap.add_argument("--model", help="model folder or bundled name (default: the smoke SFT model)")
    ap.add_argument("--work", default="runs/searcher/rollout-bench", help="where defaults live")
    ap.add_argument("--n", type=int, default=8)
    ap.add_argument("--max-turns", type=int, default=2)
    ap.add_argument("--max-new-tokens", type=int, default=64)
    args = ap.parse_args()
    if args.model is None or args.data is None or args.index is None:
        work = Path(args.work)
        if not (work / "sft" / "model").is_dir():
            build_work_folder(work)
        args.model = args.model or str(work / "sft" / "model")
        args.data = args.data or str(work / "data" / "test.jsonl")
        args.index = args.index or str(work / "index-bm25")
    from labcore.io import read_jsonl
    from labcore.models import load_causal_lm
    from searcher.agent.env import SearchEnvironment
    from searcher.agent.loop import AgentConfig, run_episodes
    from searcher.agent.policy import Policy

    rows = read_jsonl(args.data)[: args.n]
    env = SearchEnvironment.from_folder(args.index)
    model, tok = load_causal_lm(args.model)
    policy = Policy(model, tok)
    cfg = AgentConfig(max_turns=args.max_turns, max_new_tokens=args.max_new_tokens, temperature=0.0)
    qs, abilities = [r["question"] for r in rows], [r["ability"] for r in rows]
    run_episodes(policy, env, qs[:1], abilities[:1], cfg)  # warm-up

    def tokens(trajs):
        return sum(sum(t.env_mask) for t in trajs)

    def timed(batched: bool, reuse_kv: bool) -> tuple[int, float]:
        run_cfg = dataclasses.replace(cfg, reuse_kv=reuse_kv)
        t0 = time.perf_counter()
        if batched:
            trajs = run_episodes(policy, env, qs, abilities, run_cfg)
        else:
            trajs = [
                run_episodes(policy, env, [q], [a], run_cfg)[0]
                for q, a in zip(qs, abilities, strict=True)
            ]
        return tokens(trajs), time.perf_counter() - t0

    print(
        f"model {args.model}, {torch.get_num_threads()} torch threads, {len(qs)} questions, "
        f"max {args.max_turns} searches + final turn, {args.max_new_tokens} new tokens per turn, greedy"
    )
    rates = {}
    for reuse_kv in (False, True):
        for batched in (False, True):
            n, dt = timed(batched, reuse_kv)
            rates[batched, reuse_kv] = n / dt
            mode = "batched      " if batched else "one at a time"
            cached = "KV kept between turns" if reuse_kv else "context recomputed   "
            print(f"{mode}, {cached}: {n} model tokens in {dt:7.1f} s = {n / dt:6.1f} tokens/s")
    print(
        f"batched / one at a time: {rates[True, True] / rates[False, True]:.2f}x with the KV kept, "
        f"{rates[True, False] / rates[False, False]:.2f}x recomputing contexts; "
        f"batched with the KV kept / batched recomputing: "
        f"{rates[True, True] / rates[True, False]:.2f}x"
    )


if __name__ == "__main__":
    main()
