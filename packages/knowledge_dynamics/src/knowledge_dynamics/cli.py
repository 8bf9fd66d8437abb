"""``knowledge-dynamics``: synth, pretrain, inject, analyze, run (whole pipeline), experiments."""

from __future__ import annotations

import argparse
import ast
import sys
from pathlib import Path

from knowledge_dynamics import __version__
from knowledge_dynamics.config import PRESETS, Config, preset
from labcore.errors import DataError, cli_errors


def _parse_sets(items: list[str]) -> dict:
    out = {}
    for item in items or []:
        if "=" not in item:
            raise DataError(f"--set {item!r}: expected KEY=VALUE, e.g. --set inject.window=5")
        key, raw = item.split("=", 1)
        try:
            value = ast.literal_eval(raw)
        except (ValueError, SyntaxError):
            value = raw
        out[key.strip()] = value
    return out


def _config(args) -> Config:
    changes = _parse_sets(getattr(args, "set", []))
    if getattr(args, "batch_size", None) is not None:
        changes["inject.batch_size"] = args.batch_size
    if getattr(args, "seed", None) is not None:
        changes["synth.seed"] = args.seed
        changes["inject.seed"] = args.seed
    return preset(args.preset).replace(**changes).validate()


def cmd_synth(args) -> int:
    from knowledge_dynamics.data.knowledge import save_fictional_knowledge
    from knowledge_dynamics.data.synth import synth_knowledge

    if args.n_items < 1:
        raise DataError(f"--n-items must be at least 1 (got {args.n_items})")
    items = synth_knowledge(args.n_items, args.seed, args.paraphrases)
    save_fictional_knowledge(args.out, items)
    print(f"wrote {len(items)} items to {args.out}")
    return 0


def cmd_pretrain(args) -> int:
    cfg = _config(args)  # refuse bad options before the slow torch import
    from knowledge_dynamics.pretrain import pretrain

    stages = pretrain(cfg, args.out, progress=not args.quiet)
    for name, path in stages.items():
        print(f"{name}: {path}")
    return 0


def cmd_inject(args) -> int:
    from knowledge_dynamics.data.knowledge import load_fictional_knowledge

    cfg = _config(args)
    if args.knowledge:  # validate before the slow torch import; nothing is written on error
        load_fictional_knowledge(args.knowledge)
    from knowledge_dynamics.runner import run_inject

    out = run_inject(cfg, args.checkpoint, args.out, args.knowledge, progress=not args.quiet)
    print(f"probe log: {out / 'probe_log.npz'}")
    return 0


def cmd_analyze(args) -> int:
    from knowledge_dynamics.analyze import analyze
    from knowledge_dynamics.config import AnalysisConfig

    run = Path(args.run_dir)
    if not (run / "plan.json").is_file():
        raise DataError(f"{run}: not an injection run folder (no plan.json)")
    cfg = AnalysisConfig(iqr_factor=args.iqr_factor, fit_points=args.fit_points)
    Config(analysis=cfg).validate()
    metrics = analyze(run, cfg, args.measure)
    _print_summary(metrics)
    print(f"wrote {run / 'metrics.json'} and {run / 'plots'}/")
    return 0


def _print_summary(metrics: dict) -> None:
    print(
        f"{'scenario':<11}{'probe':<14}{'effectivity':>12}{'decay a':>9}{'R2':>7}{'x0(log10)':>10}"
    )
    for s, by_type in metrics["effectivity"].items():
        for pt, e in by_type.items():
            vals = [
                e,
                metrics["decay_constant"][s][pt],
                metrics["r2"][s][pt],
                metrics["learnability_threshold"][s][pt],
            ]
            cells = "".join(
                f"{v:>{w}.3f}" if v is not None else f"{'n/a':>{w}}"
                for v, w in zip(vals, (12, 9, 7, 10), strict=True)
            )
            print(f"{s:<11}{pt:<14}{cells}")


