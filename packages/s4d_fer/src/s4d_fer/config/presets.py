"""Named presets (``--preset NAME``) and the model size presets (``model.preset``).

A preset is a set of dotted defaults applied below ``--config`` and the command line.
"""

from __future__ import annotations

from labcore.errors import DataError

#: Size fields set by ``model.preset`` (``tiny`` equals the field defaults).
MODEL_SIZES: dict[str, dict[str, int]] = {
    "tiny": dict(
        img_size=64,
        patch_size=8,
        tubelet=2,
        embed_dim=128,
        depth=6,
        num_heads=4,
        decoder_dim=64,
        decoder_depth=2,
        decoder_heads=4,
        moe_start_block=3,
    ),
    "base": dict(
        img_size=160,
        patch_size=16,
        tubelet=2,
        embed_dim=768,
        depth=12,
        num_heads=12,
        decoder_dim=384,
        decoder_depth=4,
        decoder_heads=6,
        moe_start_block=6,
    ),
}

PRESETS: dict[str, dict] = {
    # About a minute on 2 cores: a small synthetic set, 1-2 epochs per stage.
    "smoke": {
        "synth.n_images": 420,
        "synth.n_clips": 70,
        "synth.frames": 12,
        "data.synth_root": "runs/s4d_fer/synth-smoke",
        "data.root": "runs/s4d_fer/synth-smoke/DFEW",
        "data.image_root": "runs/s4d_fer/synth-smoke/AffectNet",
        "data.num_frames": 4,
        "model.depth": 4,
        "model.moe_start_block": 2,
        "model.embed_dim": 96,
        "pretrain.epochs": 1,
        "finetune.epochs": 2,
        "finetune.video_batch": 8,
        "pretrain.video_batch": 8,
    },
    # The tiny model on the default synthetic benchmark.
    "default": {},
    # The reduced setting of the ablation (5 configurations x seeds on 2 cores).
    "ablation": {
        "model.img_size": 48,
        "model.embed_dim": 96,
        "model.depth": 4,
        "model.moe_start_block": 2,
        "data.num_frames": 4,
        "data.sampling_rate": 4,
        "pretrain.epochs": 4,
        "finetune.epochs": 8,
    },
    # The paper's ViT-B recipe on a GPU (real data: set data.root / data.image_root).
    "gpu": {
        "model.preset": "base",
        "data.num_frames": 16,
        "data.sampling_rate": 4,
        "data.num_workers": 8,
        "pretrain.epochs": 100,
        "pretrain.image_batch": 192,
        "pretrain.video_batch": 48,
        "pretrain.lr": 1.2e-3,
        "finetune.epochs": 100,
        "finetune.video_batch": 16,
        "finetune.image_batch": 32,
        "finetune.lr": 4e-5,
        "finetune.layer_decay": 0.75,
        "finetune.mixup": 0.8,
        "finetune.cutmix": 1.0,
        "finetune.warmup_epochs": 5.0,
        "synth.size": 160,
        "synth.n_images": 10000,
        "synth.n_clips": 800,
        "synth.frames": 64,
        "data.synth_root": "runs/s4d_fer/synth-160",
        "data.root": "runs/s4d_fer/synth-160/DFEW",
        "data.image_root": "runs/s4d_fer/synth-160/AffectNet",
    },
}


def preset(name: str):
    """The validated :class:`~s4d_fer.config.RunConfig` of a preset (for code and tests)."""
    from s4d_fer.config.schema import RunConfig

    if name not in PRESETS:
        raise DataError(f"--preset must be one of {', '.join(PRESETS)} (got {name!r})")
    return RunConfig().replace(**PRESETS[name]).validate()
