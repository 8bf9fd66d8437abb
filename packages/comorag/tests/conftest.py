"""Fixtures: a scripted chat model for control-flow tests, a tiny story, shared resources."""

from __future__ import annotations

import os
from collections.abc import Callable

import pytest

from labcore.llm import ChatModel

os.environ.setdefault("HF_HUB_OFFLINE", "1")

STORY = (
    "Chapter 1\n\n"
    "Mara lived in Eastport, a harbour town with slate roofs. She kept bees.\n\n"
    "Tomas lived in Kellmoor and worked at the quarry. The winter was hard.\n\n"
    "Chapter 2\n\n"
    "Mara left Eastport and settled in Ashford. Rain fell for a week.\n\n"
    "Tomas and Mara swore an alliance in Ashford.\n\n"
    "Chapter 3\n\n"
    "Tomas betrayed Mara, selling her plans to the council. Fog lay on the valley.\n\n"
    "Mara died in Ashford and was buried outside the town walls.\n"
)


class ScriptedChat(ChatModel):
    """A chat model whose replies come from ``reply(role, conversation)``; records batches.

    The role is the first word of the system message (``Answer``, ``Probe``, ...). Only
    for tests of control flow; users always run a real model.
    """

    model_name = "scripted"

    def __init__(self, reply: Callable[[str, list[dict]], str], fail_after: int | None = None):
        self.reply = reply
        self.batches: list[list[tuple[str, list[dict]]]] = []
        self.fail_after = fail_after

    def chat(
        self, conversations, *, max_new_tokens=256, temperature=0.0, top_p=1.0, stop=None, seed=None
    ):
        if self.fail_after is not None and len(self.batches) >= self.fail_after:
            raise KeyboardInterrupt("simulated kill")
        batch = []
        for conv in conversations:
            role = conv[0]["content"].split()[0].rstrip(".")
            batch.append((role, conv))
        self.batches.append(batch)
        return [self.reply(role, conv) for role, conv in batch]

    def roles(self) -> list[str]:
        return [role for batch in self.batches for role, _ in batch]


def default_reply(role: str, conv: list[dict]) -> str:
    """Well-formed replies for every role."""
    user = conv[1]["content"]
    return {
        "Triple": "Mara | lived in | Eastport\nTomas | betrayed | Mara",
        "Summariser": "Mara and Tomas in their towns.",
        "Timeline": "Mara moved; Tomas betrayed her.",
        "Fact": "KEEP: 1, 2",
        "Probe": "PROBE: where did Mara live\nPROBE: who betrayed Mara",
        "Evidence": "- Mara lived in Ashford",
        "Memory": "Mara lived in Ashford before she died.",
        "Answer": "ANSWER: Ashford" if "Options" not in user else "ANSWER: B",
    }[role]


@pytest.fixture(scope="session")
def scripted() -> type[ScriptedChat]:
    return ScriptedChat


@pytest.fixture(scope="session")
def story() -> str:
    return STORY


@pytest.fixture(scope="session")
def reply() -> Callable[[str, list[dict]], str]:
    return default_reply


@pytest.fixture
def story_file(tmp_path):
    path = tmp_path / "story.txt"
    path.write_text(STORY, encoding="utf-8")
    return path


@pytest.fixture(scope="session")
def embedder():
    from labcore.retrieval import Embedder

    return Embedder("all-minilm-l6-v2", device="cpu")


@pytest.fixture
def make_res(embedder):
    """Resources over the shared embedder and a given chat model."""
    from comorag.index.chunking import TokenCounter
    from comorag.index.resources import Resources
    from comorag.llm import Agents

    def make(llm, retries: int = 1):
        counter = TokenCounter(embedder.model.tokenizer, embedder.model.max_seq_length)
        return Resources(embedder, counter, Agents(llm, retries=retries))

    return make
