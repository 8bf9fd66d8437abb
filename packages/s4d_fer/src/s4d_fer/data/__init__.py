"""Datasets: real layouts (DFEW, FERV39K, MAFW, AffectNet, RAF-DB, FERPlus, generic) behind one builder."""

from __future__ import annotations

from pathlib import Path

from labcore.errors import DataError
from s4d_fer.data.base import ImageDataset, Record, RecordDataset, SampleOptions, VideoDataset
from s4d_fer.data.datasets import READERS
from s4d_fer.data.split import stratified_split, stratified_subset

_READER_OPTIONS = {"frames_dir", "classes", "kind"}


def build_dataset(
    name: str, root: str | Path, split: str, fold: int | None = None, **options
) -> RecordDataset:
    """A torch ``Dataset`` of ``(tensor, label)`` with a ``classes`` attribute.

    ``name``: one of dfew, ferv39k, mafw, affectnet, rafdb, ferplus, generic. ``split``:
    train or test (val too for ferplus / generic). ``fold``: 1..5 for DFEW and MAFW.
    Options: ``train`` (random crops / temporal jitter; default: split == "train"),
    ``img_size``, ``num_frames``, ``sampling_rate``, ``test_clips``, ``test_crops``,
    ``min_scale``, ``skip_bad``, ``seed``; reader options ``frames_dir`` (DFEW),
    ``classes`` (AffectNet 7/8), ``kind`` (generic: image/video/auto).
    Images yield (3, H, W); clips (3, T, H, W), or (V, 3, T, H, W) at test time with V views.
    """
    if name not in READERS:
        raise DataError(f"unknown dataset {name!r} (choose from {', '.join(READERS)})")
    root = Path(root)
    if not root.is_dir():
        raise DataError(f"{name}: dataset root {root} not found")
    reader_opts = {k: options.pop(k) for k in list(options) if k in _READER_OPTIONS}
    options.setdefault("train", split == "train")
    unknown = set(options) - set(SampleOptions.__dataclass_fields__)
    if unknown:
        raise DataError(f"build_dataset: unknown option(s) {', '.join(sorted(unknown))}")
    opts = SampleOptions(**options)
    records, classes, kind = READERS[name](root, split, fold, skip_bad=opts.skip_bad, **reader_opts)
    cls = VideoDataset if kind == "video" else ImageDataset
    return cls(records, classes, opts)


__all__ = [
    "READERS",
    "ImageDataset",
    "Record",
    "RecordDataset",
    "SampleOptions",
    "VideoDataset",
    "build_dataset",
    "stratified_split",
    "stratified_subset",
]
