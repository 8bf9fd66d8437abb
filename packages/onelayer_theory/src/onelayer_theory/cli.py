"""``onelayer``: dataset cards, sweeps and reports for the one-layer knowledge testbed.

Every option of a run is a field of :class:`~onelayer_theory.config.RunConfig`
(``--data.coverage 0.5``, ``--finetune.lr 3e-3``, ``--config FILE``, ``--print_config``);
``--preset`` picks named defaults. Nothing here imports torch at import time, so
``--help`` and refusals are instant; the commands import it when they run.
"""

from __future__ import annotations

import sys
import time

from labcore.cli import App, Arg, Command, report_command
from labcore.errors import DataError
from onelayer_theory import __version__
from onelayer_theory.config import PRESETS, RealModelConfig, RunConfig
from onelayer_theory.experiments import EXPERIMENTS, build_runs, get_experiment

PACKAGE = "onelayer_theory"


def cmd_data(args) -> int:
    """Print the dataset card of the configured world."""
    from onelayer_theory.synth import World

    for key, value in World(args.config.data).card().items():
        print(f"{key:>20}: {value}")
    return 0


def _seeds(args) -> list[int]:
    return list(range(args.config.seed, args.config.seed + args.seeds))


def check_run(args) -> None:
    """Refuse a bad experiment, seed count or grid point before anything is written."""
    experiment = get_experiment(args.experiment)
    if args.seeds < 1:
        raise DataError(f"--seeds must be at least 1 (got {args.seeds})")
    build_runs(experiment, args.config, args.preset, _seeds(args))  # validates every point


def cmd_run(args) -> int:
    """Run a sweep into the run folder ``--out``; an interrupted sweep resumes from it."""
    from labcore.rundir import RunDir
    from labcore.train import seed_everything
    from onelayer_theory.report import (
        experiment_report,
        plot_experiment,
        plot_losses,
        summary_metrics,
        write_results,
    )

    experiment = get_experiment(args.experiment)
    runs = build_runs(experiment, args.config, args.preset, _seeds(args))
    run = RunDir.for_args(args, PACKAGE)
    title = f"{experiment.name} ({args.preset}, {args.seeds} seeds)"
    if run.finished:
        print(f"{run.path}: already finished", file=sys.stderr)
        print(experiment_report(experiment.name, _read(run.path), title))
        return 0
    from onelayer_theory.train.sweep import run_sweep

    seed_everything(args.config.seed)
    start = time.perf_counter()
    run.print(f"{title}: {len(runs)} model(s) on {args.device}, {args.threads} thread(s)")

    def log_history(stage: str, group: int, history: list[dict]) -> None:
        for entry in history:
            losses = entry["loss"]
            run.log(
                entry["step"],
                stage=stage,
                group=group,
                members=len(losses),
                loss_mean=sum(losses) / len(losses),
                loss_max=max(losses),
            )

    rows = run_sweep(experiment, runs, run.path, args.device, run.print, log_history)
    write_results(run.path / "results.csv", rows, experiment.columns)
    plot_experiment(
        run.plots / f"{experiment.name}.png", rows, experiment.variable, experiment.series
    )
    plot_losses(run.plots / "training_loss.png", run.history())
    elapsed = time.perf_counter() - start
    run.finish(
        experiment=experiment.name,
        models=len(rows),
        seconds=round(elapsed, 1),
        points=summary_metrics(rows, experiment.group_by),
    )
    print(experiment_report(experiment.name, rows, title))
    run.print(f"wrote {run.path} ({len(rows)} results) in {elapsed:.0f}s")
    return 0


def cmd_realmodel(args) -> int:
    """The real-model experiment (``realmodel.py``) into the run folder ``--out``."""
    from labcore.io import write_json
    from labcore.rundir import RunDir
    from onelayer_theory.realmodel import run_real_model

    run = RunDir.for_args(args, PACKAGE)
    if run.finished:
        print(f"{run.path}: already finished", file=sys.stderr)
        print((run.path / "result.json").read_text())
        return 0
    start = time.perf_counter()
    result = run_real_model(args.config, device=args.device, log=run.print)
    write_json(run.path / "result.json", result)
    run.finish(seconds=round(time.perf_counter() - start, 1), **result)
    for stage in ("base", "pretrained", "finetuned"):
        cells = [f"{n}_acc {result[f'{n}_acc_{stage}']:.3f}" for n in ("stored", "heldout", "ft")]
        print(f"{stage:>10}: " + ", ".join(cells))
    return 0


#: Named defaults of ``onelayer realmodel``.
REAL_PRESETS = {
    "smoke": {
        "data.n_subjects": 8,
        "data.n_relations": 2,
        "data.answers_per_relation": 4,
        "data.templates_per_relation": 2,
        "data.multiplicity": 2,
        "pretrain_steps": 6,
        "finetune_steps": 3,
        "batch_size": 4,
    },
    "default": {},
}


def _read(path):
    from onelayer_theory.report import read_results

    return read_results(path)


app = App(
    "onelayer",
    "How one-layer transformers store facts (MLP) and extract them (attention), "
    "and when extraction fails.",
    package=PACKAGE,
    version=__version__,
    commands=[
        Command(
            "data",
            cmd_data,
            help="print the dataset card of a configured world",
            config=RunConfig,
            presets=PRESETS,
            out=None,
            common=(),
        ),
        Command(
            "run",
            cmd_run,
            help="run a sweep into a run folder (results.csv, metrics, plots; resumable)",
            config=RunConfig,
            presets=PRESETS,
            args=[
                Arg(
                    "--experiment",
                    required=True,
                    choices=list(EXPERIMENTS),
                    help="the sweep (see the README's Experiments table)",
                ),
                Arg(
                    "--seeds",
                    type=int,
                    default=3,
                    help="seeds per grid point: seed .. seed+N-1 (each seeds the world and the model)",
                ),
            ],
            check=check_run,
        ),
        Command(
            "realmodel",
            cmd_realmodel,
            help="a pretrained LM (bundled SmolLM2-135M) learns new people, then Q&A fine-tuning",
            config=RealModelConfig,
            presets=REAL_PRESETS,
            check=lambda args: args.config.validate(),
        ),
        report_command(
            "onelayer_theory.report:report",
            help="markdown tables (mean ± std over seeds) of finished run folders",
        ),
    ],
)
main = app.main
