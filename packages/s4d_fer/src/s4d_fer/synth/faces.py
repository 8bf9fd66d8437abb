"""Sampling identities, expressions, head pose and nuisances for the synthetic benchmark.

Expressions are defined by facial-action cues (see :data:`EXPRESSION_CUES`), scaled by an
intensity; identities carry resting offsets of the same cues, so weak expressions are
genuinely ambiguous. Everything is drawn from one ``torch.Generator``: same seed, same data.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from s4d_fer.labels import BASIC7
from s4d_fer.synth.render import CUES, render

#: Cue vector of each basic emotion at full intensity (order of :data:`CUES`).
EXPRESSION_CUES: dict[str, dict[str, float]] = {
    "neutral": {},
    "happy": {"smile": 1.0, "open": 0.25, "cheek": 0.9, "eye_open": -0.25},
    "sad": {"smile": -0.8, "brow_tilt": -1.0, "brow_raise": 0.15, "eye_open": -0.3},
    "surprise": {"open": 1.0, "stretch": -0.35, "brow_raise": 1.0, "eye_open": 1.0},
    "fear": {
        "open": 0.45,
        "stretch": 0.8,
        "brow_raise": 0.6,
        "brow_tilt": -0.6,
        "eye_open": 0.8,
        "smile": -0.25,
    },
    "disgust": {
        "wrinkle": 1.0,
        "smile": -0.45,
        "eye_open": -0.45,
        "brow_tilt": 0.4,
        "brow_raise": -0.3,
    },
    "angry": {
        "brow_tilt": 1.0,
        "brow_raise": -0.6,
        "eye_open": -0.2,
        "stretch": -0.25,
        "smile": -0.2,
    },
}

#: Class frequencies: skewed like the real sets (happy/neutral common, disgust/fear rare).
IMAGE_PRIOR = {
    "neutral": 0.22,
    "happy": 0.26,
    "sad": 0.12,
    "surprise": 0.11,
    "fear": 0.08,
    "disgust": 0.07,
    "angry": 0.14,
}
VIDEO_PRIOR = {
    "neutral": 0.2,
    "happy": 0.2,
    "sad": 0.16,
    "surprise": 0.11,
    "fear": 0.1,
    "disgust": 0.07,
    "angry": 0.16,
}

_SKIN = torch.tensor(
    [
        [0.98, 0.86, 0.76],
        [0.92, 0.74, 0.60],
        [0.78, 0.58, 0.44],
        [0.55, 0.38, 0.27],
        [0.36, 0.24, 0.17],
    ]
)
_HAIR = torch.tensor(
    [
        [0.08, 0.06, 0.05],
        [0.30, 0.18, 0.10],
        [0.60, 0.45, 0.25],
        [0.85, 0.75, 0.50],
        [0.50, 0.50, 0.50],
    ]
)


def _u(g: torch.Generator, n: int, lo: float, hi: float) -> torch.Tensor:
    return lo + (hi - lo) * torch.rand(n, generator=g)


def _n(g: torch.Generator, n: int, std: float) -> torch.Tensor:
    return std * torch.randn(n, generator=g)


def _palette(g: torch.Generator, n: int, table: torch.Tensor) -> torch.Tensor:
    pos = torch.rand(n, generator=g) * (len(table) - 1)
    lo = pos.floor().long()
    hi = (lo + 1).clamp(max=len(table) - 1)
    w = (pos - lo).unsqueeze(1)
    return table[lo] * (1 - w) + table[hi] * w


def sample_labels(g: torch.Generator, n: int, prior: dict[str, float]) -> torch.Tensor:
    """Class indices in :data:`BASIC7` order, drawn from ``prior``."""
    probs = torch.tensor([prior[c] for c in BASIC7])
    return torch.multinomial(probs, n, replacement=True, generator=g)


def sample_identity(g: torch.Generator, n: int) -> dict[str, torch.Tensor]:
    """Face shape, colours, feature placement and resting cue offsets of ``n`` people."""
    p = {
        "face_w": _u(g, n, 0.5, 0.66),
        "face_h": _u(g, n, 0.7, 0.86),
        "eye_y": _u(g, n, -0.2, -0.08),
        "eye_x": _u(g, n, 0.2, 0.3),
        "eye_w": _u(g, n, 0.08, 0.12),
        "brow_t": _u(g, n, 0.014, 0.032),
        "mouth_y": _u(g, n, 0.36, 0.46),
        "mouth_w": _u(g, n, 0.16, 0.25),
        "hair_len": _u(g, n, 0.0, 1.0),
        "skin": _palette(g, n, _SKIN),
        "hair": _palette(g, n, _HAIR),
        "iris": torch.rand(n, 3, generator=g) * 0.4,
        "lip": torch.tensor([0.72, 0.3, 0.3]) * _u(g, n, 0.6, 1.0).unsqueeze(1),
        "blush": torch.tensor([0.9, 0.45, 0.45]).expand(n, 3).clone(),
    }
    # Resting faces differ: some people look a little happy, sad or stern at rest.
    for cue, std in (
        ("smile", 0.18),
        ("brow_tilt", 0.2),
        ("brow_raise", 0.15),
        ("eye_open", 0.15),
        ("open", 0.05),
    ):
        p["rest_" + cue] = _n(g, n, std)
    return p


def sample_scene(g: torch.Generator, n: int, size: int) -> dict[str, torch.Tensor]:
    """Background, lighting, occluder and sensor noise of ``n`` shots."""
    occ_on = (torch.rand(n, generator=g) < 0.2).float()
    tex = F.interpolate(
        torch.randn(n, 3, 5, 5, generator=g),
        size=(size, size),
        mode="bilinear",
        align_corners=False,
    )
    return {
        "bg": torch.rand(n, 3, generator=g) * 0.8 + 0.1,
        "bg_gx": _n(g, n, 0.4),
        "bg_gy": _n(g, n, 0.4),
        "bg_tex": tex,
        "light": _u(g, n, 0.0, 0.45),
        "light_dir": _u(g, n, 0, 2 * math.pi),
        "occ_on": occ_on,
        "occ_x": _u(g, n, -0.6, 0.6),
        "occ_y": _u(g, n, -0.5, 0.7),
        "occ_w": _u(g, n, 0.12, 0.3),
        "occ_h": _u(g, n, 0.08, 0.22),
        "occ": torch.rand(n, 3, generator=g),
        "noise": _u(g, n, 0.0, 0.07),
    }


def sample_pose(g: torch.Generator, n: int) -> dict[str, torch.Tensor]:
    return {
        "roll": _n(g, n, 0.12),
        "yaw": _n(g, n, 0.35).clamp(-0.8, 0.8),
        "tx": _n(g, n, 0.06),
        "ty": _n(g, n, 0.05),
        # Faces fill the frame, as in the aligned face crops of the real datasets.
        "scale": _u(g, n, 1.25, 1.55),
    }


def expression_cues(
    labels: torch.Tensor, intensity: torch.Tensor, g: torch.Generator
) -> dict[str, torch.Tensor]:
    """Cue values for ``labels`` (BASIC7 indices) at ``intensity``; each cue jittered +-30%."""
    table = torch.tensor([[EXPRESSION_CUES[c].get(k, 0.0) for k in CUES] for c in BASIC7])
    n = labels.shape[0]
    jitter = 1 + 0.3 * (2 * torch.rand(n, len(CUES), generator=g) - 1)
    values = table[labels] * jitter * intensity.unsqueeze(1)
    return {k: values[:, i] for i, k in enumerate(CUES)}


def _with_rest(
    cues: dict[str, torch.Tensor], ident: dict[str, torch.Tensor]
) -> dict[str, torch.Tensor]:
    out = dict(cues)
    for key, value in ident.items():
        if key.startswith("rest_"):
            out[key[5:]] = out[key[5:]] + value
    return out


def render_images(g: torch.Generator, labels: torch.Tensor, size: int) -> torch.Tensor:
    """Apex face images (N,3,S,S) in [0,1] for BASIC7 ``labels``."""
    n = labels.shape[0]
    ident = sample_identity(g, n)
    intensity = _u(g, n, 0.45, 1.0)
    cues = _with_rest(expression_cues(labels, intensity, g), ident)
    p = {**ident, **sample_scene(g, n, size), **sample_pose(g, n), **cues}
    p["blink"] = torch.ones(n)
    p["noise_field"] = torch.randn(n, 3, size, size, generator=g)
    return render(p, size)


def intensity_profile(g: torch.Generator, n: int, frames: int) -> torch.Tensor:
    """(n, frames) onset -> apex -> offset curves with random timing, apex and residual."""
    t = torch.linspace(0, 1, frames).expand(n, frames)
    onset = _u(g, n, 0.0, 0.3)[:, None]
    rise = _u(g, n, 0.15, 0.35)[:, None]
    hold = _u(g, n, 0.15, 0.4)[:, None]
    fall = _u(g, n, 0.15, 0.35)[:, None]
    apex = _u(g, n, 0.35, 1.0)[:, None]
    resid = _u(g, n, 0.1, 0.7)[:, None]

    def smooth(z):
        z = z.clamp(0, 1)
        return z * z * (3 - 2 * z)

    up = smooth((t - onset) / rise)
    down = smooth((t - onset - rise - hold) / fall)
    return apex * up * (1 - (1 - resid) * down)


def render_clips(g: torch.Generator, labels: torch.Tensor, frames: int, size: int) -> torch.Tensor:
    """Clips (N,T,3,S,S) in [0,1]: expression dynamics plus blinks, head drift, talking."""
    n, tt = labels.shape[0], frames
    ident = sample_identity(g, n)
    scene = sample_scene(g, n, size)
    pose0 = sample_pose(g, n)
    prof = intensity_profile(g, n, tt)  # (n, T)
    base = expression_cues(labels, torch.ones(n), g)
    time = torch.linspace(0, 1, tt)

    # Head drift: linear motion plus a slow sway, per clip.
    drift = {
        k: _n(g, n, s)
        for k, s in (("roll", 0.08), ("yaw", 0.25), ("tx", 0.05), ("ty", 0.04), ("scale", 0.06))
    }
    sway_f = _u(g, n, 0.5, 2.0)[:, None]
    sway_a = _u(g, n, 0.0, 0.04)[:, None]
    sway = sway_a * torch.sin(2 * math.pi * sway_f * time + _u(g, n, 0, 6.3)[:, None])
    # Blinks: one or two per clip, two frames each.
    blink = torch.ones(n, tt)
    for _ in range(2):
        at = (torch.rand(n, generator=g) * tt).long()
        on = torch.rand(n, generator=g) < 0.6
        for d, depth in ((0, 0.05), (1, 0.4)):
            idx = (at + d).clamp(max=tt - 1)
            blink[torch.arange(n)[on], idx[on]] = depth
    # Talking: a third of the clips move the jaw rhythmically (a confuser for open mouths).
    talk = (torch.rand(n, generator=g) < 0.33).float()[:, None]
    talk_f = _u(g, n, 2.0, 5.0)[:, None]
    speech = (
        talk
        * 0.2
        * (0.5 + 0.5 * torch.sin(2 * math.pi * talk_f * time + _u(g, n, 0, 6.3)[:, None]))
    )

    def per_frame(x):  # (n,) -> (n*T,) or (n,c,...) -> (n*T,c,...)
        return x.repeat_interleave(tt, dim=0)

    p = {k: per_frame(v) for k, v in {**ident, **scene}.items()}
    for k, v in pose0.items():
        p[k] = (
            v[:, None] + drift[k][:, None] * (time - 0.5) + (sway if k in ("tx", "roll") else 0)
        ).reshape(-1)
    for k, v in base.items():
        p[k] = (v[:, None] * prof).reshape(-1)
    p["open"] = p["open"] + speech.reshape(-1)
    p = _with_rest(
        {k: p[k] for k in CUES},
        {k: per_frame(v) for k, v in ident.items() if k.startswith("rest_")},
    ) | {k: v for k, v in p.items() if k not in CUES}
    p["blink"] = blink.reshape(-1)
    p["noise"] = p["noise"] * 0.8
    p["noise_field"] = torch.randn(n * tt, 3, size, size, generator=g)
    return render(p, size).reshape(n, tt, 3, size, size)
