"""ViT encoder with a 3-D tubelet patch embedding shared by images and videos.

Videos (B,3,T,H,W) become (T/t)*(H/p)*(W/p) tokens; an image (B,3,H,W) is repeated to
``t`` frames and becomes (H/p)*(W/p) tokens that take the positions of the first time step.
Positions are a fixed sinusoidal table. Blocks are timm's; the last ones may carry MoAE.
"""

from __future__ import annotations

import math

import torch
from timm.models.vision_transformer import Block
from torch import nn

from s4d_fer.config import ModelConfig
from s4d_fer.model.moae import MoAE, MoAEBlock


def LN(dim: int, **kwargs) -> nn.LayerNorm:
    """LayerNorm with eps 1e-6 (timm passes device/dtype keywords)."""
    return nn.LayerNorm(dim, eps=1e-6, **kwargs)


def sinusoid_table(n: int, dim: int) -> torch.Tensor:
    """(n, dim) fixed sin/cos position table (the Transformer's)."""
    pos = torch.arange(n, dtype=torch.float64)[:, None]
    div = torch.pow(10000.0, 2 * (torch.arange(dim) // 2).double() / dim)
    table = pos / div
    table[:, 0::2] = torch.sin(table[:, 0::2])
    table[:, 1::2] = torch.cos(table[:, 1::2])
    return table.float()


class TubeletEmbed(nn.Module):
    """Conv3d with kernel = stride = (tubelet, patch, patch)."""

    def __init__(self, dim: int, patch: int, tubelet: int):
        super().__init__()
        self.tubelet = tubelet
        self.proj = nn.Conv3d(
            3, dim, kernel_size=(tubelet, patch, patch), stride=(tubelet, patch, patch)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() == 4:  # image: add a time axis of length `tubelet`
            x = x.unsqueeze(2).expand(-1, -1, self.tubelet, -1, -1)
        return self.proj(x).flatten(2).transpose(1, 2)


def init_weights(module: nn.Module) -> None:
    """Xavier-uniform linear layers and unit LayerNorms (MAE / VideoMAE convention)."""
    if isinstance(module, nn.Linear):
        nn.init.xavier_uniform_(module.weight)
        if module.bias is not None:
            nn.init.zeros_(module.bias)
    elif isinstance(module, nn.LayerNorm):
        nn.init.ones_(module.weight)
        nn.init.zeros_(module.bias)


class Encoder(nn.Module):
    """The shared image/video ViT encoder.

    Args:
        cfg: model sizes.
        num_frames: frames of a video input (sets the position table).
        with_moae: build MoAE blocks from ``cfg.moe_start_block`` on (if ``cfg.moe_experts``).
    """

    def __init__(self, cfg: ModelConfig, num_frames: int, with_moae: bool = False):
        super().__init__()
        self.cfg = cfg
        d = cfg.embed_dim
        self.grid = (
            num_frames // cfg.tubelet,
            cfg.img_size // cfg.patch_size,
            cfg.img_size // cfg.patch_size,
        )
        self.patch_embed = TubeletEmbed(d, cfg.patch_size, cfg.tubelet)
        self.register_buffer(
            "pos_embed", sinusoid_table(math.prod(self.grid), d)[None], persistent=False
        )
        dpr = torch.linspace(0, cfg.drop_path, cfg.depth).tolist()
        blocks = []
        for i in range(cfg.depth):
            if with_moae and cfg.moe_experts and i >= cfg.moe_start_block:
                moae = MoAE(
                    d,
                    cfg.moe_experts,
                    cfg.moe_top_k,
                    cfg.moe_ratio,
                    cfg.moe_noise_at_eval,
                    cfg.moe_balance_loss,
                    cfg.moe_capacity_factor,
                )
                blocks.append(MoAEBlock(d, cfg.num_heads, cfg.mlp_ratio, dpr[i], moae))
            else:
                blocks.append(
                    Block(
                        d,
                        cfg.num_heads,
                        cfg.mlp_ratio,
                        qkv_bias=True,
                        drop_path=dpr[i],
                        norm_layer=LN,
                    )
                )
        self.blocks = nn.ModuleList(blocks)
        self.norm = nn.LayerNorm(d, eps=1e-6)
        self.apply(init_weights)
        for m in self.modules():  # keep the experts' own trunc-normal init
            if isinstance(m, MoAE):
                for w in (m.w1, m.w2, m.router.weight, m.noise.weight):
                    nn.init.trunc_normal_(w, std=0.02)
        w = self.patch_embed.proj.weight
        nn.init.xavier_uniform_(w.view(w.shape[0], -1))

    @property
    def moae_layers(self) -> list[MoAE]:
        return [b.moae for b in self.blocks if isinstance(b, MoAEBlock)]

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """Tokens with positions: (B, N, D); N = 100 for a 160-px image with patch 16, etc."""
        tokens = self.patch_embed(x)
        n = tokens.shape[1]
        if n > self.pos_embed.shape[1]:
            raise ValueError(
                f"input gives {n} tokens but the position table holds {self.pos_embed.shape[1]}"
            )
        # Images (and shorter clips) use the first time steps of the table.
        return tokens + self.pos_embed[:, :n].to(tokens.dtype)

    def run(self, tokens: torch.Tensor, final_norm: bool = True) -> torch.Tensor:
        for block in self.blocks:
            tokens = block(tokens)
        return self.norm(tokens) if final_norm else tokens

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.run(self.embed(x))
