"""The paper's injection protocol: which passage goes in at which step, and how.

Scenarios over item thirds (paper §3, official ``create_inject_indices_map.py``):
items ``[0, n/3)`` paraphrase, ``[n/3, 2n/3)`` duplicate, ``[2n/3, n)`` once. At step 0
every item's original passage is injected; at the later injection steps paraphrase items
get paraphrase ``k-1`` and duplicate items the original again; once items are not repeated.

Insertion: passage + EOS is put at the front of a row of the *global* batch and the row is
cut from the end to the sequence length, so the step keeps its size and the passages are a
small share of its tokens (paper: 120 passages in 2048 rows of 2048 tokens, ~1.4%). Item ``j``
of a step goes into row ``j`` when the batch has a row per passage; otherwise passages are
concatenated so that they fill as few rows as possible (paper: "fit into the available
rows"), whole passages first, else as one stream cut at row ends (also how a passage longer
than a row is laid out). If even that overflows the batch the run is refused
(``overflow="error"``), or rows holding only passages are added (``overflow="extend"``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from knowledge_dynamics.config import InjectConfig
from knowledge_dynamics.data.knowledge import KnowledgeItem
from labcore.errors import DataError

SCENARIOS = ("paraphrase", "duplicate", "once")


def scenario_of(index: int, n_items: int) -> str:
    """Scenario of item ``index`` among ``n_items`` injected items (the rest are spares)."""
    third = n_items // 3
    if index >= n_items:
        return "spare"
    return SCENARIOS[min(index // third, 2)]


@dataclass(frozen=True)
class InjectionPlan:
    """``steps[s]`` = list of (item index, text) injected at step ``s``."""

    steps: dict[int, list[tuple[int, str]]]
    n_items: int

    def item_steps(self, item: int) -> list[int]:
        """Steps whose batch contains ``item`` (T_k in the paper), ascending."""
        return sorted(s for s, entries in self.steps.items() if any(i == item for i, _ in entries))


def make_plan(items: list[KnowledgeItem], n_items: int, cfg: InjectConfig) -> InjectionPlan:
    """The paper's schedule for the first ``n_items`` items (a multiple of 3)."""
    if n_items > len(items):
        raise DataError(
            f"synth.n_items {n_items} but the knowledge file has only {len(items)} items"
        )
    steps: dict[int, list[tuple[int, str]]] = {
        0: [(i, items[i].train_context) for i in range(n_items)]
    }
    for k in range(1, cfg.n_injections):
        entries = []
        for i in range(n_items):
            scenario = scenario_of(i, n_items)
            if scenario == "paraphrase":
                paras = items[i].paraphrases
                if len(paras) < k:
                    raise DataError(
                        f"knowledge item {i}: field 'paraphrases' has {len(paras)} entries, "
                        f"the paraphrase scenario needs {cfg.n_injections - 1}"
                    )
                entries.append((i, paras[k - 1]))
            elif scenario == "duplicate":
                entries.append((i, items[i].train_context))
        steps[k * cfg.inject_every] = entries
    return InjectionPlan(steps, n_items)


def _next_fit(chunks: list[list[int]], seq_len: int) -> list[list[int]]:
    """Whole chunks concatenated in order into rows of at most ``seq_len`` tokens."""
    groups: list[list[int]] = []
    cur: list[int] = []
    for c in chunks:
        if cur and len(cur) + len(c) > seq_len:
            groups.append(cur)
            cur = []
        cur = cur + c
    groups.append(cur)
    return groups


def pack_passages(
    passages: list[list[int]], eos_id: int, batch: int, seq_len: int
) -> list[list[int]]:
    """The row prefixes that carry ``passages`` (+ EOS each), in as few rows as the rule allows.

    One passage per row when there are enough rows and every passage fits a row (the paper's
    case); else whole passages concatenated (next-fit); else, when that needs more rows than
    ``batch``, or a passage is longer than a row, one stream of all passages cut at row ends.
    More rows than ``batch`` come back only when even the stream does not fit (overflow).
    """
    chunks = [[*p, eos_id] for p in passages]
    fits = all(len(c) <= seq_len for c in chunks)
    if fits and len(chunks) <= batch:
        return chunks
    groups = _next_fit(chunks, seq_len) if fits else []
    if fits and len(groups) <= batch:
        return groups
    stream = [t for c in chunks for t in c]
    cut = [stream[i : i + seq_len] for i in range(0, len(stream), seq_len)]
    # more rows than the batch either way (overflow): keep passages whole where they fit a row
    return groups if fits and len(cut) > batch else cut


def inject_rows(
    rows: np.ndarray, passages: list[list[int]], eos_id: int, overflow: str = "error"
) -> np.ndarray:
    """Put tokenized passages (+ EOS) at the front of rows of a global batch.

    Args:
        rows: ``(batch, seq_len)`` background token ids of this step.
        passages: token ids of each passage to inject (without EOS).
        eos_id: appended after each passage.
        overflow: ``error`` refuses when the passages do not fit into the batch's rows;
            ``extend`` adds passage-only rows.

    Returns:
        A new ``(batch', seq_len)`` array; ``batch' == batch`` unless ``extend`` added rows.
    """
    batch, seq_len = rows.shape
    groups = pack_passages(passages, eos_id, batch, seq_len)
    out = rows.copy()
    if len(groups) > batch:
        if overflow != "extend":
            n_tok = sum(len(p) + 1 for p in passages)
            raise DataError(
                f"{len(passages)} passages ({n_tok} tokens with EOS) need {len(groups)} rows of "
                f"{seq_len} tokens but the batch has {batch}; raise inject.batch_size or set "
                "inject.overflow=extend"
            )
        # Extra rows continue the background from the first rows (cut after the passages).
        extra = rows[np.arange(len(groups) - batch) % batch]
        out = np.concatenate([out, extra], axis=0)
    for r, prefix in enumerate(groups):
        out[r] = np.asarray((prefix + out[r].tolist())[:seq_len], dtype=out.dtype)
    return out


def passage_share(passages: list[list[int]], batch: int, seq_len: int) -> float:
    """Passage tokens (with EOS) as a fraction of an injection step's ``batch * seq_len`` tokens."""
    return sum(len(p) + 1 for p in passages) / (batch * seq_len)


def shard_rows(batch: np.ndarray, rank: int, world: int) -> np.ndarray:
    """This rank's contiguous slice of the global batch (DDP: every rank builds the same batch)."""
    return np.array_split(batch, world)[rank]
