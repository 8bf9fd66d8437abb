"""Opening an index for questions: the LLM agents, the embedder, the retriever."""

from __future__ import annotations

from pathlib import Path

from comorag.config import LLMConfig, LoopConfig
from comorag.llm import Agents, make_llm


def make_agents(llm: LLMConfig, cache_dir: Path | None, device: str | None = None) -> Agents:
    """Agents over the configured chat model, caching in ``cache_dir/llm_cache.sqlite``."""
    cache = cache_dir / "llm_cache.sqlite" if llm.cache and cache_dir is not None else None
    model = make_llm(
        llm.model,
        base_url=llm.base_url,
        cache_path=cache,
        batch_size=llm.batch_size,
        device=device,
        concurrency=llm.concurrency,
        timeout=llm.timeout,
    )
    return Agents(model)


def close_agents(agents: Agents) -> None:
    """Close the response cache of ``agents``' model now, not whenever it is collected:
    an SQLite connection left open checkpoints its log into the file at a random later
    moment, so the index folder would change after the command returned."""
    cache = getattr(agents.llm, "cache", None)
    if cache is not None:
        cache.close()


class NoLLM:
    """Stands in when a command needs no LLM; any call is a bug in the caller."""

    model_name = "none"

    def chat(self, *a, **k):
        raise RuntimeError("this command should not call an LLM")


def open_retriever(
    index_dir: str | Path,
    loop: LoopConfig,
    llm: LLMConfig,
    *,
    device: str | None = None,
    need_llm: bool = True,
):
    """The :class:`~comorag.agent.retrieve.Retriever` of a complete index."""
    from comorag.agent.retrieve import Retriever
    from comorag.index.resources import make_resources
    from comorag.index.store import Index

    index = Index.load(index_dir)
    agents = make_agents(llm, Path(index_dir), device) if need_llm else Agents(NoLLM())
    if need_llm:
        import sys

        from comorag.llm import context_warning, model_window

        window = llm.context_window or model_window(agents.llm)
        warning = context_warning(window, loop.context_tokens, loop.answer_tokens)
        if warning:
            print(warning, file=sys.stderr)
    res = make_resources(index.manifest["settings"]["embedder"], agents, device)
    return Retriever(index, res, loop)
