"""The injection protocol's controls: sham injection, packing share, LR, AdamW warm-up, beta1."""

import json

import numpy as np
import pytest
import torch

from knowledge_dynamics.config import InjectConfig, effective_betas
from knowledge_dynamics.eval.analyze import compute_metrics
from knowledge_dynamics.eval.metrics import Trajectory, effectivity
from knowledge_dynamics.eval.probe_log import read_probe_log
from knowledge_dynamics.train.runner import (
    finish_inject,
    run_control,
    run_inject,
    sham_items,
    warm_up_moments,
)


def _tiny_llama(seed=0):
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(seed)
    return LlamaForCausalLM(
        LlamaConfig(
            vocab_size=50,
            hidden_size=16,
            intermediate_size=32,
            num_hidden_layers=1,
            num_attention_heads=2,
            num_key_value_heads=2,
        )
    )


def test_sham_control_gives_item_specific_effectivity(micro_cfg, micro_stages, tmp_path):
    cfg = micro_cfg.replace(**{"analysis.iqr_factor": 0.0})
    ckpt = str(micro_stages["mid"])
    run = run_inject(cfg, ckpt, tmp_path / "run")
    sham = run_control(cfg, ckpt, run)
    assert sham.path == tmp_path / "run" / "sham" and sham.finished
    assert json.loads((sham.path / "plan.json").read_text())["sham"] is True
    # the same probes are scored at the same steps; the injected passages differ
    assert (sham.path / "probes.json").read_text() == (run.path / "probes.json").read_text()
    real, fake = read_probe_log(run.path), read_probe_log(sham.path)
    assert real["steps"].tolist() == fake["steps"].tolist()
    assert real["target"][0].tolist() == fake["target"][0].tolist()  # same model before step 0
    assert not np.array_equal(real["target"][1], fake["target"][1])
    metrics = finish_inject(run, cfg)
    assert metrics["settings"]["sham_control"] is True
    # item-specific = mean over probes x encounters of (gain - sham gain); filter off here
    plan = json.loads((run.path / "plan.json").read_text())
    meta = json.loads((run.path / "probes.json").read_text())
    cols = [
        c
        for c, (i, t) in enumerate(zip(meta["item"], meta["type"], strict=True))
        if plan["scenario"][i] == "duplicate" and t == "memorization"
    ]
    inj = plan["item_steps"][str(plan["scenario"].index("duplicate"))]
    e_real = effectivity(Trajectory(real["steps"], real["target"][:, cols]), inj, plan["window"])
    e_sham = effectivity(Trajectory(fake["steps"], fake["target"][:, cols]), inj, plan["window"])
    item = metrics["effectivity_item_specific"]["duplicate"]["memorization"]
    assert item == pytest.approx(float((e_real - e_sham).mean()), abs=1e-6)
    assert metrics["effectivity_sham"]["duplicate"]["memorization"] == pytest.approx(
        float(e_sham.mean()), abs=1e-6
    )
    assert metrics["step_noise"]["memorization"] > 0
    # the default fit uses every step after the last window (the paper's code)
    curve = metrics["retention_curve"]["duplicate"]["memorization"]
    last = max(inj)
    assert len(curve["log10_t"]) == cfg.inject.total_steps - (last + plan["window"])


def test_sham_knowledge_is_another_set(micro_cfg):
    real = {it.train_context for it in sham_items(micro_cfg.replace(seed=5), 6)}
    fake = sham_items(micro_cfg, 6)
    assert len(fake) == 6 and not real & {it.train_context for it in fake}
    assert all(len(it.paraphrases) >= micro_cfg.inject.n_injections - 1 for it in fake)


