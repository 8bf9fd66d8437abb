"""``knowledge-dynamics``: synth, pretrain, inject, analyze, run (whole pipeline), experiments, report.

Every command is a :class:`labcore.cli.App` command over the dataclasses of
:mod:`knowledge_dynamics.config`: ``--config FILE``, dotted options (``--inject.window 5``),
``--preset``, ``--print_config``, strict keys. Nothing here imports torch: ``--help`` and
refusals are fast, and every option and input file is checked before any work.
"""

from __future__ import annotations

import sys
from pathlib import Path

from knowledge_dynamics import __version__
from knowledge_dynamics.config import (
    PRESETS,
    AnalyzeJob,
    Config,
    ExperimentsJob,
    InjectJob,
    RunJob,
    SynthJob,
)
from labcore.cli import App, Arg, Command, report_command
from labcore.errors import DataError

PACKAGE = "knowledge_dynamics"


def _print_summary(metrics: dict) -> None:
    item = metrics.get("effectivity_item_specific", {})
    print(
        f"{'scenario':<11}{'probe':<14}{'effectivity':>12}{'item-spec.':>11}{'decay a':>9}"
        f"{'R2':>7}{'x0(log10)':>10}"
    )
    for s, by_type in metrics["effectivity"].items():
        for pt, e in by_type.items():
            vals = [
                e,
                item.get(s, {}).get(pt),
                metrics["decay_constant"][s][pt],
                metrics["r2"][s][pt],
                metrics["learnability_threshold"][s][pt],
            ]
            cells = "".join(
                f"{v:>{w}.3f}" if v is not None else f"{'n/a':>{w}}"
                for v, w in zip(vals, (12, 11, 9, 7, 10), strict=True)
            )
            print(f"{s:<11}{pt:<14}{cells}")


def _open(args):
    from knowledge_dynamics.train.runner import open_run

    return open_run(args.out, args.command, args.resolved, args.device)


def cmd_synth(args) -> int:
    from knowledge_dynamics.data.knowledge import save_fictional_knowledge
    from knowledge_dynamics.synth.generator import synth_knowledge
    from labcore.io import read_json

    job: SynthJob = args.config
    items = synth_knowledge(job.synth.n_items, job.seed, job.synth.n_paraphrases)
    data = [it.to_json() for it in items]
    out = Path(args.options["out"])
    if out.exists():
        if out.is_file() and read_json(out) == data:
            print(f"{out}: already holds these {len(items)} items")
            return 0
        raise DataError(f"--out {out}: exists and is not this knowledge set; choose another path")
    save_fictional_knowledge(out, items)
    print(f"wrote {len(items)} items to {out}")
    return 0


def cmd_pretrain(args) -> int:
    from knowledge_dynamics.train.pretrain import pretrain

    run = _open(args)
    if run.finished:
        print(f"{run.path}: already finished", file=sys.stderr)
    stages = pretrain(args.config, run, args.device)  # returns the stages of a finished run
    for name, path in stages.items():
        print(f"{name}: {path}")
    return 0


def cmd_inject(args) -> int:
    job: InjectJob = args.config
    run = _open(args)
    if run.finished:
        print(f"{run.path}: already finished", file=sys.stderr)
        _print_summary(run.load_metrics())
        return 0
    from knowledge_dynamics.train.runner import finish_inject, run_control, run_inject

    cfg = job.base()
    run_inject(cfg, job.checkpoint, run, job.knowledge, device=args.device)
    run_control(cfg, job.checkpoint, run, job.knowledge, device=args.device)
    _print_summary(finish_inject(run, cfg))
    return 0


def _check_analyze(args) -> None:
    from labcore.rundir import is_run_dir

    path = Path(args.run_dir)
    if not is_run_dir(path, PACKAGE):
        raise DataError(f"{path}: not a {PACKAGE} run folder (no run.json)")
    if not (path / "plan.json").is_file() or not (path / "probe_log.npz").is_file():
        raise DataError(f"{path}: not a finished injection run (no plan.json / probe_log.npz)")


def cmd_analyze(args) -> int:
    from knowledge_dynamics.eval.analyze import analyze

    run = Path(args.run_dir)
    metrics = analyze(run, args.config.analysis)
    _print_summary(metrics)
    print(f"wrote {run / 'metrics.json'} and {run / 'plots'}/")
    return 0


def cmd_run(args) -> int:
    job: RunJob = args.config
    top = _open(args)
    if top.finished:
        print(f"{top.path}: already finished", file=sys.stderr)
        _print_summary(top.load_metrics())
        return 0
    from knowledge_dynamics.train.pretrain import pretrain, pretrain_config
    from knowledge_dynamics.train.runner import finish_inject, open_run, run_control, run_inject

    cfg = job.base()
    sub = open_run(top.path / "pretrain", "pretrain", pretrain_config(cfg), args.device)
    checkpoint = str(pretrain(cfg, sub, args.device)[job.stage])
    run_inject(cfg, checkpoint, top, job.knowledge, device=args.device)
    run_control(cfg, checkpoint, top, job.knowledge, device=args.device)
    _print_summary(finish_inject(top, cfg))
    print(f"wrote {top.metrics_file}")
    return 0


def cmd_experiments(args) -> int:
    from knowledge_dynamics.report import markdown, verdicts
    from knowledge_dynamics.train.experiments import run_experiments, summarize_folder

    top = _open(args)
    if top.finished:
        print(f"{top.path}: already finished", file=sys.stderr)
        summary = summarize_folder(top)
    else:
        summary = run_experiments(args.config, top, args.device)
        top.finish(conditions=list(summary), seeds=args.config.seeds)
    print(markdown(summary))
    print(verdicts(summary))
    return 0


app = App(
    "knowledge-dynamics",
    "Inject fictional facts into LM pretraining and measure acquisition and forgetting.",
    package=PACKAGE,
    version=__version__,
    commands=[
        Command("synth", cmd_synth, help="write a Fictional Knowledge file (paper schema)",
                config=SynthJob, out=None, common=(),
                args=[Arg("--out", type=str, required=True, help="the JSON file to write")]),
        Command("pretrain", cmd_pretrain, help="train the tiny model (or continue SmolLM2's pretraining); save early/mid/late stages",
                config=Config, presets=PRESETS),
        Command("inject", cmd_inject, help="continued pretraining with injected knowledge, probes, metrics",
                config=InjectJob, presets=PRESETS),
        Command("analyze", cmd_analyze, help="recompute metrics.json and plots of an injection run",
                config=AnalyzeJob, out=None, common=(), check=_check_analyze,
                args=[Arg("run_dir", type=str, help="an inject / run folder")]),
        Command("run", cmd_run, help="the whole pipeline: pretrain -> inject -> analyze",
                config=RunJob, presets=PRESETS),
        Command("experiments", cmd_experiments, help="the README experiment set (stages, batch, LR, size)",
                config=ExperimentsJob, presets=PRESETS),
        report_command("knowledge_dynamics.report:report"),
    ],
)  # fmt: skip
main = app.main

if __name__ == "__main__":
    sys.exit(main())
