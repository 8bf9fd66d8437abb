"""Command line: ``searcher synth | index | serve | ask | eval | train | report``.

One labcore :class:`~labcore.cli.App`: dotted options from the config dataclasses in
:mod:`searcher.config`, ``--config FILE``, ``--print_config``, presets, strict keys. Every
option and path is checked before any model loads; torch is imported only inside commands.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from labcore.cli import App, Arg, Command, report_command
from labcore.errors import DataError
from searcher import __version__
from searcher.config import (
    TRAIN_PRESETS,
    AskConfig,
    EnvConfig,
    EvalConfig,
    IndexConfig,
    ServeConfig,
    SynthConfig,
    TrainConfig,
)

PACKAGE = "searcher"


def _log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


# ---------------------------------------------------------------- checks (before any work)


def _check_new_folder(out: Path) -> None:
    """A data folder we are about to write must be missing or empty: we never replace one."""
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise DataError(
            f"--out {out}: exists and is not empty; nothing was changed — choose another folder"
        )


def _check_run_folder(out: Path) -> None:
    """``--out`` of a results command: missing, empty, or a searcher run folder."""
    from labcore.rundir import is_run_dir

    if out.exists() and not out.is_dir():
        raise DataError(f"--out {out}: is a file, not a folder")
    if out.is_dir() and any(out.iterdir()) and not is_run_dir(out, PACKAGE):
        raise DataError(
            f"--out {out}: exists and is not a searcher run folder (no run.json); "
            "nothing was changed — choose another folder"
        )


def _check_env(env: EnvConfig) -> None:
    if env.index and not (Path(env.index) / "meta.json").is_file():
        raise DataError(
            f"--env.index {env.index}: not a searcher index folder (no meta.json); "
            "write one with `searcher index`"
        )
    if env.url and not env.url.startswith(("http://", "https://")):
        raise DataError(f"--env.url {env.url}: expected http://HOST:PORT")


def _check_model(name: str) -> None:
    """A model given as a path must exist (bundled names and hub ids are resolved at load)."""
    path = Path(name).expanduser()
    if (name.startswith((".", "/", "~")) or path.suffix == ".gguf") and not path.exists():
        raise DataError(f"--model {name}: no such model folder or file")


def _check_synth(args) -> None:
    from searcher.synth.build import existing_manifest

    existing_manifest(args.out, args.config)


def _check_index(args) -> None:
    from searcher.data.corpus import check_passages

    cfg: IndexConfig = args.config
    check_passages(cfg.corpus)
    if cfg.pages and not Path(cfg.pages).is_file():
        raise DataError(f"--pages {cfg.pages}: file not found")
    _check_new_folder(args.out)


def _check_serve(args) -> None:
    _check_env(args.config.env)


def _check_ask(args) -> None:
    if not args.question.strip():
        raise DataError("the question is empty")
    _check_env(args.config.env)
    _check_model(args.config.model)


def _check_eval(args) -> None:
    from searcher.data.corpus import read_questions

    _check_run_folder(args.out)
    read_questions(args.config.data)
    _check_env(args.config.env)
    _check_model(args.config.model)


def _check_train(args) -> None:
    from searcher.data.sources import resolve_train_data

    _check_run_folder(args.out)
    _check_model(args.config.model)
    resolve_train_data(args.config, args.out)


# ---------------------------------------------------------------- commands


def _env(cfg: EnvConfig):
    """The in-process environment (``env.index``) or the HTTP one (``env.url``)."""
    if cfg.url:
        from searcher.client import HTTPSearchEnvironment

        env = HTTPSearchEnvironment(cfg.url, topk=cfg.topk)
        env.health()
        return env
    from searcher.agent.env import SearchEnvironment

    llm = None
    if cfg.learnings == "llm":
        from labcore.llm import LocalChatModel

        llm = LocalChatModel(cfg.learnings_model)
    return SearchEnvironment.from_folder(cfg.index, topk=cfg.topk, learnings=cfg.learnings, llm=llm)


def _synth(args) -> int:
    from searcher.synth.build import synthesize

    manifest = synthesize(args.out, args.config)
    print(json.dumps(manifest, indent=2))
    return 0


def _index(args) -> int:
    from searcher.index import build_index_folder

    cfg: IndexConfig = args.config
    out = build_index_folder(cfg.corpus, args.out, pages=cfg.pages, kind=cfg.kind)
    print(f"wrote {cfg.kind} index to {out}")
    return 0


def _serve(args) -> int:
    from searcher.server import Limits, serve

    cfg: ServeConfig = args.config
    env = _env(cfg.env)
    _log(f"serving {cfg.env.index} on http://{cfg.host}:{cfg.port}")
    serve(env, cfg.host, cfg.port, Limits(max_queries=cfg.max_queries))
    return 0


def _ask(args) -> int:
    from labcore.models import load_causal_lm
    from labcore.train import seed_everything
    from searcher.agent.loop import run_episodes
    from searcher.agent.policy import Policy

    cfg: AskConfig = args.config
    seed_everything(args.seed)
    env = _env(cfg.env)
    model, tok = load_causal_lm(cfg.model, device=args.device)
    traj = run_episodes(Policy(model, tok), env, [args.question], [cfg.ability], cfg.agent)[0]
    for i, turn in enumerate(traj.turns, 1):
        print(f"--- turn {i} ({turn['action']})\n{turn['response']}")
        if "learnings" in turn:
            print(f"--- learnings\n{turn['learnings']}")
    print(f"=== answer: {traj.answer}")
    return 0


def _eval(args) -> int:
    from labcore.rundir import RunDir

    cfg: EvalConfig = args.config
    run = RunDir.for_args(args, PACKAGE)
    if run.finished:
        print(f"{run.path}: already finished")
        print(json.dumps(run.load_metrics(), indent=2))
        return 0
    from labcore.models import load_causal_lm
    from labcore.train import seed_everything
    from searcher.data.corpus import read_questions
    from searcher.eval.evaluate import evaluate, log_traces

    seed_everything(args.seed)
    rows = read_questions(cfg.data)
    if cfg.limit is not None:
        rows = rows[: cfg.limit]
    judge = None
    if cfg.judge_model:
        from labcore.llm import OpenAIChatModel

        judge = OpenAIChatModel(cfg.judge_model, base_url=cfg.judge_url)
    env = _env(cfg.env)
    model, tok = load_causal_lm(cfg.model, device=args.device)
    run.print(f"evaluating {cfg.model} on {len(rows)} questions")
    summary = evaluate(
        model, tok, env, rows, cfg.agent, run.path, open_scale=cfg.open_scale, judge=judge,
        samples=cfg.samples, sample_temperature=cfg.sample_temperature, log=run.print,
    )  # fmt: skip
    log_traces(run)
    run.finish(**summary)
    print(json.dumps(summary, indent=2))
    return 0


def _train(args) -> int:
    from labcore.rundir import RunDir
    from searcher.data.sources import resolve_train_data

    data = resolve_train_data(args.config, args.out)
    run = RunDir.for_args(args, PACKAGE)
    if run.finished:
        from searcher.report import results_table

        print(f"{run.path}: already finished")
        print(results_table([run]))
        return 0
    from searcher.report import results_table
    from searcher.train.pipeline import run_pipeline

    run.print(f"searcher train --preset {args.preset} into {run.path} ({run.status})")
    results = run_pipeline(args.config, run, data, device=args.device)
    run.finish(**results)
    print(results_table([run]))
    return 0


app = App(
    "searcher",
    "O²-Searcher: an RL-trained search agent for open- and closed-ended questions over a "
    "local search environment.",
    package=PACKAGE,
    version=__version__,
    commands=[
        Command("synth", _synth, help="write the embedded benchmark (a searcher data folder)",
                config=SynthConfig, common=(), check=_check_synth),
        Command("index", _index, help="index a FlashRAG corpus (and a web-page cache)",
                config=IndexConfig, common=("threads",), check=_check_index),
        Command("serve", _serve, help="serve an index over HTTP (loopback by default)",
                config=ServeConfig, out=None, common=("threads",), check=_check_serve),
        Command("ask", _ask, help="run one question and print the trace", config=AskConfig,
                out=None, args=[Arg("question", type=str, help="the question")],
                check=_check_ask),
        Command("eval", _eval, help="evaluate a model on a question file (a run folder)",
                config=EvalConfig, check=_check_eval),
        Command("train", _train, help="benchmark, index, cold-start SFT, GRPO, evaluation",
                config=TrainConfig, presets=TRAIN_PRESETS, default_preset="smoke",
                check=_check_train),
        report_command("searcher.report:report", help="the README's results tables from run folders"),
    ],
)  # fmt: skip
main = app.main

if __name__ == "__main__":
    sys.exit(main())
