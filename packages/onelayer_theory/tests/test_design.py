"""The design options: answer format, orthonormal embeddings, answer-only loss, replay, LR grids."""

from __future__ import annotations

import csv

import pytest
import torch

from labcore.errors import DataError
from onelayer_theory.cli import app
from onelayer_theory.config import DataConfig, FinetuneConfig, ModelConfig, RunConfig
from onelayer_theory.experiments import build_runs, get_experiment
from onelayer_theory.model import OneLayerTransformer
from onelayer_theory.synth import A, World
from onelayer_theory.train import finetune
from onelayer_theory.train.loop import sequence_loss

DATA = DataConfig(n_subjects=12, n_relations=2, answers_per_relation=4, templates_per_relation=2)


def test_direct_answer_format_drops_the_format_token():
    separate, direct = World(DATA), World(DataConfig(**{**DATA.__dict__, "qa_format": "direct"}))
    assert separate.heldout_qa[0].shape[1] == 5 and (separate.heldout_qa[0][:, -1] == A).all()
    assert direct.heldout_qa[0].shape[1] == 4
    assert torch.equal(direct.heldout_qa[0], separate.heldout_qa[0][:, :4])
    assert torch.equal(direct.heldout_qa[1], separate.heldout_qa[1])


def test_orthonormal_embeddings_are_frozen_and_orthonormal():
    vocab, max_len = DATA.vocab_size, DATA.max_len
    cfg = ModelConfig(d_model=64, mlp_width=32, embeddings="orthonormal")
    model = OneLayerTransformer(cfg, vocab, max_len, seeds=[0, 1])
    vectors = torch.cat([model.tok_emb, model.pos_emb], dim=1)  # [E, V + L, d]
    gram = vectors @ vectors.transpose(1, 2)
    assert torch.allclose(gram, torch.eye(vocab + max_len).expand_as(gram), atol=1e-5)
    names = {n for n, _ in model.named_parameters()}
    assert "tok_emb" not in names and "pos_emb" not in names and model.unembed is None
    assert "tok_emb" in model.state_dict()  # saved with the checkpoint all the same
    with pytest.raises(DataError, match=rf"d_model >= {vocab + max_len} "):
        RunConfig(data=DATA, model=ModelConfig(d_model=16, embeddings="orthonormal")).validate()


def test_answer_only_loss_counts_answer_targets_only():
    world = World(DATA)
    tokens = world.sample_biographies(4, torch.Generator().manual_seed(0))[0][None]
    logits = torch.randn(*tokens.shape, world.vocab.size)
    span = (world.vocab.answer0, world.vocab.noise0)
    nll = torch.nn.functional.cross_entropy(
        logits[0, :, :-1].flatten(0, 1), tokens[0, :, 1:].flatten(), reduction="none"
    )
    targets = tokens[0, :, 1:].flatten()
    is_answer = (targets >= span[0]) & (targets < span[1])
    assert is_answer.sum() == 4 * DATA.n_relations
    assert torch.allclose(sequence_loss(logits, tokens, span)[0], nll[is_answer].mean())


def test_replay_adds_the_biography_loss_to_fine_tuning():
    world = World(DATA)
    qa = [world.finetune_qa[:2]]

    def first_loss(replay_batch):
        model = OneLayerTransformer(
            ModelConfig(d_model=16, mlp_width=32), world.vocab.size, 10, [0]
        )
        cfg = FinetuneConfig(steps=1, batch_size=4, warmup_steps=0, replay_batch=replay_batch)
        return finetune(model, qa, cfg, [0], worlds=[world])[0]["loss"][0]

    plain, replayed = first_loss(0), first_loss(8)
    # Same Q&A batch; the replayed step adds a next-token loss of about log(vocab) at init.
    assert replayed - plain > 0.5 * torch.log(torch.tensor(float(world.vocab.size)))
    model = OneLayerTransformer(ModelConfig(d_model=16, mlp_width=32), world.vocab.size, 10, [0])
    with pytest.raises(ValueError, match="replay_batch"):
        finetune(model, qa, FinetuneConfig(steps=1, replay_batch=2), [0])


def test_design_experiment_builds_every_variant():
    runs = build_runs(get_experiment("design"), RunConfig(data=DATA), "smoke", [0])
    designs = {labels["design"] for labels, _ in runs}
    assert {"default", "direct_answer", "heads_2", "replay", "stylised"} <= designs
    stylised = next(cfg for labels, cfg in runs if labels["design"] == "stylised")
    assert stylised.model.d_model >= DATA.vocab_size + DATA.max_len
    assert stylised.pretrain.loss_on == "answers" and stylised.finetune.lr_grid


def test_lr_grids_pick_a_rate_per_run_and_report_before_and_after(tmp_path, capsys):
    out = tmp_path / "cov"
    argv = ["run", "--experiment", "coverage", "--preset", "smoke", "--seeds", "1"]
    argv += ["--out", str(out), "--pretrain.steps", "20", "--finetune.steps", "5"]
    argv += ["--data.n_subjects", "12", "--pretrain.lr_grid", "[1e-3, 1e-2]"]
    argv += ["--pretrain.lr_pilot", "0.5"]  # choose at step 10 of 20, then train on one rate
    argv += ["--finetune.lr_grid", "[1e-4, 1e-3]"]
    assert app.main(argv) == 0
    stdout = capsys.readouterr().out
    assert "heldout_acc_before_ft" in stdout and "stored_acc_pretrain" in stdout
    with open(out / "results.csv") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 3
    for row in rows:
        assert float(row["pretrain_lr"]) in (1e-3, 1e-2) and float(row["ft_lr"]) in (1e-4, 1e-3)
        for column in ("stored_acc_pretrain", "heldout_acc_before_ft", "ft_acc_before_ft"):
            assert 0.0 <= float(row[column]) <= 1.0


def test_worlds_that_differ_beyond_seed_and_coverage_train_in_separate_ensembles(tmp_path, capsys):
    """multiplicity 1 and 2 draw biographies from differently shaped statement tables."""
    out = tmp_path / "mult"
    argv = ["run", "--experiment", "multiplicity", "--preset", "smoke", "--seeds", "2"]
    argv += ["--out", str(out), "--pretrain.steps", "5", "--finetune.steps", "2"]
    argv += ["--data.n_subjects", "12"]
    assert app.main(argv) == 0, capsys.readouterr().err
    with open(out / "results.csv") as fh:
        rows = list(csv.DictReader(fh))
    assert sorted(int(r["multiplicity"]) for r in rows) == [1, 1, 2, 2]
