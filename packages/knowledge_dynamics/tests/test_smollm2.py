"""The bundled SmolLM2-135M through the injection protocol on CPU (a few updates)."""

import json

import numpy as np
import pytest

from knowledge_dynamics.eval.probe_log import read_probe_log
from knowledge_dynamics.train.runner import finish_inject, run_control, run_inject


@pytest.mark.slow
def test_smollm2_injection_smoke(micro_cfg, monkeypatch_session, tmp_path):
    cfg = micro_cfg.replace(
        **{
            "model.preset": "smollm2",
            "inject.lr": 1e-4,
            "inject.batch_size": 4,
            "inject.total_steps": 4,
            "inject.inject_every": 2,
            "inject.n_injections": 2,
            "inject.window": 1,
            "inject.moment_warmup": 1,
            "inject.checkpoint_every": 100,
        }
    )
    run = run_inject(cfg, "smollm2", tmp_path / "run", progress=False)
    run_control(cfg, "smollm2", run, progress=False)
    plan = json.loads((run.path / "plan.json").read_text())
    assert plan["moment_warmup_steps"] == 1 and plan["checkpoint_step"] is None
    log = read_probe_log(run.path)
    assert log["target"].shape == (5, 6 * 15) and np.isfinite(log["target"]).all()
    # one update on rows holding the passages raises their memorization probes
    mem = np.array(json.loads((run.path / "probes.json").read_text())["type"]) == "memorization"
    assert log["target"][1, mem].mean() > log["target"][0, mem].mean()
    metrics = finish_inject(run, cfg)
    assert metrics["effectivity_item_specific"]["duplicate"]["memorization"] is not None


@pytest.mark.slow
def test_smollm2_pretraining_continues_into_a_stage_that_injection_resumes(
    micro_cfg, monkeypatch_session, tmp_path
):
    """``model.preset=smollm2``: pretraining continues the bundled model on the background and
    writes a stage with AdamW state and the LR schedule; injection picks both up."""
    from knowledge_dynamics.train.pretrain import pretrain
    from knowledge_dynamics.train.step import lr_at

    cfg = micro_cfg.replace(
        **{
            "synth.n_items": 3,
            "model.preset": "smollm2",
            "model.seq_len": 128,
            "pretrain.steps": 2,
            "pretrain.batch_size": 2,
            "pretrain.lr": 1e-4,
            "pretrain.warmup": 1,
            "pretrain.stages": (2,),
            "inject.batch_size": 4,
            "inject.total_steps": 2,
            "inject.inject_every": 1,
            "inject.n_injections": 1,
            "inject.window": 1,
            "inject.control": "none",
        }
    ).validate()
    stage = pretrain(cfg, tmp_path / "pretrain", progress=False)["stage0"]
    run = run_inject(cfg, str(stage), tmp_path / "run", progress=False)
    plan = json.loads((run.path / "plan.json").read_text())
    state_schedule = {"peak": 1e-4, "warmup": 1, "horizon": 2, "alpha_f": 0.1}
    assert plan["checkpoint_step"] == 2 and plan["moment_warmup_steps"] == 0
    assert plan["lr"]["at_step_0"] == pytest.approx(lr_at(2, **state_schedule))
    log = read_probe_log(run.path)
    mem = np.array(json.loads((run.path / "probes.json").read_text())["type"]) == "memorization"
    assert log["target"][1, mem].mean() > log["target"][0, mem].mean()
