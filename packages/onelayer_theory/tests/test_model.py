import pytest
import torch

from onelayer_theory.config import FinetuneConfig, ModelConfig, RunConfig, TrainConfig
from onelayer_theory.model import OneLayerTransformer, build_model
from onelayer_theory.model.lora import add_lora, lora_parameters

TINY = ModelConfig(d_model=16, n_heads=2, mlp_width=32)


def test_shapes():
    model = OneLayerTransformer(TINY, vocab_size=30, max_len=12, seeds=[0, 1, 2])
    x = torch.randint(0, 30, (3, 5, 12))
    assert model(x).shape == (3, 5, 12, 30)
    assert model(x, last_only=True).shape == (3, 5, 30)
    assert torch.allclose(model(x, last_only=True), model(x)[:, :, -1], atol=1e-6)
    assert model.attention_weights(x).shape == (3, 5, 2, 12, 12)


def test_causal_masking():
    model = OneLayerTransformer(TINY, vocab_size=30, max_len=12, seeds=[0])
    x = torch.randint(0, 30, (1, 2, 12))
    y = x.clone()
    y[..., 7:] = (y[..., 7:] + 1) % 30  # change the future only
    assert torch.allclose(model(x)[..., :7, :], model(y)[..., :7, :], atol=1e-6)
    assert not torch.allclose(model(x)[..., 7:, :], model(y)[..., 7:, :])
    probs = model.attention_weights(x)
    assert torch.all(probs.triu(diagonal=1) == 0)


def test_members_are_independent_models():
    ensemble = OneLayerTransformer(TINY, vocab_size=30, max_len=8, seeds=[5, 6])
    single = OneLayerTransformer(TINY, vocab_size=30, max_len=8, seeds=[6])
    x = torch.randint(0, 30, (1, 3, 8))
    assert torch.allclose(ensemble(x.expand(2, -1, -1))[1], single(x)[0], atol=1e-5)


def test_gpt2_members_share_the_interface():
    model = build_model(
        ModelConfig(arch="gpt2", d_model=16, n_heads=2, mlp_width=32, n_layers=2), 30, 8, [0, 1]
    )
    assert model(torch.randint(0, 30, (2, 3, 8)), last_only=True).shape == (2, 3, 30)


def test_lora_changes_only_adapter_weights():
    model = OneLayerTransformer(TINY, vocab_size=30, max_len=8, seeds=[0, 1])
    before = {k: v.clone() for k, v in model.state_dict().items()}
    x = torch.randint(0, 30, (2, 4, 8))
    out_before = model(x)
    params = add_lora(model, rank=2, targets=("attn", "mlp_in"), alpha=4.0, seeds=[0, 1])
    assert torch.allclose(model(x), out_before)  # B = 0 at the start
    assert {id(p) for p in params} == {id(p) for p in lora_parameters(model)}
    opt = torch.optim.AdamW(params, lr=1e-2)
    for _ in range(3):
        opt.zero_grad()
        model(x).square().mean().backward()
        opt.step()
    after = model.state_dict()
    for key, value in before.items():
        assert torch.equal(after[key], value), f"{key} changed under LoRA"
    assert model.mlp_in.delta().abs().sum() > 0
    assert model.mlp_out.lora_A is None
    assert torch.linalg.matrix_rank(model.mlp_in.delta()[0]) <= 2


def test_lora_rank_larger_than_width_is_refused():
    from labcore.errors import DataError

    cfg = RunConfig(model=TINY, finetune=FinetuneConfig(lora_rank=64))
    with pytest.raises(DataError, match=r"finetune\.lora_rank 64"):
        cfg.validate()
    assert RunConfig(model=TINY, pretrain=TrainConfig(steps=5)).validate()