def cmd_run(args) -> int:
    from knowledge_dynamics.analyze import analyze
    from knowledge_dynamics.pretrain import pretrain
    from knowledge_dynamics.runner import run_inject

    cfg = _config(args)
    out = Path(args.out)
    if cfg.model.preset == "smollm2":
        checkpoint = "smollm2"
        if cfg.inject.lr == 0:  # no pretraining schedule to continue: a constant LR
            cfg = cfg.replace(**{"inject.lr": 1e-4})
    else:
        stages = pretrain(cfg, out / "pretrain", progress=not args.quiet)
        if args.stage not in stages:
            raise DataError(f"--stage must be one of {', '.join(stages)} (got {args.stage!r})")
        checkpoint = str(stages[args.stage])
    run_inject(cfg, checkpoint, out, args.knowledge, progress=not args.quiet)
    metrics = analyze(out, cfg.analysis)
    _print_summary(metrics)
    print(f"wrote {out / 'metrics.json'}")
    return 0


def cmd_experiments(args) -> int:
    from knowledge_dynamics.experiments import run_experiments

    cfg = _config(args)
    run_experiments(
        cfg,
        Path(args.out),
        seeds=args.seeds,
        only=args.only,
        progress=not args.quiet,
        reanalyze=args.reanalyze,
    )
    return 0


def _common(p: argparse.ArgumentParser, batch: bool = False) -> None:
    p.add_argument("--preset", default="default", help=f"one of {', '.join(PRESETS)}")
    p.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a config field, e.g. --set inject.window=5 (repeatable)",
    )
    p.add_argument("--seed", type=int, default=None, help="seed of the synthesized knowledge set")
    if batch:
        p.add_argument(
            "--batch-size", type=int, default=None, help="global batch (rows) for injection"
        )
    p.add_argument("--quiet", action="store_true", help="no progress bars")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="knowledge-dynamics",
        description="Inject fictional facts into LM pretraining and measure acquisition and forgetting.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("synth", help="generate a Fictional Knowledge file (paper schema)")
    p.add_argument("--out", required=True)
    p.add_argument("--n-items", type=int, default=30)
    p.add_argument("--paraphrases", type=int, default=9)
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=cmd_synth)

    p = sub.add_parser(
        "pretrain", help="train the tiny model from scratch; save early/mid/late stages"
    )
    p.add_argument("--out", required=True)
    _common(p)
    p.set_defaults(func=cmd_pretrain)

    p = sub.add_parser("inject", help="continued pretraining with injected knowledge + probe log")
    p.add_argument(
        "--checkpoint",
        required=True,
        help="a stage folder from pretrain, 'smollm2', or any HF causal LM name/path",
    )
    p.add_argument("--knowledge", default=None, help="knowledge JSON (default: synthesize)")
    p.add_argument("--out", required=True)
    _common(p, batch=True)
    p.set_defaults(func=cmd_inject)

    p = sub.add_parser("analyze", help="metrics.json and plots for an injection run")
    p.add_argument("run_dir")
    p.add_argument("--iqr-factor", type=float, default=1.5, help="1.5 (paper text) or 2.0 (code)")
    p.add_argument("--fit-points", default="grid", choices=["grid", "all"])
    p.add_argument("--measure", default="target", choices=["target", "first", "full"])
    p.set_defaults(func=cmd_analyze)

    p = sub.add_parser("run", help="the whole pipeline on the embedded default")
    p.add_argument("--out", required=True)
    p.add_argument("--stage", default="mid")
    p.add_argument("--knowledge", default=None)
    _common(p, batch=True)
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("experiments", help="the README experiment set (stages, batch size, LR)")
    p.add_argument("--out", required=True)
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--only", default=None, help="comma-separated condition names")
    p.add_argument("--reanalyze", action="store_true", help="recompute metrics of finished runs")
    _common(p)
    p.set_defaults(func=cmd_experiments)
    return parser


@cli_errors
def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``knowledge-dynamics`` console script."""
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
