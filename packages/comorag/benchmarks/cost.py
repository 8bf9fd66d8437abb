"""Cost benchmark for comorag, printing ratios measured within one run.

1. Indexing LLM work (triple extraction) on the first N chunks of a generated
   narrative: all calls in batches vs one call at a time, same prompts, no cache.
2. Rebuilding the same small index with the response cache warm vs the first build.
3. LLM calls and tokens per question, from the ``traces.jsonl`` of a ``comorag eval`` run folder,
   against the official design's worst case (5 + 5 x 15 = 80 calls per question).

    uv run --package comorag python packages/comorag/benchmarks/cost.py --chunks 12 \
        --traces /tmp/cr_eval/runs/comorag/traces.jsonl
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--chunks", type=int, default=12)
    parser.add_argument("--chunk-tokens", type=int, default=120)
    parser.add_argument("--max-new-tokens", type=int, default=24)
    parser.add_argument("--traces", default=None, help="eval traces JSONL (comorag method)")
    args = parser.parse_args()

    import torch

    from comorag import prompts
    from comorag.config import IndexConfig, SynthConfig
    from comorag.index.build import build_index
    from comorag.index.resources import make_resources
    from comorag.llm import Agents, make_llm
    from comorag.synth import generate
    from labcore.llm import LocalChatModel

    text, _, _ = generate(
        SynthConfig(
            target_tokens=args.chunks * args.chunk_tokens,
            n_characters=6,
            n_places=4,
            n_events=12,
            n_questions=1,
        )
    )
    work = Path(tempfile.mkdtemp(prefix="comorag-bench-"))
    story = work / "story.txt"
    story.write_text(text, encoding="utf-8")
    print(f"torch threads {torch.get_num_threads()}, narrative {len(text.split())} words")

    # 1. batched vs one at a time, identical prompts, no cache.
    llm = LocalChatModel(batch_size=16)
    res = make_resources("all-minilm-l6-v2", Agents(llm))
    from comorag.index.chunking import chunk_file

    chunks = list(chunk_file(story, res.counter, args.chunk_tokens))[: args.chunks]
    convs = [prompts.triples_prompt(c.text) for c in chunks]
    timings = {}
    for mode in ("batched", "one-at-a-time"):
        agents = Agents(llm, retries=0, one_at_a_time=mode == "one-at-a-time")
        start = time.perf_counter()
        agents.run("triples", convs, prompts.parse_triples, max_new_tokens=args.max_new_tokens)
        timings[mode] = time.perf_counter() - start
        print(
            f"triples for {len(convs)} chunks, {mode:>13}: {timings[mode]:7.1f} s "
            f"({agents.cost.batches} model calls)"
        )
    print(f"batched speed-up: {timings['one-at-a-time'] / timings['batched']:.2f}x")

    # 2. a small index, built once, then rebuilt from the warm response cache.
    cfg = IndexConfig(
        chunk_tokens=args.chunk_tokens,
        triple_max_new_tokens=args.max_new_tokens,
        cluster_summary_tokens=args.max_new_tokens,
        window_summary_tokens=args.max_new_tokens,
    )
    small = work / "small.txt"
    small.write_text(text[: chunks[-1].end], encoding="utf-8")
    times = []
    for run in range(2):
        cached = make_llm(cache_path=work / "cache.sqlite")
        r = make_resources("all-minilm-l6-v2", Agents(cached))
        start = time.perf_counter()
        build_index(
            small, work / "idx", cfg, r, llm_name="local", force=run > 0, progress=False, quiet=True
        )
        times.append(time.perf_counter() - start)
        print(f"index build {run + 1}: {times[-1]:7.1f} s, {r.agents.cost.calls} LLM calls")
    print(f"rerun from cache: {times[1] / times[0]:.3f} of the first build's time")

    # 3. calls per question against the official worst case.
    if args.traces:
        from labcore.io import read_jsonl

        rows = read_jsonl(args.traces)
        calls = [r["cost"]["calls"] for r in rows]
        tokens = [r["cost"]["prompt_tokens"] + r["cost"]["completion_tokens"] for r in rows]
        print(
            f"{len(rows)} questions: LLM calls per question mean {sum(calls) / len(calls):.1f}, "
            f"max {max(calls)}; tokens mean {sum(tokens) / len(tokens):.0f}"
        )
        print(
            f"official design worst case 80 calls: mean is "
            f"{sum(calls) / len(calls) / 80:.2f}x of it, max {max(calls) / 80:.2f}x"
        )


if __name__ == "__main__":
    main()
