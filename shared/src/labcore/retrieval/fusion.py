"""Reciprocal rank fusion: merge rankings from different retrievers by rank alone."""

from __future__ import annotations

from collections.abc import Sequence

from labcore.retrieval.hits import Ranking


def reciprocal_rank_fusion(
    rankings: Sequence[Ranking],
    k: int = 60,
    weights: Sequence[float] | None = None,
) -> Ranking:
    """Fuse rankings with RRF (Cormack et al., 2009).

    Each document scores ``sum_i weights[i] / (k + rank_i)`` over the rankings
    that contain it, with ``rank_i`` starting at 1. The input scores are ignored:
    BM25 scores and cosine similarities are not comparable, ranks are.

    Args:
        rankings: lists of ``(id, score)``, each ordered best first. A repeated id
            counts at its first (best) position only.
        k: damping constant; larger values flatten the gap between top ranks.
        weights: one non-negative weight per ranking; ``None`` weighs all equally.

    Returns:
        Every document found, as ``(id, fused score)``, best first. Ties keep the
        order in which the documents were first met, so results are deterministic.
    """
    if k < 0:
        raise ValueError(f"k must be non-negative, got {k}")
    if weights is None:
        weights = [1.0] * len(rankings)
    elif len(weights) != len(rankings):
        raise ValueError(f"got {len(weights)} weights for {len(rankings)} rankings")
    if any(w < 0 for w in weights):
        raise ValueError(f"weights must be non-negative, got {list(weights)}")

    fused: dict[str, float] = {}
    for ranking, weight in zip(rankings, weights, strict=True):
        seen: set[str] = set()
        for rank, (doc_id, _score) in enumerate(ranking, start=1):
            if doc_id in seen:
                continue
            seen.add(doc_id)
            fused[doc_id] = fused.get(doc_id, 0.0) + weight / (k + rank)
    # sorted() is stable: equal scores stay in first-met (dict insertion) order.
    return sorted(fused.items(), key=lambda item: item[1], reverse=True)
