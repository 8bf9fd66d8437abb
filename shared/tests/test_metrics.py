import numpy as np
import pytest
import torch

from labcore.metrics import (
    confusion_matrix,
    exact_match,
    f1_score,
    normalize_answer,
    target_logprobs,
    uar,
    war,
)


@pytest.mark.parametrize(
    ("raw", "normalized"),
    [
        ("The Eiffel Tower!", "eiffel tower"),
        ("  an   apple, a pear ", "apple pear"),
        ("Theatre of the absurd", "theatre of absurd"),
        ("U.S.A.", "usa"),
        ("", ""),
    ],
)
def test_normalize_answer(raw, normalized):
    assert normalize_answer(raw) == normalized


def test_exact_match_takes_the_best_gold():
    assert exact_match("the Paris", ["London", "paris."]) == 1.0
    assert exact_match("Paris, France", "Paris") == 0.0


def test_f1_by_hand():
    # pred tokens: [new, york, city]; gold: [new, york] -> P=2/3, R=1, F1=0.8
    assert f1_score("New York City", "new york") == pytest.approx(0.8)
    # best over golds; repeated tokens count once per match: P=1/2, R=1 against "cat"
    assert f1_score("cat cat", ["dog", "cat"]) == pytest.approx(2 * 0.5 * 1 / 1.5)
    assert f1_score("", "") == 1.0
    assert f1_score("something", "") == 0.0


def test_war_uar_on_known_confusion_matrix():
    # class 0: 8 samples, 6 right; class 1: 2 samples, 1 right; class 2: 10 samples, 5 right
    y_true = [0] * 8 + [1] * 2 + [2] * 10
    y_pred = [0] * 6 + [1] * 2 + [1] + [0] + [2] * 5 + [0] * 5
    cm = confusion_matrix(y_true, y_pred, num_classes=3)
    assert cm.tolist() == [[6, 2, 0], [1, 1, 0], [5, 0, 5]]
    assert war(y_true, y_pred) == pytest.approx(12 / 20)
    assert uar(y_true, y_pred) == pytest.approx((6 / 8 + 1 / 2 + 5 / 10) / 3)


def test_uar_ignores_absent_classes():
    assert uar([0, 0, 1], [0, 0, 1], num_classes=5) == 1.0


def _loop_logprob(model, tokenizer, prefix, target):
    prefix_ids = tokenizer(prefix).input_ids
    target_ids = tokenizer(target, add_special_tokens=False).input_ids
    ids = torch.tensor([prefix_ids + target_ids])
    with torch.inference_mode():
        logp = model(ids).logits[0].float().log_softmax(-1)
    total = sum(logp[len(prefix_ids) - 1 + j, t].item() for j, t in enumerate(target_ids))
    return total, total / len(target_ids)


def test_target_logprobs_equals_a_per_example_loop(smollm2):
    model, tokenizer = smollm2
    prefixes = [
        "The capital of France is",
        "Water boils at a temperature of one hundred degrees",
        "My favourite colour is",
        "In 1969 the first person to walk on the Moon was",
        "Two plus two equals",
    ]
    targets = [" Paris", " Celsius at sea level", " blue", " Neil Armstrong", " four"]
    result = target_logprobs(model, tokenizer, prefixes, targets, batch_size=2)
    for i, (p, t) in enumerate(zip(prefixes, targets, strict=True)):
        total, mean = _loop_logprob(model, tokenizer, p, t)
        assert result.sum[i] == pytest.approx(total, abs=1e-3)
        assert result.mean[i] == pytest.approx(mean, abs=1e-3)
    assert result.num_tokens.tolist() == [
        len(tokenizer(t, add_special_tokens=False).input_ids) for t in targets
    ]
    assert np.all(result.sum < 0)
    # A likely continuation scores higher than an unlikely one.
    pair = target_logprobs(
        model, tokenizer, ["The capital of France is"] * 2, [" Paris", " banana"]
    )
    assert pair.mean[0] > pair.mean[1]


