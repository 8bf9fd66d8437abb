"""A causal LM seen as a token-level policy: prompts, observation turns and batched sampling
with real per-token log-probabilities.

Contexts are kept as token ids end to end: what the model generated is appended as
generated, and observations are appended as the chat template renders a new user turn
plus the next assistant header. Training then sees exactly the tokens that were sampled.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass

import torch
from transformers import LogitsProcessor, LogitsProcessorList, StoppingCriteriaList

from labcore.llm.stopping_criteria import StopStringsCriteria
from searcher.agent.kv_cache import PrefixCache
from searcher.agent.protocol import STOP_STRINGS, initial_messages

_A, _U = "@@ASSISTANT@@", "@@USER@@"


@dataclass
class Generated:
    """One sampled turn: its tokens, their log-probabilities and its text."""

    ids: list[int]
    logprobs: list[float]
    text: str


class SampledLogprobs(LogitsProcessor):
    """Records the log-probability of each sampled token, one step at a time.

    ``generate(output_logits=True)`` keeps every step's full-vocabulary logits until the end
    (batch x tokens x vocabulary: about 160 GB for 256 rollouts of 2048 tokens over Qwen's
    152k vocabulary). This processor keeps one step's log-softmax, and at the next step, when
    the sampled token is known, only that token's entry. It runs before the sampling
    warpers (transformers applies user processors first), so it sees raw scores and applies
    the temperature itself.
    """

    def __init__(self, temperature: float) -> None:
        self.temperature = temperature if temperature > 0 else 1.0
        self.previous: torch.Tensor | None = None
        self.chosen: list[torch.Tensor] = []

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        if self.previous is not None:
            self.chosen.append(self.previous.gather(1, input_ids[:, -1:]).squeeze(1))
        self.previous = torch.log_softmax(scores.float() / self.temperature, dim=-1)
        return scores

    def logprobs(self, generated: torch.Tensor) -> torch.Tensor:
        """``(batch, tokens)`` log-probabilities of ``generated`` (the new tokens)."""
        steps = list(self.chosen)
        if self.previous is not None and len(steps) < generated.shape[1]:
            steps.append(self.previous.gather(1, generated[:, len(steps)].view(-1, 1)).squeeze(1))
        self.previous = None
        return torch.stack(steps, dim=1) if steps else torch.zeros(generated.shape[0], 0)


class Policy:
    """Token-level helpers around a transformers causal LM and its chat tokenizer."""

    def __init__(self, model, tokenizer) -> None:
        self.model = model
        self.tokenizer = tokenizer
        # How the template closes an assistant turn, opens a user turn, and re-opens an
        # assistant turn: found by rendering a conversation with placeholders.
        text = tokenizer.apply_chat_template(
            [
                *initial_messages("q"),
                {"role": "assistant", "content": _A},
                {"role": "user", "content": _U},
            ],
            tokenize=False,
            add_generation_prompt=True,
        )
        after = text.split(_A, 1)[1]
        self.obs_prefix, self.obs_suffix = after.split(_U, 1)

    def encode_text(self, text: str) -> list[int]:
        return self.tokenizer(text, add_special_tokens=False)["input_ids"]

    def prompt_ids(self, question: str) -> list[int]:
        """System prompt and first user turn, ending with the assistant header."""
        text = self.tokenizer.apply_chat_template(
            initial_messages(question), tokenize=False, add_generation_prompt=True
        )
        return self.encode_text(text)

    def observation_ids(self, content: str, max_tokens: int | None = None) -> list[int]:
        """End of the assistant turn, a user turn with ``content``, the next assistant header.

        Content longer than ``max_tokens`` keeps its first ``max_tokens - 10`` and last 10
        tokens, as the paper does.
        """
        body = self.encode_text(content)
        if max_tokens is not None and len(body) > max_tokens:
            body = body[: max_tokens - 10] + body[-10:]
        return self.encode_text(self.obs_prefix) + body + self.encode_text(self.obs_suffix)

    @torch.no_grad()
    def generate(
        self,
        contexts: list[list[int]],
        *,
        max_new_tokens: int,
        temperature: float,
        top_p: float = 1.0,
        batch_size: int = 64,
        stop=STOP_STRINGS,
        cache: PrefixCache | None = None,
        keys: Sequence[Hashable] | None = None,
    ) -> list[Generated]:
        """Sample one turn for every context, in as few ``generate`` calls as ``batch_size`` allows.

        Each turn is cut right after the first stop string (or before EOS); the returned
        log-probabilities are those of the sampling distribution (temperature applied).
        With a ``cache`` (and one hashable key per context, e.g. the trajectory's index),
        a context that extends what was stored under its key last time is processed from
        where that left off, and each context plus its kept reply is stored for next time.
        """
        if cache is not None and (keys is None or len(keys) != len(contexts)):
            raise ValueError("generate(cache=...) needs one key per context")
        out: list[Generated | None] = [None] * len(contexts)
        order = sorted(range(len(contexts)), key=lambda i: len(contexts[i]), reverse=True)
        for start in range(0, len(order), batch_size):
            chunk = order[start : start + batch_size]
            for i, g in zip(
                chunk,
                self._generate_chunk(
                    [contexts[i] for i in chunk],
                    max_new_tokens,
                    temperature,
                    top_p,
                    stop,
                    cache,
                    [keys[i] for i in chunk] if cache is not None else None,
                ),
                strict=True,
            ):
                out[i] = g
        return out  # type: ignore[return-value]

    def _generate_chunk(
        self, contexts, max_new_tokens, temperature, top_p, stop, cache=None, keys=None
    ) -> list[Generated]:
        tok = self.tokenizer
        device = self.model.device
        # Row r: [left pad][cached prefix, ending at column `cached_width`][pad][new tokens].
        cached = (
            [cache.usable(k, c) for k, c in zip(keys, contexts, strict=True)]
            if cache is not None
            else None
        )
        cached = cached or [0] * len(contexts)
        cached_width = max(cached)
        width = cached_width + max(len(c) - n for c, n in zip(contexts, cached, strict=True))
        ids = torch.full((len(contexts), width), tok.pad_token_id, dtype=torch.long)
        mask = torch.zeros_like(ids)
        columns = []
        for r, (c, n) in enumerate(zip(contexts, cached, strict=True)):
            head = torch.arange(cached_width - n, cached_width)
            tail = torch.arange(width - (len(c) - n), width)
            ids[r, head], ids[r, tail] = torch.tensor(c[:n], dtype=torch.long), torch.tensor(c[n:])
            mask[r, head], mask[r, tail] = 1, 1
            columns.append(torch.cat([head, tail]))
        past = cache.batch(keys, cached, cached_width) if cached_width else None
        if past is not None:
            past = _to_device(past, device)
        options = (
            dict(do_sample=False)
            if temperature <= 0
            else dict(do_sample=True, temperature=temperature, top_p=top_p, top_k=0)
        )
        was_training = self.model.training
        self.model.eval()
        recorder = SampledLogprobs(temperature)
        try:
            res = self.model.generate(
                input_ids=ids.to(device),
                attention_mask=mask.to(device),
                max_new_tokens=max_new_tokens,
                pad_token_id=tok.pad_token_id,
                stopping_criteria=StoppingCriteriaList([StopStringsCriteria(tok, stop, width)]),
                logits_processor=LogitsProcessorList([recorder]),
                return_dict_in_generate=True,
                cache=past,
                use_cache=True,
                **options,
            )
        finally:
            self.model.train(was_training)
        gen = res.sequences[:, width:]
        logp = recorder.logprobs(gen).cpu()
        gen = gen.cpu()
        eos = set([tok.eos_token_id] if tok.eos_token_id is not None else [])
        outs = []
        for r in range(len(contexts)):
            row = gen[r].tolist()
            n = len(row)
            for j, x in enumerate(row):
                if x in eos:
                    n = j
                    break
            row = row[:n]
            text = tok.decode(row, skip_special_tokens=True)
            if any(s in text for s in stop):
                # The smallest prefix whose text holds a stop string (monotone in length).
                lo, hi = 1, len(row)
                while lo < hi:
                    mid = (lo + hi) // 2
                    if any(s in tok.decode(row[:mid], skip_special_tokens=True) for s in stop):
                        hi = mid
                    else:
                        lo = mid + 1
                row = row[:lo]
                text = tok.decode(row, skip_special_tokens=True)
            outs.append(Generated(row, logp[r, : len(row)].tolist(), text))
            if cache is not None:
                # The model has seen every generated token but the last one.
                fed = min(len(row), gen.shape[1] - 1)
                cols = torch.cat([columns[r], torch.arange(width, width + fed)])
                cache.store(keys[r], contexts[r] + row[:fed], res.cache, r, cols)
        return outs


def _to_device(cache, device):
    """``cache`` with every layer's tensors on ``device`` (a no-op where they already are)."""
    for layer in cache.layers:
        layer.keys, layer.values = layer.keys.to(device), layer.values.to(device)
    return cache
