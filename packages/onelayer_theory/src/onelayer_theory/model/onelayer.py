"""A one-layer transformer, batched over an ensemble of independent models.

Every weight has a leading ensemble dimension ``E``: member ``e`` is an ordinary
one-layer transformer (token + position embeddings, one causal self-attention
layer, one MLP, residual stream, unembedding), and members never interact, so a
whole sweep trains as one set of tensor ops. ``E = 1`` is the plain model.

    h0 = tok_emb[x] + pos_emb
    h1 = h0 + Attn(norm1(h0))            # the "filter"
    h2 = h1 + W_out act(W_in norm2(h1))  # the "store"
    logits = norm_f(h2) @ W_U
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from onelayer_theory.config import ModelConfig

ACTIVATIONS = {"relu": F.relu, "gelu": F.gelu, "silu": F.silu}


class BatchedLinear(nn.Module):
    """``E`` independent linear maps ``x @ W[e] (+ b[e])``, with an optional LoRA adapter.

    With an adapter of rank ``r`` the map is ``x @ (W + (alpha / r) * A @ B)``;
    ``B`` starts at zero so adding an adapter does not change the function.
    """

    def __init__(self, ensemble: int, d_in: int, d_out: int, *, bias: bool, generators, std: float):
        super().__init__()
        weight = torch.stack([torch.randn(d_in, d_out, generator=g) * std for g in generators])
        self.weight = nn.Parameter(weight)
        self.bias = nn.Parameter(torch.zeros(ensemble, d_out)) if bias else None
        self.lora_A: nn.Parameter | None = None
        self.lora_B: nn.Parameter | None = None
        self.lora_scale = 0.0

    def add_lora(self, rank: int, alpha: float, generators) -> None:
        """Attach a rank-``rank`` adapter (Kaiming-uniform ``A``, zero ``B``) to every member."""
        ensemble, d_in, d_out = self.weight.shape
        bound = 1.0 / math.sqrt(d_in)
        a = torch.stack(
            [torch.rand(d_in, rank, generator=g) * 2 * bound - bound for g in generators]
        )
        self.lora_A = nn.Parameter(a.to(self.weight))
        self.lora_B = nn.Parameter(torch.zeros(ensemble, rank, d_out, device=self.weight.device))
        self.lora_scale = alpha / rank

    def delta(self) -> torch.Tensor | None:
        """The adapter's weight update ``[E, d_in, d_out]`` (``None`` without adapter)."""
        if self.lora_A is None:
            return None
        return self.lora_scale * self.lora_A @ self.lora_B

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # x: [E, ..., d_in]
        shape = x.shape
        y = torch.bmm(x.reshape(shape[0], -1, shape[-1]), self.weight)
        if self.lora_A is not None:
            # Low-rank path without forming W + AB: cheaper for small r.
            low = torch.bmm(x.reshape(shape[0], -1, shape[-1]), self.lora_A)
            y = y + self.lora_scale * torch.bmm(low, self.lora_B)
        y = y.reshape(*shape[:-1], -1)
        if self.bias is not None:
            y = y + self.bias.view(shape[0], *([1] * (len(shape) - 2)), -1)
        return y


class BatchedLayerNorm(nn.Module):
    def __init__(self, ensemble: int, d: int):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(ensemble, d))
        self.bias = nn.Parameter(torch.zeros(ensemble, d))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        view = (x.shape[0], *([1] * (x.dim() - 2)), -1)
        return F.layer_norm(x, x.shape[-1:]) * self.weight.view(view) + self.bias.view(view)


