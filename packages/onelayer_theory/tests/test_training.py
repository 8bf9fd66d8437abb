import dataclasses

import torch

from onelayer_theory.config import DataConfig, FinetuneConfig, ModelConfig, TrainConfig
from onelayer_theory.model import OneLayerTransformer, build_model
from onelayer_theory.synth import World, sample_biographies
from onelayer_theory.train import finetune, lr_lambda, pretrain
from onelayer_theory.train.loop import Pretraining, sequence_loss

DATA = DataConfig(n_subjects=16, n_relations=2, answers_per_relation=4, templates_per_relation=2)
MODEL = ModelConfig(d_model=16, mlp_width=32)


GPT2 = ModelConfig(arch="gpt2", d_model=16, n_heads=2, mlp_width=32, n_layers=2, activation="gelu")


def _train(seeds, worlds, lora_rank=0, model_cfg=MODEL):
    model = build_model(model_cfg, worlds[0].vocab.size, worlds[0].biography_length, seeds)
    histories = [
        pretrain(model, worlds, TrainConfig(steps=15, batch_size=8, warmup_steps=3), seeds)
    ]
    ft = FinetuneConfig(steps=10, batch_size=8, warmup_steps=2, lora_rank=lora_rank)
    histories.append(finetune(model, [w.finetune_qa[:2] for w in worlds], ft, seeds, log_every=1))
    return model, histories


def _assert_members_equal_separate(seeds, worlds, **kwargs):
    batched, histories = _train(seeds, worlds, **kwargs)
    for e, seed in enumerate(seeds):
        alone, alone_histories = _train([seed], [worlds[e]], **kwargs)
        for key, value in alone.state_dict().items():
            assert torch.allclose(batched.state_dict()[key][e], value[0], atol=1e-5), key
        for stage, alone_stage in zip(histories, alone_histories, strict=True):
            losses = torch.tensor([h["loss"][e] for h in stage])
            assert torch.allclose(
                losses, torch.tensor([h["loss"][0] for h in alone_stage]), atol=1e-5
            )


def test_batched_ensemble_equals_separate_training():
    seeds = [0, 1, 2]
    worlds = [World(DataConfig(**{**DATA.__dict__, "seed": s})) for s in seeds]
    for lora_rank in (0, 2):
        _assert_members_equal_separate(seeds, worlds, lora_rank=lora_rank)


def test_vmapped_gpt2_ensemble_equals_separate_training():
    """The depth models: stacked parameters + vmap give each member its separate training."""
    seeds = [0, 1]
    worlds = [World(DataConfig(**{**DATA.__dict__, "seed": s})) for s in seeds]
    _assert_members_equal_separate(seeds, worlds, model_cfg=GPT2)


def _pretrained(model_cfg, seeds, worlds, cfg, member_lr=None):
    model = build_model(model_cfg, worlds[0].vocab.size, worlds[0].biography_length, seeds)
    pretrain(model, worlds, cfg, seeds, member_lr=member_lr)
    return model


def test_members_at_their_own_rates_train_like_separate_runs_at_each_rate():
    """A learning-rate grid as one ensemble: AdamW (with weight decay) and SGD alike."""
    worlds = [World(DataConfig(**{**DATA.__dict__, "seed": s})) for s in (0, 1)]
    for optimizer in ("adamw", "sgd"):
        cfg = TrainConfig(
            steps=12, batch_size=8, warmup_steps=3, optimizer=optimizer, weight_decay=0.1
        )
        # member e: world/seed e // 2 at rate rates[e % 2]
        seeds, rates = [0, 0, 1, 1], [1e-3, 1e-2, 1e-3, 1e-2]
        batched = _pretrained(MODEL, seeds, [worlds[s] for s in seeds], cfg, member_lr=rates)
        for e, (seed, lr) in enumerate(zip(seeds, rates, strict=True)):
            alone = _pretrained(MODEL, [seed], [worlds[seed]], dataclasses.replace(cfg, lr=lr))
            for key, value in alone.state_dict().items():
                assert torch.allclose(batched.state_dict()[key][e], value[0], atol=1e-5), (
                    optimizer,
                    e,
                    key,
                )
        # the rates really differ: the two members of one seed end apart
        assert not torch.allclose(
            batched.state_dict()["mlp_in.weight"][0], batched.state_dict()["mlp_in.weight"][1]
        )


def test_a_member_kept_after_a_pilot_ends_where_training_alone_at_its_rate_ends():
    """The depth experiment's rate pilot: drop members part-way, the rest go on undisturbed."""
    worlds = [World(DataConfig(**{**DATA.__dict__, "seed": s})) for s in (0, 1)]
    cfg = TrainConfig(steps=10, batch_size=8, warmup_steps=2)
    for model_cfg in (MODEL, GPT2):
        seeds, rates = [0, 0, 1, 1], [1e-3, 1e-2, 1e-3, 1e-2]
        model = build_model(model_cfg, worlds[0].vocab.size, worlds[0].biography_length, seeds)
        training = Pretraining(model, [worlds[s] for s in seeds], cfg, seeds, member_lr=rates)
        training.run(until=4)
        training.keep([1, 2])  # seed 0 at 1e-2, seed 1 at 1e-3
        history = training.run()
        assert [len(h["loss"]) for h in history] == [4, 2]  # steps 0 and 9 (log every 100)
        for e, (seed, lr) in enumerate([(0, 1e-2), (1, 1e-3)]):
            alone = _pretrained(model_cfg, [seed], [worlds[seed]], dataclasses.replace(cfg, lr=lr))
            for key, value in alone.state_dict().items():
                # torch's fused AdamW rounds differently; at lr 1e-2 that reaches ~3e-5 in
                # 10 steps (a wrong rate or bias correction is off by ~1e-2)
                assert torch.allclose(model.state_dict()[key][e], value[0], atol=1e-4), key


def test_batched_sampling_does_not_depend_on_the_other_members():
    worlds = [World(DataConfig(**{**DATA.__dict__, "seed": s})) for s in (0, 1, 2)]
    gens = [torch.Generator().manual_seed(s) for s in (5, 6, 7)]
    tokens, logp = sample_biographies(worlds, 16, gens)
    alone = worlds[1].sample_biographies(16, torch.Generator().manual_seed(6))
    assert torch.equal(tokens[1], alone[0]) and torch.equal(logp[1], alone[1])


def test_schedules():
    cfg = TrainConfig(steps=100, warmup_steps=10, schedule="step")
    f = lr_lambda(cfg)
    assert f(0) == 0.1 and f(20) == 1.0 and abs(f(60) - 0.1) < 1e-12 and abs(f(80) - 0.01) < 1e-12
    g = lr_lambda(TrainConfig(steps=100, warmup_steps=10, schedule="cosine"))
    assert g(9) == 1.0 and abs(g(99) - 0.1) < 0.01
    assert lr_lambda(TrainConfig(steps=100, warmup_steps=0, schedule="constant"))(50) == 1.0


def test_one_layer_model_overfits_a_tiny_batch():
    """The model can learn: 8 fixed sequences (a distinct first token each) to near-zero loss."""
    torch.manual_seed(0)
    tokens = torch.randint(10, 40, (1, 8, 8))
    tokens[..., 0] = torch.arange(8) + 1  # which sequence it is, like a biography's subject
    model = OneLayerTransformer(ModelConfig(d_model=64, mlp_width=128), 40, 8, seeds=[0])
    opt = torch.optim.AdamW(model.parameters(), lr=1e-2)
    for _ in range(300):
        loss = sequence_loss(model(tokens), tokens).sum()
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert loss.item() < 0.05, loss.item()