def test_target_logprobs_rejects_mismatched_lengths(smollm2):
    model, tokenizer = smollm2
    with pytest.raises(ValueError, match="2 prefixes but 1 targets"):
        target_logprobs(model, tokenizer, ["a", "b"], [" c"])


def test_token_logprobs_match_one_sequence_at_a_time():
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    from labcore.metrics import token_logprobs

    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=50, hidden_size=16, intermediate_size=32,
                         num_hidden_layers=1, num_attention_heads=2, num_key_value_heads=2)  # fmt: skip
    model = LlamaForCausalLM(config).eval()
    seqs = [[1, 5, 7, 9, 2], [1, 3], [4, 4, 4, 8, 8, 8, 1]]
    batched = token_logprobs(model, seqs, batch_size=3)
    for seq, got in zip(seqs, batched, strict=True):
        ids = torch.tensor([seq])
        logp = model(input_ids=ids).logits[0, :-1].double().log_softmax(-1)
        want = logp.gather(-1, ids[0, 1:, None]).squeeze(-1).detach().numpy()
        assert got.shape == (len(seq) - 1,)
        assert np.allclose(got, want, atol=1e-5)


def test_padded_token_logprobs_chunked_and_zero_padded(monkeypatch):
    """Chunked cross-entropy gives the same rows as one call; entries past a sequence are 0."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    from labcore import metrics

    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=50, hidden_size=16, intermediate_size=32,
                         num_hidden_layers=1, num_attention_heads=2, num_key_value_heads=2)  # fmt: skip
    model = LlamaForCausalLM(config).eval()
    seqs = [[1, 5, 7, 9, 2], [1, 3], [4, 4, 4, 8, 8, 8, 1], [2, 6, 6]]
    whole, lengths = metrics.padded_token_logprobs(model, seqs, batch_size=4)
    monkeypatch.setattr(metrics, "_CE_CHUNK", 50 * 7)  # one row per cross_entropy call
    chunked, _ = metrics.padded_token_logprobs(model, seqs, batch_size=4)
    assert whole.shape == (4, 6) and lengths.tolist() == [5, 2, 7, 3]
    np.testing.assert_allclose(chunked, whole, atol=1e-6)
    for row, n in zip(whole, lengths, strict=True):
        assert np.all(row[n - 1 :] == 0) and np.all(row[: n - 1] < 0)
    with pytest.raises(ValueError, match="sequence 1 has 1 token"):
        metrics.padded_token_logprobs(model, [[1, 2], [3]])


def test_continuation_logprobs_share_the_prefix_and_match_full_sequences():
    """Scoring from the prefix's shared cache equals scoring each whole sequence."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    from labcore.metrics import continuation_logprobs, token_logprobs

    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=50, hidden_size=16, intermediate_size=32,
                         num_hidden_layers=2, num_attention_heads=2, num_key_value_heads=1)  # fmt: skip
    model = LlamaForCausalLM(config).eval()
    prefix = [1, 5, 7, 9, 2, 3, 11]
    conts = [[4], [8, 8, 8, 1], [6, 2], [30, 31, 32]]
    # batch_size 3: two batches, so the cache must be copied rather than grown twice.
    got = continuation_logprobs(model, prefix, conts, batch_size=3)
    want = token_logprobs(model, [prefix + c for c in conts])
    for g, w, c in zip(got, want, conts, strict=True):
        assert g.shape == (len(c),)
        np.testing.assert_allclose(g, w[-len(c) :], atol=1e-5)
    assert continuation_logprobs(model, prefix, []) == []
    with pytest.raises(ValueError, match="continuation 1 is empty"):
        continuation_logprobs(model, prefix, [[4], []])
    with pytest.raises(ValueError, match="prefix is empty"):
        continuation_logprobs(model, [], [[4]])
