"""The common CLI contract: strict keys, --print_config round trip, validation before work,
non-run folders left untouched, finished runs skipped; and that the tiny LM can learn."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import numpy as np
import pytest

from knowledge_dynamics.cli import main

# A pretraining run that takes a few seconds.
TINY_PRETRAIN = ["--preset", "smoke", "--corpus.n_docs", "80", "--model.vocab_size", "300",
                 "--pretrain.steps", "3", "--pretrain.warmup", "1", "--pretrain.batch_size", "2",
                 "--pretrain.stages", "[1, 2, 3]"]  # fmt: skip


def _main(argv, capsys):
    code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["run", "--inject.windw", "3"], "--inject.window"),
        (["inject", "--checkpoint", "smollm2", "--analyis.measure", "first"], "--analysis.measure"),
        (["experiments", "--onlyy", "[mid]"], "--only"),
        (["run", "--preset", "smok"], "'smoke'"),
        (["pretrian"], "'pretrain'"),
    ],
)
def test_typos_refused_fast_with_closest_key(argv, needle, tmp_path, capsys):
    start = time.perf_counter()
    code, _, err = _main([*argv, "--out", str(tmp_path / "X")], capsys)
    assert code == 2 and err.count("\n") == 1 and needle in err, err
    assert time.perf_counter() - start < 2.0
    assert not (tmp_path / "X").exists()


def test_unknown_key_in_config_file(tmp_path, capsys):
    (tmp_path / "c.yaml").write_text("inject:\n  windw: 3\n")
    code, _, err = _main(["run", "--config", str(tmp_path / "c.yaml"), "--out", "X"], capsys)
    assert code == 2 and "c.yaml" in err and "'inject.window'" in err


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["run", "--stage", "bogus"], "--stage must be one of early, mid, late"),
        (["run", "--analysis.measure", "mean"], "analysis.measure"),
        (["run", "--inject.schedule", "adaptive"], "analysis.fit_points=grid"),
        (["run", "--synth.n_items", "10"], "synth.n_items"),
        (["run", "--inject.total_steps", "20"], "inject.total_steps"),
        (["run", "--corpus.source", "/no/such.txt"], "corpus.source"),
        (["inject", "--checkpoint", "smollm2"], "--inject.lr"),
        (["run", "--preset", "smollm2", "--stage", "stage0"], "--stage must be one of"),
        (["inject", "--checkpoint", "/no/such/stage"], "no such folder"),
        (["inject"], "--checkpoint is required"),
        (["experiments", "--only", "[mid, bogus]"], "--only"),
        (["experiments", "--seeds", "0"], "--seeds"),
        (["experiments", "--preset", "smollm2", "--only", "[size_large]"], "size_large"),
    ],
)
def test_bad_values_refused_before_work(argv, needle, tmp_path, capsys):
    code, _, err = _main([*argv, "--out", str(tmp_path / "r")], capsys)
    assert code == 2 and needle in err, err
    assert not (tmp_path / "r").exists()


def test_run_bad_stage_is_refused_in_under_2_s_without_torch(tmp_path):
    """The console script's own path: no pretraining, no torch import, nothing written."""
    code = (
        "import sys; from knowledge_dynamics.cli import main; rc = main(sys.argv[1:]); "
        "assert 'torch' not in sys.modules, 'torch was imported'; sys.exit(rc)"
    )
    out = tmp_path / "kd"
    start = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-c", code, "run", "--stage", "bogus", "--out", str(out)],
        capture_output=True,
        text=True,
    )
    elapsed = time.perf_counter() - start
    assert proc.returncode == 2 and "--stage" in proc.stderr, proc.stderr
    assert elapsed < 2.0, f"refused after {elapsed:.1f} s"
    assert not out.exists()


def test_bad_knowledge_file_names_file_and_line(tmp_path, capsys):
    bad = tmp_path / "k.json"
    bad.write_text('[\n  {"train_context": "x",\n   "mem_input": [}\n]\n')
    before = bad.read_text()
    out = tmp_path / "r"
    code, _, err = _main(["run", "--knowledge", str(bad), "--out", str(out)], capsys)
    assert code == 2 and f"{bad}: line 3" in err, err
    assert not out.exists() and bad.read_text() == before


