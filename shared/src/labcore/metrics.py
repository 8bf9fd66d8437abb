"""Metrics shared by the packages: QA (SQuAD-style), classification (WAR/UAR), LM target log-probs."""

from __future__ import annotations

import re
import string
from collections import Counter
from collections.abc import Sequence
from typing import NamedTuple

import numpy as np
import torch

# ---------------------------------------------------------------- QA

_ARTICLES = re.compile(r"\b(a|an|the)\b")
_PUNCT = str.maketrans("", "", string.punctuation)


def normalize_answer(text: str) -> str:
    """SQuAD normalisation: lower-case, drop punctuation and articles, collapse whitespace."""
    text = text.lower().translate(_PUNCT)
    text = _ARTICLES.sub(" ", text)
    return " ".join(text.split())


def _as_list(golds: str | Sequence[str]) -> list[str]:
    return [golds] if isinstance(golds, str) else list(golds)


def exact_match(prediction: str, golds: str | Sequence[str]) -> float:
    """1.0 if the normalised prediction equals any normalised gold answer, else 0.0."""
    pred = normalize_answer(prediction)
    return float(any(pred == normalize_answer(g) for g in _as_list(golds)))


def _f1(pred_tokens: list[str], gold_tokens: list[str]) -> float:
    if not pred_tokens or not gold_tokens:
        # SQuAD convention: two empty answers agree, one empty answer scores 0.
        return float(pred_tokens == gold_tokens)
    common = sum((Counter(pred_tokens) & Counter(gold_tokens)).values())
    if common == 0:
        return 0.0
    precision = common / len(pred_tokens)
    recall = common / len(gold_tokens)
    return 2 * precision * recall / (precision + recall)


def f1_score(prediction: str, golds: str | Sequence[str]) -> float:
    """Token-level F1 after normalisation, maximised over the gold answers."""
    pred = normalize_answer(prediction).split()
    golds = _as_list(golds)
    if not golds:
        return 0.0
    return max(_f1(pred, normalize_answer(g).split()) for g in golds)


# ---------------------------------------------------------------- classification


def confusion_matrix(y_true, y_pred, num_classes: int | None = None) -> np.ndarray:
    """Counts ``C[i, j]`` of samples with true class ``i`` predicted as ``j``."""
    t = np.asarray(y_true, dtype=np.int64).ravel()
    p = np.asarray(y_pred, dtype=np.int64).ravel()
    if t.shape != p.shape:
        raise ValueError(f"y_true has {t.size} labels but y_pred has {p.size}")
    n = (
        num_classes
        if num_classes is not None
        else int(max(t.max(initial=-1), p.max(initial=-1)) + 1)
    )
    return np.bincount(t * n + p, minlength=n * n).reshape(n, n)


def war(y_true, y_pred) -> float:
    """Weighted average recall, i.e. plain accuracy."""
    t = np.asarray(y_true).ravel()
    p = np.asarray(y_pred).ravel()
    return float((t == p).mean()) if t.size else 0.0


def uar(y_true, y_pred, num_classes: int | None = None) -> float:
    """Unweighted average recall: the mean of per-class recalls over classes present in ``y_true``."""
    cm = confusion_matrix(y_true, y_pred, num_classes)
    support = cm.sum(axis=1)
    present = support > 0
    if not present.any():
        return 0.0
    return float((np.diag(cm)[present] / support[present]).mean())


# ---------------------------------------------------------------- LM log-probabilities


class TargetLogProbs(NamedTuple):
    """Per-example log-probability of a target span: ``mean`` and ``sum`` over its tokens."""

    mean: np.ndarray
    sum: np.ndarray
    num_tokens: np.ndarray


#: positions x vocabulary entries per ``cross_entropy`` call in :func:`padded_token_logprobs`:
#: bounds the log-softmax temporary it makes next to the logits (64 MiB in fp32)
_CE_CHUNK = 1 << 24


