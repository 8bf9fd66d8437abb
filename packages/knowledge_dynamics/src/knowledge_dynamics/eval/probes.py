"""Batched probe scoring: mean target-span, first-token and full-sequence log-probabilities.

As in the official code, the probe text is ``input + " " + target`` tokenized without special
tokens, and the target span is the last ``len(tokenize(" " + target))`` tokens. One start token
(the tokenizer's BOS, else EOS, which also separates documents in the packed stream) is put in
front so that the first token is predicted too. Values are log-probabilities (higher = better):
``target`` is the per-token *mean* over the span (what the paper's analysis uses), ``first``
the first target token, ``full`` the mean over the whole probe.

``target`` is :func:`labcore.metrics.target_logprobs` on the same text (``start token + input``
as prefix, ``" " + target`` as target; tested equal). This module stays a thin adapter
because it needs what that function does not offer: pre-tokenized probes, and the per-token
log-probs of the whole sequence so that all three measures come from one forward pass.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from knowledge_dynamics.data.knowledge import PROBE_TYPES, KnowledgeItem
from knowledge_dynamics.eval.probe_log import MEASURES


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


@torch.inference_mode()
def score_probes(model, probes: ProbeSet, batch_size: int = 256) -> dict[str, np.ndarray]:
    """``{measure: (n_probes,) float64}`` for all probes, batched by length."""
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    n = len(probes)
    out = {m: np.zeros(n) for m in MEASURES}
    order = sorted(range(n), key=lambda i: len(probes.ids[i]))
    for s in range(0, n, batch_size):
        idx = order[s : s + batch_size]
        lens = [len(probes.ids[i]) for i in idx]
        width = max(lens)
        inp = torch.zeros((len(idx), width), dtype=torch.long)
        att = torch.zeros((len(idx), width), dtype=torch.long)
        for r, i in enumerate(idx):
            inp[r, : lens[r]] = torch.tensor(probes.ids[i])
            att[r, : lens[r]] = 1
        inp, att = inp.to(device), att.to(device)
        logits = model(input_ids=inp, attention_mask=att).logits[:, :-1].float()
        tok_lp = torch.gather(logits.log_softmax(-1), -1, inp[:, 1:, None]).squeeze(-1)
        tok_lp = tok_lp.double().cpu().numpy()
        for r, i in enumerate(idx):
            lp = tok_lp[r, : lens[r] - 1]  # predictions of tokens 1..len-1
            span = lp[-probes.n_target[i] :]
            out["target"][i] = span.mean()
            out["first"][i] = span[0]
            out["full"][i] = lp.mean()
    if was_training:
        model.train()
    return out


def score_probes_loop(model, probes: ProbeSet) -> dict[str, np.ndarray]:
    """Reference: one forward pass per probe (for tests and the benchmark)."""
    return score_probes(model, probes, batch_size=1)
