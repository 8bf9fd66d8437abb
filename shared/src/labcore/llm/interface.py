"""The chat interface every LLM backend implements, and checks on its input."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

from labcore.errors import DataError

#: One chat message, e.g. ``{"role": "user", "content": "Hi"}``.
Message = dict[str, Any]
#: A list of messages, oldest first.
Conversation = list[Message]


class ChatModel(ABC):
    """A chat LLM that answers a batch of conversations.

    Implementations: :class:`~labcore.llm.LocalChatModel` (transformers) and
    :class:`~labcore.llm.OpenAIChatModel` (any OpenAI-compatible HTTP server).
    Code that only needs answers should depend on this class, so that the
    backend can be swapped by configuration.
    """

    #: Identifies the model; also part of every response-cache key.
    model_name: str

    @abstractmethod
    def chat(
        self,
        conversations: list[Conversation],
        *,
        max_new_tokens: int = 256,
        temperature: float = 0.0,
        top_p: float = 1.0,
        stop: list[str] | None = None,
        seed: int | None = None,
    ) -> list[str]:
        """Answer each conversation with the assistant's next message.

        Args:
            conversations: a batch; each item is a list of ``{"role", "content"}``
                messages. Wrap a single conversation in a list.
            max_new_tokens: upper bound on the length of each answer, in tokens.
            temperature: 0 means greedy decoding; higher values sample.
            top_p: nucleus-sampling mass (1.0 keeps the whole distribution).
            stop: each answer ends before the first occurrence of any of these.
            seed: makes sampling reproducible for the same inputs.

        Returns:
            One answer per conversation, in input order.
        """


def check_conversations(conversations: object) -> None:
    """Raise :class:`DataError` unless ``conversations`` is a list of lists of messages.

    Catches the common slip of passing one conversation instead of a batch.
    """
    if not isinstance(conversations, list | tuple):
        raise DataError(f"chat() takes a list of conversations, got {type(conversations).__name__}")
    for i, conversation in enumerate(conversations):
        if isinstance(conversation, dict):
            raise DataError(
                "chat() takes a batch: a list of conversations, each a list of messages; "
                "wrap a single conversation in a list"
            )
        if not isinstance(conversation, list | tuple) or not conversation:
            raise DataError(f"conversation {i}: expected a non-empty list of messages")
        for j, message in enumerate(conversation):
            if not isinstance(message, dict):
                raise DataError(
                    f"conversation {i}, message {j}: expected a dict, got {type(message).__name__}"
                )
            missing = [k for k in ("role", "content") if k not in message]
            if missing:
                raise DataError(f"conversation {i}, message {j}: missing {', '.join(missing)}")
