"""Ending local generation early once every sequence has produced a stop string."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from transformers import StoppingCriteria


class StopStringsCriteria(StoppingCriteria):
    """Mark each sequence done once its generated text contains a stop string.

    ``generate`` stops a sequence when this returns True for it and ends the
    whole batch when every sequence is done (stop string or EOS), so a batch
    does not run to ``max_new_tokens`` just because one answer is long.

    Only the last few tokens are decoded at each step, which keeps the cost
    independent of the answer length. The window is what matters for *when*
    generation stops; the returned text is always cut with
    :func:`labcore.llm.stop_strings.truncate_at_stop` afterwards, so answers are exact either way.
    """

    def __init__(self, tokenizer, stop: Sequence[str], prompt_length: int) -> None:
        """
        Args:
            tokenizer: decodes token ids to text.
            stop: non-empty stop strings.
            prompt_length: width of the (left-padded) prompt; only tokens after it
                are generated text.
        """
        self.tokenizer = tokenizer
        self.stop = tuple(stop)
        self.prompt_length = prompt_length
        # A character takes at most 4 byte-level tokens, plus one token that may
        # straddle the start of the stop string.
        self.window = 4 * max(len(s) for s in self.stop) + 1

    def __call__(self, input_ids: torch.LongTensor, scores, **kwargs) -> torch.BoolTensor:
        start = max(self.prompt_length, input_ids.shape[1] - self.window)
        tails = self.tokenizer.batch_decode(input_ids[:, start:], skip_special_tokens=True)
        done = [any(s in tail for s in self.stop) for tail in tails]
        return torch.tensor(done, dtype=torch.bool, device=input_ids.device)
