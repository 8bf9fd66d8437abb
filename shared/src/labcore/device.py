"""Device and precision selection shared by every package."""

from __future__ import annotations

import torch


def select_device(device: str | torch.device | None = None) -> torch.device:
    """Return ``device`` as a :class:`torch.device`; ``None`` means CUDA when available, else CPU."""
    if device is not None:
        return torch.device(device)
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def default_dtype(device: str | torch.device | None = None) -> torch.dtype:
    """bf16 on a CUDA device that supports it, fp32 everywhere else."""
    dev = select_device(device)
    if dev.type == "cuda" and torch.cuda.is_bf16_supported():
        return torch.bfloat16
    return torch.float32


def resolve_dtype(
    dtype: str | torch.dtype | None, device: str | torch.device | None = None
) -> torch.dtype:
    """Accept ``"bf16"``, ``"float32"``, a torch dtype or ``None`` (the device default)."""
    if dtype is None or dtype == "auto":
        return default_dtype(device)
    if isinstance(dtype, torch.dtype):
        return dtype
    aliases = {"bf16": "bfloat16", "fp16": "float16", "half": "float16", "fp32": "float32"}
    name = aliases.get(dtype, dtype)
    value = getattr(torch, name, None)
    if not isinstance(value, torch.dtype):
        raise ValueError(f"unknown dtype {dtype!r}")
    return value


def resolve_device(device: str | None = "auto") -> str:
    """``auto``/``None`` → ``cuda`` when available, else ``cpu``; CUDA asked for but absent → ``DataError``."""
    from labcore.errors import DataError

    if device in (None, "auto"):
        return "cuda" if torch.cuda.is_available() else "cpu"
    if str(device).startswith("cuda") and not torch.cuda.is_available():
        raise DataError(f"--device {device}: no CUDA device is visible")
    return str(device)


def cpu_count() -> int:
    """Cores this process may run on (the affinity mask where the OS has one)."""
    from labcore.cli import _cores

    return _cores()


def set_threads(threads: int = 0) -> int:
    """Use ``threads`` intra-op threads (0 = one per core); returns the number set."""
    n = threads or cpu_count()
    torch.set_num_threads(n)
    return n


def data_workers(requested: int, threads: int | None = None) -> int:
    """Data-loader workers that do not oversubscribe the cores left after ``threads``.

    With every core busy in intra-op threads, loading happens in the main process (0).
    """
    threads = torch.get_num_threads() if threads is None else threads
    return max(0, min(requested, cpu_count() - threads))
