"""Time pre-training 8 models as one ensemble against the same 8 trained one after another.

    uv run --package onelayer_theory python packages/onelayer_theory/benchmarks/ensemble_speed.py

For the ``smoke`` and ``default`` sizes of the one-layer model, and for a 2-layer
GPT-2 (the depth experiment's vmapped ensemble) at the ``smoke`` size, it prints
the wall time of both, their ratio, and the ensemble's achieved GFLOP/s (matrix
products of forward and backward, counted from the shapes) against the machine's
matmul peak measured here (the best of a batched product at the model's own
shapes and a 1024x1024 product). Both sides run the same configs and seeds for
the same number of steps in one process, so the ratio means something on a
noisy shared machine.

A last line times a learning-rate grid as the depth experiment trains it: 3 seeds x
3 rates of the 2-layer GPT-2 as one 9-member ensemble with a rate per member, against
one 3-member ensemble per rate (how the grid trained before).
"""

from __future__ import annotations

import argparse
import dataclasses
import time

import torch

from onelayer_theory.config import RunConfig, preset
from onelayer_theory.model import build_model
from onelayer_theory.synth import World
from onelayer_theory.train import pretrain

#: (label, preset, config changes, steps)
CASES = [
    ("onelayer smoke", "smoke", {}, 300),
    ("onelayer default", "default", {}, 60),
    (
        "gpt2 2-layer smoke",
        "smoke",
        {"model.arch": "gpt2", "model.n_layers": 2, "model.activation": "gelu"},
        100,
    ),
]


def train_flops(cfg: RunConfig, world: World, members: int) -> float:
    """Floating-point operations of one pre-training step of ``members`` models (forward + backward).

    Per token and layer: q, k, v, o (4 d^2) and the MLP (2 d m) products, causal
    attention scores and mixing (2 * (L + 1) / 2 * d); the unembedding (d V) once;
    2 FLOPs per multiply-add, backward = 2 x forward.
    """
    m, L = cfg.model, world.biography_length
    per_layer = 4 * m.d_model**2 + 2 * m.d_model * m.mlp_width + (L + 1) * m.d_model
    per_token = 2 * (m.n_layers * per_layer + m.d_model * world.vocab.size)
    return 3 * per_token * L * cfg.pretrain.batch_size * members


def _best_rate(fn, flops: float, repeats: int = 10) -> float:
    fn()
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return flops / best / 1e9


def matmul_peak(cfg: RunConfig, world: World, members: int) -> float:
    """GFLOP/s of the fastest of: the model's MLP product batched over members, a 1024^2 product."""
    d, width = cfg.model.d_model, cfg.model.mlp_width
    rows = cfg.pretrain.batch_size * world.biography_length
    x, w = torch.randn(members, rows, d), torch.randn(members, d, width)
    a, b = torch.randn(1024, 1024), torch.randn(1024, 1024)
    return max(
        _best_rate(lambda: torch.bmm(x, w), 2 * members * rows * d * width),
        _best_rate(lambda: a @ b, 2 * 1024**3),
    )


def run(cfg: RunConfig, worlds, seeds, member_lr=None) -> float:
    model = build_model(cfg.model, worlds[0].vocab.size, worlds[0].biography_length, seeds)
    start = time.perf_counter()
    pretrain(model, worlds, cfg.pretrain, seeds, member_lr=member_lr)
    return time.perf_counter() - start


#: (label, preset, config changes, steps, rates) of the learning-rate grid line
GRID_CASE = ("gpt2 2-layer smoke", "smoke", CASES[2][2], 100, (1e-3, 3e-3, 1e-2))


def rate_grid(steps_scale: float) -> None:
    """One ensemble for every (seed, rate) pair against one ensemble per rate."""
    label, preset_name, changes, steps, rates = GRID_CASE
    steps = max(2, round(steps * steps_scale))
    cfg = preset(preset_name).replace(**changes, **{"pretrain.steps": steps})
    seeds = [0, 1, 2]
    worlds = [World(dataclasses.replace(cfg.data, seed=s)) for s in seeds]
    pair_seeds = [s for s in seeds for _ in rates]
    pair_worlds = [w for w in worlds for _ in rates]
    grid = run(cfg, pair_worlds, pair_seeds, member_lr=list(rates) * len(seeds))
    per_rate = sum(run(cfg.replace(**{"pretrain.lr": lr}), worlds, seeds) for lr in rates)
    print(
        f"{label:20s} steps={steps:4d}  {len(seeds)} seeds x {len(rates)} rates: one ensemble "
        f"per rate {per_rate:6.2f} s  one ensemble {grid:6.2f} s  speed-up {per_rate / grid:4.2f}x"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", type=int, default=8, help="ensemble size (default 8)")
    parser.add_argument(
        "--steps_scale", type=float, default=1.0, help="multiply every case's steps by this"
    )
    parser.add_argument("--threads", type=int, default=0, help="CPU threads (0 = torch's default)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    print(f"models={args.models} threads={torch.get_num_threads()}")
    for label, preset_name, changes, steps in CASES:
        steps = max(2, round(steps * args.steps_scale))
        cfg = preset(preset_name).replace(**changes, **{"pretrain.steps": steps})
        seeds = list(range(args.models))
        worlds = [World(dataclasses.replace(cfg.data, seed=s)) for s in seeds]
        run(cfg.replace(**{"pretrain.steps": 3}), worlds[:1], seeds[:1])  # warm-up
        batched = run(cfg, worlds, seeds)
        sequential = sum(run(cfg, [w], [s]) for w, s in zip(worlds, seeds, strict=True))
        achieved = train_flops(cfg, worlds[0], args.models) * steps / batched / 1e9
        peak = matmul_peak(cfg, worlds[0], args.models)
        print(
            f"{label:20s} steps={steps:4d}  one after another {sequential:6.2f} s  "
            f"ensemble {batched:6.2f} s  speed-up {sequential / batched:4.2f}x  "
            f"ensemble {achieved:5.1f} GFLOP/s = {100 * achieved / peak:3.0f}% "
            f"of measured matmul peak {peak:5.1f} GFLOP/s"
        )
    rate_grid(args.steps_scale)


if __name__ == "__main__":
    main()
