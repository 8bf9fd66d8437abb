import csv
import subprocess
import sys

import torch

from onelayer_theory.config import DataConfig, FinetuneConfig, ModelConfig, TrainConfig
from onelayer_theory.data import World
from onelayer_theory.model import OneLayerTransformer
from onelayer_theory.train import finetune, lr_lambda, pretrain

DATA = DataConfig(n_subjects=16, n_relations=2, answers_per_relation=4, templates_per_relation=2)
MODEL = ModelConfig(d_model=16, mlp_width=32)


def _train(seeds, worlds, lora_rank=0):
    model = OneLayerTransformer(MODEL, worlds[0].vocab.size, worlds[0].biography_length, seeds)
    pretrain(model, worlds, TrainConfig(steps=15, batch_size=8, warmup_steps=3), seeds)
    ft = FinetuneConfig(steps=10, batch_size=8, warmup_steps=2, lora_rank=lora_rank)
    finetune(model, [w.finetune_qa[:2] for w in worlds], ft, seeds)
    return model


def test_batched_ensemble_equals_separate_training():
    seeds = [0, 1, 2]
    worlds = [World(DataConfig(**{**DATA.__dict__, "seed": s})) for s in seeds]
    for lora_rank in (0, 2):
        batched = _train(seeds, worlds, lora_rank)
        for e, seed in enumerate(seeds):
            alone = _train([seed], [worlds[e]], lora_rank)
            for key, value in alone.state_dict().items():
                assert torch.allclose(batched.state_dict()[key][e], value[0], atol=1e-5), key


def test_schedules():
    cfg = TrainConfig(steps=100, warmup_steps=10, schedule="step")
    f = lr_lambda(cfg)
    assert f(0) == 0.1 and f(20) == 1.0 and abs(f(60) - 0.1) < 1e-12 and abs(f(80) - 0.01) < 1e-12
    g = lr_lambda(TrainConfig(steps=100, warmup_steps=10, schedule="cosine"))
    assert g(9) == 1.0 and abs(g(99) - 0.1) < 0.01
    assert lr_lambda(TrainConfig(steps=100, warmup_steps=0, schedule="constant"))(50) == 1.0


def test_smoke_sweep_writes_results(tmp_path):
    out = tmp_path / "cov"
    cmd = [
        sys.executable,
        "-m",
        "onelayer_theory",
        "run",
        "--experiment",
        "coverage",
        "--preset",
        "smoke",
        "--seeds",
        "1",
        "--out",
        str(out),
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    with open(out / "results.csv") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 3
    for column in (
        "coverage",
        "seed",
        "heldout_acc",
        "stored_acc",
        "ft_acc",
        "pretrain_loss",
        "bayes_loss",
    ):
        assert column in rows[0]
    assert (out / "coverage.png").read_bytes().startswith(b"\x89PNG")
    assert "| coverage |" in proc.stdout
    # A second run resumes from the saved groups instead of training again.
    again = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert "resuming" in again.stderr and "pre-trained" not in again.stderr
    report = subprocess.run(
        [sys.executable, "-m", "onelayer_theory", "report", str(out)],
        capture_output=True,
        text=True,
    )
    assert report.returncode == 0 and "± " in report.stdout


def test_bad_options_exit_2_and_write_nothing(tmp_path):
    out = tmp_path / "bad"
    for extra in (
        ["--set", "data.ft_subject_fraction=1.0"],
        ["--set", "finetune.lora_rank=4096"],
        ["--set", "data.n_subjects=0"],
        ["--seeds", "0"],
    ):
        proc = subprocess.run(
            [
                sys.executable,
                "-m",
                "onelayer_theory",
                "run",
                "--experiment",
                "coverage",
                "--preset",
                "smoke",
                "--out",
                str(out),
                *extra,
            ],
            capture_output=True,
            text=True,
        )
        assert proc.returncode == 2, proc.stderr
        assert proc.stderr.startswith("error: ") and proc.stderr.count("\n") == 1
        assert not out.exists()
