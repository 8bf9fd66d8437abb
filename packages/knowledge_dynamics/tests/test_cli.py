import json
import subprocess
import sys

import pytest

from knowledge_dynamics.report import report
from knowledge_dynamics.train.runner import finish_inject, run_inject


def test_inject_run_folder_metrics_plots_and_report(micro_cfg, micro_stages, tmp_path):
    run = run_inject(micro_cfg, str(micro_stages["late"]), tmp_path / "run")
    metrics = finish_inject(run, micro_cfg)
    out = run.path
    saved = json.loads((out / "metrics.json").read_text())
    for key in ("effectivity", "decay_constant", "r2", "learnability_threshold"):
        assert set(saved[key]) == {"paraphrase", "duplicate", "once"}
        for scenario in saved[key].values():
            assert set(scenario) == {"memorization", "semantic", "composition"}
    assert saved["effectivity"] == metrics["effectivity"]
    assert set(saved["control_effectivity"]) == {"memorization", "semantic", "composition"}
    for png in ("trajectories.png", "retainability.png", "effectivity.png", "loss.png"):
        assert (out / "plots" / png).stat().st_size > 1000
    plan = json.loads((out / "plan.json").read_text())
    assert plan["item_steps"]["0"] == [0, 5, 10] and plan["item_steps"]["5"] == [0]
    assert json.loads((out / "run.json").read_text())["status"] == "finished"
    lines = (out / "metrics.csv").read_text().splitlines()
    assert lines[0].startswith("step,") and "target_paraphrase" in lines[0]
    assert [int(x.split(",")[0]) for x in lines[1:]] == list(range(31))
    assert "inject:" in (out / "log.txt").read_text()
    text = report([tmp_path])
    assert "### Effectivity" in text and "### Verdicts" in text and "| run (n=1) |" in text
    # the pretraining run is reported too
    assert "### Pretraining" in report([micro_stages["late"].parent])


def test_bad_option_is_one_line_exit_2(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "knowledge_dynamics", "pretrain", "--out", str(tmp_path / "p"),
         "--inject.window", "0"],
        capture_output=True,
        text=True,
    )  # fmt: skip
    assert proc.returncode == 2
    assert proc.stderr.strip().count("\n") == 0 and "inject.window" in proc.stderr
    assert not (tmp_path / "p").exists()


@pytest.mark.slow
def test_run_smoke_pipeline(tmp_path, monkeypatch_session, capsys):
    from knowledge_dynamics.cli import main

    out = tmp_path / "kd-smoke"
    # In-process (the console script calls the same main); saves a second torch import.
    assert main(["run", "--preset", "smoke", "--out", str(out)]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["effectivity"]["paraphrase"]["memorization"] is not None
    assert json.loads((out / "pretrain" / "run.json").read_text())["command"] == "pretrain"
    capsys.readouterr()
    assert main(["run", "--preset", "smoke", "--out", str(out)]) == 0  # finished: skipped
    assert "already finished" in capsys.readouterr().err
    assert main(["report", str(out)]) == 0
    assert "### Verdicts" in capsys.readouterr().out
