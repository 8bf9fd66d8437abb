"""Probe-scoring cost, measured within one run (ratios, so machine load cancels out).

1. Batched probe scoring against a per-probe loop, on the same model and probes.
2. The ``adaptive`` schedule against ``every``: two injection runs from the same checkpoint
   and seed with the ``default`` preset's schedule (250 steps, 10 injections every 10 steps,
   window 5, 12 items); prints the scoring-time ratio, the number of evaluations, and whether
   every metric in metrics.json is identical (``analysis.fit_points=grid``). Only scoring is
   compared, so these runs train on a 16-row batch.

    uv run --frozen python packages/knowledge_dynamics/benchmarks/bench_scoring.py

Without ``--checkpoint`` it pretrains a ``--preset`` model (default ``smoke``, ~10 s) into
``--out``/pretrain, or reuses the one there; the two injection runs go to a temporary folder.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from knowledge_dynamics.config import InjectConfig, preset
from knowledge_dynamics.eval.analyze import METRIC_KEYS, analyze
from knowledge_dynamics.eval.probes import build_probes, score_probes, score_probes_loop
from knowledge_dynamics.model import load_checkpoint_model
from knowledge_dynamics.synth.generator import synth_knowledge
from knowledge_dynamics.train.pretrain import pretrain
from knowledge_dynamics.train.runner import run_inject
from labcore.errors import DataError

#: the ``default`` preset's schedule and knowledge size, on a small batch (scoring is compared)
SCHEDULE = {
    "synth.n_items": 12,
    "inject.total_steps": 250,
    "inject.inject_every": 10,
    "inject.n_injections": 10,
    "inject.window": 5,
    "inject.log_points": 12,
    "inject.batch_size": 16,
    "analysis.fit_points": "grid",
}


def bench_batched(checkpoint: str, n_items: int, repeats: int) -> float:
    model, tok, _ = load_checkpoint_model(checkpoint)
    probes = build_probes(synth_knowledge(n_items), tok)
    batch = InjectConfig().probe_batch_size  # what an injection run uses
    score_probes(model, probes, batch_size=batch)  # warm-up
    t_batch, t_loop = [], []
    for _ in range(repeats):  # interleaved, so load drifts hit both alike
        t0 = time.perf_counter()
        a = score_probes(model, probes, batch_size=batch)
        t_batch.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        b = score_probes_loop(model, probes)
        t_loop.append(time.perf_counter() - t0)
    assert np.allclose(a["target"], b["target"], atol=1e-4)
    ratio = np.median(t_loop) / np.median(t_batch)
    print(f"probes: {len(probes)} ({n_items} items x 15), {torch.get_num_threads()} threads")
    print(
        f"batched ({batch}/batch): {np.median(t_batch):.3f} s   per-probe loop: {np.median(t_loop):.3f} s"
        f"   -> batched is {ratio:.1f}x faster"
    )
    return ratio


def bench_schedules(checkpoint: str, preset_name: str, out: Path) -> tuple[float, float]:
    base = preset(preset_name).replace(**SCHEDULE)
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
    return ta["score_cpu_s"] / te["score_cpu_s"], ta["n_evals"] / te["n_evals"]


def ensure_checkpoint(preset_name: str, out: Path) -> str:
    """The mid stage of a pretraining run in ``out/pretrain`` (trained now or reused)."""
    cfg = preset(preset_name)
    t0 = time.perf_counter()
    stages = pretrain(cfg, out / "pretrain", progress=False)
    print(f"checkpoint: {stages['mid']} ({time.perf_counter() - t0:.1f} s to build or reuse)")
    return str(stages["mid"])


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument(
        "--checkpoint",
        default=None,
        help="a stage folder from `knowledge-dynamics pretrain` (default: build or reuse one "
        "in OUT/pretrain)",
    )
    ap.add_argument("--preset", default="smoke", help="model and corpus preset (default smoke)")
    ap.add_argument("--out", default="runs/kd-bench", help="holds the pretraining run it builds")
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--skip-schedules", action="store_true")
    args = ap.parse_args()
    checkpoint = args.checkpoint or ensure_checkpoint(args.preset, Path(args.out))
    batched = bench_batched(checkpoint, SCHEDULE["synth.n_items"], args.repeats)
    if args.skip_schedules:
        return
    with tempfile.TemporaryDirectory(prefix="kd-bench-") as tmp:
        cpu, evals = bench_schedules(checkpoint, args.preset, Path(tmp))
    print(
        f"summary: batched / per-probe speed-up {batched:.1f}x (target >= 10x); adaptive / "
        f"every scoring CPU time {cpu:.3f} (target <= 0.333), evaluations {evals:.3f}"
    )


if __name__ == "__main__":
    try:
        main()
    except DataError as exc:  # one line, exit code 2, as the CLI does
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(2)
