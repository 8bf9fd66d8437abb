import json
import subprocess
import sys

import pytest

from knowledge_dynamics.analyze import analyze
from knowledge_dynamics.runner import run_inject


def test_inject_and_analyze_write_nested_metrics(micro_cfg, micro_stages, tmp_path):
    run = run_inject(micro_cfg, str(micro_stages["late"]), tmp_path / "run", progress=False)
    metrics = analyze(run, micro_cfg.analysis)
    saved = json.loads((run / "metrics.json").read_text())
    for key in ("effectivity", "decay_constant", "r2", "learnability_threshold"):
        assert set(saved[key]) == {"paraphrase", "duplicate", "once"}
        for scenario in saved[key].values():
            assert set(scenario) == {"memorization", "semantic", "composition"}
    assert saved["effectivity"] == metrics["effectivity"]
    assert set(saved["control_effectivity"]) == {"memorization", "semantic", "composition"}
    for png in ("trajectories.png", "retainability.png", "effectivity.png"):
        assert (run / "plots" / png).stat().st_size > 1000
    plan = json.loads((run / "plan.json").read_text())
    assert plan["item_steps"]["0"] == [0, 5, 10] and plan["item_steps"]["5"] == [0]


def test_bad_option_is_one_line_exit_2(tmp_path):
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "knowledge_dynamics",
            "pretrain",
            "--out",
            str(tmp_path / "p"),
            "--set",
            "inject.window=0",
        ],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 2
    assert proc.stderr.strip().count("\n") == 0 and "inject.window" in proc.stderr


@pytest.mark.slow
def test_run_smoke_pipeline(tmp_path, monkeypatch_session):
    from knowledge_dynamics.cli import main

    out = tmp_path / "kd-smoke"
    # In-process (the console script calls the same main); saves a second torch import.
    assert main(["run", "--preset", "smoke", "--out", str(out), "--quiet"]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["effectivity"]["paraphrase"]["memorization"] is not None
