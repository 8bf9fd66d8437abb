"""``onelayer``: data cards, sweeps and reports for the one-layer knowledge testbed."""

from __future__ import annotations

import argparse
import ast
import sys
import time
from pathlib import Path

from labcore.errors import DataError, cli_errors
from onelayer_theory import __version__
from onelayer_theory.config import PRESETS, preset
from onelayer_theory.data import World
from onelayer_theory.experiments import EXPERIMENTS, get_experiment, run_sweep
from onelayer_theory.results import (
    markdown_table,
    plot_experiment,
    read_results,
    summarize,
    write_results,
)


def _parse_sets(items: list[str]) -> dict:
    """``--set data.coverage=0.5`` pairs; values are Python literals where possible."""
    out = {}
    for item in items:
        if "=" not in item:
            raise DataError(f"--set {item!r}: expected KEY=VALUE, e.g. --set data.coverage=0.5")
        key, raw = item.split("=", 1)
        try:
            value = ast.literal_eval(raw)
        except (ValueError, SyntaxError):
            value = raw
        out[key.strip()] = value
    return out


def cmd_data(args) -> int:
    cfg = preset(args.preset).replace(**_parse_sets(args.set)).validate()
    for key, value in World(cfg.data).card().items():
        print(f"{key:>20}: {value}")
    return 0


def cmd_run(args) -> int:
    experiment = get_experiment(args.experiment)
    if args.seeds < 1:
        raise DataError(f"--seeds must be at least 1 (got {args.seeds})")
    overrides = _parse_sets(args.set)
    if args.device.startswith("cuda"):
        import torch

        if not torch.cuda.is_available():
            raise DataError("--device cuda: no CUDA device is visible")
    out = Path(args.out)
    start = time.perf_counter()
    rows = run_sweep(
        experiment,
        args.preset,
        list(range(args.seeds)),
        out,
        args.device,
        overrides,
        log=lambda m: print(m, file=sys.stderr),
    )
    variables = [experiment.variable] + ([experiment.series] if experiment.series else [])
    write_results(out / "results.csv", rows, variables)
    plot_experiment(out / f"{experiment.name}.png", rows, experiment.variable, experiment.series)
    group_by = ([experiment.series] if experiment.series else []) + [experiment.variable]
    print(f"## {experiment.name} ({args.preset}, {args.seeds} seeds): {experiment.claim}\n")
    print(markdown_table(summarize(rows, group_by), group_by))
    print(
        f"\nwrote {out / 'results.csv'} and {out / (experiment.name + '.png')} in {time.perf_counter() - start:.0f}s"
    )
    return 0


def cmd_report(args) -> int:
    for folder in args.dirs:
        rows = read_results(Path(folder))
        name = str(rows[0]["experiment"]) if rows else ""
        experiment = EXPERIMENTS.get(name)
        if experiment is None:
            raise DataError(f"{folder}: results.csv names an unknown experiment {name!r}")
        group_by = ([experiment.series] if experiment.series else []) + [experiment.variable]
        print(f"## {name} — {experiment.claim}\n")
        print(markdown_table(summarize(rows, group_by), group_by))
        print()
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="onelayer",
        description="How one-layer transformers store facts (MLP) and extract them (attention), and when extraction fails.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("data", help="print the dataset card of a preset")
    p.add_argument("--preset", default="default", choices=list(PRESETS))
    p.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a config field, e.g. data.coverage=0.5",
    )
    p.set_defaults(func=cmd_data)

    p = sub.add_parser("run", help="run a sweep and write DIR/results.csv and DIR/NAME.png")
    p.add_argument("--experiment", required=True, choices=list(EXPERIMENTS))
    p.add_argument("--preset", default="default", choices=list(PRESETS))
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument(
        "--out", required=True, help="output folder (an interrupted run resumes from it)"
    )
    p.add_argument("--device", default="cpu", help="cpu or cuda")
    p.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a config field, e.g. finetune.lr=3e-3",
    )
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("report", help="markdown tables (mean ± std over seeds) of finished runs")
    p.add_argument("dirs", nargs="+", help="folders holding results.csv")
    p.set_defaults(func=cmd_report)
    return parser


@cli_errors
def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``onelayer`` console script."""
    args = build_parser().parse_args(argv)
    return args.func(args)
