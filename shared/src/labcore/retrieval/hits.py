"""The result types every index in :mod:`labcore.retrieval` returns."""

from __future__ import annotations

#: One search result: ``(document id, score)``. Higher is better for every
#: index except a dense index built with ``metric="l2"``, whose score is a
#: squared distance; rankings are always ordered best first.
Hit = tuple[str, float]

#: The results for one query, best first.
Ranking = list[Hit]
