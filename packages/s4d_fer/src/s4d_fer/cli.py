"""Command line: ``train`` (the pipeline) and ``s4d-fer`` (train, synth, predict, ablation, report).

Every config field is an option (``--data.root PATH``, ``--model.preset base``,
``--finetune.epochs 20``); ``--config FILE``, ``--print_config`` and ``--preset`` come
from :mod:`labcore.cli`. Options, stages and paths are checked before any work.
Nothing here imports torch: ``--help`` and refusals are fast.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

from labcore.cli import App, Arg, Command, report_command
from labcore.errors import DataError
from s4d_fer import __version__
from s4d_fer.config import PRESETS, RunConfig, SynthConfig, as_dict
from s4d_fer.train.checks import PACKAGE, check_data, check_out, missing_inputs, needs_images

STAGES = ("all", "pretrain", "finetune", "test")
#: ``{preset}`` is replaced by the preset's name.
DEFAULT_OUT = "runs/s4d_fer/{preset}"


def _out(args) -> Path:
    return Path(str(args.out).replace("{preset}", str(args.preset)))


#: Options that choose what a command does to a run folder, not what the run is.
ACTIONS = ("stage", "checkpoint", "folds", "seeds")


def _resolved(args) -> dict:
    """What config.json holds: the resolved options with the validated values (model sizes),
    without the per-invocation actions (``--stage``, ``--checkpoint``, ...)."""
    kept = {k: v for k, v in args.resolved.items() if k not in ACTIONS}
    return {**kept, **as_dict(args.config)}


# ---------------------------------------------------------------- train


def check_train(args) -> None:
    cfg, out = args.config, _out(args)
    if args.checkpoint and not Path(args.checkpoint).is_file():
        raise DataError(f"--checkpoint {args.checkpoint}: file not found")
    if args.folds:
        from s4d_fer.train.folds import parse_folds

        parse_folds(args.folds)
        if args.stage != "all":
            raise DataError("--folds runs every stage; leave --stage at all")
    elif args.stage in ("finetune", "test"):
        reason = missing_inputs(out, args.stage, args.checkpoint, cfg)
        if reason:
            raise DataError(reason)
    check_out(out)
    check_data(cfg, needs_images(cfg))


def result_table(metrics: dict, cfg: RunConfig, out: Path) -> str:
    lines = [
        f"S4D on {cfg.data.dataset} (fold {cfg.data.fold}) - run folder {out}",
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
    times = metrics.get("stage_seconds") or {}
    if times:
        lines.append("time by stage: " + ", ".join(f"{k} {v:.0f} s" for k, v in times.items()))
    return "\n".join(lines)


def cmd_train(args) -> int:
    out, resolved = _out(args), _resolved(args)
    if args.folds:
        return _train_folds(args, out, resolved)
    from s4d_fer.train.pipeline import run_pipeline

    metrics = run_pipeline(
        args.config, out, args.stage, args.checkpoint, resolved=resolved, device=args.device
    )
    if "war" in metrics:
        print(result_table(metrics, args.config, out))
    else:
        print(f"stage {args.stage} done: {out}")
    return 0


def _train_folds(args, out: Path, resolved: dict) -> int:
    from labcore.rundir import RunDir
    from s4d_fer.train.folds import parse_folds, run_folds

    run = RunDir.open(
        out, package=PACKAGE, command="folds", config=resolved, device=args.device,
        threads=args.threads,
    )  # fmt: skip
    if run.finished:
        print(f"{out}: already finished")
        summary = run.load_metrics()
    else:
        summary = run_folds(args.config, parse_folds(args.folds), run, resolved, device=args.device)
        summary = run.finish(**summary)
    print("| fold | WAR (%) | UAR (%) |\n|---|---|---|")
    for k, m in summary["folds"].items():
        print(f"| {k} | {100 * m['war']:.2f} | {100 * m['uar']:.2f} |")
    if "war" in summary:
        print(
            f"| mean ± std | {100 * summary['war']:.2f} ± {100 * summary['war_std']:.2f} "
            f"| {100 * summary['uar']:.2f} ± {100 * summary['uar_std']:.2f} |"
        )
    return 0


# ---------------------------------------------------------------- synth


def _synth_presets() -> dict[str, dict]:
    return {
        name: {k.split(".", 1)[1]: v for k, v in values.items() if k.startswith("synth.")}
        for name, values in PRESETS.items()
    }


def check_synth(args) -> None:
    out = args.out
    if out.exists() and not out.is_dir():
        raise DataError(f"--out {out}: is a file, not a folder")
    if out.is_dir() and any(out.iterdir()):
        manifest = out / "synth.json"
        if not manifest.is_file():
            raise DataError(
                f"--out {out}: exists and is not a synthetic benchmark (no synth.json); "
                "nothing was changed — choose another folder"
            )
        old = json.loads(manifest.read_text(encoding="utf-8")).get("config")
        if old != dataclasses.asdict(args.config):
            raise DataError(
                f"--out {out}: holds a benchmark rendered with other settings ({old}); "
                "choose another folder"
            )


def cmd_synth(args) -> int:
    if (args.out / "synth.json").is_file():
        print(f"{args.out}: already rendered with these settings")
        return 0
    from s4d_fer.synth import write_synth

    write_synth(args.out, args.config)
    return 0


# ---------------------------------------------------------------- predict, ablation, report


def check_predict(args) -> None:
    if not Path(args.path).exists():
        raise DataError(f"{args.path}: not found")
    if not Path(args.checkpoint).is_file():
        raise DataError(f"--checkpoint {args.checkpoint}: file not found")


def cmd_predict(args) -> int:
    from s4d_fer.eval.predict import predict

    print(json.dumps(predict(args.path, args.checkpoint), indent=2))
    return 0


def check_ablation(args) -> None:
    if args.seeds < 1:
        raise DataError(f"--seeds must be at least 1 (got {args.seeds})")
    check_out(_out(args))
    check_data(args.config, True)


def cmd_ablation(args) -> int:
    from labcore.rundir import RunDir
    from s4d_fer.report import report
    from s4d_fer.train.ablation import run_ablation

    out = _out(args)
    resolved = {**_resolved(args), "seeds": list(range(args.seeds))}
    run = RunDir.open(
        out, package=PACKAGE, command="ablation", config=resolved, device=args.device,
        threads=args.threads,
    )  # fmt: skip
    if run.finished:
        print(f"{out}: already finished")
    else:
        rows = run_ablation(args.config, resolved["seeds"], run, resolved, device=args.device)
        run.finish(runs=len(rows))
    print(report([out]))
    return 0


app = App(
    "s4d-fer",
    "S4D: dual-modal MAE pre-training and Mixture-of-Adapter-Experts fine-tuning for "
    "facial-expression recognition, on an embedded synthetic benchmark or real datasets.",
    package=PACKAGE,
    version=__version__,
    commands=[
        Command(
            "train",
            cmd_train,
            help="the pipeline: synth (if missing) -> MAE pre-training -> fine-tuning -> test",
            config=RunConfig,
            presets=PRESETS,
            out=DEFAULT_OUT,
            args=[
                Arg(
                    "--stage",
                    type=str,
                    default="all",
                    choices=list(STAGES),
                    help="run one stage only (finetune and test need the earlier stages' outputs)",
                ),
                Arg(
                    "--checkpoint",
                    type=str,
                    default=None,
                    help="--stage finetune: our encoder.pt or a public VideoMAE / MAE-DFER / S4D ViT file; --stage test: model.pt",
                ),
                Arg(
                    "--folds",
                    type=str,
                    default=None,
                    help="run several folds into OUT/fold{k}, e.g. 1,2,3 or all; mean ± std",
                ),
            ],
            check=check_train,
        ),
        Command(
            "synth",
            cmd_synth,
            help="render the synthetic benchmark (DFEW + AffectNet layouts) into --out",
            config=SynthConfig,
            presets=_synth_presets(),
            common=("threads",),
            check=check_synth,
        ),
        Command(
            "predict",
            cmd_predict,
            help="per-class probabilities for an image, video file or frame folder",
            out=None,
            common=("threads",),
            args=[
                Arg("path", type=str, help="an image, a video file or a folder of frames"),
                Arg("--checkpoint", type=str, required=True, help="finetune/model.pt of a run"),
            ],
            check=check_predict,
        ),
        Command(
            "ablation",
            cmd_ablation,
            help="the five-configuration ablation over seeds (run folders report reads)",
            config=RunConfig,
            presets=PRESETS,
            default_preset="ablation",
            out=DEFAULT_OUT,
            args=[Arg("--seeds", type=int, default=3, help="seeds 0..N-1")],
            check=check_ablation,
        ),
        report_command("s4d_fer.report:report"),
    ],
)

main = app.main
train_main = app.entry("train")
