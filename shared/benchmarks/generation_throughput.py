"""Generation throughput of LocalChatModel with the bundled SmolLM2: one at a time vs batched.

Every sequence generates exactly ``--new-tokens`` tokens (EOS is suppressed
until then), so the token counts of all runs are equal and throughputs compare
directly. Decoding is greedy. Prints new tokens/s per batch size and the speed-up
of each batch size over one-at-a-time from the same run.

On a machine shared with other jobs, pass ``--threads 1``: when another
process holds a core, torch's threads wait on each other and runs slow down
several-fold at random, which makes the ratios meaningless.

    uv run --frozen python shared/benchmarks/generation_throughput.py
    uv run --frozen python shared/benchmarks/generation_throughput.py --threads 1 --prompts 16
"""

from __future__ import annotations

import argparse
import os
import time

import torch

from labcore.llm import LocalChatModel, SamplingParams

# Varied topics and lengths, so batches see realistic padding.
PROMPTS = [
    "What is the capital of France?",
    "Hi!",
    "Explain photosynthesis to a ten year old.",
    "Write a haiku about autumn leaves.",
    "List three uses of a paperclip.",
    "Why is the sky blue?",
    "Translate 'good morning' into Spanish, French and German.",
    "Give me a recipe for pancakes.",
    "What is 17 times 23?",
    "Summarise the plot of Romeo and Juliet in two sentences.",
    "How do vaccines work?",
    "Suggest a name for a friendly robot.",
    "What are the main differences between Python lists and tuples?",
    "Describe the water cycle.",
    "Tell me a joke about computers.",
    "What should I pack for a weekend camping trip in the mountains in early spring?",
    "Who wrote Pride and Prejudice?",
    "Explain what a black hole is in simple terms.",
    "Write a short motivational message for a student before an exam.",
    "What is the difference between weather and climate?",
    "How many continents are there, and what are they called?",
    "Give two tips for better sleep.",
    "What does a CPU do?",
    "Write the opening line of a mystery novel set in a lighthouse.",
    "Why do cats purr?",
    "Compare trains and planes for a 500 km trip, considering cost, time and comfort.",
    "What is the boiling point of water at sea level?",
    "Name three famous painters and one work by each.",
    "How do I politely decline a meeting invitation?",
    "What is machine learning?",
    "Describe a sunset over the ocean.",
    "Plan a one-day itinerary for a first visit to Rome, with a budget-friendly lunch.",
]


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--new-tokens", type=int, default=64, help="tokens generated per sequence")
    parser.add_argument("--prompts", type=int, default=32, help="number of prompts (cycled)")
    parser.add_argument("--device", default="cpu", help="cpu or cuda")
    parser.add_argument(
        "--batch-sizes", default="1,8,32", help="comma-separated; the first is the baseline"
    )
    parser.add_argument(
        "--threads", type=int, default=None, help="torch intra-op threads (default: torch's)"
    )
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    batch_sizes = [int(b) for b in args.batch_sizes.split(",")]
    conversations = [
        [{"role": "user", "content": PROMPTS[i % len(PROMPTS)]}] for i in range(args.prompts)
    ]
    params = SamplingParams(max_new_tokens=args.new_tokens)

    llm = LocalChatModel(device=args.device)
    prompt_lengths = [len(llm.encode(conv)) for conv in conversations]
    print(
        f"model {llm.model_name} on {llm.device}, {llm.model.dtype}, "
        f"{torch.get_num_threads()} threads, attention {llm.model.config._attn_implementation}"
    )
    print(
        f"{len(conversations)} prompts ({min(prompt_lengths)}-{max(prompt_lengths)} tokens), "
        f"{args.new_tokens} new tokens each (EOS suppressed), greedy"
    )
    # Other processes competing for the cores distort the numbers; show the load.
    print(f"load average at start: {os.getloadavg()[0]:.2f} ({os.cpu_count()} CPUs)")
    # Warm-up: the first generate call pays one-off allocation and dispatch costs.
    list(llm.iter_generate(conversations[:2], SamplingParams(max_new_tokens=4), min_new_tokens=4))

    baseline = None
    baseline_name = "one-at-a-time" if batch_sizes[0] == 1 else f"batch {batch_sizes[0]}"
    for batch_size in batch_sizes:
        llm.batch_size = batch_size
        start = time.perf_counter()
        list(llm.iter_generate(conversations, params, min_new_tokens=args.new_tokens))
        if llm.device.type == "cuda":
            torch.cuda.synchronize()
        seconds = time.perf_counter() - start
        tokens = len(conversations) * args.new_tokens
        rate = tokens / seconds
        line = f"batch {batch_size:>3}: {tokens} new tokens in {seconds:7.2f} s = {rate:7.1f} new tokens/s"
        if baseline is None:
            baseline = rate
        else:
            line += f"  ({rate / baseline:.2f}x {baseline_name})"
        print(line, flush=True)
    print(f"load average at end: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
