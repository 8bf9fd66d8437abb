"""Vectorised renderer: a batch of face parameter vectors -> RGB images.

Every face part is a soft implicit shape evaluated on a pixel grid in face coordinates
(after the head pose is undone), so a whole batch renders with a few tensor ops.
Coordinates: x to the right, y downwards, the face centre at 0, the image spans [-1, 1].
"""

from __future__ import annotations

import torch

#: Action-unit style cues that drive an expression (all >= 0 except where noted).
CUES = (
    "smile",  # mouth corners up (negative = down)
    "open",  # jaw / lips apart
    "stretch",  # mouth wider (negative = pressed / puckered)
    "brow_raise",  # brows up (negative = lowered)
    "brow_tilt",  # inner brow ends down (negative = inner ends up)
    "eye_open",  # wider eyes (negative = narrowed)
    "cheek",  # raised cheeks
    "wrinkle",  # nose wrinkle + upper lip raise
)


def _soft(d: torch.Tensor, sharp: float) -> torch.Tensor:
    """Soft inside-indicator of a signed distance-like value (inside where d > 0)."""
    return torch.sigmoid(d * sharp)


def _band(dist: torch.Tensor, half: torch.Tensor | float, sharp: float) -> torch.Tensor:
    return _soft(half - dist.abs(), sharp)


def _blend(img: torch.Tensor, alpha: torch.Tensor, color: torch.Tensor) -> torch.Tensor:
    """Alpha-composite ``color`` (N,3) over ``img`` (N,3,S,S) with ``alpha`` (N,S,S)."""
    # In place: blending is memory-bound, so avoid temporaries of the full image batch.
    return img.lerp_(color[:, :, None, None].to(img.dtype), alpha.unsqueeze(1))


