"""Command line for comorag: synth, convert, index, add, ask, retrieve, eval."""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from pathlib import Path

from comorag import __version__
from comorag.config import IndexConfig, LoopConfig, apply_overrides, preset
from comorag.llm import DEFAULT_LLM, Agents, make_llm
from labcore.errors import DataError, cli_errors
from labcore.io import write_json, write_jsonl


def _llm_args(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--llm",
        default=DEFAULT_LLM,
        help="local:NAME_OR_PATH (transformers) or openai:MODEL (default %(default)s)",
    )
    p.add_argument(
        "--base-url",
        default=None,
        help="OpenAI-compatible server, e.g. "
        "http://127.0.0.1:8000/v1 (vLLM) or http://127.0.0.1:11434/v1 (Ollama)",
    )
    p.add_argument("--no-cache", action="store_true", help="do not use the response cache")
    p.add_argument("--batch-size", type=int, default=16, help="conversations per LLM batch")
    p.add_argument("--preset", default="default", help="smoke, default or gpu")
    p.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a config field, e.g. --set loop.max_cycles=2",
    )


def _loop_args(p: argparse.ArgumentParser) -> None:
    for layer in ("veridical", "semantic", "episodic"):
        p.add_argument(f"--no-{layer}", action="store_true", help=f"drop the {layer} layer")
    p.add_argument("--no-memory", action="store_true", help="no mem-encode/fuse (ablation)")
    p.add_argument("--no-probing", action="store_true", help="reuse the question (ablation)")
    p.add_argument("--max-cycles", type=int, default=None)
    p.add_argument(
        "--pack",
        choices=["score", "story"],
        default=None,
        help="budget filling: by score (ours) or story order (official)",
    )
    p.add_argument(
        "--show-options",
        action="store_true",
        help="put MC options into retrieval queries (official code's behaviour)",
    )
    p.add_argument("--no-fact-filter", action="store_true", help="skip the LLM fact filter")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="comorag",
        description="ComoRAG: a three-layer index plus a metacognitive memory loop for "
        "questions over long narratives.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("synth", help="generate the embedded benchmark narrative and questions")
    p.add_argument("--out", required=True)
    p.add_argument("--tokens", type=int, default=None, help="target length (default 50000)")
    p.add_argument("--questions", type=int, default=None)
    p.add_argument("--events", type=int, default=None)
    p.add_argument("--seed", type=int, default=None)
    p.add_argument("--preset", default="default")

    p = sub.add_parser("convert", help="NarrativeQA / InfiniteBench / DetectiveQA -> our format")
    p.add_argument(
        "--format",
        required=True,
        choices=["narrativeqa", "infbench-qa", "infbench-mc", "detectiveqa"],
    )
    p.add_argument("--in", dest="inp", required=True)
    p.add_argument("--text", default=None, help="the novel's text (detectiveqa)")
    p.add_argument("--out", required=True)

    p = sub.add_parser("index", help="build the three-layer index of a text file")
    p.add_argument("file")
    p.add_argument("--out", required=True)
    p.add_argument("--no-kg", action="store_true", help="skip the knowledge graph")
    p.add_argument("--chunk-tokens", type=int, default=None)
    p.add_argument("--force", action="store_true", help="discard what is in --out")
    p.add_argument("--quiet", action="store_true")
    _llm_args(p)

    p = sub.add_parser("add", help="append a text file to an index, updating every layer")
    p.add_argument("index")
    p.add_argument("file")
    p.add_argument("--quiet", action="store_true")
    _llm_args(p)

    p = sub.add_parser("ask", help="answer a question with the memory loop")
    p.add_argument("index")
    p.add_argument("question")
    p.add_argument("--choices", nargs="+", default=None, help="multiple-choice options")
    p.add_argument("--trace", default=None, help="write the full trace (JSON) here")
    _llm_args(p)
    _loop_args(p)

    p = sub.add_parser("retrieve", help="show what one layer returns for a query")
    p.add_argument("index")
    p.add_argument("query")
    p.add_argument("--layer", choices=["veridical", "semantic", "episodic"], default="veridical")
    p.add_argument("--k", type=int, default=5)
    _llm_args(p)
    _loop_args(p)

    p = sub.add_parser("eval", help="evaluate a method on a question file")
    p.add_argument("--data", required=True, help="questions JSONL (comorag synth / convert)")
    p.add_argument("--index", required=True)
    p.add_argument("--method", choices=["comorag", "naive", "raptor"], default="comorag")
    p.add_argument("--limit", type=int, default=None, help="first N questions only")
    p.add_argument("--out", default=None, help="write per-question rows and the summary here")
    p.add_argument("--traces", default=None, help="write every trace (JSONL) here")
    _llm_args(p)
    _loop_args(p)
    return parser


