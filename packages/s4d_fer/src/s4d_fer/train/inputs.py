"""The datasets of one run, and rendering the synthetic benchmark when a run needs it."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

from labcore.errors import DataError
from s4d_fer.config import RunConfig
from s4d_fer.data import RecordDataset, build_dataset, stratified_split, stratified_subset
from s4d_fer.synth import write_synth


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


@dataclass
class Data:
    """The datasets of one run (image ones are None when not used)."""

    video_all: RecordDataset
    video_fit: RecordDataset
    video_val: RecordDataset | None
    video_test: RecordDataset
    image_train: RecordDataset | None
    image_test: RecordDataset | None


def ensure_synth(cfg: RunConfig, say=log) -> None:
    """Render the synthetic benchmark if the configured roots point into a missing synth folder."""
    synth = Path(cfg.data.synth_root)
    roots = [Path(cfg.data.root), Path(cfg.data.image_root)]
    if any(not r.exists() and synth in r.parents for r in roots):
        if synth.exists() and (synth / "synth.json").exists():
            raise DataError(
                f"{synth}: synthetic benchmark is incomplete; delete the folder to re-render it"
            )
        if synth.exists() and any(synth.iterdir()):
            raise DataError(
                f"data.synth_root {synth}: exists and is not a synthetic benchmark; "
                "nothing was changed — choose another folder"
            )
        write_synth(synth, cfg.synth, log=say)


def _sample_options(cfg: RunConfig) -> dict:
    d, m = cfg.data, cfg.model
    return dict(
        img_size=m.img_size,
        num_frames=d.num_frames,
        sampling_rate=d.sampling_rate,
        min_scale=d.min_scale,
        skip_bad=d.skip_bad,
        test_clips=d.test_clips,
        test_crops=d.test_crops,
    )


def load_data(cfg: RunConfig, need_images: bool) -> Data:
    d = cfg.data
    opts = _sample_options(cfg)
    video_all = build_dataset(d.dataset, d.root, "train", d.fold, train=True, **opts)
    if d.val_fraction > 0:
        fit_idx, val_idx = stratified_split(video_all.labels, d.val_fraction, seed=0)
        video_fit, video_val = video_all.subset(fit_idx), video_all.subset(val_idx, train=False)
    else:
        video_fit, video_val = video_all, None
    if d.clip_fraction < 1.0:  # a clip budget for fine-tuning (nested subsets, seed 0)
        video_fit = video_fit.subset(stratified_subset(video_fit.labels, d.clip_fraction))
    video_test = build_dataset(d.dataset, d.root, "test", d.fold, train=False, **opts)
    image_train = image_test = None
    if need_images:
        extra = {"classes": d.image_classes} if d.image_dataset == "affectnet" else {}
        image_train = build_dataset(
            d.image_dataset, d.image_root, "train", train=True, **opts, **extra
        )
        image_test = build_dataset(
            d.image_dataset, d.image_root, "test", train=False, **opts, **extra
        )
    return Data(video_all, video_fit, video_val, video_test, image_train, image_test)
