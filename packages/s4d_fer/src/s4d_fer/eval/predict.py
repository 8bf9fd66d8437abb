"""Per-class probabilities for one image, video file or frame folder."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from labcore.errors import DataError
from s4d_fer.data.media import IMAGE_EXTS, is_video_file, list_frames, read_image, read_video_file
from s4d_fer.data.transforms import frames_to_tensor, sample_indices
from s4d_fer.eval.evaluate import load_model


def _clip_views(frames: list, num: int, stride: int, clips: int, size: int) -> torch.Tensor:
    views = []
    for c in range(clips):
        idx = sample_indices(len(frames), num, stride, None, c, clips)
        views.append(frames_to_tensor(np.stack([np.asarray(frames[i]) for i in idx]), size))
    return torch.stack(views)


@torch.inference_mode()
def predict(path: str | Path, checkpoint: str | Path) -> dict:
    """``{"input", "task", "probabilities": {class: p}, "prediction"}`` for ``path``."""
    path = Path(path)
    if not path.exists():
        raise DataError(f"{path}: not found")
    model, ckpt = load_model(checkpoint)
    cfg = ckpt["run_config"]
    d, size = cfg.data, cfg.model.img_size
    if path.is_file() and path.suffix.lower() in IMAGE_EXTS:
        img = read_image(path)
        if ckpt["image_classes"]:
            task, classes = "image", ckpt["image_classes"]
            x = frames_to_tensor(img[None], size)[:, 0][None]
        else:  # a video-only model sees the image as a still clip
            task, classes = "video", ckpt["video_classes"]
            x = _clip_views([img], d.num_frames, 1, 1, size)[None]
    elif path.is_dir() or is_video_file(path):
        frames = (
            [read_image(f) for f in list_frames(path)] if path.is_dir() else read_video_file(path)
        )
        task, classes = "video", ckpt["video_classes"]
        x = _clip_views(frames, d.num_frames, d.sampling_rate, d.test_clips, size)[None]
    else:
        raise DataError(
            f"{path}: not an image ({', '.join(IMAGE_EXTS)}), a video file or a frame folder"
        )
    from s4d_fer.train.modules import predict_views

    probs = predict_views(model, x)[0].tolist()
    ranked = dict(sorted(zip(classes, probs, strict=True), key=lambda kv: -kv[1]))
    return {
        "input": str(path),
        "task": task,
        "prediction": next(iter(ranked)),
        "probabilities": ranked,
    }
