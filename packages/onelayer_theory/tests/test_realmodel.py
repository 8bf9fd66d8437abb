"""The real-model experiment on the bundled SmolLM2-135M at smoke scale (slow: loads the model)."""

from __future__ import annotations

import pytest
import torch

from labcore.errors import DataError
from onelayer_theory.config import DataConfig
from onelayer_theory.realmodel import (
    RealModelConfig,
    TextWorld,
    person_names,
    run_real_model,
    smoke_config,
)


def test_texts_state_every_fact_and_ask_held_out_people():
    cfg = smoke_config()
    text = TextWorld(cfg.data, seed=0)
    bio = text.biography(0, __import__("numpy").random.default_rng(0))
    for r in range(cfg.data.n_relations):
        assert text.answer(0, r) in bio and bio.count(text.names[0]) == cfg.data.n_relations
    held = set(text.world.heldout_subjects.tolist())
    qa = text.qa_pairs(text.world.heldout_subjects, text.world.covered)
    assert qa and all(any(text.names[s] in p for s in held) for p, _ in qa)
    assert len(set(person_names(50, 1))) == 50
    with pytest.raises(DataError, match="n_relations"):
        RealModelConfig(data=DataConfig(n_relations=5)).validate()


@pytest.mark.slow
@pytest.mark.parametrize("finetune", ["full", "lora"])
def test_smollm2_smoke_run(finetune):
    torch.set_num_threads(1)
    lr = 1e-3 if finetune == "lora" else 3e-5
    result = run_real_model(
        smoke_config(finetune=finetune, finetune_lr=lr), device="cpu", log=lambda _: None
    )
    for stage in ("base", "pretrained", "finetuned"):
        for name in ("stored", "heldout", "ft"):
            assert 0.0 <= result[f"{name}_acc_{stage}"] <= 1.0
    # Continued pre-training learns the new biographies' (repetitive) text.
    assert result["pretrain_loss_last"] < result["pretrain_loss_first"]
    if finetune == "lora":
        assert result["finetune_trainable_params"] < 5e6  # adapters only, not the 135M weights
    else:
        assert result["finetune_trainable_params"] > 1e8
