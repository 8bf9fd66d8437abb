"""Command line: ``train`` (the pipeline) and ``s4d-fer`` (synth, train, predict, ablation)."""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from labcore.errors import DataError, cli_errors
from s4d_fer import __version__
from s4d_fer.config import PRESETS, RunConfig, load_config_file, preset

STAGES = ("all", "pretrain", "finetune", "test")


def parse_overrides(items: list[str]) -> dict:
    """``--data.root PATH`` / ``--data.root=PATH`` pairs -> {"data.root": "PATH"}."""
    out, i = {}, 0
    while i < len(items):
        item = items[i]
        if not item.startswith("--"):
            raise DataError(f"unexpected argument {item!r} (options look like --model.preset base)")
        key = item[2:]
        if "=" in key:
            key, value = key.split("=", 1)
            i += 1
        else:
            if i + 1 >= len(items) or items[i + 1].startswith("--"):
                raise DataError(f"option --{key} needs a value")
            value = items[i + 1]
            i += 2
        out[key.replace("-", "_") if "." not in key else key] = value
    return out


def resolve_config(preset_name: str, config_file: str | None, overrides: dict) -> RunConfig:
    """Preset, then the config file, then command-line overrides; validated."""
    cfg = preset(preset_name)
    if config_file:
        file_values = load_config_file(config_file)
        if "model.preset" in file_values:
            cfg = cfg.replace(**{"model.preset": file_values.pop("model.preset")})
        cfg = cfg.replace(**file_values)
    if "model.preset" in overrides:
        cfg = cfg.replace(**{"model.preset": overrides.pop("model.preset")})
    return cfg.replace(**overrides).validate()


def _train_parser(prog: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog=prog,
        description="Run S4D: synthesise the benchmark if missing, dual-modal MAE pre-training, "
        "MoAE fine-tuning and testing. Any config field is an option: --data.root PATH, "
        "--model.preset base, --finetune.epochs 20, ...",
    )
    p.add_argument("--preset", default="default", choices=list(PRESETS))
    p.add_argument("--stage", default="all", choices=STAGES)
    p.add_argument("--config", help="JSON or YAML file of options (nested or dotted keys)")
    p.add_argument(
        "--checkpoint", help="encoder.pt for --stage finetune, model.pt for --stage test"
    )
    p.add_argument(
        "--folds",
        help="run several folds one after another, e.g. 1,2,3,4,5 or all; prints mean ± std",
    )
    p.add_argument("--print-config", action="store_true", help="print the resolved config and exit")
    return p


def _format_table(cfg: RunConfig, metrics: dict, seconds: float) -> str:
    lines = [
        f"S4D on {cfg.data.dataset} (fold {cfg.data.fold}) - run folder {cfg.run_dir}",
        "| split | WAR (%) | UAR (%) | n |",
        "|---|---|---|---|",
        f"| video test | {100 * metrics['war']:.2f} | {100 * metrics['uar']:.2f} | {metrics['n_test']} |",
    ]
    if metrics.get("image"):
        im = metrics["image"]
        lines.append(f"| image test | {100 * im['war']:.2f} | {100 * im['uar']:.2f} | {im['n']} |")
    recall = ", ".join(
        f"{k} {100 * v:.0f}" for k, v in metrics["per_class_recall"].items() if v is not None
    )
    lines.append(f"per-class recall (video, %): {recall}")
    lines.append(f"total time {seconds / 60:.1f} min")
    return "\n".join(lines)


def _run_train(args, extra: list[str]) -> int:
    from s4d_fer.train.pipeline import run_pipeline

    cfg = resolve_config(args.preset, args.config, parse_overrides(extra))
    if args.print_config:
        from s4d_fer.config import as_dict

        print(json.dumps(as_dict(cfg), indent=2))
        return 0
    start = time.perf_counter()
    if args.folds:
        from s4d_fer.folds import parse_folds, run_folds

        summary = run_folds(cfg, parse_folds(args.folds), args.stage)
        print("| fold | WAR (%) | UAR (%) |\n|---|---|---|")
        for k, m in summary["folds"].items():
            print(f"| {k} | {100 * m['war']:.2f} | {100 * m['uar']:.2f} |")
        if "war" in summary:
            print(
                f"| mean ± std | {100 * summary['war']:.2f} ± {100 * summary['war_std']:.2f} "
                f"| {100 * summary['uar']:.2f} ± {100 * summary['uar_std']:.2f} |"
            )
        return 0
    metrics = run_pipeline(cfg, args.stage, args.checkpoint)
    if "war" in metrics and args.stage in ("all", "test"):
        print(_format_table(cfg, metrics, time.perf_counter() - start))
    else:
        print(f"stage {args.stage} done: {cfg.run_dir}")
    return 0


@cli_errors
def train_main(argv: list[str] | None = None) -> int:
    """``train``: the whole S4D pipeline on the embedded synthetic benchmark by default."""
    args, extra = _train_parser("train").parse_known_args(argv)
    return _run_train(args, extra)


def cmd_synth(args, extra) -> int:
    from s4d_fer.synth import write_synth

    cfg = resolve_config(args.preset, None, parse_overrides(extra))
    out = Path(args.out)
    if out.exists() and any(out.iterdir()) and not args.force:
        raise DataError(f"--out {out}: folder exists and is not empty (pass --force to replace it)")
    write_synth(out, cfg.synth)
    return 0


def cmd_predict(args, extra) -> int:
    from s4d_fer.predict import predict

    if extra:
        raise DataError(f"unexpected argument(s) {' '.join(extra)}")
    if not Path(args.checkpoint).is_file():
        raise DataError(f"--checkpoint {args.checkpoint}: file not found")
    print(json.dumps(predict(args.path, args.checkpoint), indent=2))
    return 0


def cmd_ablation(args, extra) -> int:
    from s4d_fer.ablation import markdown_table, run_ablation

    if args.seeds < 1:
        raise DataError(f"--seeds must be at least 1 (got {args.seeds})")
    cfg = resolve_config(args.preset, args.config, parse_overrides(extra))
    out = Path(args.out or cfg.run_dir)
    rows = run_ablation(cfg, list(range(args.seeds)), out)
    print(markdown_table(rows))
    print(f"wrote {out / 'results.csv'} and {out / 'table.md'}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="s4d-fer",
        description="S4D: dual-modal MAE pre-training and Mixture-of-Adapter-Experts fine-tuning "
        "for facial-expression recognition.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("synth", help="render the synthetic benchmark (DFEW + AffectNet layouts)")
    p.add_argument("--out", required=True)
    p.add_argument("--preset", default="default", choices=list(PRESETS))
    p.add_argument("--force", action="store_true")
    p.set_defaults(func=cmd_synth)

    p = sub.add_parser("train", help="same as the `train` command", add_help=False)
    p.set_defaults(func=None)

    p = sub.add_parser(
        "predict", help="per-class probabilities for an image, video file or frame folder"
    )
    p.add_argument("path")
    p.add_argument("--checkpoint", required=True, help="finetune/model.pt of a run")
    p.set_defaults(func=cmd_predict)

    p = sub.add_parser("ablation", help="the 5-configuration ablation over seeds")
    p.add_argument("--preset", default="ablation", choices=list(PRESETS))
    p.add_argument("--config")
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--out", help="folder for results.csv and table.md (default: the run folder)")
    p.set_defaults(func=cmd_ablation)
    return parser


@cli_errors
def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``s4d-fer`` console script."""
    import sys

    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "train":
        return train_main(argv[1:])
    args, extra = build_parser().parse_known_args(argv)
    return args.func(args, extra)
