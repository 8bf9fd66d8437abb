"""The common CLI layer: overrides, presets, config files, strict keys, validation, round trip."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import pytest
import yaml

from labcore.cli import App, Arg, Command, closest
from labcore.errors import DataError
from labcore.rundir import RunDir


@dataclass(frozen=True)
class DataSection:
    """Data options."""

    coverage: float = 1.0
    """Fraction of templates used."""
    names: tuple[str, ...] = ("a", "b")
    """Names of things."""


@dataclass(frozen=True)
class ModelSection:
    """Model options."""

    arch: Literal["small", "big"] = "small"
    """Which model."""
    width: int = 16
    """Hidden width."""


@dataclass(frozen=True)
class DemoConfig:
    """A config with two sections."""

    data: DataSection = field(default_factory=DataSection)
    model: ModelSection = field(default_factory=ModelSection)
    steps: int = 10
    """Training steps."""
    verbose: bool = False
    """Print more."""

    def validate(self) -> None:
        if not 0 < self.data.coverage <= 1:
            raise DataError(f"data.coverage must be in (0, 1] (got {self.data.coverage})")


CALLS: list = []


def _run(args) -> int:
    run = RunDir.for_args(args, "demo")
    CALLS.append(args)
    if run.finished:
        return 0
    run.log(0, loss=1.0)
    run.finish(loss=1.0)
    return 0


def _check(args) -> None:
    if args.options.get("data_file") and not Path(args.data_file).exists():
        raise DataError(f"--data_file {args.data_file}: not found")


PRESETS = {"default": {}, "smoke": {"model.width": 4, "steps": 2}}
APP = App(
    "demo",
    "A demo app.",
    package="demo",
    commands=[
        Command("train", _run, help="train", config=DemoConfig, presets=PRESETS, check=_check,
                args=[Arg("--data_file", type=str, default=None)]),
        Command("report", lambda a: print(" ".join(a.dirs)), help="tables", out=None, common=(),
                args=[Arg("dirs", nargs="+", type=str)]),
    ],
)  # fmt: skip


def _main(argv, capsys):
    code = APP.main(argv)
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(autouse=True)
def _clear():
    CALLS.clear()


def test_overrides_with_yaml_values_and_presets(tmp_path, capsys):
    out = tmp_path / "run"
    argv = ["train", "--out", str(out), "--preset", "smoke", "--verbose", "true"]
    argv += ["--data.coverage", "5e-1", "--data.names", "[x, y]"]
    code, _, err = _main(argv, capsys)
    assert code == 0, err
    cfg = CALLS[0].config
    assert cfg.model.width == 4 and cfg.steps == 2  # from the preset
    assert cfg.verbose is True and cfg.data.coverage == 0.5 and cfg.data.names == ("x", "y")
    assert CALLS[0].device == "cpu" or CALLS[0].device.startswith("cuda")
    assert CALLS[0].threads >= 1
    stored = json.loads((out / "config.json").read_text())
    assert stored["preset"] == "smoke" and stored["model"]["width"] == 4
    assert "out" not in stored


def test_print_config_round_trip_reproduces_config_json(tmp_path, capsys):
    extra = ["--preset", "smoke", "--model.arch", "big", "--data.names", "[p]"]
    assert _main(["train", "--out", str(tmp_path / "a"), *extra], capsys)[0] == 0
    code, printed, _ = _main(
        ["train", "--out", str(tmp_path / "b"), *extra, "--print_config"], capsys
    )
    assert code == 0 and not (tmp_path / "b").exists()
    (tmp_path / "c.yaml").write_text(printed)
    assert _main(["train", "--config", str(tmp_path / "c.yaml")], capsys)[0] == 0
    assert (tmp_path / "a" / "config.json").read_text() == (
        tmp_path / "b" / "config.json"
    ).read_text()


def test_config_file_preset_and_cli_precedence(tmp_path, capsys):
    (tmp_path / "c.json").write_text(json.dumps({"preset": "smoke", "steps": 7}))
    argv = [
        "train",
        "--config",
        str(tmp_path / "c.json"),
        "--steps",
        "8",
        "--out",
        str(tmp_path / "r"),
    ]
    assert _main(argv, capsys)[0] == 0
    assert CALLS[0].config.model.width == 4 and CALLS[0].config.steps == 8


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["train", "--out", "X", "--dta.coverage", "1"], "--data.coverage"),
        (["train", "--out", "X", "--model.widht", "1"], "--model.width"),
        (["train", "--out", "X", "--data.coverag", "1"], "--data.coverage"),  # no prefixes
        (["train", "--out", "X", "--preset", "smok"], "'smoke'"),
        (["trian"], "'train'"),
    ],
)
def test_typos_are_refused_fast_with_the_closest_key(argv, needle, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    start = time.perf_counter()
    code, _, err = _main(argv, capsys)
    assert code == 2 and err.count("\n") == 1 and needle in err
    assert time.perf_counter() - start < 2.0
    assert not (tmp_path / "X").exists()


def test_unknown_key_in_config_file(tmp_path, capsys):
    (tmp_path / "c.yaml").write_text(yaml.safe_dump({"model": {"widht": 3}}))
    code, _, err = _main(["train", "--out", "X", "--config", str(tmp_path / "c.yaml")], capsys)
    assert code == 2 and "c.yaml" in err and "'model.widht'" in err and "'model.width'" in err


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["--data.coverage", "3"], "data.coverage"),
        (["--model.arch", "huge"], "model.arch"),
        (["--steps", "many"], "--steps"),
        (["--device", "tpu"], "--device"),
        (["--threads", "-1"], "--threads"),
        (["--data_file", "/no/such/file"], "--data_file"),
    ],
)
def test_bad_values_are_refused_before_work(argv, needle, tmp_path, capsys):
    code, _, err = _main(["train", "--out", str(tmp_path / "r"), *argv], capsys)
    assert code == 2 and needle in err and not CALLS
    assert not (tmp_path / "r").exists()


def test_help_lists_field_docstrings(capsys):
    code, out, _ = _main(["train", "--help"], capsys)
    assert code == 0
    for text in ("Fraction of templates used.", "Hidden width.", "--preset", "--threads"):
        assert text in out
    code, out, _ = _main(["--help"], capsys)
    assert code == 0 and "train" in out and "report" in out


def test_non_run_folder_is_refused_and_untouched(tmp_path, capsys):
    folder = tmp_path / "mine"
    folder.mkdir()
    (folder / "notes.txt").write_text("keep me")
    code, _, err = _main(["train", "--out", str(folder)], capsys)
    assert code == 2 and "not a demo run folder" in err
    assert [p.name for p in folder.iterdir()] == ["notes.txt"]


def test_finished_run_is_skipped_and_changed_config_refused(tmp_path, capsys):
    out = str(tmp_path / "r")
    assert _main(["train", "--out", out], capsys)[0] == 0
    assert _main(["train", "--out", out, "--threads", "1"], capsys)[0] == 0  # runtime key only
    assert len(CALLS) == 2
    code, _, err = _main(["train", "--out", out, "--steps", "3"], capsys)
    assert code == 2 and "steps" in err


def test_positional_args_and_single_command_entry(tmp_path, capsys):
    assert _main(["report", "a", "b"], capsys)[1].strip() == "a b"
    entry = APP.entry("train")
    assert entry(["--out", str(tmp_path / "r"), "--preset", "smoke"]) == 0


def test_closest():
    assert closest("lerning_rate", ["learning_rate", "seed"]) == "learning_rate"
    assert closest("zzz", ["learning_rate"]) is None
