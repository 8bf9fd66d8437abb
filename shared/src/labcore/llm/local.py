"""Chat with a local transformers causal LM, with batched generation."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Sequence
from typing import Any

import torch
from transformers import StoppingCriteriaList

from labcore.llm.cache import ResponseCache, generate_with_cache
from labcore.llm.interface import ChatModel, Conversation, check_conversations
from labcore.llm.params import SamplingParams
from labcore.llm.stop_strings import truncate_at_stop
from labcore.llm.stopping_criteria import StopStringsCriteria
from labcore.models import SMOLLM2, load_causal_lm


class LocalChatModel(ChatModel):
    """A chat model running in this process with transformers.

    A call's conversations are rendered with the tokenizer's chat template,
    sorted by prompt length (so each chunk pads little), split into chunks of
    ``batch_size`` and generated with ``model.generate`` on left-padded batches
    (KV cache on). Answers come back in input order.

    Example::

        llm = LocalChatModel(device="cpu")
        llm.chat([[{"role": "user", "content": "What is the capital of France?"}]])
        # ['The capital of France is Paris.']

    A conversation that ends with an assistant message is continued: that message is
    the start of the reply (``"ANSWER:"``), and the answer is what the model writes
    after it, so a small model is put on the asked-for format instead of told about it.

    Sampling with ``seed`` is reproducible for the same call (same conversations
    in the same order, same ``batch_size``); which other prompts share a chunk
    changes the random draws, so it is not reproducible per conversation.
    """

    def __init__(
        self,
        name_or_path: str | os.PathLike = SMOLLM2,
        device: str | torch.device | None = None,
        dtype: str | torch.dtype | None = None,
        batch_size: int = 16,
        cache: ResponseCache | None = None,
    ) -> None:
        """
        Args:
            name_or_path: anything :func:`labcore.models.load_causal_lm` takes; the
                default is the bundled, offline SmolLM2-135M-Instruct.
            device: defaults to CUDA when available, else CPU.
            dtype: defaults to bf16 on CUDA, fp32 on CPU.
            batch_size: most conversations generated together.
            cache: answers found there are not regenerated; new ones are stored.
        """
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        self.model_name = str(name_or_path)
        self.model, self.tokenizer = load_causal_lm(name_or_path, device=device, dtype=dtype)
        self.batch_size = batch_size
        self.cache = cache

    @property
    def device(self) -> torch.device:
        """Where the model's weights are."""
        return self.model.device

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
        """Answer each conversation; see :meth:`ChatModel.chat`."""
        check_conversations(conversations)
        params = SamplingParams(max_new_tokens, temperature, top_p, tuple(stop or ()), seed)
        return generate_with_cache(
            self.cache, self.model_name, conversations, params, self.iter_generate
        )

    def iter_generate(
        self,
        conversations: Sequence[Conversation],
        params: SamplingParams,
        *,
        min_new_tokens: int = 0,
    ) -> Iterator[tuple[int, str]]:
        """Generate without the cache, yielding ``(index, answer)`` chunk by chunk.

        Args:
            conversations: the batch.
            params: decoding settings.
            min_new_tokens: suppress EOS until this many tokens are generated;
                a benchmark sets it to ``params.max_new_tokens`` so that every
                sequence generates exactly that many tokens.
        """
        prompts = [self.encode(conv) for conv in conversations]
        # Longest first: similar lengths share a chunk, and running out of
        # memory happens on the first chunk rather than after hours of work.
        order = sorted(range(len(prompts)), key=lambda i: len(prompts[i]), reverse=True)
        for chunk_index, start in enumerate(range(0, len(order), self.batch_size)):
            chunk = order[start : start + self.batch_size]
            # Each chunk gets its own seed so that repeated prompts in different
            # chunks still draw different samples.
            chunk_seed = None if params.seed is None else params.seed + chunk_index
            texts = self._generate_chunk(
                [prompts[i] for i in chunk], params, chunk_seed, min_new_tokens
            )
            yield from zip(chunk, texts, strict=True)

    def score_continuations(
        self,
        conversation: Conversation,
        continuations: Sequence[str],
        *,
        prefill: str = "",
        batch_size: int | None = None,
    ) -> list[float]:
        """Summed log-probability of each continuation of the assistant's next turn.

        The conversation is rendered with the chat template and a generation prompt,
        ``prefill`` is written as the start of the assistant's reply (``"ANSWER:"``), and
        each of ``continuations`` (``" A"``, ``" B"``, ...) is scored after it: the prompt is
        run once and its key/value cache shared by the continuations (batched), no
        generation. Write continuations with their leading space. Not cached (a forward
        pass is cheaper than a lookup key).
        """
        from labcore.metrics import continuation_logprobs

        if not continuations:
            return []
        text = self.render(conversation)
        prefix = self.tokenizer(text + prefill, add_special_tokens=False)["input_ids"]
        seqs, spans = [], []
        for cont in continuations:
            full = self.tokenizer(text + prefill + cont, add_special_tokens=False)["input_ids"]
            # Tokens can merge across the boundary; the continuation is everything after
            # the longest common prefix with the rendered prompt.
            common = 0
            for a, b in zip(prefix, full, strict=False):
                if a != b:
                    break
                common += 1
            common = max(1, min(common, len(full) - 1))
            seqs.append(full)
            spans.append(len(full) - common)
        # The prompt is run once: every continuation reuses its key/value cache from the
        # shortest common prefix on.
        shared = min(len(full) - n for full, n in zip(seqs, spans, strict=True))
        while shared > 1 and any(full[shared - 1] != seqs[0][shared - 1] for full in seqs):
            shared -= 1
        pad = self.tokenizer.pad_token_id if self.tokenizer.pad_token_id is not None else 0
        per_token = continuation_logprobs(
            self.model,
            seqs[0][:shared],
            [full[shared:] for full in seqs],
            batch_size=batch_size or self.batch_size,
            pad_id=pad,
        )
        return [float(lp[-n:].sum()) for lp, n in zip(per_token, spans, strict=True)]

    #: The reply so far may be given as a final assistant message (see the class docs).
    continues_final_message = True

    def render(self, conversation: Conversation) -> str:
        """``conversation`` as chat-template text that ends where the model writes next.

        A final assistant message is the start of the reply: the earlier messages are
        rendered with the generation prompt and its text is appended as is (not closed
        with an end-of-turn token, as the template would write it).
        """
        conversation = list(conversation)
        started = ""
        if len(conversation) > 1 and conversation[-1]["role"] == "assistant":
            started = conversation.pop()["content"]
        text = self.tokenizer.apply_chat_template(
            conversation, tokenize=False, add_generation_prompt=True
        )
        return text + started

    def encode(self, conversation: Conversation) -> list[int]:
        """Token ids of ``conversation`` rendered with the chat template, ready for the answer."""
        # The template already wrote every special token the model expects.
        return self.tokenizer(self.render(conversation), add_special_tokens=False)["input_ids"]

    def _generate_chunk(
        self,
        prompts: list[list[int]],
        params: SamplingParams,
        seed: int | None,
        min_new_tokens: int,
    ) -> list[str]:
        input_ids, attention_mask = self._left_pad(prompts)
        prompt_length = input_ids.shape[1]
        options: dict[str, Any] = {"max_new_tokens": params.max_new_tokens}
        if min_new_tokens:
            options["min_new_tokens"] = min_new_tokens
        if params.greedy:
            options["do_sample"] = False
        else:
            # top_k=0 turns off transformers' default top-k of 50, matching the
            # OpenAI API, which has temperature and top_p only.
            options.update(do_sample=True, temperature=params.temperature, top_p=params.top_p)
            options["top_k"] = 0
        if params.stop:
            options["stopping_criteria"] = StoppingCriteriaList(
                [StopStringsCriteria(self.tokenizer, params.stop, prompt_length)]
            )
        with torch.inference_mode(), _seeded(seed, self.device):
            output = self.model.generate(
                input_ids=input_ids,
                attention_mask=attention_mask,
                pad_token_id=self.tokenizer.pad_token_id,
                **options,
            )
        # Finished sequences are filled with the pad token (EOS here), which
        # skip_special_tokens drops.
        texts = self.tokenizer.batch_decode(output[:, prompt_length:], skip_special_tokens=True)
        return [truncate_at_stop(text, params.stop) for text in texts]

    def _left_pad(self, prompts: list[list[int]]) -> tuple[torch.Tensor, torch.Tensor]:
        """Pad on the left so that every prompt ends where generation starts."""
        width = max(len(p) for p in prompts)
        input_ids = torch.full((len(prompts), width), self.tokenizer.pad_token_id, dtype=torch.long)
        attention_mask = torch.zeros((len(prompts), width), dtype=torch.long)
        for row, ids in enumerate(prompts):
            input_ids[row, width - len(ids) :] = torch.tensor(ids, dtype=torch.long)
            attention_mask[row, width - len(ids) :] = 1
        return input_ids.to(self.device), attention_mask.to(self.device)

    def __repr__(self) -> str:
        return (
            f"LocalChatModel({self.model_name!r}, device={self.device}, "
            f"dtype={self.model.dtype}, batch_size={self.batch_size})"
        )


@contextlib.contextmanager
def _seeded(seed: int | None, device: torch.device) -> Iterator[None]:
    """Seed torch's RNGs inside the block and restore the caller's RNG state after it."""
    if seed is None:
        yield
        return
    devices = []
    if device.type == "cuda":
        devices = [device.index if device.index is not None else torch.cuda.current_device()]
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(seed)
        yield
