"""Models: the ``tiny`` Llama-style model, any HF causal LM, and stage checkpoints.

A stage checkpoint is a folder with the HF model and tokenizer (``save_pretrained``) plus
``trainer_state.pt``: the AdamW state, the step and the LR-schedule parameters, so that an
injection run resumes pretraining exactly as OLMo's unsharded checkpoints allow.
"""

from __future__ import annotations

import os
from pathlib import Path

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer, LlamaConfig, LlamaForCausalLM

from knowledge_dynamics.config import SMOLLM2, TRAINER_STATE, ModelConfig, check_checkpoint
from labcore.errors import DataError
from labcore.io import atomic_path


def build_tiny(cfg: ModelConfig, tokenizer) -> LlamaForCausalLM:
    """A from-scratch Llama-style model sized by ``cfg`` (tied embeddings, RoPE, SwiGLU)."""
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=cfg.d_model,
        intermediate_size=cfg.ffn,
        num_hidden_layers=cfg.n_layers,
        num_attention_heads=cfg.n_heads,
        num_key_value_heads=cfg.n_heads,
        max_position_embeddings=cfg.seq_len,
        tie_word_embeddings=True,
        eos_token_id=tokenizer.eos_token_id,
        bos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        attention_dropout=0.0,
    )
    return LlamaForCausalLM(config)


def save_stage(folder: str | os.PathLike, model, tokenizer, state: dict) -> Path:
    """Write a stage checkpoint folder atomically (model, tokenizer, trainer state)."""
    with atomic_path(folder) as tmp:
        tmp.mkdir(parents=True)
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        torch.save(state, tmp / TRAINER_STATE)
    return Path(folder)


def load_checkpoint_model(spec: str, device: str = "cpu"):
    """(model, tokenizer, trainer_state or None) for a stage folder, ``smollm2``, a path or hub id."""
    kind = check_checkpoint(spec)
    if kind == "smollm2":
        from labcore.models import load_causal_lm

        model, tok = load_causal_lm(SMOLLM2, device=device, dtype=torch.float32)
        return model, _with_pad(tok), None
    state = None
    if kind == "stage":
        state = torch.load(Path(spec) / TRAINER_STATE, map_location="cpu", weights_only=False)
    try:
        tok = AutoTokenizer.from_pretrained(spec)
        model = AutoModelForCausalLM.from_pretrained(spec, dtype=torch.float32).to(device)
    except OSError as exc:
        raise DataError(f"--checkpoint {spec!r}: not a loadable causal LM ({exc})") from None
    return model, _with_pad(tok), state


def _with_pad(tok):
    if tok.pad_token_id is None:
        tok.pad_token = tok.eos_token
    return tok
