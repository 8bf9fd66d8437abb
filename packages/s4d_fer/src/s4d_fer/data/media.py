"""Reading images, frame folders and video files; every failure names the file."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from labcore.errors import DataError

IMAGE_EXTS = (".jpg", ".jpeg", ".png", ".bmp", ".webp")
VIDEO_EXTS = (".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v")


def read_image(path: str | Path) -> np.ndarray:
    """An RGB image as a (H, W, 3) uint8 array."""
    try:
        with Image.open(path) as im:
            return np.array(im.convert("RGB"))
    except FileNotFoundError:
        raise DataError(f"{path}: image not found") from None
    except (UnidentifiedImageError, OSError, ValueError) as exc:
        raise DataError(f"{path}: unreadable image ({type(exc).__name__})") from None


def list_frames(folder: str | Path) -> list[Path]:
    """The image files of a frame folder, in name order; a missing/empty folder raises."""
    folder = Path(folder)
    if not folder.is_dir():
        raise DataError(f"{folder}: frame folder not found")
    frames = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_EXTS)
    if not frames:
        raise DataError(f"{folder}: clip has no frames")
    return frames


def read_video_file(path: str | Path) -> list[np.ndarray]:
    """All frames of a video file (decoded on the CPU with PyAV) as RGB arrays."""
    import av

    try:
        with av.open(str(path)) as container:
            frames = [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
    except FileNotFoundError:
        raise DataError(f"{path}: video not found") from None
    except (av.error.FFmpegError, OSError, IndexError, ValueError) as exc:
        raise DataError(f"{path}: unreadable video ({type(exc).__name__})") from None
    if not frames:
        raise DataError(f"{path}: clip has no frames")
    return frames


def count_frames(path: Path) -> int:
    """Number of frames of a frame folder or video file (raises if there are none)."""
    if path.is_dir():
        return len(list_frames(path))
    return len(read_video_file(path))


def is_video_file(path: Path) -> bool:
    return path.suffix.lower() in VIDEO_EXTS
