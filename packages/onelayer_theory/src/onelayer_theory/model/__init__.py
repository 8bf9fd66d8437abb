"""The models: the batched one-layer transformer, a vmapped GPT-2 ensemble for depth, LoRA adapters."""

from onelayer_theory.model.onelayer import BatchedLinear, OneLayerTransformer, build_model

__all__ = ["BatchedLinear", "OneLayerTransformer", "build_model"]
