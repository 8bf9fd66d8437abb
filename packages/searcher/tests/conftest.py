"""Shared fixtures: a tiny benchmark, its index, the SmolLM2 tokenizer and a tiny random Llama."""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRL_EXPERIMENTAL_SILENCE", "1")

TINY_WORLD = dict(
    n_countries=2,
    n_cities=4,
    n_orgs=5,
    n_people=12,
    n_events=4,
    closed_test=8,
    sft_closed=8,
    sft_open=2,
)


@pytest.fixture(scope="session")
def tiny_world() -> dict:
    return dict(TINY_WORLD)


@pytest.fixture(scope="session")
def bench(tmp_path_factory):
    from searcher.synth.build import SynthConfig, synthesize

    out = tmp_path_factory.mktemp("bench") / "data"
    synthesize(out, SynthConfig(**TINY_WORLD))
    return out


@pytest.fixture(scope="session")
def index_dir(bench, tmp_path_factory):
    from searcher.index import build_index_folder

    out = tmp_path_factory.mktemp("index") / "bm25"
    return build_index_folder(
        bench / "corpus.jsonl", out, pages=bench / "webpages.jsonl", kind="bm25"
    )


@pytest.fixture(scope="session")
def env(index_dir):
    from searcher.agent.env import SearchEnvironment

    return SearchEnvironment.from_folder(index_dir)


@pytest.fixture(scope="session")
def tokenizer():
    from transformers import AutoTokenizer

    from labcore.models import resolve_model_path

    tok = AutoTokenizer.from_pretrained(resolve_model_path("smollm2-135m-instruct"))
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    return tok


@pytest.fixture
def tiny_model(tokenizer, tmp_path):
    """A randomly initialised two-layer Llama with SmolLM2's vocabulary (control flow only).

    Saved and reloaded so that it has a path, from which TRL loads its reference copy.
    """
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    cfg = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=2,
        num_key_value_heads=2,
        max_position_embeddings=4096,
        pad_token_id=tokenizer.pad_token_id,
        eos_token_id=tokenizer.eos_token_id,
        bos_token_id=tokenizer.bos_token_id,
    )
    LlamaForCausalLM(cfg).save_pretrained(tmp_path / "tiny-llama")
    tokenizer.save_pretrained(tmp_path / "tiny-llama")
    model = LlamaForCausalLM.from_pretrained(tmp_path / "tiny-llama")
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    return model