def test_passages_stay_in_the_batch_and_lr_is_flat_by_default(micro_cfg, micro_stages, tmp_path):
    ckpt = str(micro_stages["early"])  # early: the checkpoint's schedule still decays after it
    flat = run_inject(micro_cfg, ckpt, tmp_path / "flat")
    plan = json.loads((flat.path / "plan.json").read_text())
    shares = plan["passage_share"]
    assert set(shares) == {"0", "5", "10"} and all(0 < v < 1 for v in shares.values())
    assert shares["0"] > shares["5"]  # once items are injected at step 0 only
    lrs = [r["lr"] for r in flat.history() if "lr" in r]
    assert len(set(lrs)) == 1 and plan["lr"]["schedule"] == "constant"
    decay = run_inject(
        micro_cfg.replace(**{"inject.lr_schedule": "continue"}), ckpt, tmp_path / "decay"
    )
    lrs_d = [r["lr"] for r in decay.history() if "lr" in r]
    assert lrs_d[0] == pytest.approx(lrs[0]) and lrs_d[-1] < lrs_d[0]


def test_beta1_is_scaled_with_the_window():
    assert effective_betas(InjectConfig(window=50)) == pytest.approx((0.9, 0.95))
    b1, b2 = effective_betas(InjectConfig(window=5))
    assert b1**5 == pytest.approx(0.9**50) and b2 == 0.95
    assert effective_betas(InjectConfig(window=5, scale_beta1=False))[0] == 0.9


def test_moment_warmup_fills_adam_state_without_moving_parameters():
    rows = np.random.default_rng(0).integers(0, 50, (12, 10))
    model = _tiny_llama()
    before = [p.detach().clone() for p in model.parameters()]
    opt = torch.optim.AdamW(model.parameters(), lr=0.0, betas=(0.9, 0.95), weight_decay=0.1)
    warm_up_moments(model, opt, rows, batch_size=3, steps=4, grad_clip=1.0)
    for a, p in zip(before, model.parameters(), strict=True):
        assert torch.equal(a, p.detach())
    state = opt.state[next(iter(model.parameters()))]
    assert int(state["step"]) == 4 and state["exp_avg"].abs().sum() > 0

    def first_update(warm: int) -> float:
        """Mean |step-0 change| / LR: about 1 for a fresh AdamW (a sign-sized step)."""
        from knowledge_dynamics.train.step import train_step

        m = _tiny_llama()
        o = torch.optim.AdamW(m.parameters(), lr=0.0, betas=(0.9, 0.95), weight_decay=0.0)
        warm_up_moments(m, o, rows, 3, warm, 1.0)
        old = torch.cat([p.detach().flatten().clone() for p in m.parameters()])
        train_step(m, o, rows[:3], 1e-3, 1.0)
        new = torch.cat([p.detach().flatten() for p in m.parameters()])
        return float(((new - old).abs() / 1e-3).mean())

    fresh, warmed = first_update(0), first_update(20)
    assert fresh > 0.8, fresh
    assert warmed < 0.75 * fresh, (warmed, fresh)


def test_fresh_optimizer_is_warmed_up_in_a_run(micro_cfg, micro_stages, tmp_path):
    cfg = micro_cfg.replace(**{"inject.reset_optimizer": True, "inject.moment_warmup": 3})
    run = run_inject(cfg, str(micro_stages["mid"]), tmp_path / "reset")
    plan = json.loads((run.path / "plan.json").read_text())
    assert plan["moment_warmup_steps"] == 3
    assert "warmed up for 3 steps" in (run.path / "log.txt").read_text()
    loaded = run_inject(micro_cfg, str(micro_stages["mid"]), tmp_path / "loaded")
    assert json.loads((loaded.path / "plan.json").read_text())["moment_warmup_steps"] == 0


def test_metrics_without_sham_have_no_item_specific_keys(micro_cfg, micro_stages, tmp_path):
    run = run_inject(micro_cfg, str(micro_stages["late"]), tmp_path / "plain")
    metrics = compute_metrics(run.path, micro_cfg.analysis)
    assert "effectivity_item_specific" not in metrics
    assert metrics["settings"]["sham_control"] is False
