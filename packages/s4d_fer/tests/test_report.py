"""``report``: one row per pipeline run, mean ± std [95% interval] over seeds per configuration."""

from __future__ import annotations

from labcore.rundir import RunDir
from s4d_fer.cli import main


def _fake_run(path, seed, modalities, tasks, experts, war, epochs=3, threads=2):
    config = {
        "seed": seed,
        "threads": threads,
        "pretrain": {"modalities": modalities, "epochs": epochs},
        "finetune": {"tasks": tasks},
        "model": {"moe_experts": experts},
    }
    run = RunDir.open(path, package="s4d_fer", command="train", config=config)
    run.finish(war=war, uar=war - 0.05, n_test=84, image={"war": 0.5, "uar": 0.4, "n": 525})


def test_report_groups_seeds(tmp_path, capsys):
    for seed, (a, b) in enumerate([(0.60, 0.40), (0.70, 0.45), (0.65, 0.50)]):
        _fake_run(tmp_path / f"abl/seed{seed}/s4d", seed, "both", "both", 8, a)
        _fake_run(tmp_path / f"abl/seed{seed}/vmae", seed, "video", "video", 0, b)
    RunDir.open(tmp_path / "abl/seed0/s4d/pretrain", package="s4d_fer", command="pretrain",
                config={}).finish(steps=3)  # fmt: skip
    assert main(["report", str(tmp_path / "abl")]) == 0
    out = capsys.readouterr().out
    assert "pretrain" not in out and "seed0/s4d" in out
    assert "| dual MAE -> multi-task + MoAE (S4D) | 3 | 65.0 ± 5.0 [52.6, 77.4]" in out
    assert "| video MAE -> video FT | 3 | 45.0 ± 5.0" in out
    assert out.index("video MAE -> video FT | 3") < out.index("(S4D) | 3")


def test_report_pools_only_identical_configurations(tmp_path, capsys):
    # Same row name, two pre-training lengths: two groups, each labelled by what differs;
    # a different thread count does not split a group.
    for seed in (0, 1):
        _fake_run(tmp_path / f"a{seed}", seed, "both", "both", 8, 0.3, epochs=3, threads=1 + seed)
        _fake_run(tmp_path / f"b{seed}", seed, "both", "both", 8, 0.6, epochs=30)
    # A config written before a setting existed pools with one holding its default.
    run = RunDir.open(tmp_path / "b2", package="s4d_fer", command="train", config={
        "seed": 2, "pretrain": {"modalities": "both", "epochs": 30}, "finetune": {"tasks": "both"},
        "model": {"moe_experts": 8}, "data": {"clip_fraction": 1.0}})  # fmt: skip
    run.finish(war=0.6, uar=0.55, n_test=84, image={"war": 0.5, "uar": 0.4, "n": 525})
    assert main(["report", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "| dual MAE -> multi-task + MoAE (S4D) [pretrain.epochs=3] | 2 | 30.0 ± 0.0" in out
    assert "| dual MAE -> multi-task + MoAE (S4D) [pretrain.epochs=30] | 3 | 60.0 ± 0.0" in out


def test_report_refuses_folders_without_runs(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    assert main(["report", str(tmp_path / "empty")]) == 2
    assert "holds no s4d_fer run folder" in capsys.readouterr().err
    assert main(["report"]) == 2
