"""The probe log of an injection run: ``probe_log.npz`` with ``steps`` and one
``(n_steps, n_probes)`` array per measure (numpy only, so analysis needs no torch)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from labcore.errors import DataError
from labcore.io import atomic_path

MEASURES = ("target", "first", "full")
PROBE_LOG = "probe_log.npz"


def write_probe_log(run_dir: str | Path, log: dict[str, list]) -> Path:
    """Write ``log`` (``steps`` and a list of per-step arrays per measure) atomically."""
    arrays = {"steps": np.asarray(log["steps"], dtype=np.int64)}
    arrays.update({m: np.stack(log[m]) for m in MEASURES})
    path = Path(run_dir) / PROBE_LOG
    with atomic_path(path) as tmp, open(tmp, "wb") as fh:
        np.savez(fh, **arrays)
    return path


def read_probe_log(run_dir: str | Path) -> dict[str, np.ndarray]:
    """The probe log of a finished run (``steps`` and one array per measure)."""
    path = Path(run_dir) / PROBE_LOG
    if not path.is_file():
        raise DataError(f"{run_dir}: no {PROBE_LOG} (is the injection finished?)")
    with np.load(path) as z:
        return {k: z[k] for k in z.files}
