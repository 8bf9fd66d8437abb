"""Chat through any OpenAI-compatible ``/v1/chat/completions`` endpoint (OpenAI, vLLM, llama.cpp...)."""

from __future__ import annotations

import logging
import os
import random
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from typing import Any

import httpx

from labcore.errors import DataError
from labcore.llm.cache import ResponseCache, generate_with_cache
from labcore.llm.interface import ChatModel, Conversation, check_conversations
from labcore.llm.params import SamplingParams
from labcore.llm.stop_strings import truncate_at_stop

log = logging.getLogger(__name__)

DEFAULT_BASE_URL = "https://api.openai.com/v1"

# Worth another try: the server is overloaded, rate limiting, or timed out.
_RETRY_STATUSES = frozenset({408, 429})
# Longest wait taken from a server's Retry-After header.
_MAX_RETRY_AFTER_S = 60.0

# What a user can do about a client error, by status code.
_HINTS = {
    401: "check OPENAI_API_KEY or --api-key",
    403: "check OPENAI_API_KEY or --api-key",
    404: "check the model name and the base URL (OPENAI_BASE_URL or --base-url)",
}


class APIError(RuntimeError):
    """The server could not answer: still failing after every retry, or a malformed reply."""


class OpenAIChatModel(ChatModel):
    """A chat model behind an OpenAI-compatible HTTP API.

    Every conversation is one ``POST {base_url}/chat/completions``; a batch is
    sent over a small thread pool and answers come back in input order.

    Errors:

    * 5xx, 408, 429, timeouts and connection errors are retried ``max_retries``
      times with exponential backoff (``backoff``, ``2 * backoff``, ...; a
      ``Retry-After`` header is honoured), then raise :class:`APIError`.
    * Any other 4xx fails at once, without retrying, as :class:`DataError`:
      these mean the request or the configuration is wrong (a bad key, an unknown
      model, a wrong URL, a prompt that is too long), and retrying cannot help.
      The one-line message names the status, the URL, the server's own error
      message and, where it helps, what to check, e.g.
      ``401 Unauthorized from http://host/v1/chat/completions: invalid api key —
      check OPENAI_API_KEY or --api-key``.

    Use as a context manager, or call :meth:`close`, to release connections.
    """

    def __init__(
        self,
        model: str,
        base_url: str | None = None,
        api_key: str | None = None,
        timeout: float = 60.0,
        max_retries: int = 3,
        backoff: float = 0.5,
        cache: ResponseCache | None = None,
        max_workers: int = 4,
    ) -> None:
        """
        Args:
            model: the server's model name; also the cache's model name.
            base_url: API root such as ``http://localhost:8000/v1``; defaults to
                ``$OPENAI_BASE_URL``, then the OpenAI API.
            api_key: sent as a bearer token; defaults to ``$OPENAI_API_KEY``.
                No header is sent when neither is set (local servers need none).
            timeout: seconds per request (connect, read and write each).
            max_retries: retries after the first attempt for transient failures.
            backoff: first retry delay in seconds; doubles each retry.
            cache: answers found there are not requested; new ones are stored.
            max_workers: requests in flight at once for a batch.
        """
        if max_retries < 0:
            raise ValueError(f"max_retries must be >= 0, got {max_retries}")
        if max_workers < 1:
            raise ValueError(f"max_workers must be >= 1, got {max_workers}")
        self.model_name = model
        self.base_url = (base_url or os.environ.get("OPENAI_BASE_URL") or DEFAULT_BASE_URL).rstrip(
            "/"
        )
        if not self.base_url.startswith(("http://", "https://")):
            raise DataError(
                f"base URL {self.base_url!r} must start with http:// or https://"
                " (e.g. http://localhost:8000/v1)"
            )
        self.url = f"{self.base_url}/chat/completions"
        self.max_retries = max_retries
        self.backoff = backoff
        self.cache = cache
        self.max_workers = max_workers
        key = api_key if api_key is not None else os.environ.get("OPENAI_API_KEY")
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        # httpx.Client is thread-safe and pools connections across the workers.
        self._client = httpx.Client(timeout=timeout, headers=headers)

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
        """Answer each conversation; see :meth:`ChatModel.chat`.

        Raises:
            DataError: a client error such as 401, 403 or 404 (see the class docs).
            APIError: the server kept failing through every retry.
        """
        check_conversations(conversations)
        params = SamplingParams(max_new_tokens, temperature, top_p, tuple(stop or ()), seed)
        return generate_with_cache(
            self.cache, self.model_name, conversations, params, self.iter_generate
        )

    def iter_generate(
        self, conversations: Sequence[Conversation], params: SamplingParams
    ) -> Iterator[tuple[int, str]]:
        """Request answers without the cache, yielding ``(index, answer)`` as each arrives."""
        if len(conversations) == 1 or self.max_workers == 1:
            for i, conversation in enumerate(conversations):
                yield i, self.complete(conversation, params)
            return
        error: BaseException | None = None
        pool = ThreadPoolExecutor(max_workers=min(self.max_workers, len(conversations)))
        try:
            futures = {
                pool.submit(self.complete, conversation, params): i
                for i, conversation in enumerate(conversations)
            }
            for future in as_completed(futures):
                if future.cancelled():
                    continue
                exc = future.exception()
                if exc is None:
                    yield futures[future], future.result()
                elif error is None:
                    # Don't start queued requests, but still hand over the answers
                    # of those in flight, so the cache keeps them for a rerun.
                    error = exc
                    for other in futures:
                        other.cancel()
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
        if error is not None:
            raise error

    def complete(self, messages: Conversation, params: SamplingParams) -> str:
        """One chat completion, with retries; returns the assistant's message text."""
        payload: dict[str, Any] = {
            "model": self.model_name,
            "messages": messages,
            "max_tokens": params.max_new_tokens,
            "temperature": params.temperature,
            "top_p": params.top_p,
        }
        if params.stop:
            payload["stop"] = list(params.stop)
        if params.seed is not None:
            payload["seed"] = params.seed

        failure = ""
        for attempt in range(self.max_retries + 1):
            retry_after = None
            try:
                response = self._client.post(self.url, json=payload)
            except httpx.TransportError as exc:  # includes timeouts and refused connections
                failure = f"{type(exc).__name__} from {self.url}: {exc}"
            else:
                if response.is_success:
                    # Servers honour `stop`, but not all of them; cutting again is harmless.
                    return truncate_at_stop(self._answer(response), params.stop)
                failure = _describe(response)
                if response.status_code < 500 and response.status_code not in _RETRY_STATUSES:
                    hint = _HINTS.get(response.status_code)
                    raise DataError(f"{failure} — {hint}" if hint else failure)
                retry_after = _retry_after(response)
            if attempt == self.max_retries:
                break
            delay = self.backoff * 2**attempt * random.uniform(1.0, 1.25)  # jitter de-syncs workers
            if retry_after is not None:
                delay = max(delay, retry_after)
            log.warning("%s; retry %d/%d in %.2f s", failure, attempt + 1, self.max_retries, delay)
            time.sleep(delay)
        raise APIError(f"{failure} (gave up after {self.max_retries + 1} attempts)")

    def _answer(self, response: httpx.Response) -> str:
        try:
            content = response.json()["choices"][0]["message"]["content"]
        except (ValueError, LookupError, TypeError):
            raise APIError(
                f"unexpected reply from {self.url}: {_one_line(response.text)}"
            ) from None
        return content or ""  # some servers send null content for an empty answer

    def close(self) -> None:
        """Close pooled connections."""
        self._client.close()

    def __enter__(self) -> OpenAIChatModel:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"OpenAIChatModel({self.model_name!r}, base_url={self.base_url!r})"


def _describe(response: httpx.Response) -> str:
    """``"401 Unauthorized from URL: server message"`` on one line."""
    text = f"{response.status_code} {response.reason_phrase} from {response.request.url}"
    message = _server_message(response)
    return f"{text}: {message}" if message else text


def _server_message(response: httpx.Response) -> str:
    """The error message in an OpenAI-style body (``{"error": {"message": ...}}``), else the raw body."""
    try:
        body = response.json()
    except ValueError:
        return _one_line(response.text)
    message: Any = body
    if isinstance(body, dict):
        message = body.get("error") or body.get("detail") or body.get("message") or body
        if isinstance(message, dict):
            message = message.get("message") or message
    return _one_line(message if isinstance(message, str) else str(message))


def _one_line(text: str, limit: int = 300) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _retry_after(response: httpx.Response) -> float | None:
    """Seconds from a numeric ``Retry-After`` header, capped; None if absent or a date."""
    try:
        seconds = float(response.headers.get("retry-after", ""))
    except ValueError:
        return None
    return min(max(seconds, 0.0), _MAX_RETRY_AFTER_S)
