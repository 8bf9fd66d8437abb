"""``searcher train``: benchmark → index → cold-start SFT → GRPO → evaluation, in one run folder.

The run folder (a labcore :class:`~labcore.rundir.RunDir`) holds ``config.json``, ``log.txt``,
``metrics.csv`` (one row per SFT step and per GRPO step, with a ``stage`` column),
``metrics.json`` (the evaluation summary of each model: ``base``, ``sft``, ``grpo``),
``plots/*.png`` and the stages' own folders (``data/``, ``index-<kind>/``, ``sft/``, ``grpo/``,
``eval/<model>/traces.jsonl``). Each stage writes its output atomically and is skipped when that
output exists, so a killed run resumes where it stopped (SFT and GRPO also resume from their
checkpoints).
"""

from __future__ import annotations

import random
from pathlib import Path

from searcher.config import TrainConfig
from searcher.data.sources import TrainData

#: The models a train run evaluates, in the order of the results table.
MODELS = ("base", "sft", "grpo")


def _eval_rows(test: Path, cfg: TrainConfig) -> list[dict]:
    from searcher.data.corpus import read_questions

    rows = read_questions(test)
    closed = [r for r in rows if r["ability"] == "closed"][: cfg.eval_closed]
    opened = [r for r in rows if r["ability"] == "open"][: cfg.eval_open]
    return closed + opened


def plot_curves(run) -> None:
    """SFT loss and GRPO reward / loss / KL over steps, from ``metrics.csv``."""
    from labcore.plots import plot_curves as plot

    rows = run.history()
    sft = [r for r in rows if r.get("stage") == "sft" and "sft/loss" in r]
    if sft:
        plot(
            run.plots / "sft_loss.png",
            {
                "SFT loss (assistant tokens)": (
                    [r["step"] for r in sft],
                    [r["sft/loss"] for r in sft],
                )
            },
            xlabel="SFT step",
            ylabel="loss",
            title="cold-start SFT",
        )
    grpo = [r for r in rows if r.get("stage") == "grpo"]
    for key, label in (("reward", "reward"), ("loss", "loss"), ("kl", "KL")):
        points = [(r["step"], r[f"grpo/{key}"]) for r in grpo if f"grpo/{key}" in r]
        if points:
            plot(
                run.plots / f"grpo_{key}.png",
                {f"GRPO {label}": ([p[0] for p in points], [p[1] for p in points])},
                xlabel="GRPO step",
                ylabel=label,
                title=f"GRPO {label} per step",
            )


def run_pipeline(cfg: TrainConfig, run, data: TrainData, *, device: str = "cpu") -> dict:
    """Run every stage that has not run yet; returns the evaluation summaries by model."""
    import torch

    from labcore.models import load_causal_lm
    from labcore.train import seed_everything
    from searcher.agent.env import SearchEnvironment
    from searcher.eval.evaluate import evaluate
    from searcher.index import build_index_folder
    from searcher.synth.build import synthesize
    from searcher.train.grpo import run_grpo
    from searcher.train.sft import run_sft

    log = run.print
    seed_everything(cfg.seed)
    out = run.path
    if data.synth_into is not None and not (data.synth_into / "manifest.json").is_file():
        log(f"writing the benchmark to {data.synth_into}")
        synthesize(data.synth_into, cfg.synth)
    index_dir = out / f"index-{cfg.index_kind}"
    if not (index_dir / "meta.json").is_file():
        log(f"indexing into {index_dir}")
        build_index_folder(data.corpus, index_dir, pages=data.pages, kind=cfg.index_kind)
    env = SearchEnvironment.from_folder(index_dir, topk=cfg.topk)
    rows = _eval_rows(data.test, cfg)
    random.Random(cfg.seed).shuffle(rows)
    results: dict = {k: v for k, v in run.load_metrics().items() if k in MODELS}

    def evaluate_model(name: str, path) -> None:
        if name in results or not rows:
            return
        if name != "base" and not Path(path).is_dir():
            return
        model, tok = load_causal_lm(path, device=device)
        plays = f" (greedy + {cfg.eval_samples} sampled each)" if cfg.eval_samples else ""
        log(f"evaluating {name} on {len(rows)} test questions{plays}")
        summary = evaluate(
            model,
            tok,
            env,
            rows,
            cfg.agent,
            out / "eval" / name,
            open_scale=cfg.grpo.open_scale,
            samples=cfg.eval_samples,
            sample_temperature=cfg.eval_temperature or cfg.grpo.temperature,
            seed=cfg.seed,
            log=log,
        )
        results[name] = summary
        run.update_metrics(**{name: summary})

    def sft_step(step: int, **metrics) -> None:
        run.log(step, stage="sft", **{f"sft/{k}": v for k, v in metrics.items()})

    def grpo_log(step: int, logs: dict) -> None:
        if "train_runtime" in logs:  # the trainer's closing summary, not a step
            return
        run.log(step, stage="grpo", **{f"grpo/{k}": v for k, v in logs.items()})

    # Each model is evaluated as soon as it exists, so an interrupted run keeps its numbers.
    sft_model = out / "sft" / "model"
    if data.coldstart is not None and not sft_model.is_dir():
        # fp32 master weights; SFT autocasts to bf16 on CUDA, TRL's bf16 does the same.
        model, tok = load_causal_lm(cfg.model, device=device, dtype=torch.float32)
        run_sft(
            model, tok, data.coldstart, out / "sft", cfg.sft, cfg.seed, log=log, on_step=sft_step
        )
        plot_curves(run)
    evaluate_model("sft", sft_model)
    grpo_model = out / "grpo" / "model"
    if not grpo_model.is_dir() and cfg.grpo.steps > 0:
        start = sft_model if sft_model.is_dir() else cfg.model
        model, tok = load_causal_lm(start, device=device, dtype=torch.float32)
        run_grpo(
            model,
            tok,
            env,
            data.rl_train,
            out / "grpo",
            cfg.grpo,
            cfg.agent,
            cfg.seed,
            log=log,
            on_log=grpo_log,
        )
        plot_curves(run)
    evaluate_model("grpo", grpo_model)
    evaluate_model("base", cfg.model)
    plot_curves(run)
    return results
