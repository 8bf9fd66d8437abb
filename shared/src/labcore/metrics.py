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


@torch.inference_mode()
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
    (``" Paris"``). Examples are sorted by length and batched with right padding;
    only target positions go through the softmax, so memory stays ``O(tokens x vocab)``.
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
    device = next(model.parameters()).device

    n = len(prefixes)
    sums = np.zeros(n, dtype=np.float64)
    counts = np.array([len(t) for t in target_ids], dtype=np.int64)
    order = sorted(range(n), key=lambda i: len(prefix_ids[i]) + len(target_ids[i]))
    for start in range(0, n, batch_size):
        idx = order[start : start + batch_size]
        seqs = [prefix_ids[i] + target_ids[i] for i in idx]
        width = max(len(s) for s in seqs)
        input_ids = torch.full((len(idx), width), pad_id, dtype=torch.long)
        attention = torch.zeros((len(idx), width), dtype=torch.long)
        # is_target[b, t] marks positions whose *next* token belongs to the target.
        is_target = torch.zeros((len(idx), width), dtype=torch.bool)
        for row, (i, seq) in enumerate(zip(idx, seqs, strict=True)):
            input_ids[row, : len(seq)] = torch.tensor(seq)
            attention[row, : len(seq)] = 1
            p = len(prefix_ids[i])
            is_target[row, p - 1 : len(seq) - 1] = True
        input_ids, attention, is_target = (
            input_ids.to(device),
            attention.to(device),
            is_target.to(device),
        )
        logits = model(input_ids=input_ids, attention_mask=attention).logits
        rows = logits[is_target].float().log_softmax(-1)  # (tokens, vocab)
        labels = input_ids[:, 1:][is_target[:, :-1]]
        token_lp = rows.gather(-1, labels[:, None]).squeeze(-1)
        which = torch.arange(len(idx), device=device)[:, None].expand_as(is_target)[is_target]
        per_example = torch.zeros(len(idx), dtype=torch.float64, device=device)
        per_example.index_add_(0, which, token_lp.double())
        sums[idx] = per_example.cpu().numpy()
    return TargetLogProbs(mean=sums / counts, sum=sums, num_tokens=counts)
