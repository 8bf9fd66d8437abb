"""Chat LLMs behind one interface: local transformers models and OpenAI-compatible servers.

* :class:`ChatModel` — the interface: ``chat(conversations, ...) -> list[str]``.
* :class:`LocalChatModel` — batched generation with transformers (CPU or CUDA).
* :class:`OpenAIChatModel` — any ``/v1/chat/completions`` endpoint, with retries.
* :class:`ResponseCache` — optional SQLite cache both backends accept as ``cache=``.

Tests can serve scripted replies with :mod:`labcore.llm.fake_server`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from labcore.llm.cache import ResponseCache
from labcore.llm.interface import ChatModel, Conversation, Message
from labcore.llm.openai_compat import APIError, OpenAIChatModel
from labcore.llm.params import SamplingParams

if TYPE_CHECKING:
    from labcore.llm.local import LocalChatModel

__all__ = [
    "APIError",
    "ChatModel",
    "Conversation",
    "LocalChatModel",
    "Message",
    "OpenAIChatModel",
    "ResponseCache",
    "SamplingParams",
]


def __getattr__(name: str) -> Any:
    # LocalChatModel pulls in torch and transformers (seconds to import); load
    # it on first use so that HTTP-only callers don't pay for it.
    if name == "LocalChatModel":
        from labcore.llm.local import LocalChatModel

        return LocalChatModel
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
