"""Time pre-training 8 one-layer models as one batched ensemble against 8 trained one after another.

    uv run --package onelayer_theory python packages/onelayer_theory/benchmarks/ensemble_speed.py

Both sides run the same configs and seeds for the same number of steps in one
process, so the ratio is meaningful on a noisy shared machine.
"""

from __future__ import annotations

import argparse
import dataclasses
import time

import torch

from onelayer_theory.config import preset
from onelayer_theory.model import build_model
from onelayer_theory.synth import World
from onelayer_theory.train import pretrain


def run(cfg, worlds, seeds) -> float:
    model = build_model(cfg.model, worlds[0].vocab.size, worlds[0].biography_length, seeds)
    start = time.perf_counter()
    pretrain(model, worlds, cfg.pretrain, seeds)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", type=int, default=8)
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--preset", default="default")
    args = parser.parse_args()

    cfg = preset(args.preset).replace(**{"pretrain.steps": args.steps})
    seeds = list(range(args.models))
    worlds = [World(dataclasses.replace(cfg.data, seed=s)) for s in seeds]
    run(cfg.replace(**{"pretrain.steps": 5}), worlds[:1], seeds[:1])  # warm-up

    batched = run(cfg, worlds, seeds)
    sequential = sum(run(cfg, [w], [s]) for w, s in zip(worlds, seeds, strict=True))
    print(f"preset={args.preset} steps={args.steps} threads={torch.get_num_threads()}")
    print(f"{args.models} models one after another: {sequential:7.2f} s")
    print(f"{args.models} models batched:           {batched:7.2f} s")
    print(f"speed-up: {sequential / batched:.2f}x")


if __name__ == "__main__":
    main()
