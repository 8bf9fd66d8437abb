"""GPT-2 members (from transformers) as one vectorised ensemble, for the depth experiment.

The members' parameters are stacked with ``torch.func.stack_module_state`` (each
parameter gets a leading ensemble dimension, like the one-layer model's) and the
forward pass is ``torch.func.vmap`` over ``functional_call`` of one stateless GPT-2,
so the ensemble is one program: one set of batched kernels per layer, one
optimizer step over the stacked tensors, per-member gradient clipping and
checkpoints by slicing, exactly as for the one-layer model.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.func import functional_call, stack_module_state, vmap

from labcore.train import seed_everything
from onelayer_theory.config import ModelConfig
from onelayer_theory.synth import BOS


def _attr(name: str) -> str:
    """A module attribute name for a dotted parameter name (``transformer.h.0.attn.c_attn.weight``)."""
    return name.replace(".", "__")


class GPT2Ensemble(nn.Module):
    """``len(seeds)`` small GPT-2 models; ``forward`` takes ``[E, B, L]`` like the one-layer ensemble.

    Member ``e`` is ``GPT2LMHeadModel`` initialised with the global seed ``seeds[e]``;
    ``state_dict()`` holds every parameter stacked over members (dotted names with
    ``__`` for ``.``), so member ``e``'s state is a slice.
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
            # GPT-2's tanh GELU as torch's one fused kernel (HF's "gelu_new" is the same
            # function as seven element-wise kernels).
            activation_function={"gelu": "gelu_pytorch_tanh"}.get(cfg.activation, cfg.activation),
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
        params, buffers = stack_module_state(members)
        self._param_names = list(params)
        self._buffer_names = list(buffers)
        for name, value in params.items():
            self.register_parameter(_attr(name), nn.Parameter(value.detach().clone()))
        for name, value in buffers.items():
            self.register_buffer(_attr(name), value.detach().clone())
        # The stateless template: built on the meta device (no memory), with its own
        # weight tying, which functional_call keeps when it swaps our tensors in.
        # Eager attention: the fused CPU attention kernel has no vmap rule (vmap would
        # loop over members there), eager attention is plain batched matmuls.
        config._attn_implementation = "eager"
        with torch.device("meta"):
            template = GPT2LMHeadModel(config)
        self._template = [template]  # a list keeps it out of parameters() and .to()

    @property
    def ensemble_size(self) -> int:
        return getattr(self, _attr(self._param_names[0])).shape[0]

    def forward(self, x: torch.Tensor, last_only: bool = False) -> torch.Tensor:
        params = {n: getattr(self, _attr(n)) for n in self._param_names}
        buffers = {n: getattr(self, _attr(n)) for n in self._buffer_names}
        template = self._template[0]

        def member(p, b, tokens):
            return functional_call(template, (p, b), (tokens,)).logits

        logits = vmap(member)(params, buffers, x)  # [E, B, L, V]
        return logits[:, :, -1] if last_only else logits
