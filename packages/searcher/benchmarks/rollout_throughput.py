"""Batched rollouts vs one trajectory at a time, with the bundled SmolLM2 on the same questions.

Runs the full agent loop (generation, parsing, environment calls, observation turns)
over N benchmark questions twice in one run: all trajectories advancing together (one
``generate`` call per turn) and each question on its own. Reports generated model
tokens per second and the ratio. Greedy decoding; EOS is not suppressed, so token
counts can differ slightly between the modes (padding changes float rounding).

    uv run searcher synth --out runs/searcher/bench
    uv run searcher index --corpus runs/searcher/bench/corpus.jsonl \
        --pages runs/searcher/bench/webpages.jsonl --out runs/searcher/bench-index
    uv run python packages/searcher/benchmarks/rollout_throughput.py \
        --data runs/searcher/bench/test.jsonl --index runs/searcher/bench-index
"""

from __future__ import annotations

import argparse
import time

import torch


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", required=True)
    ap.add_argument("--index", required=True)
    ap.add_argument("--model", default="smollm2-135m-instruct")
    ap.add_argument("--n", type=int, default=8)
    ap.add_argument("--max-turns", type=int, default=1)
    ap.add_argument("--max-new-tokens", type=int, default=32)
    args = ap.parse_args()
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

    t0 = time.perf_counter()
    batched = run_episodes(policy, env, qs, abilities, cfg)
    tb = time.perf_counter() - t0
    t0 = time.perf_counter()
    single = [
        run_episodes(policy, env, [q], [a], cfg)[0] for q, a in zip(qs, abilities, strict=True)
    ]
    ts = time.perf_counter() - t0
    rb, rs = tokens(batched) / tb, tokens(single) / ts
    print(
        f"model {args.model}, {torch.get_num_threads()} torch threads, {len(qs)} questions, "
        f"max {args.max_turns} searches + final turn, {args.max_new_tokens} new tokens per turn, greedy"
    )
    print(f"one at a time: {tokens(single)} model tokens in {ts:7.1f} s = {rs:6.1f} tokens/s")
    print(
        f"batched      : {tokens(batched)} model tokens in {tb:7.1f} s = {rb:6.1f} tokens/s "
        f"({rb / rs:.2f}x one-at-a-time)"
    )


if __name__ == "__main__":
    main()
