"""What indexing and answering share: the embedder, its token counter and the LLM agents."""

from __future__ import annotations

from dataclasses import dataclass

from comorag.index.chunking import TokenCounter
from comorag.llm import Agents
from labcore.retrieval import Embedder


@dataclass
class Resources:
    """What indexing and answering need: the embedder, its token counter, the LLM agents."""

    embedder: Embedder
    counter: TokenCounter
    agents: Agents


def make_resources(embedder_name: str, agents: Agents, device: str | None = None) -> Resources:
    """Load the embedder ``embedder_name`` (on ``device``) and wrap it with ``agents``."""
    embedder = Embedder(embedder_name, device=device)
    counter = TokenCounter(
        embedder.model.tokenizer, getattr(embedder.model, "max_seq_length", None)
    )
    return Resources(embedder, counter, agents)
