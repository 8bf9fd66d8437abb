"""LLM access: backend selection, batched calls with cost accounting, and parse-with-retry.

Every agent call goes through :class:`Agents.run`, which sends a list of independent
conversations as one batch, counts calls and tokens, logs each call for the trace, and
retries only the conversations whose output did not parse.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from comorag.config import DEFAULT_LLM
from labcore.errors import DataError
from labcore.llm import ChatModel, OpenAIChatModel, ResponseCache

__all__ = ["DEFAULT_LLM", "Agents", "CallRecord", "Cost", "make_llm"]


def make_llm(
    spec: str = DEFAULT_LLM,
    *,
    base_url: str | None = None,
    cache_path: str | Path | None = None,
    batch_size: int = 16,
    device: str | None = None,
    concurrency: int = 4,
    timeout: float = 60.0,
) -> ChatModel:
    """``local:NAME_OR_PATH`` (transformers) or ``openai:MODEL`` (any compatible server)."""
    kind, _, name = spec.partition(":")
    if not name or kind not in ("local", "openai"):
        raise DataError(f"--llm {spec!r}: expected local:NAME or openai:MODEL")
    cache = ResponseCache(cache_path) if cache_path else None
    if kind == "local":
        from labcore.llm import LocalChatModel

        return LocalChatModel(name, device=device, batch_size=batch_size, cache=cache)
    return OpenAIChatModel(
        name, base_url=base_url, cache=cache, max_workers=concurrency, timeout=timeout
    )


#: Tokens an answer prompt needs besides the evidence (instructions, question, options).
PROMPT_OVERHEAD = 300


def context_warning(window: int | None, context_tokens: int, answer_tokens: int) -> str | None:
    """A one-line warning when evidence budget + answer + prompt overhead exceed ``window``.

    Budgets are counted in embedder tokens and the window in the LLM's, so this is an
    estimate; a server that reads less silently drops the start of the prompt.
    """
    if window is None:
        return None
    need = context_tokens + answer_tokens + PROMPT_OVERHEAD
    if need <= window:
        return None
    return (
        f"warning: the LLM reads {window} tokens per request but the loop's budget needs "
        f"about {need} (--loop.context_tokens {context_tokens} + --loop.answer_tokens "
        f"{answer_tokens} + ~{PROMPT_OVERHEAD} of instructions); lower --loop.context_tokens "
        "or raise the server's context (Ollama: num_ctx)"
    )


def model_window(llm: ChatModel) -> int | None:
    """The context window of a local model, from its config; None when unknown."""
    config = getattr(getattr(llm, "model", None), "config", None)
    window = getattr(config, "max_position_embeddings", None)
    return int(window) if isinstance(window, int) else None


@dataclass
class CallRecord:
    """One LLM call as the trace shows it."""

    role: str
    prompt_tokens: int
    completion_tokens: int
    output: str
    attempt: int
    parsed: bool


@dataclass
class Cost:
    calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    batches: int = 0
    seconds: float = 0.0
    records: list[CallRecord] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "calls": self.calls,
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "batches": self.batches,
            "llm_seconds": round(self.seconds, 3),
        }


class Agents:
    """Batched, counted, parse-checked calls to one chat model."""

    def __init__(
        self,
        llm: ChatModel,
        *,
        retries: int = 1,
        keep_records: bool = True,
        one_at_a_time: bool = False,
    ) -> None:
        self.llm = llm
        self.retries = retries
        self.keep_records = keep_records
        self.one_at_a_time = one_at_a_time
        """Send each conversation alone (the benchmark's unbatched baseline)."""
        self.cost = Cost()
        tok = getattr(llm, "tokenizer", None)
        self._count = (
            (lambda s: len(tok(s, add_special_tokens=False)["input_ids"]))
            if tok
            else (lambda s: max(1, len(s) // 4))
        )

    def can_prefill(self) -> bool:
        """Whether the model continues a started assistant reply (labcore's local model)."""
        return bool(getattr(self.llm, "continues_final_message", False))

    def _send(self, convs: list[list[dict]], max_new_tokens: int, prefill: str = "") -> list[str]:
        if prefill and self.can_prefill():
            # The model writes after the format's opening; parsers see it whole.
            started = [[*c, {"role": "assistant", "content": prefill}] for c in convs]
            replies = self._send(started, max_new_tokens)
            return [prefill + r for r in replies]
        start = time.perf_counter()
        if self.one_at_a_time:
            out = [self.llm.chat([c], max_new_tokens=max_new_tokens)[0] for c in convs]
            self.cost.batches += len(convs)
        else:
            out = self.llm.chat(convs, max_new_tokens=max_new_tokens)
            self.cost.batches += 1
        self.cost.seconds += time.perf_counter() - start
        return out

    def run(
        self,
        role: str,
        convs: list[list[dict]],
        parse: Callable[[str], Any],
        *,
        max_new_tokens: int,
        fallback: Callable[[str], Any] | None = None,
        reminder: str = "",
        prefill: str = "",
    ) -> list[Any]:
        """Send ``convs`` as one batch; return ``parse(output)`` per conversation.

        ``parse`` returns None when the output does not follow the format; those
        conversations are asked again (with ``reminder`` appended) up to ``retries``
        times, and what still fails goes through ``fallback`` (default: None).
        ``prefill`` (``"ANSWER:"``) starts the reply where the model can continue one
        (:meth:`can_prefill`); the output then begins with it.
        """
        results: list[Any] = [None] * len(convs)
        pending = list(range(len(convs)))
        current = [list(c) for c in convs]
        last_output = [""] * len(convs)
        for attempt in range(self.retries + 1):
            if not pending:
                break
            outputs = self._send([current[i] for i in pending], max_new_tokens, prefill)
            still = []
            for i, out in zip(pending, outputs, strict=True):
                last_output[i] = out
                value = parse(out)
                self._record(role, current[i], out, attempt, value is not None)
                if value is None:
                    still.append(i)
                    # Show the model its own reply and ask again, more strictly.
                    current[i] = current[i] + [
                        {"role": "assistant", "content": out},
                        {
                            "role": "user",
                            "content": reminder or "Follow the output format exactly.",
                        },
                    ]
                else:
                    results[i] = value
            pending = still
        for i in pending:
            results[i] = fallback(last_output[i]) if fallback else None
        return results

    def can_score(self) -> bool:
        """Whether the model scores continuations (labcore's local model does)."""
        return callable(getattr(self.llm, "score_continuations", None))

    def choose(
        self,
        role: str,
        conv: list[dict],
        choices: list[str],
        *,
        allow_unknown: bool,
        prefill: str = "ANSWER:",
        rule: str = "pmi",
    ) -> tuple[str, dict]:
        """A multiple-choice answer by log-probability instead of generation.

        After the assistant's reply is pre-filled with ``prefill``, each option letter
        (and ``*`` when ``allow_unknown``) and each option's text are scored as its
        continuation, in one call (the prompt is run once). ``rule`` picks the option:
        ``letter`` (best letter), ``text`` (best summed text log-probability) or ``pmi``
        (text log-probability minus the text's log-probability under
        :func:`comorag.prompts.option_prior_prompt`, a second, short prompt with no
        evidence and no question). ``*`` is the answer, where allowed, when its letter
        beats every option letter. The trace info holds every score and each rule's pick.
        Counted as one call with no completion tokens.
        """
        from comorag.prompts import LETTERS, option_prior_prompt

        if rule not in ("pmi", "text", "letter"):
            raise ValueError(f"mc_choice {rule!r}: expected pmi, text or letter")
        start = time.perf_counter()
        n = len(choices)
        letters = list(LETTERS[:n]) + (["*"] if allow_unknown else [])
        texts = [f" {c}" for c in choices]
        scores = self.llm.score_continuations(
            conv, [f" {x}" for x in letters] + texts, prefill=prefill
        )
        letter_lp, text_lp = scores[: len(letters)], scores[len(letters) :]
        prior = option_prior_prompt(choices)
        prior_lp = self.llm.score_continuations(prior, texts, prefill=prefill)
        self.cost.seconds += time.perf_counter() - start
        self.cost.batches += 2

        def best(values) -> str:
            return LETTERS[max(range(n), key=lambda i: values[i])]

        picks = {
            "letter": best(letter_lp),
            "text": best(text_lp),
            "pmi": best([t - p for t, p in zip(text_lp, prior_lp, strict=True)]),
        }
        unknown = allow_unknown and letter_lp[-1] > max(letter_lp[:n])
        pick = "*" if unknown else picks[rule]
        info = {
            "rule": rule,
            "letter_logprobs": dict(zip(letters, map(float, letter_lp), strict=True)),
            "text_logprobs": dict(zip(LETTERS, map(float, text_lp), strict=False)),
            "prior_logprobs": dict(zip(LETTERS, map(float, prior_lp), strict=False)),
            "picks": picks,
            "agree": len(set(picks.values())) == 1,
        }
        extra = sum(self._count(m["content"]) for m in prior)
        self._record(role, conv, "", 0, True, output=f"{prefill} {pick}", extra_prompt=extra)
        return pick, info

    def _record(
        self,
        role: str,
        conv: list[dict],
        out: str,
        attempt: int,
        parsed: bool,
        output: str | None = None,
        extra_prompt: int = 0,
    ) -> None:
        prompt = sum(self._count(m["content"]) for m in conv) + extra_prompt
        completion = self._count(out) if out else 0
        self.cost.calls += 1
        self.cost.prompt_tokens += prompt
        self.cost.completion_tokens += completion
        if self.keep_records:
            shown = out if output is None else output
            self.cost.records.append(CallRecord(role, prompt, completion, shown, attempt, parsed))

    def reset(self) -> Cost:
        """Return the cost so far and start counting again."""
        cost, self.cost = self.cost, Cost()
        return cost
