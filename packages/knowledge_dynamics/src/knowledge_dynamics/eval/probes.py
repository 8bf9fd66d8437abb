"""Batched probe scoring: mean target-span, first-token and full-sequence log-probabilities.

As in the official code, the probe text is ``input + " " + target`` tokenized without special
tokens, and the target span is the last ``len(tokenize(" " + target))`` tokens. One start token
(the tokenizer's BOS, else EOS, which also separates documents in the packed stream) is put in
front so that the first token is predicted too. Values are log-probabilities (higher = better):
``target`` is the per-token *mean* over the span (what the paper's analysis uses), ``first``
the first target token, ``full`` the mean over the whole probe.

The log-probabilities come from :func:`labcore.metrics.padded_token_logprobs`: one forward
pass gives all three measures, reduced over the padded matrix without a Python loop.
``target`` equals :func:`labcore.metrics.target_logprobs` on the same text (``start token +
input`` as prefix, ``" " + target`` as target; tested).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from knowledge_dynamics.data.knowledge import PROBE_TYPES, KnowledgeItem
from labcore.metrics import padded_token_logprobs


@dataclass(frozen=True)
class ProbeSet:
    """All probes of a knowledge set, flattened (item, type, k) with their token ids."""

    item: np.ndarray
    ptype: np.ndarray  # index into PROBE_TYPES
    k: np.ndarray
    ids: list[list[int]]
    n_target: np.ndarray

    def __len__(self) -> int:
        return len(self.ids)

    def meta(self) -> dict:
        return {
            "item": self.item.tolist(),
            "type": [PROBE_TYPES[t] for t in self.ptype],
            "k": self.k.tolist(),
        }


def build_probes(items: list[KnowledgeItem], tokenizer, n_items: int | None = None) -> ProbeSet:
    """Tokenize every probe of the first ``n_items`` items."""
    start = tokenizer.bos_token_id if tokenizer.bos_token_id is not None else tokenizer.eos_token_id
    item, ptype, kk, ids, n_t = [], [], [], [], []
    for i, it in enumerate(items[:n_items]):
        for t, name in enumerate(PROBE_TYPES):
            for k, (q, a) in enumerate(it.probes[name]):
                full = tokenizer(q + " " + a, add_special_tokens=False).input_ids
                tgt = tokenizer(" " + a, add_special_tokens=False).input_ids
                item.append(i)
                ptype.append(t)
                kk.append(k)
                ids.append([start, *full])
                n_t.append(min(len(tgt), len(full)))
    return ProbeSet(np.array(item), np.array(ptype), np.array(kk), ids, np.array(n_t))


def score_probes(
    model, probes: ProbeSet, batch_size: int = 256, bf16: bool = False
) -> dict[str, np.ndarray]:
    """``{measure: (n_probes,) float64}`` for all probes, batched by length (``bf16``: autocast
    the forward passes on CUDA)."""
    from knowledge_dynamics.train.step import autocast

    was_training = model.training
    model.eval()
    try:
        with autocast(next(model.parameters()).device, bf16):
            lp, lengths = padded_token_logprobs(model, probes.ids, batch_size=batch_size)
    finally:
        model.train(was_training)
    # Row i predicts tokens 1..len-1; its target span is the last n_target of those.
    n_pred, n_target = lengths - 1, probes.n_target
    cum = np.concatenate([np.zeros((len(lp), 1)), lp.cumsum(axis=1)], axis=1)
    rows = np.arange(len(lp))
    return {
        "target": (cum[rows, n_pred] - cum[rows, n_pred - n_target]) / n_target,
        "first": lp[rows, n_pred - n_target],
        "full": cum[rows, n_pred] / n_pred,
    }


def score_probes_loop(model, probes: ProbeSet) -> dict[str, np.ndarray]:
    """Reference: one forward pass per probe (for tests and the benchmark)."""
    return score_probes(model, probes, batch_size=1)
