"""The embedded benchmark: a synthetic world of facts, biographies and Q&A pairs."""

from onelayer_theory.synth.world import (
    BOS,
    N_SPECIAL,
    PAD,
    QA_PROMPT_LEN,
    A,
    Q,
    Vocab,
    World,
    sample_biographies,
)

__all__ = [
    "BOS",
    "N_SPECIAL",
    "PAD",
    "QA_PROMPT_LEN",
    "A",
    "Q",
    "Vocab",
    "World",
    "sample_biographies",
]
