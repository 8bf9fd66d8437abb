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


def micro_options(synth: Path) -> dict:
    """The micro config as dotted options, pointing at the micro benchmark ``synth``."""
    return {
        **MICRO,
        "data.synth_root": str(synth),
        "data.root": str(synth / "DFEW"),
        "data.image_root": str(synth / "AffectNet"),
    }


@pytest.fixture
def micro_cfg(micro_synth) -> RunConfig:
    return RunConfig().replace(**micro_options(micro_synth))


@pytest.fixture
def micro_yaml(micro_synth, tmp_path) -> Path:
    """The micro config as a ``--config`` file (nested YAML)."""
    import yaml

    nested: dict = {}
    for key, value in micro_options(micro_synth).items():
        *head, last = key.split(".")
        node = nested
        for part in head:
            node = node.setdefault(part, {})
        node[last] = value
    path = tmp_path / "micro.yaml"
    path.write_text(yaml.safe_dump(nested))
    return path