@torch.inference_mode()
def padded_token_logprobs(
    model, sequences: Sequence[Sequence[int]], batch_size: int = 16, pad_id: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Per-token log-probabilities of token ids under a causal LM, as one padded matrix.

    Returns ``(logprobs, lengths)``: ``logprobs`` is float64 of shape
    ``(len(sequences), max_len - 1)`` in the input order, where entry ``[i, t]`` is
    ``log p(s_i[t + 1] | s_i[: t + 1])`` for ``t < lengths[i] - 1`` and 0 after;
    ``lengths[i] = len(s_i)``. Sequences are sorted by length and batched with right padding
    (so padding stays short); each position's log-probability is a fused
    ``cross_entropy``, computed in chunks so that its log-softmax temporary stays small.
    """
    lengths = np.fromiter((len(s) for s in sequences), dtype=np.int64, count=len(sequences))
    short = np.flatnonzero(lengths < 2)
    if short.size:
        i = int(short[0])
        raise ValueError(f"sequence {i} has {lengths[i]} token(s); need at least 2")
    n_seq, max_len = len(sequences), int(lengths.max(initial=2))
    # All ids in one padded array, filled through a mask in row-major order (no per-row copy).
    ids = np.full((n_seq, max_len), pad_id, dtype=np.int64)
    valid = np.arange(max_len) < lengths[:, None]
    if n_seq:
        ids[valid] = np.fromiter((t for s in sequences for t in s), np.int64, int(lengths.sum()))
    out = np.zeros((n_seq, max_len - 1))
    device = next(model.parameters()).device
    order = np.argsort(lengths, kind="stable")
    for start in range(0, n_seq, batch_size):
        idx = order[start : start + batch_size]
        width = int(lengths[idx].max())
        input_ids = torch.from_numpy(ids[idx, :width]).to(device)
        attention = torch.from_numpy(valid[idx, :width]).to(device, torch.long)
        logits = model(input_ids=input_ids, attention_mask=attention).logits
        # The label of position t is token t + 1; the last position's (a pad) is dropped.
        labels = torch.cat([input_ids[:, 1:], input_ids[:, :1]], dim=1)
        rows = max(1, _CE_CHUNK // (width * logits.shape[-1]))
        lp = torch.cat(
            [
                -torch.nn.functional.cross_entropy(
                    logits[r : r + rows].float().flatten(0, 1),
                    labels[r : r + rows].flatten(),
                    reduction="none",
                )
                for r in range(0, len(idx), rows)
            ]
        ).view(len(idx), width)[:, :-1]
        lp = lp.where(attention[:, 1:].bool(), 0.0)  # zero past each sequence's end
        out[idx, : width - 1] = lp.double().cpu().numpy()
    return out, lengths


@torch.inference_mode()
def continuation_logprobs(
    model,
    prefix: Sequence[int],
    continuations: Sequence[Sequence[int]],
    batch_size: int = 16,
    pad_id: int = 0,
) -> list[np.ndarray]:
    """Per-token log-probabilities of several continuations of one shared prefix.

    Entry ``i`` is a float64 array of length ``len(continuations[i])``: entry ``t`` is
    ``log p(c_i[t] | prefix + c_i[:t])``. The prefix is run once and its key/value cache
    is shared by every continuation (batched with right padding), so scoring ``k`` options
    after a long prompt costs about one prompt, not ``k``. Equals the matching slices of
    :func:`token_logprobs` over ``prefix + c_i`` up to floating-point rounding.
    """
    import copy

    if not prefix:
        raise ValueError("the prefix is empty; give at least one token")
    for i, c in enumerate(continuations):
        if not c:
            raise ValueError(f"continuation {i} is empty")
    if not continuations:
        return []
    device = next(model.parameters()).device
    head = model(
        input_ids=torch.tensor([list(prefix)], device=device), use_cache=True, logits_to_keep=1
    )
    # The prefix's last position predicts every continuation's first token.
    first = torch.log_softmax(head.logits[0, -1].float(), dim=-1)
    lengths = np.array([len(c) for c in continuations])
    out: list[np.ndarray] = [np.zeros(0)] * len(continuations)
    order = np.argsort(-lengths, kind="stable")
    for start in range(0, len(order), batch_size):
        idx = order[start : start + batch_size]
        width = int(lengths[idx].max())
        ids = torch.full((len(idx), width), pad_id, dtype=torch.long)
        for row, i in enumerate(idx):
            ids[row, : lengths[i]] = torch.tensor(list(continuations[i]))
        ids = ids.to(device)
        tail_mask = (torch.arange(width)[None, :] < torch.from_numpy(lengths[idx])[:, None]).long()
        mask = torch.cat([torch.ones(len(idx), len(prefix), dtype=torch.long), tail_mask], 1)
        # The cache grows in place, so each batch repeats a fresh copy of the prefix's.
        cache = copy.deepcopy(head.cache)
        cache.batch_repeat_interleave(len(idx))
        lp = first[ids[:, 0]][:, None]
        if width > 1:
            # Only positions 0..width-2 predict a continuation token; the last is dropped.
            logits = model(
                input_ids=ids[:, :-1],
                attention_mask=mask[:, :-1].to(device),
                cache=cache,
                use_cache=True,
            ).logits
            rest = torch.log_softmax(logits.float(), dim=-1).gather(-1, ids[:, 1:, None])[..., 0]
            lp = torch.cat([lp, rest], dim=1)
        lp = lp.double().cpu().numpy()
        for row, i in enumerate(idx):
            out[i] = lp[row, : lengths[i]]
    return out


def token_logprobs(
    model, sequences: Sequence[Sequence[int]], batch_size: int = 16, pad_id: int = 0
) -> list[np.ndarray]:
    """Per-token log-probabilities of token ids under a causal LM.

    For each sequence ``s`` returns a float64 array of length ``len(s) - 1``: entry ``t`` is
    ``log p(s[t + 1] | s[: t + 1])``. Row views of :func:`padded_token_logprobs` (sorted by
    length, batched with right padding).
    """
    lp, lengths = padded_token_logprobs(model, sequences, batch_size=batch_size, pad_id=pad_id)
    return [lp[i, : n - 1] for i, n in enumerate(lengths)]


def target_logprobs(
    model,
    tokenizer,
    prefixes: Sequence[str],
    targets: Sequence[str],
    batch_size: int = 16,
) -> TargetLogProbs:
    """Log-probability of each ``target`` continuing its ``prefix`` under a causal LM.

    The prefix is tokenized as usual (with the tokenizer's special tokens) and the
    target without special tokens, so write targets with their leading space
    (``" Paris"``). Scored with :func:`token_logprobs` on ``prefix + target`` (sorted by
    length, batched); the target span is the last ``len(target)`` tokens.
    """
    if len(prefixes) != len(targets):
        raise ValueError(f"{len(prefixes)} prefixes but {len(targets)} targets")
    prefix_ids = tokenizer(list(prefixes)).input_ids
    target_ids = tokenizer(list(targets), add_special_tokens=False).input_ids
    for i, ids in enumerate(prefix_ids):
        if not ids:
            raise ValueError(f"prefix {i} is empty after tokenization; give at least one token")
    for i, ids in enumerate(target_ids):
        if not ids:
            raise ValueError(f"target {i} ({targets[i]!r}) is empty after tokenization")
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    seqs = [p + t for p, t in zip(prefix_ids, target_ids, strict=True)]
    per_token = token_logprobs(model, seqs, batch_size=batch_size, pad_id=pad_id)
    counts = np.array([len(t) for t in target_ids], dtype=np.int64)
    sums = np.array([lp[-c:].sum() for lp, c in zip(per_token, counts, strict=True)])
    return TargetLogProbs(mean=sums / counts, sum=sums, num_tokens=counts)
