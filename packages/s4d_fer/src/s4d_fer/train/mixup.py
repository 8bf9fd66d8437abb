"""Batch mixup / cutmix for images (B,3,H,W) and clips (B,3,T,H,W) with soft targets."""

from __future__ import annotations

import numpy as np
import torch


def mix_batch(x: torch.Tensor, target: torch.Tensor, mixup: float, cutmix: float, rng=None):
    """With both alphas > 0 pick one per batch at random (as timm's Mixup with switch prob 0.5)."""
    if mixup <= 0 and cutmix <= 0:
        return x, target
    rng = rng or np.random.default_rng(int(torch.randint(0, 2**31, (1,))))
    use_cutmix = cutmix > 0 and (mixup <= 0 or rng.random() < 0.5)
    lam = float(rng.beta(cutmix, cutmix) if use_cutmix else rng.beta(mixup, mixup))
    perm = torch.arange(x.shape[0] - 1, -1, -1, device=x.device)  # flip the batch, as timm does
    if use_cutmix:
        h, w = x.shape[-2:]
        cut = np.sqrt(1 - lam)
        ch, cw = int(h * cut), int(w * cut)
        cy, cx = int(rng.integers(h)), int(rng.integers(w))
        y0, y1 = max(cy - ch // 2, 0), min(cy + ch // 2, h)
        x0, x1 = max(cx - cw // 2, 0), min(cx + cw // 2, w)
        x = x.clone()
        x[..., y0:y1, x0:x1] = x[perm][..., y0:y1, x0:x1]
        lam = 1 - (y1 - y0) * (x1 - x0) / (h * w)
    else:
        x = x * lam + x[perm] * (1 - lam)
    return x, target * lam + target[perm] * (1 - lam)
