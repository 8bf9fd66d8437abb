import math

import numpy as np
import pytest
import torch

from labcore.errors import DataError
from onelayer_theory.config import DataConfig
from onelayer_theory.synth import BOS, PAD, Q, World


def small(**changes) -> DataConfig:
    base = dict(
        n_subjects=20,
        n_relations=3,
        answers_per_relation=5,
        templates_per_relation=4,
        multiplicity=2,
    )
    return DataConfig(**{**base, **changes})


def tiny_world(**changes) -> World:
    """Two subjects, one relation: small enough to compute the Bayes loss by hand."""
    base = dict(
        n_subjects=2,
        n_relations=1,
        answers_per_relation=3,
        templates_per_relation=1,
        multiplicity=1,
        max_noise=0,
        ft_subject_fraction=0.5,
    )
    return World(DataConfig(**{**base, **changes}))


def test_counts_and_vocabulary():
    w = World(small(coverage=0.5))
    card = w.card()
    assert card["vocab_size"] == 4 + 20 + 3 * 4 + 3 * 5 + 16
    assert card["template_universe"] == 12 and card["covered_templates"] == 6
    assert card["ft_subjects"] == 10 and card["heldout_subjects"] == 10
    # fine-tuning pairs: every fine-tuning subject x every covered template
    assert card["finetune_qa_pairs"] == 10 * 6
    assert card["heldout_qa_prompts"] == 10 * 12
    assert w.statement_templates.shape == (20, 3, 2)
    # statements of one fact use distinct templates while multiplicity <= templates
    assert all(len(set(row)) == 2 for row in w.statement_templates.reshape(-1, 2).tolist())


def test_heldout_subjects_never_appear_in_finetuning():
    w = World(small(coverage=0.25))
    prompts = w.finetune_qa[0]
    ft_tokens = set(prompts[:, 2].tolist())
    assert ft_tokens == {w.vocab.subject(s) for s in w.ft_subjects}
    assert not ft_tokens & {w.vocab.subject(s) for s in w.heldout_subjects}
    # ...while every subject, held-out ones included, appears in pre-training
    bios, _ = w.sample_biographies(2000, torch.Generator().manual_seed(0))
    assert set(bios[:, 1].tolist()) == {w.vocab.subject(s) for s in range(20)}
    assert (prompts[:, :2] == torch.tensor([BOS, Q])).all()


def test_only_covered_templates_in_finetuning():
    w = World(small(coverage=0.25))
    templates = set((w.finetune_qa[0][:, 3] - w.vocab.template0).tolist())
    assert templates == set(np.flatnonzero(w.covered.ravel()).tolist())
    assert w.heldout_covered.sum() == 10 * 3


def test_biographies_state_the_facts():
    w = World(small(max_noise=2))
    bios, logp = w.sample_biographies(64, torch.Generator().manual_seed(1))
    v = w.vocab
    for row in bios.tolist():
        s = row[1] - v.subject0
        tokens = [t for t in row if t != PAD]
        templates = [i for i, t in enumerate(tokens) if v.template0 <= t < v.answer0]
        assert len(templates) == 3
        for i in templates:
            r, tau = divmod(tokens[i] - v.template0, 4)
            assert tau in w.statement_templates[s, r]
            assert tokens[i + 1] == v.answer(r, w.facts[s, r])
    assert (logp <= 0).all()


def test_deterministic_from_seed():
    a, b = World(small(seed=3)), World(small(seed=3))
    assert np.array_equal(a.facts, b.facts) and np.array_equal(a.covered, b.covered)
    assert torch.equal(a.fresh_biographies[0], b.fresh_biographies[0])
    assert not np.array_equal(a.facts, World(small(seed=4)).facts)


def test_bayes_loss_by_hand_tiny_case():
    # BOS s t a: subject uniform over 2 (log 2); one relation, one template, no filler:
    # the template and the answer are certain. Three predicted tokens.
    w = tiny_world()
    assert w.bayes_loss == pytest.approx(math.log(2) / 3)
    # Two statements per fact (distinct templates out of 2): the template costs log 2 as well.
    w = tiny_world(templates_per_relation=2, multiplicity=2)
    assert w.bayes_loss == pytest.approx(2 * math.log(2) / 3)


def test_bayes_loss_with_filler_by_hand():
    # max_noise=1, 4 filler tokens: before the template, P(no filler) = 1/2;
    # after one filler the template is certain. Expected per-biography NLL:
    # subject log 2 + 1/2 [log 2 (no filler: template)] + 1/2 [log 2 + log 4 (filler) + 0 (template)]
    w = tiny_world(max_noise=1, noise_tokens=4)
    tokens, logp = w.sample_biographies(20000, torch.Generator().manual_seed(0))
    predicted = tokens[:, 1:] != PAD
    expected_total = math.log(2) + 0.5 * math.log(2) + 0.5 * (math.log(2) + math.log(4))
    expected_tokens = 3 + 0.5  # BOS s [f] t a -> 3 or 4 predicted tokens
    assert float(-logp.sum() / len(tokens)) == pytest.approx(expected_total, rel=0.02)
    assert float(predicted.sum() / len(tokens)) == pytest.approx(expected_tokens, rel=0.02)


@pytest.mark.parametrize(
    ("changes", "option"),
    [
        ({"coverage": 1.5}, r"data\.coverage"),
        ({"coverage": 0.0}, r"data\.coverage"),
        ({"n_subjects": 0}, r"data\.n_subjects"),
        ({"ft_subject_fraction": 1.0}, r"data\.ft_subject_fraction"),
        ({"n_subjects": 1}, r"data\.ft_subject_fraction"),
    ],
)
def test_impossible_configs_are_refused(changes, option):
    with pytest.raises(DataError, match=option):
        small(**changes).validate()
