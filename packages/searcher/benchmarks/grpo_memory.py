"""Peak memory and wall time of one GRPO step with the `cpu` preset's settings.

One rollout batch of the `cpu` preset (4 prompts x 8 trajectories at its temperature,
its agent settings: up to 4 search rounds of 64 tokens) and one optimiser step over it
in micro-batches of 4, through TRL's ``GRPOTrainer`` exactly as
``searcher train --preset cpu`` runs it; the curriculum screen is skipped (it is
evaluation, not the step). The policy is the cold-start SFT model that
``rollout_throughput.py`` makes (or reuses) in ``--work``; the step's output goes to a
temporary folder that is removed afterwards. Prints the process's peak resident memory
(``ru_maxrss``) after loading the model and after the step.

    uv run --package searcher python packages/searcher/benchmarks/grpo_memory.py
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
from pathlib import Path


def peak_gib() -> float:
    """Peak resident set size of this process so far, in GiB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--work", default="runs/searcher/rollout-bench", help="the SFT model's folder")
    ap.add_argument("--model", help="policy to start from (default: the work folder's SFT model)")
    ap.add_argument("--preset", default="cpu", help="the train preset whose GRPO settings to use")
    args = ap.parse_args()

    import torch

    from labcore.config import replace_dotted
    from labcore.models import load_causal_lm
    from searcher.agent.env import SearchEnvironment
    from searcher.config import TRAIN_PRESETS, TrainConfig
    from searcher.train.grpo import run_grpo

    work = Path(args.work)
    # The index and the training questions come from the work folder whatever the policy.
    if not (work / "sft" / "model").is_dir():
        sys.path.insert(0, str(Path(__file__).parent))
        from rollout_throughput import build_work_folder

        build_work_folder(work)
    model_path = args.model or str(work / "sft" / "model")
    cfg = TrainConfig()
    for key, value in TRAIN_PRESETS[args.preset].items():
        cfg = replace_dotted(cfg, key, value)
    cfg = replace_dotted(cfg, "grpo.steps", 1)
    cfg = replace_dotted(cfg, "grpo.curriculum", False)

    env = SearchEnvironment.from_folder(work / "index-bm25", topk=cfg.topk)
    model, tok = load_causal_lm(model_path, dtype=torch.float32)
    loaded = peak_gib()
    g = cfg.grpo
    print(
        f"{args.preset} preset GRPO step: {g.prompts_per_step} prompts x {g.group_size}, "
        f"micro-batch {g.micro_batch}, {cfg.agent.max_turns} search rounds of "
        f"{cfg.agent.max_new_tokens} tokens, {torch.get_num_threads()} torch threads"
    )
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="grpo-memory-") as out:
        run_grpo(model, tok, env, work / "data" / "rl_train.jsonl", out, g, cfg.agent, cfg.seed)
    wall = time.perf_counter() - start
    print(
        f"peak resident memory: {loaded:.2f} GiB after loading, {peak_gib():.2f} GiB after the step"
    )
    print(f"step (rollouts + update): {wall:.1f} s")


if __name__ == "__main__":
    main()