def test_non_run_folders_are_refused_and_untouched(tmp_path, capsys):
    folder = tmp_path / "mine"
    folder.mkdir()
    (folder / "notes.txt").write_text("keep me")
    for argv in (
        ["run", "--preset", "smoke", "--out", str(folder)],
        ["pretrain", *TINY_PRETRAIN, "--out", str(folder)],
        ["analyze", str(folder)],
        ["report", str(folder)],
    ):
        code, _, err = _main(argv, capsys)
        assert code == 2 and str(folder) in err, (argv, err)
        assert [p.name for p in folder.iterdir()] == ["notes.txt"]
        assert (folder / "notes.txt").read_text() == "keep me"
    target = tmp_path / "k.json"  # synth never writes over a file it did not write
    target.write_text("[]")
    code, _, err = _main(["synth", "--out", str(target)], capsys)
    assert code == 2 and target.read_text() == "[]"


def test_print_config_round_trip_and_finished_skip(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("LABCORE_HOME", str(tmp_path / "home"))
    a, b = tmp_path / "a", tmp_path / "b"
    assert _main(["pretrain", *TINY_PRETRAIN, "--out", str(a)], capsys)[0] == 0
    code, printed, _ = _main(
        ["pretrain", *TINY_PRETRAIN, "--out", str(b), "--print_config"], capsys
    )
    assert code == 0 and not b.exists()
    (tmp_path / "c.yaml").write_text(printed)
    assert _main(["pretrain", "--config", str(tmp_path / "c.yaml")], capsys)[0] == 0
    assert (a / "config.json").read_text() == (b / "config.json").read_text()
    cfg = json.loads((a / "config.json").read_text())
    assert cfg["preset"] == "smoke" and cfg["pretrain"]["stages"] == [1, 2, 3]
    # one metrics.csv row per step, a loss plot, stage folders, then a finished run is skipped
    assert len((a / "metrics.csv").read_text().splitlines()) == 1 + 3
    assert (a / "plots" / "loss.png").is_file() and (a / "mid" / "trainer_state.pt").is_file()
    stamp = os.stat(a / "metrics.csv").st_mtime_ns
    code, out, err = _main(["pretrain", *TINY_PRETRAIN, "--out", str(a)], capsys)
    assert code == 0 and "already finished" in err and "mid:" in out
    assert os.stat(a / "metrics.csv").st_mtime_ns == stamp
    # the same folder with another config is refused, untouched
    code, _, err = _main(
        ["pretrain", *TINY_PRETRAIN, "--pretrain.lr", "0.01", "--out", str(a)], capsys
    )
    assert code == 2 and "pretrain.lr" in err


def test_lr_schedule_is_labcore_linear_with_floor():
    from knowledge_dynamics.train.step import lr_at

    def old(step, peak, warmup, horizon, alpha_f):  # the schedule stage checkpoints were made with
        if step < warmup:
            return peak * (step + 1) / warmup
        if step >= horizon:
            return peak * alpha_f
        return peak * (1 - (1 - alpha_f) * (step - warmup) / max(1, horizon - warmup))

    for step in range(0, 700, 7):
        kw = {"peak": 3e-3, "warmup": 50, "horizon": 600, "alpha_f": 0.1}
        assert lr_at(step, **kw) == pytest.approx(old(step, **kw), rel=1e-12)


def test_tiny_lm_overfits_a_tiny_batch():
    """The trainable model learns: a 2x24-token batch to near-zero loss in seconds."""
    import torch

    from knowledge_dynamics.config import ModelConfig
    from knowledge_dynamics.model import build_tiny
    from knowledge_dynamics.model.tokenizer import train_tokenizer
    from knowledge_dynamics.synth.background import synthetic_documents
    from knowledge_dynamics.train.step import train_step

    tok = train_tokenizer(synthetic_documents(60, 0), 300)
    torch.manual_seed(0)
    model = build_tiny(ModelConfig(d_model=64, n_layers=2, n_heads=4, ffn=128, seq_len=32), tok)
    batch = np.random.default_rng(0).integers(0, len(tok), (2, 24))
    opt = torch.optim.AdamW(model.parameters(), lr=1e-2, weight_decay=0.0)
    start = time.perf_counter()
    losses = [train_step(model, opt, batch, 1e-2, 1.0) for _ in range(150)]
    assert losses[0] > 4.0 and losses[-1] < 0.05, (losses[0], losses[-1])
    assert time.perf_counter() - start < 20
