"""Probe-scoring cost, measured within one run (ratios, so machine load cancels out).

1. Batched probe scoring against a per-probe loop, on the same model and probes.
2. The ``adaptive`` schedule against ``every``: two injection runs from the same checkpoint
   and seed; prints the scoring-time ratio, the number of evaluations, and whether every
   metric in metrics.json is identical (``analysis.fit_points=grid``).

    uv run --frozen python packages/knowledge_dynamics/benchmarks/bench_scoring.py \
        --checkpoint runs/kd-default/pretrain/mid --preset default --out runs/kd-bench

(``runs/kd-default/pretrain/mid`` is a stage folder written by ``knowledge-dynamics
pretrain`` / ``experiments``.)
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch

from knowledge_dynamics.config import preset
from knowledge_dynamics.eval.analyze import METRIC_KEYS, analyze
from knowledge_dynamics.eval.probes import build_probes, score_probes, score_probes_loop
from knowledge_dynamics.model import load_checkpoint_model
from knowledge_dynamics.synth.generator import synth_knowledge
from knowledge_dynamics.train.runner import run_inject


def bench_batched(checkpoint: str, n_items: int, repeats: int) -> float:
    model, tok, _ = load_checkpoint_model(checkpoint)
    probes = build_probes(synth_knowledge(n_items), tok)
    score_probes(model, probes)  # warm-up
    t_batch, t_loop = [], []
    for _ in range(repeats):
        t0 = time.perf_counter()
        a = score_probes(model, probes, batch_size=256)
        t_batch.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        b = score_probes_loop(model, probes)
        t_loop.append(time.perf_counter() - t0)
    assert np.allclose(a["target"], b["target"], atol=1e-4)
    ratio = np.median(t_loop) / np.median(t_batch)
    print(f"probes: {len(probes)} ({n_items} items x 15), {torch.get_num_threads()} threads")
    print(
        f"batched (256/batch): {np.median(t_batch):.3f} s   per-probe loop: {np.median(t_loop):.3f} s"
        f"   -> batched is {ratio:.1f}x faster"
    )
    return ratio


def bench_schedules(checkpoint: str, preset_name: str, out: Path) -> None:
    base = preset(preset_name)
    res = {}
    for kind in ("every", "adaptive"):
        cfg = base.replace(**{"inject.schedule": kind})
        run = out / kind
        t0 = time.perf_counter()
        run_inject(cfg, checkpoint, run, progress=False)  # an `inject` run folder
        wall = time.perf_counter() - t0
        timing = json.loads((run / "timing.json").read_text())
        res[kind] = (timing, wall, analyze(run, cfg.analysis))
    (te, _, me), (ta, _, ma) = res["every"], res["adaptive"]
    for kind, (t, w, _) in res.items():
        print(
            f"{kind:>8}: {t['n_evals']} evaluations; scoring {t['score_s']:.1f} s wall / "
            f"{t['score_cpu_s']:.1f} s CPU; training {t['train_s']:.1f} s wall / "
            f"{t['train_cpu_s']:.1f} s CPU; run wall {w:.1f} s"
        )
    print(
        f"adaptive / every: evaluations {ta['n_evals'] / te['n_evals']:.3f}, scoring CPU time "
        f"{ta['score_cpu_s'] / te['score_cpu_s']:.3f}, scoring wall time "
        f"{ta['score_s'] / te['score_s']:.3f} (wall is disturbed by other jobs)"
    )
    same = all(me[k] == ma[k] for k in METRIC_KEYS)
    print(f"metrics identical (effectivity, decay_constant, r2, learnability_threshold): {same}")


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument(
        "--checkpoint", required=True, help="a stage folder from `knowledge-dynamics pretrain`"
    )
    ap.add_argument("--preset", default="default")
    ap.add_argument("--out", default="runs/kd-bench")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--skip-schedules", action="store_true")
    args = ap.parse_args()
    out = Path(args.out)
    if out.exists() and any(out.iterdir()):
        raise SystemExit(
            f"error: --out {out} is not empty (the schedule benchmark needs fresh runs)"
        )
    bench_batched(args.checkpoint, preset(args.preset).synth.n_items, args.repeats)
    if not args.skip_schedules:
        bench_schedules(args.checkpoint, args.preset, out)


if __name__ == "__main__":
    main()
