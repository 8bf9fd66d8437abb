"""The fine-tuning model: encoder (+ MoAE) -> mean pool -> LayerNorm -> image or video head."""

from __future__ import annotations

import torch
from torch import nn

from s4d_fer.config import ModelConfig
from s4d_fer.model.vit import Encoder


class S4DClassifier(nn.Module):
    """Shared encoder with two task heads; the head follows the input rank (5-D = video).

    Args:
        cfg: model sizes and MoAE options.
        num_frames: frames of a video input.
        video_classes: classes of the video head.
        image_classes: classes of the image head (0 = no image head).
    """

    def __init__(
        self, cfg: ModelConfig, num_frames: int, video_classes: int, image_classes: int = 0
    ):
        super().__init__()
        self.encoder = Encoder(cfg, num_frames, with_moae=True)
        # Mean pooling + fc_norm replaces the encoder's final norm (as in VideoMAE fine-tuning).
        self.encoder.norm = nn.Identity()
        self.fc_norm = nn.LayerNorm(cfg.embed_dim, eps=1e-6)
        heads = {"video": nn.Linear(cfg.embed_dim, video_classes)}
        if image_classes:
            heads["image"] = nn.Linear(cfg.embed_dim, image_classes)
        self.heads = nn.ModuleDict(heads)
        for head in self.heads.values():
            # The official code's init_scale=0.001 was never applied (bare except); plain init here too.
            nn.init.trunc_normal_(head.weight, std=0.02)
            nn.init.zeros_(head.bias)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        tokens = self.encoder.run(self.encoder.embed(x), final_norm=False)
        return self.fc_norm(tokens.mean(dim=1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        task = "video" if x.dim() == 5 else "image"
        if task not in self.heads:
            raise ValueError("this model has no image head (it was fine-tuned on videos only)")
        return self.heads[task](self.features(x))

    def balance_loss(self) -> torch.Tensor:
        """Sum of the MoAE load-balancing losses of the last forward (0 without MoAE)."""
        layers = self.encoder.moae_layers
        return sum((m.balance_loss for m in layers), torch.zeros(()))

    def drop_rate(self) -> float:
        layers = self.encoder.moae_layers
        return float(sum(float(m.drop_rate) for m in layers) / len(layers)) if layers else 0.0

    def load_pretrained(self, encoder_state: dict[str, torch.Tensor]) -> list[str]:
        """Load MAE encoder weights; returns the encoder tensors that start fresh (MoAE experts).

        The mapping is :func:`s4d_fer.model.pretrained.load_pretrained`'s (files go there too).
        """
        from s4d_fer.model.pretrained import load_pretrained

        report = load_pretrained(self, encoder_state)
        return [k for k in report.fresh if k.startswith("encoder.")]
