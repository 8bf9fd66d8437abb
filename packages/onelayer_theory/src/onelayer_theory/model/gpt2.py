"""GPT-2 members (from transformers) behind the ensemble interface, for the depth experiment."""

from __future__ import annotations

import torch
from torch import nn

from labcore.train import seed_everything
from onelayer_theory.config import ModelConfig
from onelayer_theory.synth import BOS


class GPT2Ensemble(nn.Module):
    """``len(seeds)`` small GPT-2 models; ``forward`` takes ``[E, B, L]`` like the one-layer ensemble.

    Members run one after another (HF modules do not batch over weights), so this
    is the slow path; it exists to check which trends survive beyond one layer.
    """

    def __init__(self, cfg: ModelConfig, vocab_size: int, max_len: int, seeds: list[int]):
        super().__init__()
        from transformers import GPT2Config, GPT2LMHeadModel

        config = GPT2Config(
            vocab_size=vocab_size,
            n_positions=max_len,
            n_embd=cfg.d_model,
            n_layer=cfg.n_layers,
            n_head=cfg.n_heads,
            n_inner=cfg.mlp_width,
            activation_function={"gelu": "gelu_new"}.get(cfg.activation, cfg.activation),
            resid_pdrop=0.0,
            embd_pdrop=0.0,
            attn_pdrop=0.0,
            initializer_range=cfg.init_std,
            tie_word_embeddings=cfg.tie_embeddings,
            bos_token_id=BOS,  # GPT-2's defaults (50256) lie outside our vocabulary
            eos_token_id=BOS,
        )
        members = []
        for seed in seeds:
            seed_everything(seed)  # HF initialises from the global generator
            members.append(GPT2LMHeadModel(config))
        self.members = nn.ModuleList(members)

    @property
    def ensemble_size(self) -> int:
        return len(self.members)

    def forward(self, x: torch.Tensor, last_only: bool = False) -> torch.Tensor:
        outs = []
        for member, tokens in zip(self.members, x, strict=True):
            logits = member(input_ids=tokens).logits
            outs.append(logits[:, -1] if last_only else logits)
        return torch.stack(outs)
