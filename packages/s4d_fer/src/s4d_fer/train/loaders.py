"""Data loaders: per-modality DataLoaders and the loader that alternates image and video steps."""

from __future__ import annotations

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, DistributedSampler, WeightedRandomSampler


def _world() -> tuple[int, int]:
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        return torch.distributed.get_rank(), torch.distributed.get_world_size()
    return 0, 1


def make_loader(
    dataset: Dataset,
    batch_size: int,
    *,
    train: bool,
    workers: int,
    seed: int,
    balanced: bool = False,
) -> DataLoader:
    """A DataLoader; training shuffles (class-balanced with replacement if ``balanced``),
    and under DDP each rank reads its own shard."""
    rank, world = _world()
    sampler, shuffle = None, False
    if train and balanced:
        labels = np.asarray(dataset.labels)
        counts = np.bincount(labels, minlength=labels.max() + 1).astype(float)
        weights = torch.as_tensor(1.0 / counts[labels], dtype=torch.double)
        g = torch.Generator().manual_seed(seed + rank)
        sampler = WeightedRandomSampler(
            weights, num_samples=len(labels) // world, replacement=True, generator=g
        )
    elif world > 1:
        sampler = DistributedSampler(
            dataset, num_replicas=world, rank=rank, shuffle=train, seed=seed
        )
    else:
        shuffle = train
    generator = torch.Generator().manual_seed(seed)
    return DataLoader(
        dataset,
        batch_size=min(batch_size, len(dataset)),
        shuffle=shuffle,
        sampler=sampler,
        num_workers=workers,
        drop_last=train and len(dataset) >= batch_size,
        persistent_workers=False,  # persistent workers outlive a stage within one process
        generator=generator,
        pin_memory=torch.cuda.is_available(),
    )


class AlternatingLoader:
    """Each step is one batch of one modality, in a seeded random order per epoch.

    ``steps`` gives the steps per epoch of each loader (loaders cycle when exhausted), so
    every DDP rank follows the same image/video schedule.
    """

    def __init__(self, loaders: dict[str, DataLoader], steps: dict[str, int], seed: int = 0):
        self.loaders = {k: v for k, v in loaders.items() if steps.get(k, 0) > 0}
        self.steps = {k: steps[k] for k in self.loaders}
        self.seed = seed
        self.epoch = 0
        self._iters: dict[str, object] = {}

    def __len__(self) -> int:
        return sum(self.steps.values())

    def _next(self, kind: str):
        it = self._iters.get(kind)
        try:
            if it is None:
                raise StopIteration
            return next(it)
        except StopIteration:
            sampler = getattr(self.loaders[kind], "sampler", None)
            if isinstance(sampler, DistributedSampler):
                sampler.set_epoch(self.epoch)
            self._iters[kind] = iter(self.loaders[kind])
            return next(self._iters[kind])

    def __iter__(self):
        schedule = [k for k, n in self.steps.items() for _ in range(n)]
        order = np.random.default_rng(self.seed + self.epoch).permutation(len(schedule))
        self.epoch += 1
        for i in order:
            kind = schedule[i]
            yield kind, self._next(kind)