class OneLayerTransformer(nn.Module):
    """An ensemble of ``len(seeds)`` one-layer transformers; member ``e`` is initialised from ``seeds[e]``.

    ``forward(x)`` takes tokens ``[E, B, L]`` and returns logits ``[E, B, L, V]``
    (or ``[E, B, V]`` for the last position with ``last_only=True``).
    """

    def __init__(self, cfg: ModelConfig, vocab_size: int, max_len: int, seeds: list[int]):
        super().__init__()
        self.cfg, self.vocab_size, self.max_len = cfg, vocab_size, max_len
        E, d, std = len(seeds), cfg.d_model, cfg.init_std
        gens = [torch.Generator().manual_seed(s) for s in seeds]
        if cfg.embeddings == "orthonormal":
            # The stylised model: every token and position vector orthonormal (rows of a
            # random orthogonal matrix), frozen; the unembedding is the token embedding.
            if d < vocab_size + max_len:
                raise ValueError(f"orthonormal embeddings need d_model >= {vocab_size + max_len}")
            basis = torch.stack(
                [torch.linalg.qr(torch.randn(d, d, generator=g))[0].T for g in gens]
            )
            self.register_buffer("tok_emb", basis[:, :vocab_size].contiguous())
            self.register_buffer(
                "pos_emb", basis[:, vocab_size : vocab_size + max_len].contiguous()
            )
        else:
            self.tok_emb = nn.Parameter(
                torch.stack([torch.randn(vocab_size, d, generator=g) * std for g in gens])
            )
            self.pos_emb = nn.Parameter(
                torch.stack([torch.randn(max_len, d, generator=g) * std for g in gens])
            )

        def linear(d_in, d_out, bias=False):
            return BatchedLinear(E, d_in, d_out, bias=bias, generators=gens, std=std)

        self.q, self.k, self.v, self.o = (linear(d, d) for _ in range(4))
        self.mlp_in, self.mlp_out = (
            linear(d, cfg.mlp_width, bias=True),
            linear(cfg.mlp_width, d, bias=True),
        )
        tied = cfg.tie_embeddings or cfg.embeddings == "orthonormal"
        self.unembed = None if tied else linear(d, vocab_size)
        norm = (lambda: BatchedLayerNorm(E, d)) if cfg.norm == "layer" else nn.Identity
        self.norm1, self.norm2, self.norm_f = norm(), norm(), norm()
        self.act = ACTIVATIONS[cfg.activation]

    @property
    def ensemble_size(self) -> int:
        return self.tok_emb.shape[0]

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        E = x.shape[0]
        members = torch.arange(E, device=x.device).view(E, *([1] * (x.dim() - 1)))
        return self.tok_emb[members, x] + self.pos_emb[:, None, : x.shape[-1]]

    def _heads(self, t: torch.Tensor) -> torch.Tensor:  # [E, B, L, d] -> [E*B, H, L, d_head]
        E, B, L, d = t.shape
        H = self.cfg.n_heads
        return t.reshape(E * B, L, H, d // H).transpose(1, 2)

    def attention(self, h: torch.Tensor) -> torch.Tensor:
        E, B, L, d = h.shape
        q, k, v = self._heads(self.q(h)), self._heads(self.k(h)), self._heads(self.v(h))
        out = F.scaled_dot_product_attention(q, k, v, is_causal=True)  # fused kernel
        return self.o(out.transpose(1, 2).reshape(E, B, L, d))

    def attention_weights(self, x: torch.Tensor) -> torch.Tensor:
        """Attention probabilities ``[E, B, H, L, L]`` (for analysis; not used in training)."""
        h = self.norm1(self.embed(x))
        E, B, L, _ = h.shape
        q, k = self._heads(self.q(h)), self._heads(self.k(h))
        scores = q @ k.transpose(-1, -2) / math.sqrt(q.shape[-1])
        causal = torch.ones(L, L, dtype=torch.bool, device=x.device).tril()
        probs = scores.masked_fill(~causal, float("-inf")).softmax(-1)
        return probs.view(E, B, *probs.shape[1:])

    def mlp(self, h: torch.Tensor) -> torch.Tensor:
        return self.mlp_out(self.act(self.mlp_in(h)))

    def forward(self, x: torch.Tensor, last_only: bool = False) -> torch.Tensor:
        h = self.embed(x)
        h = h + self.attention(self.norm1(h))
        if last_only:
            h = h[:, :, -1:]
        h = h + self.mlp(self.norm2(h))
        h = self.norm_f(h)
        if self.unembed is None:
            logits = torch.einsum("ebld,evd->eblv", h, self.tok_emb)
        else:
            logits = self.unembed(h)
        return logits[:, :, -1] if last_only else logits

    # ------------------------------------------------------------ ensembles

    def adaptable(self) -> dict[str, list[BatchedLinear]]:
        """The weights LoRA can target, by target name."""
        return {
            "attn": [self.q, self.k, self.v, self.o],
            "mlp_in": [self.mlp_in],
            "mlp_out": [self.mlp_out],
        }


def build_model(cfg: ModelConfig, vocab_size: int, max_len: int, seeds: list[int]) -> nn.Module:
    """The ensemble for ``cfg.arch``: the one-layer model, or GPT-2 members for the depth experiment."""
    if cfg.arch == "gpt2":
        from onelayer_theory.model.gpt2 import GPT2Ensemble

        return GPT2Ensemble(cfg, vocab_size, max_len, seeds)
    return OneLayerTransformer(cfg, vocab_size, max_len, seeds)
