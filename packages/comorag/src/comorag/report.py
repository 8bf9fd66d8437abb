"""``comorag report DIR...``: the comparison table of ``comorag eval`` run folders.

One row per method and setting: the method, plus every loop option that differs from the
run's preset (``comorag loop.memory=false``), so ablations name themselves. Runs of the
same method and setting on the same questions are averaged (mean ± std).

Accuracy (EM, gold in answer, MC acc) and evidence recall also get a 95% percentile
bootstrap interval over questions, ``0.42 [0.30, 0.55]``: the questions are resampled
with replacement, a question's value being its mean over the group's runs (read from each
run's ``rows.jsonl``). It says how much the number would move on another draw of
questions of the same kind; it does not cover the spread between runs (the ``±``).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from comorag.config import PRESETS
from comorag.eval.run import ROWS
from labcore.errors import DataError
from labcore.io import read_jsonl
from labcore.report import format_mean_std, markdown_table
from labcore.rundir import RunDir, find_runs

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
#: metrics.json key -> the rows.jsonl key of the per-question value it averages, for the
#: columns that get a bootstrap interval over questions.
BOOTSTRAPPED = {
    "em": "em",
    "contains": "contains",
    "mc_accuracy": "correct",
    "evidence_recall": "evidence_recall",
}
BOOTSTRAP_RESAMPLES = 2000
"""Default number of bootstrap resamples of ``comorag report`` (``--bootstrap``)."""
BOOTSTRAP_SEED = 0
# Resampled values held at once: resamples are drawn in blocks of this many cells.
_BLOCK_CELLS = 4_000_000


def bootstrap_interval(
    values: Sequence[float],
    resamples: int = BOOTSTRAP_RESAMPLES,
    level: float = 0.95,
    seed: int = BOOTSTRAP_SEED,
) -> tuple[float, float]:
    """Percentile bootstrap interval of the mean of ``values`` (one value per question).

    ``resamples`` means of ``len(values)`` values drawn with replacement; the interval is
    their ``(1 - level) / 2`` and ``(1 + level) / 2`` quantiles. Fixed ``seed``: the same
    values give the same interval.
    """
    data = np.asarray(values, dtype=float)
    if data.ndim != 1 or not len(data):
        raise ValueError("bootstrap_interval needs a non-empty list of values")
    if resamples < 1:
        raise ValueError("bootstrap_interval needs resamples >= 1")
    rng = np.random.default_rng(seed)
    means = np.empty(resamples)
    block = max(1, _BLOCK_CELLS // len(data))
    for start in range(0, resamples, block):
        size = min(block, resamples - start)
        means[start : start + size] = data[rng.integers(0, len(data), (size, len(data)))].mean(1)
    tail = (1.0 - level) / 2 * 100
    lo, hi = np.percentile(means, [tail, 100 - tail])
    return float(lo), float(hi)


def per_question(runs: list[RunDir], key: str) -> list[float]:
    """Each question's ``key`` value averaged over ``runs`` (questions without one skipped)."""
    values: dict[str, list[float]] = {}
    for run in runs:
        rows_file = run.path / ROWS
        if not rows_file.is_file():
            return []  # a run without per-question rows: no interval for the group
        for row in read_jsonl(rows_file):
            if isinstance(row, dict) and row.get(key) is not None:
                values.setdefault(str(row.get("id")), []).append(float(row[key]))
    return [float(np.mean(v)) for v in values.values()]


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


def rows(dirs: list[str], bootstrap: int = BOOTSTRAP_RESAMPLES) -> list[dict]:
    """One table row per (label, preset, LLM, question count).

    ``bootstrap`` resamples give the interval of the :data:`BOOTSTRAPPED` columns
    (0: no intervals).
    """
    if bootstrap < 0:
        raise DataError(f"--bootstrap must be >= 0 (got {bootstrap})")
    groups: dict[tuple, list[RunDir]] = {}
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
        groups.setdefault(key, []).append(run)
    if not groups:
        raise DataError(f"{', '.join(map(str, dirs))}: no finished comorag eval run")
    table = []
    for (name, preset, llm, n), runs in groups.items():
        row = {"method": name, "preset": preset, "LLM": llm, "questions": n, "runs": len(runs)}
        metrics = [run.load_metrics() for run in runs]
        for column, key, digits in COLUMNS:
            values = [m[key] for m in metrics if m.get(key) is not None]
            row[column] = format_mean_std(values, digits) if values else ""
            per_q = per_question(runs, BOOTSTRAPPED[key]) if key in BOOTSTRAPPED else []
            if values and bootstrap and per_q:
                lo, hi = bootstrap_interval(per_q, bootstrap)
                row[column] += f" [{lo:.{digits}f}, {hi:.{digits}f}]"
        table.append(row)
    return table


def report(dirs: list[str], bootstrap: int = BOOTSTRAP_RESAMPLES) -> str:
    """The markdown table of the finished eval runs at or below ``dirs``."""
    table = rows(dirs, bootstrap)
    columns = ["method", "preset", "LLM", "questions", "runs", *(c for c, _, _ in COLUMNS)]
    return markdown_table(table, columns)
