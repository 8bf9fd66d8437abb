"""Record-based image and video datasets with bad-sample handling.

A dataset is a list of :class:`Record` (path, label, where-it-came-from). Records are
checked when the dataset is built (missing folders, empty clips); a bad one stops with
one line naming the annotation file and row, or, with ``skip_bad``, is dropped and
counted. A file that only fails to decode later is replaced by the next sample when
``skip_bad`` is on (and counted in the worker's log line).
"""

from __future__ import annotations

import copy
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from labcore.errors import DataError
from s4d_fer.data.media import is_video_file, list_frames, read_image, read_video_file
from s4d_fer.data.transforms import frames_to_tensor, sample_indices


@dataclass(frozen=True)
class Record:
    """One sample: a file (image / video) or a frame folder, its label, and its origin."""

    path: Path
    label: int
    where: str
    """``annotation-file:row`` (for error messages)."""


@dataclass
class SampleOptions:
    """How samples are turned into tensors."""

    train: bool = False
    img_size: int = 64
    num_frames: int = 8
    sampling_rate: int = 3
    test_clips: int = 1
    test_crops: int = 1
    min_scale: float = 0.6
    skip_bad: bool = False
    seed: int = 0


def check_records(records: list[Record], kind: str, skip_bad: bool) -> tuple[list[Record], int]:
    """Drop (``skip_bad``) or refuse records whose file / frame folder is missing or empty."""
    good, bad = [], 0
    for rec in records:
        problem = None
        if kind == "video" and rec.path.is_dir():
            if not any(p.is_file() for p in rec.path.iterdir()):
                problem = f"clip has no frames ({rec.path})"
        elif not rec.path.exists():
            problem = f"{'frame folder' if kind == 'video' else 'image'} not found ({rec.path})"
        if problem is None:
            good.append(rec)
        elif skip_bad:
            bad += 1
        else:
            raise DataError(
                f"{rec.where}: {problem}; pass --data.skip_bad true to skip such samples"
            )
    if skip_bad and bad:
        print(f"warning: skipped {bad} bad sample(s) of {len(records)}", file=sys.stderr)
    return good, bad


class RecordDataset(Dataset):
    """Base class: ``records``, ``classes``, ``kind`` (``image`` or ``video``) and options."""

    kind = "image"

    def __init__(self, records: list[Record], classes: tuple[str, ...], options: SampleOptions):
        self.classes = tuple(classes)
        self.options = options
        self.records, self.skipped = check_records(records, self.kind, options.skip_bad)
        if not self.records:
            raise DataError("dataset is empty after reading its annotation file")
        self.load_failures = 0

    def __len__(self) -> int:
        return len(self.records)

    @property
    def labels(self) -> list[int]:
        return [r.label for r in self.records]

    def subset(self, indices, train: bool | None = None) -> RecordDataset:
        """A dataset of the same kind over ``indices`` (optionally switching train/eval mode)."""
        new = copy.copy(self)
        new.options = SampleOptions(**self.options.__dict__)
        if train is not None:
            new.options.train = train
        new.records = [self.records[i] for i in indices]
        new.skipped, new.load_failures = 0, 0
        return new

    def _rng(self) -> np.random.Generator | None:
        if not self.options.train:
            return None
        # Fresh randomness per worker and call; seeded from torch's per-worker seed.
        return np.random.default_rng(torch.randint(0, 2**62, (1,)).item())

    def load(self, rec: Record) -> torch.Tensor:
        raise NotImplementedError

    def __getitem__(self, i: int):
        for attempt in range(len(self.records)):
            rec = self.records[(i + attempt) % len(self.records)]
            try:
                return self.load(rec), rec.label
            except DataError as exc:
                if not self.options.skip_bad:
                    raise DataError(f"{rec.where}: {exc}") from None
                self.load_failures += 1
                print(f"warning: skipping unreadable sample {rec.where}: {exc}", file=sys.stderr)
        raise DataError("every sample of the dataset is unreadable")


class ImageDataset(RecordDataset):
    """Still images -> (3, H, W)."""

    kind = "image"

    def load(self, rec: Record) -> torch.Tensor:
        o = self.options
        img = read_image(rec.path)[None]
        return frames_to_tensor(img, o.img_size, self._rng(), o.min_scale)[:, 0]


class VideoDataset(RecordDataset):
    """Clips (frame folder or video file) -> (3, T, H, W); eval with several clips -> (V, 3, T, H, W)."""

    kind = "video"

    def read_frames(self, path: Path, indices_for) -> np.ndarray:
        if is_video_file(path):
            frames = read_video_file(path)
            idx = indices_for(len(frames))
            return np.stack([frames[j] for j in idx])
        files = list_frames(path)
        idx = indices_for(len(files))
        cache: dict[int, np.ndarray] = {}
        out = []
        for j in idx:
            if j not in cache:
                cache[j] = read_image(files[j])
            out.append(cache[j])
        return np.stack(out)

    def load(self, rec: Record) -> torch.Tensor:
        o = self.options
        rng = self._rng()
        if rng is not None:
            frames = self.read_frames(
                rec.path, lambda n: sample_indices(n, o.num_frames, o.sampling_rate, rng)
            )
            return frames_to_tensor(frames, o.img_size, rng, o.min_scale)
        views = []
        for c in range(o.test_clips):
            frames = self.read_frames(
                rec.path,
                lambda n, c=c: sample_indices(
                    n, o.num_frames, o.sampling_rate, None, c, o.test_clips
                ),
            )
            for k in range(o.test_crops):
                # Frames are square face crops already, so a second "crop" is the mirrored
                # clip (the official code's two crops were identical copies).
                views.append(frames_to_tensor(frames[:, :, ::-1] if k % 2 else frames, o.img_size))
        return views[0] if len(views) == 1 else torch.stack(views)
