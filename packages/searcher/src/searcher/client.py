"""A search environment behind ``searcher serve``, with the same ``observe`` as the in-process one."""

from __future__ import annotations

from collections.abc import Sequence

import httpx

from labcore.errors import DataError


class HTTPSearchEnvironment:
    """Calls ``POST /search`` and ``POST /retrieve`` of a running server.

    Args:
        url: e.g. ``http://127.0.0.1:8000``.
        timeout: seconds per request.
        retries: extra attempts on connection errors and 5xx.
    """

    def __init__(self, url: str, timeout: float = 60.0, retries: int = 2, topk: int = 3) -> None:
        self.url = url.rstrip("/")
        self.topk = topk
        self.retries = retries
        self._client = httpx.Client(timeout=timeout)

    def _post(self, path: str, body: dict) -> dict:
        last: Exception | None = None
        for _ in range(self.retries + 1):
            try:
                r = self._client.post(self.url + path, json=body)
            except httpx.TransportError as exc:
                last = exc
                continue
            if r.status_code >= 500:
                last = RuntimeError(f"{self.url}{path}: HTTP {r.status_code}")
                continue
            if r.status_code >= 400:
                raise DataError(f"{self.url}{path}: HTTP {r.status_code}: {r.text[:300]}")
            return r.json()
        raise DataError(f"{self.url}{path}: no answer ({last})")

    def health(self) -> dict:
        """The server's ``/health`` document."""
        try:
            return self._client.get(self.url + "/health").json()
        except httpx.TransportError as exc:
            raise DataError(f"{self.url}: cannot reach the search server ({exc})") from None

    def retrieve(
        self, queries: Sequence[str], topk: int | None = None
    ) -> list[list[tuple[dict, float]]]:
        """Search-R1 ``/retrieve``: per query ``(document, score)`` pairs."""
        res = self._post(
            "/retrieve",
            {"queries": list(queries), "topk": topk or self.topk, "return_scores": True},
        )
        return [[(x["document"], x["score"]) for x in r] for r in res["result"]]

    def observe(self, batch: Sequence[Sequence[str]], abilities: Sequence[str]) -> list[str]:
        """One observation text per sample."""
        res = self._post(
            "/search",
            {"queries": [list(q) for q in batch], "ability": list(abilities), "topk": self.topk},
        )
        return res["result"]

    def close(self) -> None:
        self._client.close()
