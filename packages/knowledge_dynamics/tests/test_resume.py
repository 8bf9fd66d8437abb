import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from knowledge_dynamics.eval.probe_log import read_probe_log
from knowledge_dynamics.train.runner import run_inject


def _logs_equal(a, b):
    assert a["steps"].tolist() == b["steps"].tolist()
    assert len(set(a["steps"].tolist())) == len(a["steps"])
    for m in ("target", "first", "full"):
        np.testing.assert_array_equal(a[m], b[m])


def test_resume_after_interruption_gives_identical_log(micro_cfg, micro_stages, tmp_path):
    cfg = micro_cfg.replace(**{"inject.schedule": "every"})
    ref = read_probe_log(run_inject(cfg, str(micro_stages["mid"]), tmp_path / "ref").path)
    assert ref["steps"].tolist() == list(range(cfg.inject.total_steps + 1))
    # stop after 17 updates: the last checkpoint is at 14, so steps 14-16 are redone
    run_inject(cfg, str(micro_stages["mid"]), tmp_path / "cut", stop_after=17)
    assert not (tmp_path / "cut" / "probe_log.npz").exists()
    run_inject(cfg, str(micro_stages["mid"]), tmp_path / "cut")
    _logs_equal(ref, read_probe_log(tmp_path / "cut"))

    # metrics.csv: one row per step, each step once, the same as the uninterrupted run
    def rows(d):
        return (d / "metrics.csv").read_text().splitlines()

    assert rows(tmp_path / "cut") == rows(tmp_path / "ref")
    assert len(rows(tmp_path / "ref")) == cfg.inject.total_steps + 2  # header + steps 0..T


@pytest.mark.slow
def test_resume_after_sigkill(micro_cfg, micro_stages, tmp_path):
    """A real SIGKILL mid-run, then the same command again."""
    sets = [
        part
        for k, v in {
            "synth.n_items": 6,
            "model.vocab_size": 512,
            "model.seq_len": 320,
            "model.d_model": 32,
            "model.n_layers": 1,
            "model.n_heads": 2,
            "model.ffn": 48,
            "corpus.n_docs": 300,
            "inject.total_steps": 40,
            "inject.inject_every": 5,
            "inject.n_injections": 3,
            "inject.window": 3,
            "inject.batch_size": 8,
            "inject.log_points": 5,
            "inject.checkpoint_every": 7,
            "inject.schedule": "every",
        }.items()
        for part in (f"--{k}", str(v))
    ]

    def cmd(out):
        return [
            sys.executable,
            "-m",
            "knowledge_dynamics",
            "inject",
            "--checkpoint",
            str(micro_stages["mid"]),
            "--out",
            str(out),
            "--preset",
            "smoke",
            *sets,
        ]

    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    subprocess.run(cmd(tmp_path / "ref"), check=True, env=env, capture_output=True)
    proc = subprocess.Popen(
        cmd(tmp_path / "cut"), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    last = tmp_path / "cut" / "checkpoints" / "last.pt"
    deadline = time.time() + 120
    while not last.exists() and time.time() < deadline and proc.poll() is None:
        time.sleep(0.05)
    time.sleep(0.3)
    killed = proc.poll() is None
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert killed, "the run finished before it could be killed"
    assert not (tmp_path / "cut" / "probe_log.npz").exists()
    subprocess.run(cmd(tmp_path / "cut"), check=True, env=env, capture_output=True)
    _logs_equal(read_probe_log(tmp_path / "ref"), read_probe_log(tmp_path / "cut"))
