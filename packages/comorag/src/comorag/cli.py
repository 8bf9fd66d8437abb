"""The ``comorag`` console script: synth, convert, index, add, ask, retrieve, eval, report.

Options are the fields of the configs in :mod:`comorag.config` (``--index.chunk_tokens 120``,
``--loop.max_cycles 2``, ``--llm.base_url URL``); ``--config FILE``, ``--print_config`` and
``--preset smoke|default|gpu`` work on every command that has a config. Paths and values
are checked before any model loads. Models, torch and numpy are imported inside the
commands only, so ``--help`` is fast.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from comorag import __version__
from comorag.config import (
    AddRun,
    AskRun,
    EvalRun,
    IndexConfig,
    IndexRun,
    RetrieveRun,
    SynthConfig,
    command_presets,
)
from comorag.data.convert import FORMATS
from labcore.cli import App, Arg, Command
from labcore.errors import DataError

PACKAGE = "comorag"
SYNTH_FILES = ("narrative.txt", "questions.jsonl", "meta.json")
RUNTIME = ("device", "threads")


def _non_empty(folder: Path) -> bool:
    return folder.is_dir() and any(folder.iterdir())


# ---------------------------------------------------------------------- synth


def _synth_meta(folder: Path) -> dict | None:
    from labcore.io import read_json

    meta = folder / "meta.json"
    if not meta.is_file():
        return None
    try:
        data = read_json(meta)
    except DataError:
        return None
    return data if isinstance(data, dict) and data.get("generator") == "comorag.synth" else None


def check_synth(args) -> None:
    out: Path = args.out
    if out.exists() and not out.is_dir():
        raise DataError(f"--out {out}: exists and is not a folder")
    if not _non_empty(out):
        return
    meta = _synth_meta(out)
    if meta is None:
        raise DataError(
            f"--out {out}: exists and is not a comorag synth folder (no meta.json of "
            "comorag synth); nothing was changed - choose another folder"
        )
    if meta.get("config") != vars(args.config):
        raise DataError(
            f"--out {out}: holds a benchmark generated with another config; nothing was "
            "changed - choose another folder"
        )


def cmd_synth(args) -> int:
    from comorag.synth import write

    cfg: SynthConfig = args.config
    meta = _synth_meta(args.out) if _non_empty(args.out) else None
    if meta is not None and all((args.out / f).is_file() for f in SYNTH_FILES):
        print(f"{args.out}: already holds this benchmark", file=sys.stderr)
    else:
        meta = write(cfg, args.out)
    print(json.dumps({k: meta[k] for k in ("n_words", "n_events", "n_questions")}))
    return 0


# ---------------------------------------------------------------------- convert


def check_convert(args) -> None:
    cfg = args.options
    src = Path(cfg["input"])
    novelqa = cfg["format"] == "novelqa"
    if not (src.is_file() or (novelqa and src.is_dir())):
        raise DataError(f"--input {src}: file not found")
    if cfg["format"] in ("detectiveqa", "novelqa"):
        if not cfg["text"]:
            raise DataError(f"--text NOVEL.txt is required for --format {cfg['format']}")
        text = Path(cfg["text"])
        if src.is_dir() and not text.is_dir():
            raise DataError(f"--text {text}: must be the books folder when --input is a folder")
        if not src.is_dir() and not text.is_file():
            raise DataError(f"--text {text}: file not found")
    out: Path = args.out
    if out.exists() and not out.is_dir():
        raise DataError(f"--out {out}: exists and is not a folder")
    if _non_empty(out) and not (out / "convert.json").is_file():
        raise DataError(
            f"--out {out}: exists and is not a comorag convert folder (no convert.json); "
            "nothing was changed - choose another folder"
        )


def cmd_convert(args) -> int:
    from comorag.data import convert

    o = args.options
    print(json.dumps(convert(o["format"], o["input"], args.out, o["text"])))
    return 0


# ---------------------------------------------------------------------- index / add


def check_index_cmd(args) -> None:
    from comorag.index.build import check_out
    from comorag.index.chunking import precheck

    cfg: IndexRun = args.config
    precheck(args.file)
    check_out(args.out, cfg.index, Path(args.file), cfg.force)


def cmd_index(args) -> int:
    from comorag.agent.session import close_agents, make_agents
    from comorag.index.build import build_index
    from comorag.index.resources import make_resources

    cfg: IndexRun = args.config
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    agents = make_agents(cfg.llm, out, args.device)
    res = make_resources(cfg.index.embedder, agents, args.device)
    start = time.perf_counter()
    try:
        manifest = build_index(
            args.file,
            out,
            cfg.index,
            res,
            llm_name=cfg.llm.model,
            force=cfg.force,
            quiet=cfg.quiet,
            progress=not cfg.quiet,
        )
    finally:
        close_agents(agents)
    summary = {
        "index": str(out),
        **manifest.get("counts", {}),
        "episodic_window": manifest.get("episodic_window"),
        "seconds": round(time.perf_counter() - start, 1),
        **agents.cost.as_dict(),
    }
    print(json.dumps(summary))
    return 0


def check_add(args) -> None:
    from comorag.index.chunking import precheck
    from comorag.index.store import read_manifest

    folder = Path(args.index)
    manifest = read_manifest(folder) if folder.is_dir() else None
    if manifest is None:
        raise DataError(f"{folder}: no comorag index here")
    precheck(args.file)


def cmd_add(args) -> int:
    from comorag.agent.session import close_agents, make_agents
    from comorag.index.build import add_text
    from comorag.index.resources import make_resources
    from comorag.index.store import read_manifest

    cfg: AddRun = args.config
    folder = Path(args.index)
    manifest = read_manifest(folder)
    index_cfg = IndexConfig(**manifest["settings"], batch_size=cfg.batch_size).validate()
    agents = make_agents(cfg.llm, folder, args.device)
    res = make_resources(index_cfg.embedder, agents, args.device)
    try:
        manifest = add_text(
            folder, args.file, res, index_cfg, quiet=cfg.quiet, progress=not cfg.quiet
        )
    finally:
        close_agents(agents)
    print(json.dumps({**manifest["counts"], **agents.cost.as_dict()}))
    return 0


# ---------------------------------------------------------------------- ask / retrieve


def _check_text(value: str, what: str) -> None:
    if not value.strip():
        raise DataError(f"the {what} is empty")


def check_ask(args) -> None:
    from comorag.index.store import check_index

    _check_text(args.question, "question")
    check_index(args.index)
    trace = args.config.trace
    if trace and Path(trace).exists():
        raise DataError(f"trace {trace}: exists; nothing was changed - choose a new file")


def cmd_ask(args) -> int:
    from comorag.agent.loop import ComoRAG
    from comorag.agent.session import close_agents, open_retriever
    from labcore.io import write_json

    cfg: AskRun = args.config
    retriever = open_retriever(args.index, cfg.loop, cfg.llm, device=args.device)
    try:
        result = ComoRAG(retriever, cfg.loop).ask(args.question, cfg.choices)
    finally:
        close_agents(retriever.res.agents)
    if cfg.trace:
        write_json(cfg.trace, result.trace)
    print(result.answer)
    info = {"cycles": result.cycles, **result.trace["cost"], "seconds": result.trace["seconds"]}
    print(json.dumps(info), file=sys.stderr)
    return 0


def check_retrieve(args) -> None:
    from comorag.index.store import check_index

    _check_text(args.query, "query")
    check_index(args.index)


def cmd_retrieve(args) -> int:
    from comorag.agent.session import open_retriever

    cfg: RetrieveRun = args.config
    need_llm = cfg.layer == "veridical" and cfg.loop.fact_filter
    retriever = open_retriever(args.index, cfg.loop, cfg.llm, device=args.device, need_llm=need_llm)
    [cands] = retriever.candidates([args.query], (cfg.layer,))
    for u in cands[cfg.layer][: cfg.k]:
        text = " ".join(u.text.split())
        print(f"[{u.layer} {u.id}] score={u.score:.4f} tokens={u.tokens} chunks={u.chunks[:8]}")
        print(f"    {text[:300]}")
    return 0


# ---------------------------------------------------------------------- eval / report


def check_eval(args) -> None:
    from comorag.data import load_questions
    from comorag.index.store import check_index

    cfg: EvalRun = args.config
    data = Path(cfg.data)
    if data.is_dir():
        raise DataError(f"--data {data}: is a folder; expected a questions JSONL file")
    if not data.is_file():
        raise DataError(f"--data {data}: file not found")
    load_questions(data)
    check_index(cfg.index)
    out: Path = args.out
    if out.exists() and not out.is_dir():
        raise DataError(f"--out {out}: is a file, not a folder")


def check_report(args) -> None:
    if args.options["bootstrap"] < 0:
        raise DataError(f"--bootstrap must be >= 0 (got {args.options['bootstrap']})")


def cmd_report(args) -> int:
    from comorag.report import report

    print(report(args.options["dirs"], args.options["bootstrap"]))
    return 0


def cmd_eval(args) -> int:
    from comorag.eval.run import run_eval

    return run_eval(args)


_INDEX = Arg("index", type=str, help="a comorag index folder")
_LOOP_PRESETS = command_presets("loop")
_DEVICE = ("device", "threads")

app = App(
    "comorag",
    "ComoRAG: a three-layer index plus a metacognitive memory loop for questions over "
    "long narratives.",
    package=PACKAGE,
    version=__version__,
    commands=[
        Command(
            "synth",
            cmd_synth,
            help="generate the embedded benchmark narrative and questions (a data folder)",
            config=SynthConfig,
            presets=command_presets("synth"),
            common=("seed",),
            check=check_synth,
        ),
        Command(
            "convert",
            cmd_convert,
            help="NarrativeQA / InfiniteBench / DetectiveQA / NovelQA -> text files + our "
            "question JSONL",
            common=(),
            args=[
                Arg("--format", type=str, required=True, choices=list(FORMATS)),
                Arg(
                    "--input",
                    type=str,
                    required=True,
                    help="the published file (JSON/JSONL); novelqa: a book's JSON or their folder",
                ),
                Arg(
                    "--text",
                    type=str,
                    default=None,
                    help="the novel's text (detectiveqa, novelqa); novelqa: or the books folder",
                ),
            ],
            check=check_convert,
        ),
        Command(
            "index",
            cmd_index,
            help="build the three-layer index of a text file (a data folder with a manifest)",
            config=IndexRun,
            presets=command_presets("index"),
            common=_DEVICE,
            args=[Arg("file", type=str, help="the text (UTF-8)")],
            check=check_index_cmd,
        ),
        Command(
            "add",
            cmd_add,
            help="append a text file to an index, updating every layer",
            config=AddRun,
            out=None,
            common=_DEVICE,
            args=[_INDEX, Arg("file", type=str, help="the text to add (UTF-8)")],
            check=check_add,
        ),
        Command(
            "ask",
            cmd_ask,
            help="answer a question with the memory loop",
            config=AskRun,
            presets=_LOOP_PRESETS,
            out=None,
            common=_DEVICE,
            args=[_INDEX, Arg("question", type=str, help="the question")],
            check=check_ask,
        ),
        Command(
            "retrieve",
            cmd_retrieve,
            help="show what one layer returns for a query",
            config=RetrieveRun,
            presets=_LOOP_PRESETS,
            out=None,
            common=_DEVICE,
            args=[_INDEX, Arg("query", type=str, help="the query")],
            check=check_retrieve,
        ),
        Command(
            "eval",
            cmd_eval,
            help="evaluate a method on a question file (a run folder; resumes when killed)",
            config=EvalRun,
            presets=_LOOP_PRESETS,
            common=_DEVICE,
            check=check_eval,
        ),
        Command(
            "report",
            cmd_report,
            help="the comparison table of eval run folders (95% bootstrap intervals)",
            out=None,
            common=(),
            args=[
                Arg("dirs", nargs="+", type=str, help="run folders (or folders holding them)"),
                Arg(
                    "--bootstrap",
                    type=int,
                    # = comorag.report.BOOTSTRAP_RESAMPLES (not imported: --help stays fast)
                    default=2000,
                    help="bootstrap resamples over questions for the 95% intervals (0: none)",
                ),
            ],
            check=check_report,
        ),
    ],
)
main = app.main
