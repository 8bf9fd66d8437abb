"""Measurements on a trained ensemble: storage, extraction, error types, attention, LoRA alignment."""

from onelayer_theory.eval.measure import evaluate, predict, pretrain_loss, stack_padded

__all__ = ["evaluate", "predict", "pretrain_loss", "stack_padded"]
