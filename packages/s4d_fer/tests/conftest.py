"""Fixtures: a micro synthetic benchmark and a micro run config (seconds on one CPU core)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from s4d_fer.config import RunConfig
from s4d_fer.synth import write_synth

MICRO = {
    "synth.n_images": 140,
    "synth.n_clips": 35,
    "synth.frames": 6,
    "synth.size": 32,
    "model.preset": "custom",
    "model.img_size": 32,
    "model.patch_size": 8,
    "model.embed_dim": 32,
    "model.depth": 2,
    "model.num_heads": 2,
    "model.decoder_dim": 16,
    "model.decoder_depth": 1,
    "model.decoder_heads": 2,
    "model.moe_experts": 4,
    "model.moe_start_block": 1,
    "data.num_frames": 4,
    "data.sampling_rate": 1,
    "data.num_workers": 0,
    "pretrain.epochs": 1,
    "pretrain.image_batch": 32,
    "pretrain.video_batch": 8,
    "finetune.epochs": 1,
    "finetune.video_batch": 8,
    "finetune.image_batch": 16,
    "progress_bar": False,
}


@pytest.fixture(autouse=True)
def _one_thread():
    torch.set_num_threads(1)


@pytest.fixture(scope="session")
def micro_synth(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("synth") / "bench"
    cfg = RunConfig().replace(**{k: v for k, v in MICRO.items() if k.startswith("synth.")})
    write_synth(out, cfg.synth, log=lambda m: None)
    return out


@pytest.fixture
def micro_cfg(micro_synth, tmp_path) -> RunConfig:
    return RunConfig().replace(
        **MICRO,
        **{
            "runs_root": str(tmp_path / "runs"),
            "data.synth_root": str(micro_synth),
            "data.root": str(micro_synth / "DFEW"),
            "data.image_root": str(micro_synth / "AffectNet"),
        },
    )
