"""HTTP front of the search environment (FastAPI + uvicorn, loopback by default).

* ``POST /retrieve`` — Search-R1's shapes: ``{queries, topk, return_scores}`` →
  ``{result: [[{document: {id, contents}, score}, ...] per query]}`` (documents alone
  when ``return_scores`` is false).
* ``POST /search`` — batched observations: ``{queries: [[...] per sample], ability, topk}``
  → ``{result: [text per sample]}``; ``ability`` is ``closed`` or ``open`` (one or per sample).
* ``GET /health``.

Bad requests get a 4xx with a message (422 for validation, 413 for oversized bodies).
"""

from dataclasses import dataclass

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, field_validator

from searcher.agent.env import SearchEnvironment


@dataclass(frozen=True)
class Limits:
    """Request limits; anything above is refused with a 4xx."""

    max_queries: int = 1024
    max_query_chars: int = 2000
    max_topk: int = 50
    max_body_bytes: int = 4_000_000


def make_app(env: SearchEnvironment, limits: Limits = Limits()) -> FastAPI:
    """The FastAPI application serving ``env``."""

    def check_query(q: str) -> str:
        if len(q) > limits.max_query_chars:
            raise ValueError(f"query longer than {limits.max_query_chars} characters")
        if not q.strip():
            raise ValueError("empty query")
        return q

    class RetrieveRequest(BaseModel):
        model_config = ConfigDict(extra="forbid")
        queries: list[str] = Field(min_length=1, max_length=limits.max_queries)
        topk: int = Field(default=env.topk, ge=1, le=limits.max_topk)
        return_scores: bool = True

        @field_validator("queries")
        @classmethod
        def _queries(cls, v: list[str]) -> list[str]:
            return [check_query(q) for q in v]

    class SearchRequest(BaseModel):
        model_config = ConfigDict(extra="forbid")
        queries: list[list[str]] = Field(min_length=1, max_length=limits.max_queries)
        ability: str | list[str] = "closed"
        topk: int = Field(default=env.topk, ge=1, le=limits.max_topk)

        @field_validator("queries")
        @classmethod
        def _queries(cls, v: list[list[str]]) -> list[list[str]]:
            if sum(len(qs) for qs in v) > limits.max_queries:
                raise ValueError(f"more than {limits.max_queries} queries in one request")
            return [[check_query(q) for q in qs] for qs in v]

    app = FastAPI(title="searcher environment")

    @app.middleware("http")
    async def limit_body(request: Request, call_next):
        size = request.headers.get("content-length")
        if size is not None and (not size.isdigit() or int(size) > limits.max_body_bytes):
            return JSONResponse({"detail": f"body larger than {limits.max_body_bytes} bytes"}, 413)
        return await call_next(request)

    @app.get("/health")
    def health() -> dict:
        return {
            "status": "ok",
            "passages": len(env.passages),
            "pages": len(env.pages),
            "topk": env.topk,
            "learnings": env.learnings_kind,
        }

    # Plain `def` endpoints run in uvicorn's thread pool, so slow searches never block
    # the event loop; the environment serialises index access itself.
    @app.post("/retrieve")
    def retrieve(req: RetrieveRequest) -> dict:
        results = env.retrieve(req.queries, req.topk)
        if req.return_scores:
            return {"result": [[{"document": d, "score": s} for d, s in r] for r in results]}
        return {"result": [[d for d, _ in r] for r in results]}

    @app.post("/search")
    def search(req: SearchRequest):
        abilities = (
            req.ability if isinstance(req.ability, list) else [req.ability] * len(req.queries)
        )
        if len(abilities) != len(req.queries):
            return JSONResponse({"detail": "give one ability, or one per sample"}, 422)
        if any(a not in ("closed", "open") for a in abilities):
            return JSONResponse({"detail": "ability must be 'closed' or 'open'"}, 422)
        if "open" in abilities and env.page_index is None:
            return JSONResponse({"detail": "this index has no web pages"}, 400)
        return {"result": env.observe(req.queries, abilities)}

    return app


def serve(
    env: SearchEnvironment,
    host: str = "127.0.0.1",
    port: int = 8000,
    limits: Limits = Limits(),
    log_level: str = "warning",
) -> None:
    """Run the server in the foreground until interrupted."""
    import uvicorn

    uvicorn.run(make_app(env, limits), host=host, port=port, log_level=log_level)
