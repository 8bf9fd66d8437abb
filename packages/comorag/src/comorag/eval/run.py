"""``comorag eval``: one method on one question file, written as a run folder.

``DIR/`` holds the labcore run files (``config.json``, ``metrics.json`` = the summary,
``metrics.csv`` = one row per question, ``plots/*.png``, ``log.txt``) plus ``rows.jsonl``
(every question's scores) and ``traces.jsonl`` (every question's full trace). Both are
rewritten atomically after each question, so a killed evaluation rerun with the same
command continues with the next question.
"""

from __future__ import annotations

import json
import sys

from comorag.config import EvalRun
from labcore.errors import DataError
from labcore.io import read_jsonl, write_jsonl

PACKAGE = "comorag"
ROWS = "rows.jsonl"
TRACES = "traces.jsonl"
#: Per-question columns of metrics.csv.
CSV_KEYS = (
    "id",
    "type",
    "mc",
    "f1",
    "em",
    "contains",
    "correct",
    "evidence_recall",
    "evidence_recall_prov",
    "chunks_seen",
    "calls",
    "prompt_tokens",
    "completion_tokens",
    "seconds",
    "cycles",
)
#: What the one-line summary printed at the end shows.
SHOWN = (
    "method",
    "questions",
    "f1",
    "em",
    "contains",
    "mc_accuracy",
    "evidence_recall",
    "calls_per_q",
    "seconds_per_q",
)


def _csv_row(row: dict) -> dict:
    return {k: row[k] for k in CSV_KEYS if k in row}


def _plots(run, rows: list[dict]) -> None:
    from labcore.plots import plot_bars

    recall = {r["id"]: r["evidence_recall"] for r in rows if r.get("evidence_recall") is not None}
    if recall:
        plot_bars(
            run.plots / "evidence_recall.png",
            recall,
            ylabel="evidence recall",
            title="gold evidence spans in the packed passages, per question",
        )
    plot_bars(
        run.plots / "llm_calls.png",
        {r["id"]: r["calls"] for r in rows},
        ylabel="LLM calls",
        title="LLM calls per question",
    )


def _ask_all(run, method, questions, rows, traces, retriever) -> None:
    """Answer and score the questions after ``rows``, writing both files after each."""
    from comorag.eval.metrics import score

    rows_file, traces_file = run.path / ROWS, run.path / TRACES
    for n in range(len(rows), len(questions)):
        q = questions[n]
        if getattr(method, "needs_evidence", False):
            result = method.ask(q["question"], q.get("choices"), evidence=q.get("evidence") or [])
        else:
            result = method.ask(q["question"], q.get("choices"))
        row = score(q, result, retriever.index.chunks)
        rows.append(row)
        traces.append({"id": q["id"], **result.trace})
        write_jsonl(traces_file, traces)
        write_jsonl(rows_file, rows)
        run.log(n + 1, **_csv_row(row))
        run.print(
            f"[{n + 1}/{len(questions)}] {q['id']} {row.get('f1', row.get('correct'))} "
            f"recall={row['evidence_recall']} calls={row['calls']}"
        )


def run_eval(args) -> int:
    """Evaluate ``args.config`` (an :class:`EvalRun`) into the run folder ``args.out``."""
    from comorag.data import load_questions
    from labcore.rundir import RunDir

    cfg: EvalRun = args.config
    # Read and checked before the run folder is made: bad input leaves nothing behind.
    questions = load_questions(cfg.data)
    if cfg.limit is not None:
        questions = questions[: cfg.limit]
    if cfg.method == "gold":
        missing = next((q["id"] for q in questions if not q.get("evidence")), None)
        if missing is not None:
            raise DataError(
                f"{cfg.data}: question {missing} has no evidence spans; method gold needs them"
            )
    run = RunDir.for_args(args, PACKAGE)
    if run.finished:
        summary = run.load_metrics()
        print(f"{run.path}: already finished", file=sys.stderr)
        print(json.dumps({k: summary.get(k) for k in SHOWN}))
        return 0
    rows_file, traces_file = run.path / ROWS, run.path / TRACES
    rows = read_jsonl(rows_file) if rows_file.is_file() else []
    traces = read_jsonl(traces_file) if traces_file.is_file() else []
    rows, traces = rows[: len(traces)], traces[: len(rows)]
    # metrics.csv may lag behind rows.jsonl by the question a kill interrupted.
    for n in range(len(run.history()), len(rows)):
        run.log(n + 1, **_csv_row(rows[n]))
    if rows:
        run.print(f"resuming after {len(rows)} of {len(questions)} questions")
    if len(rows) < len(questions):
        from comorag.agent.session import close_agents, open_retriever
        from comorag.eval.methods import make_method

        retriever = open_retriever(cfg.index, cfg.loop, cfg.llm, device=args.device)
        method = make_method(cfg.method, retriever, cfg.loop)
        try:
            _ask_all(run, method, questions, rows, traces, retriever)
        finally:
            close_agents(retriever.res.agents)
    from comorag.eval.metrics import summarise

    summary = {"method": cfg.method, "llm": cfg.llm.model, **summarise(rows)}
    _plots(run, rows)
    run.finish(**summary)
    print(json.dumps({k: summary.get(k) for k in SHOWN}))
    return 0
