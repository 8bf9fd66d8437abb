"""Write the synthetic benchmark to disk in the DFEW and AffectNet layouts.

``OUT/DFEW``: ``Clip/jpg_256/{id:05d}/{frame:05d}.jpg`` and the official split files
``EmoLabel_DataSplit/{train,test}(single-labeled)/set_{k}.csv`` (``video_name,label``, labels
1..7 in DFEW's order). ``OUT/AffectNet``: ``Manually_Annotated_Images/{dir}/{name}.jpg`` and
the S4D lists ``{train,test}_affectnet7_2w.txt`` (``relpath label``, AffectNet ids).
The whole folder appears atomically, so an interrupted run never leaves half a dataset.
"""

from __future__ import annotations

import csv
import time
from collections import Counter
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from labcore.io import atomic_path, write_json
from s4d_fer.config import SynthConfig
from s4d_fer.labels import BASIC7, CLASSES
from s4d_fer.synth.faces import IMAGE_PRIOR, VIDEO_PRIOR, render_clips, render_images, sample_labels

FOLDS = 5
_IMAGE_CHUNK = 256
_CLIP_CHUNK = 16


def _gen(seed: int, stream: int, chunk: int) -> torch.Generator:
    # Independent, reproducible streams per (seed, what, chunk).
    return torch.Generator().manual_seed(seed * 1_000_003 + stream * 10_007 + chunk)


def _to_uint8(x: torch.Tensor) -> np.ndarray:
    return (
        (x.clamp(0, 1) * 255 + 0.5).to(torch.uint8).permute(*range(x.dim() - 3), -2, -1, -3).numpy()
    )


def _save(arr: np.ndarray, path: Path) -> None:
    Image.fromarray(arr).save(path, quality=92)


def write_affectnet(out: Path, cfg: SynthConfig) -> Counter:
    """Render ``cfg.n_images`` apex images and their train/test lists under ``out``."""
    labels = sample_labels(_gen(cfg.seed, 0, 0), cfg.n_images, IMAGE_PRIOR)
    rows = []
    for c, start in enumerate(range(0, cfg.n_images, _IMAGE_CHUNK)):
        lab = labels[start : start + _IMAGE_CHUNK]
        imgs = _to_uint8(render_images(_gen(cfg.seed, 1, c), lab, cfg.size))
        folder = out / "Manually_Annotated_Images" / f"{c:03d}"
        folder.mkdir(parents=True, exist_ok=True)
        for j, (arr, y) in enumerate(zip(imgs, lab.tolist(), strict=True)):
            name = f"{c:03d}/face_{start + j:06d}.jpg"
            _save(arr, out / "Manually_Annotated_Images" / name)
            rows.append((name, CLASSES["affectnet7"].index(BASIC7[y])))
    n_test = round(0.15 * len(rows))
    for split, part in (("test", rows[:n_test]), ("train", rows[n_test:])):
        with open(out / f"{split}_affectnet7_2w.txt", "w", encoding="utf-8") as fh:
            fh.writelines(f"{name} {label}\n" for name, label in part)
    return Counter(BASIC7[y] for y in labels.tolist())


def write_dfew(out: Path, cfg: SynthConfig) -> Counter:
    """Render ``cfg.n_clips`` clips and the 5-fold split files under ``out``."""
    labels = sample_labels(_gen(cfg.seed, 2, 0), cfg.n_clips, VIDEO_PRIOR)
    clip_root = out / "Clip" / "jpg_256"
    for c, start in enumerate(range(0, cfg.n_clips, _CLIP_CHUNK)):
        lab = labels[start : start + _CLIP_CHUNK]
        clips = _to_uint8(render_clips(_gen(cfg.seed, 3, c), lab, cfg.frames, cfg.size))
        for j, clip in enumerate(clips):
            folder = clip_root / f"{start + j + 1:05d}"
            folder.mkdir(parents=True, exist_ok=True)
            for f, arr in enumerate(clip):
                _save(arr, folder / f"{f + 1:05d}.jpg")
    # Folds: a seeded permutation cut into 5 parts; fold k tests on part k.
    perm = torch.randperm(cfg.n_clips, generator=_gen(cfg.seed, 4, 0)).tolist()
    parts = [perm[k::FOLDS] for k in range(FOLDS)]
    dfew_label = [CLASSES["dfew"].index(BASIC7[y]) + 1 for y in labels.tolist()]  # 1-based
    for k in range(FOLDS):
        for split, ids in (
            ("test", parts[k]),
            ("train", [i for j, p in enumerate(parts) if j != k for i in p]),
        ):
            folder = out / "EmoLabel_DataSplit" / f"{split}(single-labeled)"
            folder.mkdir(parents=True, exist_ok=True)
            with open(folder / f"set_{k + 1}.csv", "w", newline="", encoding="utf-8") as fh:
                w = csv.writer(fh)
                w.writerow(["video_name", "label"])
                w.writerows([f"{i + 1:05d}", dfew_label[i]] for i in sorted(ids))
    return Counter(BASIC7[y] for y in labels.tolist())


def write_synth(out: str | Path, cfg: SynthConfig, log=print) -> Path:
    """Render the whole benchmark into ``out`` (``DFEW/``, ``AffectNet/``, ``synth.json``)."""
    out = Path(out)
    start = time.perf_counter()
    with atomic_path(out) as tmp:
        tmp.mkdir(parents=True)
        images = write_affectnet(tmp / "AffectNet", cfg)
        clips = write_dfew(tmp / "DFEW", cfg)
        write_json(
            tmp / "synth.json",
            {
                "config": cfg.__dict__,
                "images_per_class": dict(sorted(images.items())),
                "clips_per_class": dict(sorted(clips.items())),
            },
        )
    log(
        f"synth: {cfg.n_images} images and {cfg.n_clips} clips x {cfg.frames} frames "
        f"({cfg.size}px) -> {out} in {time.perf_counter() - start:.1f}s"
    )
    return out
