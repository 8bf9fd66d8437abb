"""Mixture of Adapter Experts: bottleneck adapters beside the FFN, routed top-k per token."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from timm.layers import DropPath, Mlp
from timm.models.vision_transformer import Attention
from torch import nn


class MoAE(nn.Module):
    """``E`` bottleneck experts (D -> r*D -> D, GELU) behind a noisy top-k router.

    After each forward, ``balance_loss`` holds the load-balancing loss and ``drop_rate``
    the fraction of token-slots dropped by the capacity limit.

    Args:
        dim: token width.
        experts: number of experts ``E``.
        top_k: experts per token.
        ratio: bottleneck width as a fraction of ``dim``.
        noise_at_eval: also add router noise in eval mode (the official code's behaviour).
        balance: ``probs`` (Switch loss on router probabilities) or ``logits`` (official form).
        capacity_factor: 0 = unlimited; else each expert takes at most
            ``int(M*k/E*factor)`` of the ``M`` tokens, first come first served.
    """

    def __init__(
        self,
        dim: int,
        experts: int = 8,
        top_k: int = 2,
        ratio: float = 0.25,
        noise_at_eval: bool = False,
        balance: str = "probs",
        capacity_factor: float = 0.0,
    ):
        super().__init__()
        hidden = max(1, int(dim * ratio))
        self.experts, self.top_k = experts, top_k
        self.noise_at_eval, self.balance, self.capacity_factor = (
            noise_at_eval,
            balance,
            capacity_factor,
        )
        self.router = nn.Linear(dim, experts, bias=False)
        self.noise = nn.Linear(dim, experts, bias=False)
        self.w1 = nn.Parameter(torch.empty(experts, dim, hidden))
        self.b1 = nn.Parameter(torch.zeros(experts, hidden))
        self.w2 = nn.Parameter(torch.empty(experts, hidden, dim))
        self.b2 = nn.Parameter(torch.zeros(experts, dim))
        for w in (self.w1, self.w2, self.router.weight, self.noise.weight):
            nn.init.trunc_normal_(w, std=0.02)
        self.balance_loss = torch.zeros(())
        self.drop_rate = torch.zeros(())

    def route(self, x: torch.Tensor):
        """(M,D) tokens -> (noisy logits (M,E), top-k indices (M,k), gates (M,k))."""
        logits = self.router(x).float()
        if self.training or self.noise_at_eval:
            logits = logits + torch.randn_like(logits) * F.softplus(self.noise(x).float())
        top_val, top_idx = logits.topk(self.top_k, dim=-1)
        return logits, top_idx, top_val.softmax(dim=-1)

    def _keep(self, top_idx: torch.Tensor) -> torch.Tensor:
        """(M,k) bool: token-slots within their expert's capacity (flattened token order)."""
        m = top_idx.shape[0]
        if self.capacity_factor <= 0:
            return torch.ones_like(top_idx, dtype=torch.bool)
        capacity = int(m * self.top_k / self.experts * self.capacity_factor)
        onehot = F.one_hot(top_idx, self.experts).reshape(m * self.top_k, self.experts)
        position = (onehot.cumsum(0) - 1).mul(onehot).sum(-1).reshape(m, self.top_k)
        return position < capacity

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        shape = h.shape
        x = h.reshape(-1, shape[-1])
        logits, top_idx, gates = self.route(x)
        keep = self._keep(top_idx)
        out = torch.zeros(x.shape[0], shape[-1], dtype=torch.float32, device=x.device)
        for e in range(self.experts):
            tok, slot = ((top_idx == e) & keep).nonzero(as_tuple=True)
            if tok.numel() == 0:
                continue
            y = F.gelu(x[tok] @ self.w1[e] + self.b1[e]) @ self.w2[e] + self.b2[e]
            out.index_add_(0, tok, y.float() * gates[tok, slot, None])
        # Fraction of the token-slots each expert was assigned (before capacity dropping).
        frac = F.one_hot(top_idx, self.experts).float().sum(1).mean(0) / self.top_k
        if self.balance == "logits":
            # The official code multiplies by the mean noisy *logit*, not a probability.
            self.balance_loss = self.experts**2 * (frac * logits.mean(0)).mean()
        else:
            self.balance_loss = self.experts * (frac * logits.softmax(-1).mean(0)).sum()
        self.drop_rate = 1 - keep.float().mean()
        return out.to(h.dtype).reshape(shape)


class MoAEBlock(nn.Module):
    """A pre-norm ViT block with an MoAE in parallel with the FFN:
    ``x += Attn(LN1 x)``; ``h = LN2 x``; ``x += FFN(h) + MoAE(h)``.

    Parameter names match timm's ``Block`` (norm1, attn, norm2, mlp), so pre-trained plain
    blocks load into it and only ``moae.*`` starts fresh.
    """

    def __init__(self, dim: int, num_heads: int, mlp_ratio: float, drop_path: float, moae: MoAE):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=1e-6)
        self.attn = Attention(dim, num_heads=num_heads, qkv_bias=True)
        self.norm2 = nn.LayerNorm(dim, eps=1e-6)
        self.mlp = Mlp(dim, int(dim * mlp_ratio), act_layer=nn.GELU)
        self.moae = moae
        self.drop_path = DropPath(drop_path) if drop_path > 0 else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.drop_path(self.attn(self.norm1(x)))
        h = self.norm2(x)
        return x + self.drop_path(self.mlp(h) + self.moae(h))
