"""Training: the pre-training / fine-tuning loops and the resumable sweep runner."""

from onelayer_theory.train.loop import finetune, lr_lambda, pretrain

__all__ = ["finetune", "lr_lambda", "pretrain"]
