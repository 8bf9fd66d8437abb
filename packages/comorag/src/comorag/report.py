"""``comorag report DIR...``: the comparison table of ``comorag eval`` run folders.

One row per method and setting: the method, plus every loop option that differs from the
run's preset (``comorag loop.memory=false``), so ablations name themselves. Runs of the
same method and setting on the same questions are averaged (mean ± std).
"""

from __future__ import annotations

from comorag.config import PRESETS
from labcore.errors import DataError
from labcore.report import format_mean_std, markdown_table
from labcore.rundir import find_runs

PACKAGE = "comorag"
#: (column, metrics.json key, digits)
COLUMNS = (
    ("F1", "f1", 2),
    ("EM", "em", 2),
    ("gold in answer", "contains", 2),
    ("MC acc", "mc_accuracy", 2),
    ("evidence recall", "evidence_recall", 2),
    ("recall, multi-hop+temporal", "evidence_recall_multihop_temporal", 2),
    ("recall incl. summaries", "evidence_recall_prov", 2),
    ("chunks seen", "chunks_seen", 2),
    ("LLM calls/q", "calls_per_q", 1),
    ("prompt tok/q", "prompt_tokens_per_q", 0),
    ("completion tok/q", "completion_tokens_per_q", 0),
    ("s/q", "seconds_per_q", 1),
)


def _fmt(value) -> str:
    """A value as it is written on the command line."""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, list | tuple):
        return "[" + ", ".join(map(_fmt, value)) + "]"
    return str(value)


def label(config: dict) -> str:
    """``method`` plus the loop options that differ from the run's preset."""
    method = config.get("method", "?")
    base = PRESETS.get(config.get("preset") or "default", PRESETS["default"]).loop
    loop = config.get("loop", {})
    changed = []
    for key, value in loop.items():
        value = list(value) if isinstance(value, tuple) else value
        default = getattr(base, key, None)
        default = list(default) if isinstance(default, tuple) else default
        if value != default:
            changed.append(f"loop.{key}={_fmt(value)}")
    return " ".join([method, *changed])


def rows(dirs: list[str]) -> list[dict]:
    """One table row per (label, preset, LLM, question count)."""
    groups: dict[tuple, list[dict]] = {}
    for run in find_runs(dirs, PACKAGE):
        if run.info().get("command") != "eval" or not run.finished:
            continue
        config, metrics = run.config(), run.load_metrics()
        key = (
            label(config),
            config.get("preset"),
            config.get("llm", {}).get("model"),
            metrics.get("questions"),
        )
        groups.setdefault(key, []).append(metrics)
    if not groups:
        raise DataError(f"{', '.join(map(str, dirs))}: no finished comorag eval run")
    table = []
    for (name, preset, llm, n), runs in groups.items():
        row = {"method": name, "preset": preset, "LLM": llm, "questions": n, "runs": len(runs)}
        for column, key, digits in COLUMNS:
            values = [m[key] for m in runs if m.get(key) is not None]
            row[column] = format_mean_std(values, digits) if values else ""
        table.append(row)
    return table


def report(dirs: list[str]) -> str:
    """The markdown table of the finished eval runs at or below ``dirs``."""
    table = rows(dirs)
    columns = ["method", "preset", "LLM", "questions", "runs", *(c for c, _, _ in COLUMNS)]
    return markdown_table(table, columns)
