"""``searcher train``: benchmark → index → cold-start SFT → GRPO → evaluation, in one run folder.

Each stage writes its output atomically and is skipped when that output exists, so a
killed run resumes where it stopped (SFT and GRPO also resume from their checkpoints).
"""

from __future__ import annotations

import dataclasses
import random
from pathlib import Path

from labcore.io import read_jsonl, write_json
from labcore.train import seed_everything
from searcher.config import TrainConfig


def _eval_rows(data: Path, cfg: TrainConfig) -> list[dict]:
    rows = read_jsonl(data / "test.jsonl")
    closed = [r for r in rows if r["ability"] == "closed"][: cfg.eval_closed]
    opened = [r for r in rows if r["ability"] == "open"][: cfg.eval_open]
    return closed + opened


def run_pipeline(
    cfg: TrainConfig, out: Path, *, data: str | None = None, stage: str = "all", log=print
) -> dict:
    """Run the stages named by ``stage`` (``all``, ``sft``, ``grpo`` or ``eval``)."""
    from labcore.models import load_causal_lm
    from searcher.env import SearchEnvironment
    from searcher.evaluate import evaluate
    from searcher.grpo import run_grpo
    from searcher.index import build_index_folder
    from searcher.sft import run_sft
    from searcher.synth import synthesize

    seed_everything(cfg.seed)
    out.mkdir(parents=True, exist_ok=True)
    write_json(out / "config.json", dataclasses.asdict(cfg))
    data_dir = Path(data) if data else out / "data"
    if not (data_dir / "manifest.json").is_file():
        log(f"writing the benchmark to {data_dir}")
        synthesize(data_dir, cfg.synth)
    index_dir = out / f"index-{cfg.index_kind}"
    if not (index_dir / "meta.json").is_file():
        log(f"indexing into {index_dir}")
        build_index_folder(
            data_dir / "corpus.jsonl",
            index_dir,
            pages=data_dir / "webpages.jsonl",
            kind=cfg.index_kind,
        )
    env = SearchEnvironment.from_folder(index_dir, topk=3)
    results: dict = {}
    rows = _eval_rows(data_dir, cfg)
    random.Random(cfg.seed).shuffle(rows)

    def evaluate_model(name: str, path) -> None:
        summary_file = out / "eval" / name / "summary.json"
        if stage not in ("all", "eval") or summary_file.is_file():
            return
        if name != "base" and not Path(path).is_dir():
            return
        model, tok = load_causal_lm(path)
        log(f"evaluating {name} on {len(rows)} test questions")
        results[name] = evaluate(
            model,
            tok,
            env,
            rows,
            cfg.agent,
            out / "eval" / name,
            open_scale=cfg.grpo.open_scale,
            log=log,
        )

    # Each model is evaluated as soon as it exists, so an interrupted run keeps its numbers.
    sft_model = out / "sft" / "model"
    if stage in ("all", "sft") and not sft_model.is_dir():
        model, tok = load_causal_lm(cfg.model)
        run_sft(model, tok, data_dir / "coldstart.jsonl", out / "sft", cfg.sft, cfg.seed, log=log)
    evaluate_model("sft", sft_model)
    grpo_model = out / "grpo" / "model"
    if stage in ("all", "grpo") and not grpo_model.is_dir() and cfg.grpo.steps > 0:
        model, tok = load_causal_lm(sft_model if sft_model.is_dir() else cfg.model)
        run_grpo(
            model,
            tok,
            env,
            data_dir / "rl_train.jsonl",
            out / "grpo",
            cfg.grpo,
            cfg.agent,
            cfg.seed,
            log=log,
        )
    evaluate_model("grpo", grpo_model)
    evaluate_model("base", cfg.model)
    return results
