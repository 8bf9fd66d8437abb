"""Fixtures shared by labcore's tests: the bundled models, loaded once per session."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def smollm2():
    """``(model, tokenizer)`` of the bundled SmolLM2-135M-Instruct on CPU (default cache)."""
    from labcore.models import load_causal_lm

    return load_causal_lm("smollm2-135m-instruct", device="cpu")