def _agents(args, cache_dir: Path | None, quiet_load: bool = True) -> Agents:
    if args.batch_size < 1:
        raise DataError(f"--batch-size must be >= 1 (got {args.batch_size})")
    cache = None if args.no_cache or cache_dir is None else cache_dir / "llm_cache.sqlite"
    llm = make_llm(args.llm, base_url=args.base_url, cache_path=cache, batch_size=args.batch_size)
    return Agents(llm)


def _index_cfg(args, base: IndexConfig | None = None) -> IndexConfig:
    cfg = base or preset(args.preset).index
    cfg = apply_overrides(cfg, args.set, "index")
    if getattr(args, "no_kg", False):
        cfg = dataclasses.replace(cfg, kg=False)
    if getattr(args, "chunk_tokens", None):
        cfg = dataclasses.replace(cfg, chunk_tokens=args.chunk_tokens)
    return dataclasses.replace(cfg, batch_size=args.batch_size).validate()


def _loop_cfg(args) -> LoopConfig:
    cfg = apply_overrides(preset(args.preset).loop, args.set, "loop")
    layers = tuple(x for x in cfg.layers if not getattr(args, f"no_{x}", False))
    changes: dict = {"layers": layers}
    if args.no_memory:
        changes["memory"] = False
    if args.no_probing:
        changes["probing"] = False
    if args.max_cycles is not None:
        changes["max_cycles"] = args.max_cycles
    if args.pack:
        changes["pack"] = args.pack
    if args.show_options:
        changes["hide_options"] = False
    if args.no_fact_filter:
        changes["fact_filter"] = False
    return dataclasses.replace(cfg, **changes).validate()


def _retriever(args, need_llm: bool = True):
    from comorag.indexer import make_resources
    from comorag.retrieve import Retriever
    from comorag.store import Index

    index = Index.load(args.index)
    cfg = _loop_cfg(args)
    agents = _agents(args, Path(args.index)) if need_llm else Agents(_NoLLM())
    res = make_resources(index.manifest["settings"]["embedder"], agents)
    return Retriever(index, res, cfg), cfg


class _NoLLM:
    """Stands in when a command needs no LLM; any call is a bug in the caller."""

    model_name = "none"

    def chat(self, *a, **k):
        raise RuntimeError("this command should not call an LLM")


def cmd_synth(args) -> int:
    from comorag.synth import write

    cfg = preset(args.preset).synth
    changes = {
        k: v
        for k, v in (
            ("target_tokens", args.tokens),
            ("n_questions", args.questions),
            ("n_events", args.events),
            ("seed", args.seed),
        )
        if v is not None
    }
    cfg = dataclasses.replace(cfg, **changes).validate()
    meta = write(cfg, args.out)
    print(json.dumps({k: meta[k] for k in ("n_words", "n_events", "n_questions")}))
    return 0


def cmd_convert(args) -> int:
    from comorag.data import convert

    print(json.dumps(convert(args.format, args.inp, args.out, args.text)))
    return 0


