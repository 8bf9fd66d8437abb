"""The run-folder contract: layout, resume/skip, refusal of foreign folders, metrics.csv."""

from __future__ import annotations

import json

import pytest

from labcore.errors import DataError
from labcore.rundir import RunDir, find_runs, is_run_dir


def test_new_run_layout(tmp_path):
    run = RunDir.open(tmp_path / "r", package="pkg", command="train", config={"lr": 0.1})
    assert run.status == "new" and is_run_dir(run.path, "pkg") and not is_run_dir(run.path, "x")
    assert json.loads(run.config_file.read_text()) == {"lr": 0.1}
    run.log(0, loss=2.0)
    run.log(1, loss=1.0, acc=0.5)  # a new column rewrites the header
    run.log(2, loss=0.5, acc=0.75)
    assert run.history() == [
        {"step": 0, "loss": 2.0},
        {"step": 1, "loss": 1.0, "acc": 0.5},
        {"step": 2, "loss": 0.5, "acc": 0.75},
    ]
    run.print("hello")
    assert run.log_file.read_text() == "hello\n"
    assert run.plots.is_dir()
    run.finish(loss=0.5)
    assert run.finished and run.load_metrics() == {"loss": 0.5}
    assert run.info()["status"] == "finished"


def test_reopen_resumes_or_skips(tmp_path):
    cfg = {"lr": 0.1, "device": "cpu"}
    first = RunDir.open(tmp_path / "r", package="pkg", command="train", config=cfg)
    again = RunDir.open(tmp_path / "r", package="pkg", command="train", config=cfg)
    assert again.status == "resumed"
    first.finish(x=1)
    moved = cfg | {"device": "cuda"}  # runtime keys may change
    assert RunDir.open(tmp_path / "r", package="pkg", command="train", config=moved).finished


@pytest.mark.parametrize(
    ("package", "command", "config", "needle"),
    [
        ("other", "train", {"lr": 0.1}, "holds a run of"),
        ("pkg", "eval", {"lr": 0.1}, "holds a run of"),
        ("pkg", "train", {"lr": 0.2}, "different configuration: lr"),
    ],
)
def test_foreign_runs_are_refused(tmp_path, package, command, config, needle):
    RunDir.open(tmp_path / "r", package="pkg", command="train", config={"lr": 0.1})
    before = sorted(p.name for p in (tmp_path / "r").iterdir())
    with pytest.raises(DataError, match=needle):
        RunDir.open(tmp_path / "r", package=package, command=command, config=config)
    assert sorted(p.name for p in (tmp_path / "r").iterdir()) == before


def test_folder_of_other_files_is_left_untouched(tmp_path):
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "data.txt").write_text("precious")
    with pytest.raises(DataError, match="not a pkg run folder"):
        RunDir.open(tmp_path / "mine", package="pkg", command="train", config={})
    assert [p.name for p in (tmp_path / "mine").iterdir()] == ["data.txt"]
    (tmp_path / "file").write_text("x")
    with pytest.raises(DataError, match="is a file"):
        RunDir.open(tmp_path / "file", package="pkg", command="train", config={})


def test_find_runs(tmp_path):
    for name in ("a", "b/c"):  # a/ holds nothing else, b/ is a plain folder around a run
        RunDir.open(tmp_path / name, package="pkg", command="train", config={})
    found = find_runs([tmp_path], "pkg")
    assert [r.path.relative_to(tmp_path).as_posix() for r in found] == ["a", "b/c"]
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="no pkg run folder"):
        find_runs([tmp_path / "empty"], "pkg")
    with pytest.raises(DataError, match="no such folder"):
        find_runs([tmp_path / "missing"], "pkg")


def test_truncate_drops_rows_to_be_redone(tmp_path):
    run = RunDir.open(tmp_path / "r", package="pkg", command="train", config={})
    for step in range(5):
        run.log(step, loss=float(step))
    run.truncate(3)
    run.log(3, loss=9.0)
    assert [r["step"] for r in run.history()] == [0, 1, 2, 3]
    assert run.history()[-1]["loss"] == 9.0
