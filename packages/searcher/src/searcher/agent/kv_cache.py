"""Keys and values of each trajectory's context, kept from one turn to the next.

A multi-turn rollout's context only grows: the next turn's context is this turn's context,
the tokens kept from the reply and the observation. Without a cache every turn processes
the whole context again, which for short replies costs more than the decoding.

After a turn, :meth:`PrefixCache.store` keeps, per trajectory, the key/value tensors of
every layer at the positions of its real tokens (left padding, the tokens generated after
a stop string and the padding of finished rows are dropped). Before the next turn,
:meth:`PrefixCache.batch` lays the stored prefixes out as one left-padded cache whose
columns end together, and the new tokens follow them (padded between the two parts
where rows' new segments differ in length). Position ids come from the attention mask's
running count, so every cached token keeps the rotary position it was computed at.

Only plain full-attention caches are kept (``DynamicLayer``); a model with sliding-window
or other layer kinds simply recomputes its contexts.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass

import torch


@dataclass
class _Entry:
    ids: list[int]
    layers: list[tuple[torch.Tensor, torch.Tensor]]  # per layer: (heads, tokens, dim) each


class PrefixCache:
    """Per-trajectory key/value prefixes, keyed by any hashable trajectory id."""

    def __init__(self) -> None:
        self._entries: dict[Hashable, _Entry] = {}

    def __len__(self) -> int:
        return len(self._entries)

    def usable(self, key: Hashable, context: Sequence[int]) -> int:
        """How many leading tokens of ``context`` are cached for ``key`` (at least one token
        is always left to process, so the model sees the context's last token)."""
        entry = self._entries.get(key)
        if entry is None:
            return 0
        n = len(entry.ids)
        if n >= len(context) or list(context[:n]) != entry.ids:
            del self._entries[key]  # another context: the prefix cannot be trusted
            return 0
        return n

    def drop(self, key: Hashable) -> None:
        self._entries.pop(key, None)

    def batch(self, keys: Sequence[Hashable], lengths: Sequence[int], width: int):
        """A ``DynamicCache`` of ``width`` columns: row r's cached prefix of ``lengths[r]``
        tokens in its last columns, zeros (masked out) before it."""
        from transformers import DynamicCache

        first = next(self._entries[k] for k, n in zip(keys, lengths, strict=True) if n)
        cache = DynamicCache()
        for layer, (k0, v0) in enumerate(first.layers):
            heads, _, dim = k0.shape
            shape = (len(keys), heads, width, dim)
            k_all = k0.new_zeros(shape)
            v_all = v0.new_zeros((len(keys), heads, width, v0.shape[-1]))
            for r, (key, n) in enumerate(zip(keys, lengths, strict=True)):
                if n:
                    k, v = self._entries[key].layers[layer]
                    k_all[r, :, width - n :] = k[:, :n]
                    v_all[r, :, width - n :] = v[:, :n]
            cache.update(k_all, v_all, layer)
        return cache

    def store(self, key: Hashable, ids: list[int], cache, row: int, columns: torch.Tensor) -> bool:
        """Keep ``cache``'s row ``row`` at ``columns`` (the positions of ``ids``) for ``key``.

        Returns False (and keeps nothing) for caches whose layers are not plain
        full-attention layers or whose length does not cover the columns.
        """
        layers = getattr(cache, "layers", None)
        if not layers or any(type(layer).__name__ != "DynamicLayer" for layer in layers):
            self.drop(key)
            return False
        if len(ids) != len(columns) or int(columns.max()) >= layers[0].keys.shape[-2]:
            self.drop(key)
            return False
        idx = columns.to(layers[0].keys.device)
        self._entries[key] = _Entry(
            list(ids),
            [
                (layer.keys[row].index_select(-2, idx), layer.values[row].index_select(-2, idx))
                for layer in layers
            ],
        )
        return True
