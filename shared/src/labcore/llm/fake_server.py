"""A real, local OpenAI-compatible HTTP server for tests: scripted replies, recorded requests.

It runs :class:`http.server.ThreadingHTTPServer` on ``127.0.0.1`` in a thread,
so code under test talks real HTTP (no mocked client)::

    with FakeOpenAIServer() as server:
        llm = OpenAIChatModel("fake", base_url=server.base_url)
        assert llm.chat([[{"role": "user", "content": "hi"}]]) == ["echo: hi"]
        assert server.hits == 1

Pass ``respond`` to script failures, delays or answers per request.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class RecordedRequest:
    """One request the server received."""

    number: int  # 1-based, in arrival order
    path: str
    headers: dict[str, str]  # names lower-cased
    body: Any  # parsed JSON, or None when the body was not JSON


#: Maps a request to ``(status, JSON body)``, or to ``(status, JSON body, extra headers)``.
Responder = Callable[[RecordedRequest], tuple]


def chat_completion(content: str, model: str = "fake") -> dict[str, Any]:
    """An OpenAI-style ``/chat/completions`` success body with one choice."""
    return {
        "id": "chatcmpl-fake",
        "object": "chat.completion",
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": content},
                "finish_reason": "stop",
            }
        ],
    }


def error_body(message: str, kind: str = "invalid_request_error") -> dict[str, Any]:
    """An OpenAI-style error body."""
    return {"error": {"message": message, "type": kind}}


def echo(request: RecordedRequest) -> tuple[int, dict[str, Any]]:
    """The default responder: answers ``"echo: <last message content>"``."""
    last = request.body["messages"][-1]["content"]
    return 200, chat_completion(f"echo: {last}", request.body.get("model", "fake"))


class FakeOpenAIServer:
    """An HTTP server on a free port of 127.0.0.1 answering ``POST .../chat/completions``.

    Attributes:
        base_url: ``http://127.0.0.1:PORT/v1``, to pass as ``base_url``.
        requests: every :class:`RecordedRequest`, in arrival order.
    """

    def __init__(self, respond: Responder = echo) -> None:
        """Start serving at once; ``respond`` builds each reply (see :data:`Responder`)."""
        self.respond = respond
        self.requests: list[RecordedRequest] = []
        self._lock = threading.Lock()
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._httpd.daemon_threads = True
        self.base_url = f"http://127.0.0.1:{self._httpd.server_address[1]}/v1"
        # A short poll interval makes close() return quickly (the default is 0.5 s).
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self._thread.start()

    @property
    def hits(self) -> int:
        """How many requests arrived."""
        with self._lock:
            return len(self.requests)

    def _record(self, path: str, headers: dict[str, str], raw: bytes) -> RecordedRequest:
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = None
        with self._lock:
            request = RecordedRequest(len(self.requests) + 1, path, headers, body)
            self.requests.append(request)
        return request

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                headers = {k.lower(): v for k, v in self.headers.items()}
                request = server._record(self.path, headers, raw)
                if not self.path.endswith("/chat/completions"):
                    reply: tuple = (404, error_body(f"no route {self.path}"))
                else:
                    reply = server.respond(request)
                status, body, *extra = reply
                data = json.dumps(body).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    for name, value in (extra[0] if extra else {}).items():
                        self.send_header(name, value)
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (e.g. a timeout test); nothing to report

            def log_message(self, format: str, *args: Any) -> None:
                pass  # keep test output quiet

        return Handler

    def close(self) -> None:
        """Stop serving and free the port."""
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join()

    def __enter__(self) -> FakeOpenAIServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
