"""Command line: ``searcher synth | index | serve | ask | eval | sft | train``."""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path

from labcore.errors import DataError, cli_errors
from searcher import __version__


def _log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def _env(args):
    """The in-process environment (``--index``) or the HTTP one (``--url``)."""
    if getattr(args, "url", None):
        from searcher.client import HTTPSearchEnvironment

        env = HTTPSearchEnvironment(args.url, topk=args.topk)
        env.health()
        return env
    if not getattr(args, "index", None):
        raise DataError("give --index DIR or --url URL")
    from searcher.env import SearchEnvironment

    llm = None
    if args.learnings == "llm":
        from labcore.llm import LocalChatModel

        llm = LocalChatModel(args.learnings_model)
    return SearchEnvironment.from_folder(
        args.index, topk=args.topk, learnings=args.learnings, llm=llm
    )


def _add_env_args(p, url: bool = True) -> None:
    p.add_argument("--index", help="index folder written by `searcher index`")
    if url:
        p.add_argument("--url", help="a running `searcher serve`, e.g. http://127.0.0.1:8000")
    p.add_argument("--topk", type=int, default=3, help="passages/pages per query (default 3)")
    p.add_argument(
        "--learnings",
        choices=["extractive", "llm"],
        default="extractive",
        help="how open-ended results become learnings (default extractive, no LLM)",
    )
    p.add_argument(
        "--learnings-model", default="smollm2-135m-instruct", help="chat model for --learnings llm"
    )


def _add_agent_args(p) -> None:
    p.add_argument("--model", default="smollm2-135m-instruct", help="model name or folder")
    p.add_argument("--max-turns", type=int, default=4)
    p.add_argument("--max-new-tokens", type=int, default=96)
    p.add_argument("--batch-size", type=int, default=64)


def _agent(args):
    from searcher.agent import AgentConfig

    if args.max_turns < 0 or args.max_new_tokens < 1 or args.batch_size < 1:
        raise DataError("--max-turns must be >= 0, --max-new-tokens and --batch-size >= 1")
    return AgentConfig(
        max_turns=args.max_turns,
        max_new_tokens=args.max_new_tokens,
        temperature=0.0,
        batch_size=args.batch_size,
    )


def _load_model(name: str):
    from labcore.models import load_causal_lm

    return load_causal_lm(name)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="searcher",
        description="O²-Searcher: an RL-trained search agent for open- and closed-ended "
        "questions over a local search environment.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("synth", help="write the embedded benchmark")
    p.add_argument("--out", required=True)
    p.add_argument("--seed", type=int, default=0)

    p = sub.add_parser("index", help="index a FlashRAG corpus (and a web-page cache)")
    p.add_argument("--corpus", required=True, help="FlashRAG JSONL: id, contents")
    p.add_argument("--pages", help="web-page cache JSONL: url, title, content")
    p.add_argument("--out", required=True)
    p.add_argument("--kind", choices=["bm25", "dense", "hybrid"], default="bm25")

    p = sub.add_parser("serve", help="serve an index over HTTP (loopback by default)")
    _add_env_args(p, url=False)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--max-queries", type=int, default=1024, help="queries per request")

    p = sub.add_parser("ask", help="run one question and print the trace")
    p.add_argument("question")
    p.add_argument("--ability", choices=["closed", "open"], default="closed")
    _add_env_args(p)
    _add_agent_args(p)

    p = sub.add_parser("eval", help="evaluate a model on a question file")
    p.add_argument("--data", required=True, help="closed (FlashRAG) and/or open (findings) JSONL")
    p.add_argument("--out", required=True, help="folder for traces.jsonl and summary.json")
    p.add_argument("--limit", type=int, help="first N questions only")
    p.add_argument("--judge-model", help="LLM judge model on an OpenAI-compatible endpoint")
    p.add_argument("--judge-url", help="base URL of the judge endpoint")
    _add_env_args(p)
    _add_agent_args(p)

    for name, helptext in (("sft", "cold-start SFT"), ("train", "cold-start SFT, then GRPO")):
        p = sub.add_parser(name, help=helptext)
        p.add_argument(
            "--preset",
            default="smoke" if name == "train" else "cpu",
            help="smoke, cpu (= default) or gpu",
        )
        p.add_argument("--data", help="benchmark folder from `searcher synth` (made if missing)")
        p.add_argument("--out", help="run folder (default runs/searcher/<preset>)")
        p.add_argument("--set", action="append", default=[], metavar="SECTION.FIELD=VALUE")
        if name == "train":
            p.add_argument("--stage", choices=["all", "sft", "grpo", "eval"], default="all")
    return parser


@cli_errors
def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``searcher`` console script."""
    args = build_parser().parse_args(argv)
    if getattr(args, "topk", 3) < 1:
        raise DataError("--topk must be at least 1")
    return {
        "synth": _synth,
        "index": _index,
        "serve": _serve,
        "ask": _ask,
        "eval": _eval,
        "sft": _train,
        "train": _train,
    }[args.command](args)


def _synth(args) -> int:
    from searcher.synth import SynthConfig, synthesize

    manifest = synthesize(args.out, SynthConfig(seed=args.seed))
    print(json.dumps(manifest, indent=2))
    return 0


def _index(args) -> int:
    from searcher.index import build_index_folder

    out = build_index_folder(args.corpus, args.out, pages=args.pages, kind=args.kind)
    print(f"wrote {args.kind} index to {out}")
    return 0


def _serve(args) -> int:
    from searcher.server import Limits, serve

    env = _env(args)
    _log(f"serving {args.index} on http://{args.host}:{args.port}")
    serve(env, args.host, args.port, Limits(max_queries=args.max_queries))
    return 0


def _ask(args) -> int:
    from searcher.agent import run_episodes
    from searcher.policy import Policy

    env = _env(args)
    model, tok = _load_model(args.model)
    traj = run_episodes(Policy(model, tok), env, [args.question], [args.ability], _agent(args))[0]
    for i, turn in enumerate(traj.turns, 1):
        print(f"--- turn {i} ({turn['action']})\n{turn['response']}")
        if "learnings" in turn:
            print(f"--- learnings\n{turn['learnings']}")
    print(f"=== answer: {traj.answer}")
    return 0


def _eval(args) -> int:
    from searcher.corpus import read_questions
    from searcher.evaluate import evaluate

    rows = read_questions(args.data)
    if args.limit is not None:
        rows = rows[: args.limit]
    judge = None
    if args.judge_model:
        from labcore.llm import OpenAIChatModel

        judge = OpenAIChatModel(args.judge_model, base_url=args.judge_url)
    env = _env(args)
    model, tok = _load_model(args.model)
    evaluate(model, tok, env, rows, _agent(args), args.out, judge=judge, log=print)
    return 0


def _train(args) -> int:
    from searcher.config import apply_overrides, preset
    from searcher.pipeline import run_pipeline

    cfg = apply_overrides(preset(args.preset), args.set)
    cfg.validate()
    out = Path(args.out or f"runs/searcher/{args.preset}")
    stage = "sft" if args.command == "sft" else args.stage
    run_pipeline(cfg, out, data=args.data, stage=stage, log=_log)
    _log(json.dumps(dataclasses.asdict(cfg))[:0])
    return 0


if __name__ == "__main__":
    sys.exit(main())
