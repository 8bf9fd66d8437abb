"""Temporal sampling and spatial transforms shared by image and video datasets.

Frames arrive as (T, H, W, 3) uint8; outputs are normalised float tensors, (3, H, W) for
an image and (3, T, H, W) for a clip, the layout the 3-D patch embedding expects.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F

MEAN = torch.tensor([0.485, 0.456, 0.406]).view(3, 1, 1, 1)
STD = torch.tensor([0.229, 0.224, 0.225]).view(3, 1, 1, 1)


def sample_indices(
    n_frames: int,
    num: int,
    stride: int,
    rng: np.random.Generator | None = None,
    clip: int = 0,
    n_clips: int = 1,
) -> np.ndarray:
    """Indices of ``num`` frames ``stride`` apart; short clips repeat their last frame.

    With ``rng`` the window starts at a random offset (training); otherwise clip ``clip`` of
    ``n_clips`` windows spread evenly over the video (testing).
    """
    span = (num - 1) * stride + 1
    slack = max(n_frames - span, 0)
    if rng is not None:
        start = int(rng.integers(0, slack + 1))
    elif n_clips == 1:
        start = slack // 2
    else:
        start = round(clip * slack / (n_clips - 1))
    idx = start + stride * np.arange(num)
    return np.minimum(idx, n_frames - 1)


def _random_crop_box(
    h: int, w: int, rng: np.random.Generator, min_scale: float
) -> tuple[int, int, int, int]:
    """A random-resized-crop box (top, left, height, width), aspect ratio 3/4..4/3."""
    area = h * w
    for _ in range(10):
        target = area * rng.uniform(min_scale, 1.0)
        ratio = math.exp(rng.uniform(math.log(3 / 4), math.log(4 / 3)))
        cw = round(math.sqrt(target * ratio))
        ch = round(math.sqrt(target / ratio))
        if 0 < cw <= w and 0 < ch <= h:
            return int(rng.integers(0, h - ch + 1)), int(rng.integers(0, w - cw + 1)), ch, cw
    return 0, 0, h, w


def frames_to_tensor(
    frames: np.ndarray,
    size: int,
    rng: np.random.Generator | None = None,
    min_scale: float = 0.6,
) -> torch.Tensor:
    """(T,H,W,3) uint8 -> normalised (3,T,size,size); ``rng`` enables crop + flip (same for all frames)."""
    x = torch.from_numpy(np.ascontiguousarray(frames)).permute(3, 0, 1, 2).float().div_(255)
    if rng is not None:
        top, left, ch, cw = _random_crop_box(x.shape[2], x.shape[3], rng, min_scale)
        x = x[:, :, top : top + ch, left : left + cw]
        if rng.random() < 0.5:
            x = x.flip(-1)
    if x.shape[2] != size or x.shape[3] != size:
        x = F.interpolate(
            x, size=(size, size), mode="bilinear", align_corners=False, antialias=True
        )
    return (x - MEAN) / STD


def denormalize(x: torch.Tensor) -> torch.Tensor:
    """Undo the normalisation of a (3,T,H,W) or (3,H,W) tensor."""
    if x.dim() == 3:
        return x * STD[..., 0] + MEAN[..., 0]
    return x * STD + MEAN
