"""The command line: strict keys, --print_config round trip, checks before work, folders left alone."""

from __future__ import annotations

import json
import time

import pytest
import yaml

from s4d_fer.cli import main, train_main


def _run(fn, argv, capsys):
    code = fn(argv)
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["--data.rot", "x"], "--data.root"),
        (["--finetune.epohcs", "2"], "--finetune.epochs"),
        (["--preset", "smok"], "'smoke'"),
        (["--model.depth", "two"], "--model.depth"),
        (["--finetune.select_on", "best"], "select_on"),
        (["--stage", "bogus"], "--stage"),
        (["--model.num_heads", "5"], "model.embed_dim 128 is not divisible by model.num_heads"),
        (["--threads", "-1"], "--threads"),
    ],
)
def test_bad_options_refused_in_one_line_before_work(argv, needle, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "r"
    start = time.perf_counter()
    code, _, err = _run(train_main, [*argv, "--out", str(out)], capsys)
    assert code == 2 and err.startswith("error:") and err.count("\n") == 1 and needle in err
    assert time.perf_counter() - start < 2.0
    assert list(tmp_path.iterdir()) == []


def test_unknown_command_and_config_key(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, _, err = _run(main, ["trian"], capsys)
    assert code == 2 and "'train'" in err
    bad = tmp_path / "c.yaml"
    bad.write_text(yaml.safe_dump({"finetune": {"epohcs": 3}}))
    code, _, err = _run(train_main, ["--config", str(bad), "--out", str(tmp_path / "r")], capsys)
    assert code == 2 and "'finetune.epohcs'" in err and "'finetune.epochs'" in err
    assert not (tmp_path / "r").exists()


def test_stage_without_earlier_outputs_is_refused_fast(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)  # nothing may be rendered into ./runs either
    for stage, needle in (("test", "run --stage finetune first"),
                          ("finetune", "run --stage pretrain first")):  # fmt: skip
        start = time.perf_counter()
        code, _, err = _run(train_main, ["--stage", stage, "--out", "never_ran"], capsys)
        assert code == 2 and needle in err and err.count("\n") == 1
        assert time.perf_counter() - start < 2.0
    assert list(tmp_path.iterdir()) == []


def test_non_run_folders_as_out_and_data_are_left_untouched(tmp_path, capsys, micro_yaml):
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("keep me")
    code, _, err = _run(train_main, ["--config", str(micro_yaml), "--out", str(mine)], capsys)
    assert code == 2 and "not a s4d_fer run folder" in err
    # a folder that is not a dataset (nor a synthetic benchmark) as the data root
    argv = ["--config", str(micro_yaml), "--out", str(tmp_path / "r")]
    code, _, err = _run(train_main, [*argv, "--data.root", str(mine / "DFEW"),
                                     "--data.synth_root", str(mine)], capsys)  # fmt: skip
    assert code == 2 and "not a synthetic benchmark" in err
    code, _, err = _run(train_main, [*argv, "--data.root", str(mine)], capsys)
    assert code == 2 and str(mine) in err
    assert [p.name for p in mine.iterdir()] == ["notes.txt"]
    assert (mine / "notes.txt").read_text() == "keep me"
    assert not (tmp_path / "r").exists() or not any((tmp_path / "r").iterdir())
    # synth --out refuses it as well
    code, _, err = _run(main, ["synth", "--out", str(mine), "--preset", "smoke"], capsys)
    assert code == 2 and "not a synthetic benchmark" in err
    assert [p.name for p in mine.iterdir()] == ["notes.txt"]


def test_print_config_round_trip_and_model_preset(tmp_path, capsys, micro_yaml):
    extra = ["--config", str(micro_yaml), "--stage", "pretrain", "--max_steps", "1",
             "--pretrain.modalities", "video"]  # fmt: skip
    code, _, err = _run(train_main, [*extra, "--out", str(tmp_path / "a")], capsys)
    assert code == 0, err
    code, printed, _ = _run(train_main, [*extra, "--out", str(tmp_path / "b"), "--print_config"],
                            capsys)  # fmt: skip
    assert code == 0 and not (tmp_path / "b").exists()
    (tmp_path / "p.yaml").write_text(printed)
    code, _, err = _run(train_main, ["--config", str(tmp_path / "p.yaml")], capsys)
    assert code == 0, err
    a = json.loads((tmp_path / "a/config.json").read_text())
    assert a == json.loads((tmp_path / "b/config.json").read_text())
    assert "stage" not in a and "out" not in a and a["max_steps"] == 1
    # the same command again resumes the unfinished run (pretrain finished: skipped)
    code, _, err = _run(train_main, [*extra, "--out", str(tmp_path / "a")], capsys)
    assert code == 0 and "pretrain: done already" in err
    # a different config in the same folder is refused
    code, _, err = _run(train_main, [*extra, "--out", str(tmp_path / "a"), "--seed", "3"], capsys)
    assert code == 2 and "different configuration" in err

    # model.preset base fills the size fields in config.json
    code, printed, _ = _run(
        train_main, ["--model.preset", "base", "--data.num_frames", "16", "--print_config"], capsys
    )
    assert code == 0 and yaml.safe_load(printed)["model"]["preset"] == "base"


def test_help_is_documented(capsys):
    code, out, _ = _run(train_main, ["--help"], capsys)
    assert code == 0
    for text in ("Frames per clip fed to the model.", "--preset", "--stage", "--out", "--threads"):
        assert text in out
    code, out, _ = _run(main, ["--help"], capsys)
    assert code == 0 and all(c in out for c in ("train", "synth", "predict", "ablation", "report"))


def test_synth_command_renders_once_and_refuses_other_settings(tmp_path, capsys):
    out = tmp_path / "bench"
    small = ["--n_images", "60", "--n_clips", "35", "--frames", "4", "--size", "32"]
    code, _, err = _run(main, ["synth", "--out", str(out), *small], capsys)
    assert code == 0, err
    assert (out / "synth.json").is_file() and (out / "DFEW").is_dir()
    code, out_text, _ = _run(main, ["synth", "--out", str(out), *small], capsys)
    assert code == 0 and "already rendered" in out_text
    code, _, err = _run(main, ["synth", "--out", str(out), *small, "--seed", "5"], capsys)
    assert code == 2 and "other settings" in err
