"""Shared fixtures: a micro config and one pretrained micro checkpoint per session."""

from __future__ import annotations

import os

import pytest

from knowledge_dynamics.config import preset

os.environ.setdefault("HF_HUB_OFFLINE", "1")

MICRO = {
    "synth.n_items": 6,
    "corpus.n_docs": 300,
    "model.vocab_size": 512,
    "model.d_model": 32,
    "model.n_layers": 1,
    "model.n_heads": 2,
    "model.ffn": 48,
    "model.seq_len": 320,
    "pretrain.steps": 8,
    "pretrain.batch_size": 4,
    "pretrain.warmup": 2,
    "pretrain.stages": (4, 6, 8),
    "inject.total_steps": 30,
    "inject.inject_every": 5,
    "inject.n_injections": 3,
    "inject.window": 3,
    "inject.batch_size": 8,
    "inject.log_points": 5,
    "inject.checkpoint_every": 7,
}


@pytest.fixture(scope="session")
def micro_cfg():
    return preset("smoke").replace(**MICRO).validate()


@pytest.fixture(scope="session")
def micro_stages(micro_cfg, tmp_path_factory, monkeypatch_session):
    from knowledge_dynamics.train.pretrain import pretrain

    return pretrain(micro_cfg, tmp_path_factory.mktemp("pretrain"), progress=False)


@pytest.fixture(scope="session")
def monkeypatch_session(tmp_path_factory):
    """Keep the packed-stream cache inside the test's temp folder."""
    mp = pytest.MonkeyPatch()
    mp.setenv("LABCORE_HOME", str(tmp_path_factory.mktemp("labcore_home")))
    yield mp
    mp.undo()
