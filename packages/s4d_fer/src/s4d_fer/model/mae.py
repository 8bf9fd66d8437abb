"""Masked autoencoder over images and videos with one encoder.

The encoder sees the visible tokens only; a light decoder gets them back in place next
to a learnable mask token and predicts the pixels of every tubelet; the loss is the MSE
on masked tokens of per-patch, per-channel normalised pixels. ``visible_only=False``
encodes all tokens instead (masked ones replaced by a learnable token) — the baseline
of the speed benchmark.
"""

from __future__ import annotations

import torch
from timm.models.vision_transformer import Block
from torch import nn

from s4d_fer.config import ModelConfig
from s4d_fer.model.vit import LN, Encoder, init_weights, sinusoid_table


def random_mask(
    batch: int,
    grid: tuple[int, int, int],
    ratio: float,
    tube: bool = False,
    generator: torch.Generator | None = None,
    device=None,
) -> torch.Tensor:
    """(B, N) bool, True = masked; exactly ``int(ratio * N)`` per sample (per time step if ``tube``)."""
    t, h, w = grid
    n = h * w if tube else t * h * w
    n_mask = int(ratio * n)
    noise = torch.rand(batch, n, generator=generator, device=device)
    ranks = noise.argsort(dim=1).argsort(dim=1)
    mask = ranks < n_mask
    return mask.repeat(1, t) if tube else mask


def patchify(x: torch.Tensor, patch: int, tubelet: int) -> torch.Tensor:
    """(B,3,T,H,W) -> (B, N, tubelet*patch*patch, 3) in the token order of the embedding."""
    b, c, t, h, w = x.shape
    x = x.reshape(b, c, t // tubelet, tubelet, h // patch, patch, w // patch, patch)
    x = x.permute(0, 2, 4, 6, 3, 5, 7, 1)
    return x.reshape(b, (t // tubelet) * (h // patch) * (w // patch), tubelet * patch * patch, c)


class MaskedAutoencoder(nn.Module):
    """Encoder + decoder for dual-modal MAE pre-training."""

    def __init__(self, cfg: ModelConfig, num_frames: int):
        super().__init__()
        self.cfg = cfg
        self.encoder = Encoder(cfg, num_frames, with_moae=False)
        d, dd = cfg.embed_dim, cfg.decoder_dim
        n = self.encoder.pos_embed.shape[1]
        self.decoder_embed = nn.Linear(d, dd, bias=False)
        self.mask_token = nn.Parameter(torch.zeros(1, 1, dd))
        self.enc_mask_token = nn.Parameter(torch.zeros(1, 1, d))  # only for visible_only=False
        self.register_buffer("decoder_pos", sinusoid_table(n, dd)[None], persistent=False)
        self.decoder_blocks = nn.ModuleList(
            Block(dd, cfg.decoder_heads, cfg.mlp_ratio, qkv_bias=True, norm_layer=LN)
            for _ in range(cfg.decoder_depth)
        )
        self.decoder_norm = nn.LayerNorm(dd, eps=1e-6)
        self.decoder_pred = nn.Linear(dd, cfg.tubelet * cfg.patch_size**2 * 3)
        for module in (
            self.decoder_embed,
            self.decoder_blocks,
            self.decoder_norm,
            self.decoder_pred,
        ):
            module.apply(init_weights)
        nn.init.trunc_normal_(self.mask_token, std=0.02)
        nn.init.trunc_normal_(self.enc_mask_token, std=0.02)

    def grid_for(self, x: torch.Tensor) -> tuple[int, int, int]:
        c = self.cfg
        t = 1 if x.dim() == 4 else x.shape[2] // c.tubelet
        return (t, x.shape[-2] // c.patch_size, x.shape[-1] // c.patch_size)

    def target(self, x: torch.Tensor, norm_pix: bool = True) -> torch.Tensor:
        """(B, N, tubelet*p*p*3) pixel targets; images are repeated to ``tubelet`` frames."""
        if x.dim() == 4:
            x = x.unsqueeze(2).expand(-1, -1, self.cfg.tubelet, -1, -1)
        patches = patchify(x.float(), self.cfg.patch_size, self.cfg.tubelet)
        if norm_pix:
            mean = patches.mean(dim=2, keepdim=True)
            var = patches.var(dim=2, unbiased=True, keepdim=True)
            patches = (patches - mean) / (var + 1e-6).sqrt()
        return patches.flatten(2)

    def forward(
        self, x: torch.Tensor, mask: torch.Tensor, visible_only: bool = True
    ) -> torch.Tensor:
        """Predicted pixels (B, N, tubelet*p*p*3) for every token."""
        tokens = self.encoder.embed(x)
        b, n, d = tokens.shape
        if visible_only:
            visible = tokens[~mask].reshape(b, -1, d)
            z = self.decoder_embed(self.encoder.run(visible))
            full = self.mask_token.to(z.dtype).expand(b, n, -1).clone()
            full[~mask] = z.reshape(-1, z.shape[-1])
        else:
            filler = self.enc_mask_token.to(tokens.dtype) + self.encoder.pos_embed[:, :n].to(
                tokens.dtype
            )
            tokens = torch.where(mask[..., None], filler.expand(b, -1, -1), tokens)
            full = self.decoder_embed(self.encoder.run(tokens))
        full = full + self.decoder_pos[:, :n].to(full.dtype)
        for block in self.decoder_blocks:
            full = block(full)
        return self.decoder_pred(self.decoder_norm(full))

    def loss(
        self, x: torch.Tensor, mask: torch.Tensor, visible_only: bool = True, norm_pix: bool = True
    ) -> torch.Tensor:
        """MSE on the masked tokens."""
        pred = self(x, mask, visible_only)
        target = self.target(x, norm_pix)
        return (pred.float()[mask] - target[mask]).pow(2).mean()
