"""The ``onelayer`` command line: strict keys, config round trip, refusals before work, run
folders (finished runs skipped, interrupted ones resumed, other folders untouched), report."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
import time

import pytest
import yaml

from onelayer_theory.cli import app

SMOKE = ["--preset", "smoke", "--seeds", "1"]


def _main(argv, capsys):
    code = app.main(argv)
    out, err = capsys.readouterr()
    return code, out, err


def _onelayer(*argv):
    """The console script as a user runs it (a fresh interpreter)."""
    cmd = [sys.executable, "-m", "onelayer_theory", *argv]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120)


def test_help_is_fast_and_lists_field_docs():
    start = time.perf_counter()
    proc = _onelayer("run", "--help")
    assert proc.returncode == 0
    assert time.perf_counter() - start < 2.0
    for text in ("--data.coverage", "Fraction of the template universe", "--finetune.lr"):
        assert text in proc.stdout
    for command in ("data", "run", "report"):
        assert command in _onelayer("--help").stdout


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["--dta.coverage", "0.5"], "--data.coverage"),
        (["--finetune.lora_rnk", "2"], "--finetune.lora_rank"),
        (["--experiment", "bogus"], "invalid choice: 'bogus'"),
        (["--preset", "smok"], "'smoke'"),
    ],
)
def test_typos_are_refused_fast_with_the_closest_key(argv, needle, tmp_path):
    out = tmp_path / "r"
    argv = ["run", "--experiment", "coverage", "--out", str(out), *argv]
    start = time.perf_counter()
    proc = _onelayer(*argv)
    assert time.perf_counter() - start < 2.0
    assert proc.returncode == 2 and needle in proc.stderr
    assert proc.stderr.startswith("error: ") and proc.stderr.count("\n") == 1
    assert not out.exists()


@pytest.mark.parametrize(
    "extra",
    [
        ["--data.coverage", "2"],
        ["--data.ft_subject_fraction", "1.0"],
        ["--data.n_subjects", "0"],
        ["--finetune.lora_rank", "4096"],
        ["--model.arch", "gpt3"],
        ["--finetune.lora_targets", "[attn, mlp_hidden]"],
        ["--pretrain.steps", "many"],
        ["--pretrain.lr_pilot", "0"],
        ["--seeds", "0"],
        ["--device", "tpu"],
    ],
)
def test_bad_values_exit_2_and_write_nothing(extra, tmp_path, capsys):
    out = tmp_path / "bad"
    code, _, err = _main(["run", "--experiment", "coverage", "--out", str(out), *extra], capsys)
    assert code == 2, err
    assert err.startswith("error: ") and err.count("\n") == 1
    assert not out.exists()


def test_print_config_round_trip_reproduces_config_json(tmp_path, capsys):
    extra = ["--experiment", "coverage", *SMOKE, "--data.n_subjects", "20"]
    extra += ["--pretrain.steps", "20", "--finetune.steps", "5", "--finetune.lr", "1e-3"]
    code, _, err = _main(["run", "--out", str(tmp_path / "a"), *extra], capsys)
    assert code == 0, err
    code, printed, _ = _main(
        ["run", "--out", str(tmp_path / "b"), *extra, "--print_config"], capsys
    )
    assert code == 0 and not (tmp_path / "b").exists()
    assert yaml.safe_load(printed)["finetune"]["lr"] == 1e-3
    (tmp_path / "b.yaml").write_text(printed)
    code, _, err = _main(["run", "--config", str(tmp_path / "b.yaml")], capsys)
    assert code == 0, err
    a = (tmp_path / "a" / "config.json").read_text()
    assert a == (tmp_path / "b" / "config.json").read_text()
    assert json.loads(a)["experiment"] == "coverage"


def test_non_run_folder_as_out_is_left_untouched(tmp_path, capsys):
    folder = tmp_path / "mine"
    folder.mkdir()
    (folder / "results.csv").write_text("keep me")
    code, _, err = _main(["run", "--experiment", "coverage", *SMOKE, "--out", str(folder)], capsys)
    assert code == 2 and "not a onelayer_theory run folder" in err
    assert [p.name for p in folder.iterdir()] == ["results.csv"]
    assert (folder / "results.csv").read_text() == "keep me"


def test_sweep_run_folder_skip_resume_and_report(tmp_path, capsys):
    out = tmp_path / "lora"
    argv = ["run", "--experiment", "lora", *SMOKE, "--out", str(out)]
    argv += ["--pretrain.steps", "60", "--finetune.steps", "20"]
    code, stdout, err = _main(argv, capsys)
    assert code == 0, err
    assert "| lora_rank |" in stdout and "pre-trained" in err
    for name in ("run.json", "config.json", "metrics.json", "metrics.csv", "log.txt"):
        assert (out / name).is_file(), name
    assert (out / "plots" / "lora.png").read_bytes().startswith(b"\x89PNG")
    assert (out / "plots" / "training_loss.png").is_file()
    with open(out / "results.csv") as fh:
        rows = list(csv.DictReader(fh))
    assert [r["lora_rank"] for r in rows] == ["0", "1", "4"]
    for column in ("seed", "heldout_acc", "stored_acc", "ft_acc", "pretrain_loss", "bayes_loss"):
        assert column in rows[0]
    with open(out / "metrics.csv") as fh:
        steps = list(csv.DictReader(fh))
    assert {r["stage"] for r in steps} == {"pretrain", "finetune"}
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["experiment"] == "lora" and len(metrics["points"]) == 3

    # A finished run is skipped (its table printed again), never retrained.
    code, stdout, err = _main(argv, capsys)
    assert code == 0 and "already finished" in err and "| lora_rank |" in stdout
    assert "pre-trained" not in err

    # An interrupted run resumes: finished groups and the pre-trained checkpoint are kept.
    info = json.loads((out / "run.json").read_text())
    (out / "run.json").write_text(json.dumps(info | {"status": "running"}))
    groups = sorted(p for p in (out / ".partial").glob("*.json"))
    assert len(groups) == 3
    groups[0].unlink()
    code, _, err = _main(argv, capsys)
    assert code == 0, err
    assert "resuming: 2 of 3 groups already done" in err and "pre-trained" not in err
    assert json.loads((out / "run.json").read_text())["status"] == "finished"

    # A changed configuration is refused instead of mixing results.
    code, _, err = _main([*argv, "--finetune.lr", "1e-3"], capsys)
    assert code == 2 and "finetune.lr" in err

    code, stdout, err = _main(["report", str(tmp_path)], capsys)
    assert code == 0, err
    assert "## lora (smoke, 1 seeds" in stdout and "| lora_rank | seeds |" in stdout


def test_report_refuses_a_folder_without_runs(tmp_path, capsys):
    code, _, err = _main(["report", str(tmp_path)], capsys)
    assert code == 2 and "no onelayer_theory run folder" in err


def test_data_card(capsys):
    code, stdout, _ = _main(["data", "--preset", "smoke", "--data.coverage", "0.5"], capsys)
    assert code == 0 and "covered_templates: 2" in stdout