def render(p: dict[str, torch.Tensor], size: int) -> torch.Tensor:
    """Render faces. ``p`` maps parameter names to (N,) tensors (colours are (N,3)).

    Returns float images (N, 3, size, size) in [0, 1].
    """
    n = p["face_w"].shape[0]
    sharp = size / 2.2  # edge softness of about one pixel
    lin = (torch.arange(size, dtype=torch.float32) + 0.5) / size * 2 - 1
    v, u = torch.meshgrid(lin, lin, indexing="ij")
    u = u.expand(n, size, size)
    v = v.expand(n, size, size)

    # Undo the head pose: in-plane roll, translation and scale; yaw shifts features.
    c, s = torch.cos(p["roll"])[:, None, None], torch.sin(p["roll"])[:, None, None]
    du, dv = u - p["tx"][:, None, None], v - p["ty"][:, None, None]
    sc = p["scale"][:, None, None]
    x = (du * c + dv * s) / sc
    y = (-du * s + dv * c) / sc
    yaw = p["yaw"][:, None, None]
    xf = x - yaw * 0.18 * (1 - y.pow(2)).clamp(min=0)  # features slide with yaw

    def col(name):
        return p[name]

    def sc1(name):
        return p[name][:, None, None]

    # Background: colour, linear gradient and a low-frequency texture.
    grad = (u * sc1("bg_gx") + v * sc1("bg_gy")).unsqueeze(1)
    img = col("bg")[:, :, None, None] * (1 + 0.5 * grad) + 0.12 * p["bg_tex"]
    img = img.clamp_(0, 1)

    # Hair: a larger ellipse behind the face, shifted up.
    fw, fh = sc1("face_w"), sc1("face_h")
    hair = _soft(1 - (x / (fw * 1.12)).pow(2) - ((y + 0.12) / (fh * 1.05)).pow(2), sharp / 3)
    hair = hair * _soft(-(y - 0.05 - 0.2 * sc1("hair_len")), sharp)
    img = _blend(img, hair, col("hair"))

    # Face with directional lighting.
    face = _soft(1 - (x / fw).pow(2) - (y / fh).pow(2), sharp / 3)
    light = 1 + sc1("light") * (x * torch.cos(sc1("light_dir")) + y * torch.sin(sc1("light_dir")))
    skin = col("skin")[:, :, None, None] * light.unsqueeze(1)
    img = img.lerp_(skin.clamp_(0, 1), face.unsqueeze(1))

    cue = {k: sc1(k) for k in CUES}
    # Cheeks: reddish blobs that rise with the cheek cue (happy).
    ey, ex = sc1("eye_y"), sc1("eye_x")
    cheek_y = ey + 0.28 - 0.06 * cue["cheek"]
    cheek = _soft(1 - ((xf.abs() - ex) / 0.13).pow(2) - ((y - cheek_y) / 0.09).pow(2), 4.0)
    img = _blend(img, cheek * face * (0.15 + 0.45 * cue["cheek"].clamp(min=0)), col("blush"))

    # Eyes: white ellipse, iris; height follows eye_open, blinks and cheek raise.
    ew = sc1("eye_w")
    eh = (
        ew * 0.55 * (1 + 0.6 * cue["eye_open"] - 0.25 * cue["cheek"]).clamp(min=0.08) * sc1("blink")
    )
    eye_d = 1 - ((xf.abs() - ex) / ew).pow(2) - ((y - ey) / eh.clamp(min=1e-3)).pow(2)
    eye = _soft(eye_d, sharp / 4) * (eh > 0.01).float()
    img = _blend(img, eye, torch.full((n, 3), 0.95))
    iris = _soft(
        1 - ((xf.abs() - ex - 0.02 * yaw) / (ew * 0.45)).pow(2) - ((y - ey) / (ew * 0.45)).pow(2),
        sharp / 4,
    )
    img = _blend(img, iris * eye, col("iris"))

    # Brows: thick segments; raise moves them up, tilt lowers the inner ends.
    bx = xf.abs() - ex  # signed offset from the eye centre (negative = inner half)
    brow_y = ey - 0.17 - 0.09 * cue["brow_raise"] - 0.06 * cue["eye_open"].clamp(min=0)
    brow_line = brow_y + cue["brow_tilt"] * 0.07 * (-bx / 0.13) + 0.02 * (bx / 0.13).pow(2)
    brow = _band(y - brow_line, sc1("brow_t"), sharp) * _band(bx, 0.14, sharp)
    img = _blend(img, brow * face, col("hair") * 0.8)

    # Nose: a shaded ridge, nostrils and (disgust) wrinkle lines on the bridge.
    nose = _band(xf, 0.018, sharp) * _soft(-(y - 0.17), sharp) * _soft(y - ey, sharp)
    img = _blend(img, nose * 0.35, col("skin") * 0.6)
    nostril = _soft(1 - ((xf.abs() - 0.05) / 0.035).pow(2) - ((y - 0.19) / 0.022).pow(2), sharp / 4)
    img = _blend(img, nostril * 0.7, col("skin") * 0.35)
    wrinkle = sum(_band(y - (ey + 0.06 + 0.05 * k), 0.012, sharp) for k in range(3))
    wrinkle = wrinkle * _band(xf, 0.07, sharp) * cue["wrinkle"].clamp(0, 1)
    img = _blend(img, wrinkle * 0.8, col("skin") * 0.45)

    # Mouth: a centre curve bent by smile, lips opened by open (upper lip also by wrinkle).
    my, mw = sc1("mouth_y"), sc1("mouth_w") * (1 + 0.3 * cue["stretch"]).clamp(min=0.4)
    t = (xf / mw).clamp(-1, 1)
    inside_x = _soft(1 - (xf / mw).abs(), sharp * 0.2)
    mid = my - cue["smile"] * 0.09 * t.pow(2) + cue["smile"] * 0.02
    bulge = 1 - t.pow(2)
    upper = mid - (0.05 * cue["open"].clamp(min=0) + 0.025 * cue["wrinkle"].clamp(min=0)) * bulge
    lower = mid + 0.14 * cue["open"].clamp(min=0) * bulge
    gap = _soft(y - upper, sharp) * _soft(lower - y, sharp) * inside_x
    img = _blend(img, gap, torch.full((n, 3), 0.12))
    lips = (_band(y - upper + 0.015, 0.016, sharp) + _band(y - lower - 0.015, 0.018, sharp)).clamp(
        0, 1
    )
    img = _blend(img, lips * inside_x * 0.9, col("lip"))

    # Occluder (hand, mask, sunglasses stand-in): an axis-aligned box in image coordinates.
    occ = (
        _band(u - sc1("occ_x"), sc1("occ_w"), sharp)
        * _band(v - sc1("occ_y"), sc1("occ_h"), sharp)
        * sc1("occ_on")
    )
    img = _blend(img, occ, col("occ"))

    img += sc1("noise").unsqueeze(1) * p["noise_field"]
    return img.clamp_(0, 1)
