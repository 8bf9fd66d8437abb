"""CUDA-only: bf16 autocast over fp32 master weights in SFT and GRPO."""

from __future__ import annotations

import pytest
import torch

from searcher.config import GRPOSettings, SFTConfig

pytestmark = pytest.mark.gpu
cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")


@cuda
def test_sft_keeps_fp32_masters_and_moves_them(tiny_model, tokenizer, bench, tmp_path):
    from searcher.train.sft import run_sft

    model = tiny_model.to("cuda", dtype=torch.float32)
    before = [p.detach().clone() for p in model.parameters()]
    run_sft(
        model,
        tokenizer,
        bench / "coldstart.jsonl",
        tmp_path / "sft",
        SFTConfig(max_examples=2, batch_size=2, lr=1e-5, warmup_steps=0),
        log=lambda m: None,
    )
    assert all(p.dtype == torch.float32 for p in model.parameters())
    # A 1e-5 step changes fp32 weights; in bf16 most of them would round back.
    changed = sum(int((a != b).sum()) for a, b in zip(before, model.parameters(), strict=True))
    assert changed > 0.5 * sum(p.numel() for p in model.parameters())


@cuda
def test_grpo_config_uses_mixed_precision_on_cuda(tmp_path):
    from searcher.train.grpo import grpo_config

    args = grpo_config(GRPOSettings(), tmp_path, cuda=True)
    assert args.bf16 and not args.use_cpu
