"""``comorag report``: the bootstrap intervals over questions, on hand-made run folders."""

from __future__ import annotations

import json
import re
from dataclasses import asdict

import numpy as np
import pytest

from comorag.cli import main
from comorag.config import PRESETS
from comorag.eval.metrics import summarise
from comorag.report import bootstrap_interval, per_question, report
from labcore.errors import DataError
from labcore.io import write_jsonl
from labcore.rundir import RunDir


def _run(folder, method, rows, write_rows=True):
    """A finished ``comorag eval`` run folder holding ``rows`` as its per-question scores."""
    config = {
        "method": method,
        "preset": "smoke",
        "llm": {"model": "openai:fake"},
        "loop": asdict(PRESETS["smoke"].loop),
    }
    run = RunDir.open(folder, package="comorag", command="eval", config=config)
    if write_rows:
        write_jsonl(folder / "rows.jsonl", rows)
    run.finish(method=method, **summarise(rows))


def _mc_rows(correct, total, recall=None):
    return [
        {
            "id": f"q{i}",
            "type": "",
            "mc": True,
            "correct": float(i < correct),
            "evidence_recall": None if recall is None else recall[i],
            "calls": 1,
        }
        for i in range(total)
    ]


def _cell(table, method, column):
    lines = table.splitlines()
    header = [c.strip() for c in lines[0].strip("|").split("|")]
    for line in lines[2:]:
        cells = [c.strip() for c in line.strip("|").split("|")]
        if cells[0] == method:
            return cells[header.index(column)]
    raise AssertionError(f"no row {method!r} in\n{table}")


def _interval(cell):
    match = re.fullmatch(r"(\d\.\d+)(?: ± \d\.\d+)? \[(\d\.\d+), (\d\.\d+)\]", cell)
    assert match, cell
    return tuple(float(x) for x in match.groups())


def test_bootstrap_interval_matches_the_binomial_spread():
    values = [1.0] * 60 + [0.0] * 40
    lo, hi = bootstrap_interval(values, resamples=2000)
    assert lo < 0.6 < hi
    # Normal approximation of a proportion: 0.6 -+ 1.96 * sqrt(0.6 * 0.4 / 100) = 0.504, 0.696.
    assert abs(lo - 0.504) < 0.025 and abs(hi - 0.696) < 0.025
    assert not lo <= 0.45 <= hi and not lo <= 0.75 <= hi
    assert bootstrap_interval(values) == bootstrap_interval(values)  # fixed seed
    assert bootstrap_interval([0.5] * 7) == (0.5, 0.5)
    # The blocks of resamples are drawn like one block: a long list gives the same spread.
    long_lo, long_hi = bootstrap_interval(np.tile(values, 500), resamples=300)
    assert long_lo < 0.6 < long_hi and long_hi - long_lo < 0.02
    with pytest.raises(ValueError):
        bootstrap_interval([])


def test_report_prints_intervals_that_separate_methods(tmp_path, capsys):
    runs = tmp_path / "runs"
    recall = [1.0] * 30 + [0.0] * 10
    _run(runs / "naive", "naive", _mc_rows(36, 40, recall))
    _run(runs / "raptor", "raptor", _mc_rows(20, 40))
    table = report([str(runs)])
    mean, lo, hi = _interval(_cell(table, "naive", "MC acc"))
    assert mean == 0.90 and lo <= 0.82 and hi >= 0.97 and lo > 0.5
    mean, lo, hi = _interval(_cell(table, "raptor", "MC acc"))
    assert mean == 0.50 and lo < 0.5 < hi and hi < 0.9
    mean, lo, hi = _interval(_cell(table, "naive", "evidence recall"))
    assert mean == 0.75 and lo < 0.75 < hi and lo > 0.5
    assert _cell(table, "raptor", "evidence recall") == ""  # no gold spans
    assert "[" not in _cell(table, "naive", "LLM calls/q")  # cost columns: no interval

    assert main(["report", str(runs), "--bootstrap", "0"]) == 0
    assert _cell(capsys.readouterr().out, "naive", "MC acc") == "0.90"
    assert main(["report", str(runs), "--bootstrap", "-1"]) == 2


def test_interval_is_over_questions_averaged_across_runs(tmp_path):
    runs = tmp_path / "runs"
    # Two runs of the same method on the same 40 questions: q0-q19 right in both runs,
    # q20-q39 right in exactly one. Per question: 20 x 1.0 and 20 x 0.5, mean 0.75.
    first = _mc_rows(40, 40)
    second = _mc_rows(20, 40)
    for row in first[20:30]:
        row["correct"] = 0.0
    for row in second[20:30]:
        row["correct"] = 1.0
    _run(runs / "a", "naive", first)
    _run(runs / "b", "naive", second)
    per_q = per_question([RunDir(runs / "a"), RunDir(runs / "b")], "correct")
    assert sorted(per_q) == [0.5] * 20 + [1.0] * 20
    mean, lo, hi = _interval(_cell(report([str(runs)]), "naive", "MC acc"))
    want_lo, want_hi = bootstrap_interval(per_q)
    assert mean == 0.75 and (lo, hi) == (round(want_lo, 2), round(want_hi, 2))
    # Standard error 0.25 / sqrt(40) = 0.040 (width 0.155); pooling the 80 run rows
    # (60 x 1, 20 x 0) as questions would give 0.433 / sqrt(80) = 0.048 (width 0.190).
    assert abs((want_hi - want_lo) - 2 * 1.96 * 0.040) < 0.015


def test_a_run_without_rows_gets_no_interval(tmp_path):
    runs = tmp_path / "runs"
    _run(runs / "naive", "naive", _mc_rows(3, 4), write_rows=False)
    assert _cell(report([str(runs)]), "naive", "MC acc") == "0.75"
    (runs / "naive" / "rows.jsonl").write_text("{not json\n")
    with pytest.raises(DataError, match=r"rows\.jsonl: line 1"):
        report([str(runs)])
    assert json.loads((runs / "naive" / "metrics.json").read_text())["mc_accuracy"] == 0.75
