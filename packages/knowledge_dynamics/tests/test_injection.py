import numpy as np
import pytest
import torch

from knowledge_dynamics.config import InjectConfig
from knowledge_dynamics.synth.generator import synth_knowledge
from knowledge_dynamics.train.injection import (
    inject_rows,
    make_plan,
    passage_share,
    scenario_of,
    shard_rows,
)
from labcore.errors import DataError

EOS = 0


def test_row_gets_passage_eos_then_truncated_row():
    rows = np.arange(100, 100 + 3 * 10).reshape(3, 10)
    out = inject_rows(rows, [[1, 2, 3], [4]], EOS)
    assert out.shape == (3, 10)
    assert out[0].tolist() == [1, 2, 3, EOS, 100, 101, 102, 103, 104, 105]
    assert out[1].tolist() == [4, EOS, 110, 111, 112, 113, 114, 115, 116, 117]
    assert out[2].tolist() == rows[2].tolist()  # untouched
    assert rows[0, 0] == 100  # input not modified


def test_passages_are_packed_into_the_existing_rows():
    # fewer rows than passages: whole passages concatenated (next-fit), the batch keeps its size
    rows = np.full((2, 8), 9)
    out = inject_rows(rows, [[1, 2], [3, 4], [5, 6]], EOS)
    assert out.shape == (2, 8)
    assert out[0].tolist() == [1, 2, EOS, 3, 4, EOS, 9, 9]
    assert out[1].tolist()[:4] == [5, 6, EOS, 9]
    # next-fit would need 3 rows: one stream of passages cut at the row end
    out = inject_rows(rows, [[1, 2, 3, 4, 5], [6, 7, 8, 9, 10], [11, 12]], EOS)
    assert out.shape == (2, 8)
    assert out[0].tolist() == [1, 2, 3, 4, 5, EOS, 6, 7]
    assert out[1].tolist() == [8, 9, 10, EOS, 11, 12, EOS, 9]
    # a passage longer than a row is laid over consecutive rows
    out = inject_rows(np.full((3, 4), 9), [[1, 2, 3, 4, 5, 6]], EOS)
    assert out.tolist() == [[1, 2, 3, 4], [5, 6, EOS, 9], [9, 9, 9, 9]]


def test_overflow_is_refused_by_default_or_extends():
    rows = np.full((1, 8), 9)
    with pytest.raises(DataError, match=r"inject\.batch_size.*inject\.overflow=extend"):
        inject_rows(rows, [[1, 2], [3, 4], [5, 6]], EOS)  # 9 tokens with EOS > 8
    out = inject_rows(rows, [[1, 2], [3, 4], [5, 6]], EOS, overflow="extend")
    assert out.shape == (2, 8)
    assert out[0].tolist()[:6] == [1, 2, EOS, 3, 4, EOS]
    assert out[1].tolist()[:3] == [5, 6, EOS]


def test_passage_share_of_an_injection_step():
    assert passage_share([[1, 2, 3], [4]], batch=4, seq_len=10) == pytest.approx(6 / 40)


def test_scenario_schedule_over_item_thirds():
    items = synth_knowledge(6, seed=1)
    cfg = InjectConfig(inject_every=10, n_injections=4)
    plan = make_plan(items, 6, cfg)
    assert sorted(plan.steps) == [0, 10, 20, 30]
    assert [scenario_of(i, 6) for i in range(7)] == [
        "paraphrase",
        "paraphrase",
        "duplicate",
        "duplicate",
        "once",
        "once",
        "spare",
    ]
    assert [i for i, _ in plan.steps[0]] == list(range(6))
    assert all(t == items[i].train_context for i, t in plan.steps[0])
    for k in (1, 2, 3):
        entries = dict(plan.steps[10 * k])
        assert set(entries) == {0, 1, 2, 3}
        assert entries[0] == items[0].paraphrases[k - 1]
        assert entries[2] == items[2].train_context
    assert plan.item_steps(0) == [0, 10, 20, 30] and plan.item_steps(5) == [0]


def test_ddp_shards_give_the_global_update():
    """Summing per-rank gradients (loss / global count) equals one process on the global batch."""
    from transformers import LlamaConfig, LlamaForCausalLM

    from knowledge_dynamics.train.step import sum_lm_loss

    torch.manual_seed(0)
    model = LlamaForCausalLM(
        LlamaConfig(
            vocab_size=50,
            hidden_size=16,
            intermediate_size=32,
            num_hidden_layers=1,
            num_attention_heads=2,
            num_key_value_heads=2,
        )
    )
    batch = np.random.default_rng(0).integers(0, 50, (5, 12))
    n = batch.shape[0] * (batch.shape[1] - 1)

    def grads(blocks):
        model.zero_grad()
        for b in blocks:
            loss, _ = sum_lm_loss(model, torch.as_tensor(b))
            (loss / n).backward()
        return [p.grad.clone() for p in model.parameters()]

    full = grads([batch])
    world = 3
    shards = [shard_rows(batch, r, world) for r in range(world)]
    assert np.concatenate(shards).tolist() == batch.tolist()
    for a, b in zip(full, grads(shards), strict=True):
        torch.testing.assert_close(a, b, atol=1e-6, rtol=1e-5)
