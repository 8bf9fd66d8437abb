"""Checks made before any work (no torch here): inputs a stage needs, output and data folders."""

from __future__ import annotations

from pathlib import Path

from labcore.errors import DataError
from labcore.rundir import is_run_dir
from s4d_fer.config import RunConfig

PACKAGE = "s4d_fer"


def needs_images(cfg: RunConfig) -> bool:
    return cfg.pretrain.modalities in ("both", "image") or cfg.finetune.tasks == "both"


def missing_inputs(
    out: Path, stage: str, checkpoint: str | None, cfg: RunConfig, encoder: Path | None = None
) -> str | None:
    """Why ``stage`` cannot start from ``out`` (``None`` when its inputs exist)."""
    if stage == "finetune" and cfg.pretrain.modalities != "none" and encoder is None:
        path = Path(checkpoint) if checkpoint else out / "pretrain" / "encoder.pt"
        if not path.is_file():
            return f"{path}: not found; run --stage pretrain first (or pass --checkpoint)"
    if stage == "test":
        path = Path(checkpoint) if checkpoint else out / "finetune" / "model.pt"
        if not path.is_file():
            return f"{path}: not found; run --stage finetune first (or pass --checkpoint)"
    return None


def check_out(out: Path) -> None:
    """Refuse ``out`` before any work unless it is missing, empty or an s4d_fer run folder."""
    if out.exists() and not out.is_dir():
        raise DataError(f"--out {out}: is a file, not a folder")
    if out.is_dir() and any(out.iterdir()) and not is_run_dir(out, PACKAGE):
        raise DataError(
            f"--out {out}: exists and is not a {PACKAGE} run folder (no run.json); "
            "nothing was changed — choose another folder"
        )


def check_data(cfg: RunConfig, need_images: bool) -> None:
    """Dataset roots exist, or lie in ``data.synth_root`` where ``train`` can render them."""
    d = cfg.data
    synth = Path(d.synth_root)
    roots = [("data.root", Path(d.root))]
    if need_images:
        roots.append(("data.image_root", Path(d.image_root)))
    for name, root in roots:
        if root.is_dir():
            continue
        if root.exists():
            raise DataError(f"{name} {root}: is a file, not a dataset root folder")
        if synth not in root.parents:
            raise DataError(f"{name} {root}: dataset root not found")
        if synth.is_file() or (
            synth.is_dir() and any(synth.iterdir()) and not (synth / "synth.json").is_file()
        ):
            raise DataError(
                f"data.synth_root {synth}: exists and is not a synthetic benchmark, so "
                f"{name} {root} cannot be rendered there; nothing was changed"
            )