def cmd_index(args) -> int:
    from comorag.chunking import precheck
    from comorag.indexer import build_index, make_resources

    cfg = _index_cfg(args)
    precheck(args.file)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    agents = _agents(args, out)
    res = make_resources(cfg.embedder, agents)
    start = time.perf_counter()
    manifest = build_index(
        args.file, out, cfg, res, llm_name=args.llm, force=args.force, quiet=args.quiet
    )
    summary = {
        "index": str(out),
        **manifest.get("counts", {}),
        "episodic_window": manifest.get("episodic_window"),
        "seconds": round(time.perf_counter() - start, 1),
        **agents.cost.as_dict(),
    }
    print(json.dumps(summary))
    return 0


def cmd_add(args) -> int:
    from comorag.indexer import add_text, make_resources
    from comorag.store import read_manifest

    folder = Path(args.index)
    manifest = read_manifest(folder) if folder.is_dir() else None
    if manifest is None:
        raise DataError(f"{folder}: no comorag index here")
    from comorag.chunking import precheck

    precheck(args.file)
    base = IndexConfig(**manifest["settings"], batch_size=args.batch_size)
    cfg = _index_cfg(args, base)
    agents = _agents(args, folder)
    res = make_resources(cfg.embedder, agents)
    manifest = add_text(folder, args.file, res, cfg, quiet=args.quiet)
    print(json.dumps({**manifest["counts"], **agents.cost.as_dict()}))
    return 0


def cmd_ask(args) -> int:
    from comorag.loop import ComoRAG

    if not args.question.strip():
        raise DataError("the question is empty")
    retriever, cfg = _retriever(args)
    result = ComoRAG(retriever, cfg).ask(args.question, args.choices)
    if args.trace:
        write_json(args.trace, result.trace)
    print(result.answer)
    print(
        json.dumps(
            {"cycles": result.cycles, **result.trace["cost"], "seconds": result.trace["seconds"]}
        ),
        file=sys.stderr,
    )
    return 0


def cmd_retrieve(args) -> int:
    if not args.query.strip():
        raise DataError("the query is empty")
    if args.k < 1:
        raise DataError(f"--k must be >= 1 (got {args.k})")
    need_llm = args.layer == "veridical" and not args.no_fact_filter
    retriever, _ = _retriever(args, need_llm=need_llm)
    [cands] = retriever.candidates([args.query], (args.layer,))
    for u in cands[args.layer][: args.k]:
        text = " ".join(u.text.split())
        print(f"[{u.layer} {u.id}] score={u.score:.4f} tokens={u.tokens} chunks={u.chunks[:8]}")
        print(f"    {text[:300]}")
    return 0


def cmd_eval(args) -> int:
    from comorag.data import load_questions
    from comorag.evaluate import make_method, score, summarise

    questions = load_questions(args.data)
    if args.limit is not None:
        questions = questions[: args.limit]
    retriever, cfg = _retriever(args)
    method = make_method(args.method, retriever, cfg)
    rows, traces = [], []
    for i, q in enumerate(questions, start=1):
        result = method.ask(q["question"], q.get("choices"))
        row = score(q, result, retriever.index.chunks)
        rows.append(row)
        traces.append({"id": q["id"], **result.trace})
        print(
            f"[{i}/{len(questions)}] {q['id']} {row.get('f1', row.get('correct'))} "
            f"recall={row['evidence_recall']} calls={row['calls']}",
            file=sys.stderr,
        )
    summary = {
        "method": args.method,
        "llm": args.llm,
        "index": args.index,
        "data": args.data,
        "loop": dataclasses.asdict(cfg),
        **summarise(rows),
    }
    if args.out:
        write_json(args.out, {"summary": summary, "rows": rows})
    if args.traces:
        write_jsonl(args.traces, traces)
    print(json.dumps({k: v for k, v in summary.items() if k != "loop"}))
    return 0


COMMANDS = {
    "synth": cmd_synth,
    "convert": cmd_convert,
    "index": cmd_index,
    "add": cmd_add,
    "ask": cmd_ask,
    "retrieve": cmd_retrieve,
    "eval": cmd_eval,
}


@cli_errors
def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``comorag`` console script."""
    args = build_parser().parse_args(argv)
    return COMMANDS[args.command](args)
