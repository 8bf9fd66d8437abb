"""Configuration dataclasses for indexing and the memory loop, with presets.

Every field has a default that runs on the 2-core CPU with the bundled models. The
paper's values are noted where ours differ; ``gpu`` moves towards them.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from labcore.errors import DataError


@dataclass(frozen=True)
class IndexConfig:
    """How a book becomes the three layers."""

    chunk_tokens: int = 240
    """Chunk size in embedder tokens (paper: 512 with BGE-M3; MiniLM reads at most 256)."""
    embedder: str = "all-minilm-l6-v2"
    kg: bool = True
    """Build the knowledge graph of the veridical layer (``--no-kg`` skips the triple calls)."""
    triple_max_new_tokens: int = 80
    synonym_threshold: float = 0.8
    """Cosine at or above which two entities get a synonym edge (official code: 0.8)."""
    synonym_max_per_node: int = 100
    cluster_max_levels: int = 5
    membership_threshold: float = 0.01
    """Soft GMM membership needed to join a cluster (official code 0.01; RAPTOR 0.1)."""
    local_recluster_min: int = 12
    """Global clusters with at least this many members are clustered again locally."""
    cluster_input_tokens: int = 1200
    """Members' text given to one cluster summary is cut to this many tokens."""
    cluster_summary_tokens: int = 100
    window_summary_tokens: int = 120
    """Official code: 500. Smaller keeps the bundled model's indexing time in bounds."""
    window_overlap: bool = False
    """Official code: non-overlapping windows; ``True`` slides by half a window."""
    batch_size: int = 16
    """Independent LLM calls sent together."""
    seed: int = 224

    def validate(self) -> IndexConfig:
        if self.chunk_tokens < 16:
            raise DataError(f"index.chunk_tokens must be >= 16 (got {self.chunk_tokens})")
        if not 0 < self.membership_threshold < 1:
            raise DataError("index.membership_threshold must be in (0, 1)")
        if self.batch_size < 1 or self.cluster_max_levels < 1:
            raise DataError("index.batch_size and index.cluster_max_levels must be >= 1")
        return self


@dataclass(frozen=True)
class LoopConfig:
    """The metacognitive loop and the retrieval budgets it packs evidence into."""

    context_tokens: int = 2600
    """Total evidence budget per answer prompt (paper: 6000)."""
    budget_ratio: tuple[int, int, int, int] = (8, 2, 2, 1)
    """Veridical : semantic : episodic : historical share of ``context_tokens`` (paper Table 6)."""
    top_k: int = 50
    """Candidates each layer returns before packing."""
    max_cycles: int = 5
    max_probes: int = 3
    fuse_share: float = 0.5
    """Share of the memory pool (closest to the question) that the fusion agent reads."""
    linking_top_k: int = 5
    """Facts matched to a query before the fact filter (HippoRAG 2)."""
    fact_filter: bool = True
    damping: float = 0.5
    passage_weight: float = 0.005
    """Reset weight of chunk nodes in PPR = dense score x this (official override)."""
    pack: str = "score"
    """``score`` fills budgets best-first (ours); ``story`` re-sorts by position first (official)."""
    hide_options: bool = True
    """Keep multiple-choice options out of retrieval queries (paper intent; official code leaks them)."""
    star_at_step0_mc: bool = True
    """Allow ``*`` in the first multiple-choice answer (official MC step-0 prompt does not)."""
    force_final: bool = True
    """When every attempt says ``*``, ask once more without the ``*`` option."""
    layers: tuple[str, ...] = ("veridical", "semantic", "episodic")
    memory: bool = True
    """``False``: no mem-encode/fuse; answers read raw evidence each cycle (paper's w/o metacognition)."""
    probing: bool = True
    """``False``: reuse the question as the only probe each cycle (paper's w/o regulation)."""
    answer_tokens: int = 32
    probe_tokens: int = 60
    encode_tokens: int = 60
    fuse_tokens: int = 80
    filter_tokens: int = 16
    format_retries: int = 1
    """Extra tries when an agent's output does not parse; then the fallback applies."""

    def validate(self) -> LoopConfig:
        if self.context_tokens < 64:
            raise DataError(f"loop.context_tokens must be >= 64 (got {self.context_tokens})")
        if self.max_cycles < 0 or not 1 <= self.max_probes <= 10:
            raise DataError("loop.max_cycles must be >= 0 and loop.max_probes in 1..10")
        if self.pack not in ("score", "story"):
            raise DataError(f"loop.pack must be score or story (got {self.pack!r})")
        unknown = set(self.layers) - {"veridical", "semantic", "episodic"}
        if unknown or not self.layers:
            raise DataError(f"loop.layers: unknown or empty {sorted(unknown) or self.layers}")
        if not 0 < self.fuse_share <= 1:
            raise DataError("loop.fuse_share must be in (0, 1]")
        return self

    def budgets(self) -> dict[str, int]:
        """Token budget per layer plus ``historical``; removed layers give their share away."""
        names = ("veridical", "semantic", "episodic", "historical")
        shares = {n: r for n, r in zip(names, self.budget_ratio, strict=True)}
        active = {n: s for n, s in shares.items() if n == "historical" or n in self.layers}
        total = sum(active.values())
        return {n: int(self.context_tokens * s / total) for n, s in active.items()}


@dataclass(frozen=True)
class SynthConfig:
    """The generated benchmark narrative."""

    target_tokens: int = 50_000
    n_characters: int = 12
    n_places: int = 8
    n_events: int = 90
    n_questions: int = 60
    seed: int = 0

    def validate(self) -> SynthConfig:
        if self.target_tokens < 500:
            raise DataError(f"synth.target_tokens must be >= 500 (got {self.target_tokens})")
        if self.n_characters < 6 or self.n_places < 4:
            raise DataError("synth needs n_characters >= 6 and n_places >= 4")
        if self.n_events < 10 or self.n_questions < 1:
            raise DataError("synth needs n_events >= 10 and n_questions >= 1")
        return self


@dataclass(frozen=True)
class Preset:
    """One named bundle of the three configs."""

    index: IndexConfig = field(default_factory=IndexConfig)
    loop: LoopConfig = field(default_factory=LoopConfig)
    synth: SynthConfig = field(default_factory=SynthConfig)


PRESETS: dict[str, Preset] = {
    "smoke": Preset(
        IndexConfig(
            chunk_tokens=120,
            cluster_summary_tokens=24,
            window_summary_tokens=24,
            triple_max_new_tokens=24,
        ),
        LoopConfig(
            context_tokens=600,
            max_cycles=1,
            answer_tokens=12,
            probe_tokens=24,
            encode_tokens=24,
            fuse_tokens=24,
        ),
        SynthConfig(target_tokens=1500, n_characters=6, n_places=4, n_events=16, n_questions=6),
    ),
    "default": Preset(),
    "gpu": Preset(
        IndexConfig(chunk_tokens=240, window_summary_tokens=500, triple_max_new_tokens=200),
        LoopConfig(
            context_tokens=6000,
            answer_tokens=256,
            probe_tokens=200,
            encode_tokens=300,
            fuse_tokens=500,
            filter_tokens=64,
        ),
        SynthConfig(),
    ),
}


def preset(name: str) -> Preset:
    """The preset called ``name``."""
    if name not in PRESETS:
        raise DataError(f"--preset must be one of {', '.join(PRESETS)} (got {name!r})")
    return PRESETS[name]


def apply_overrides(obj: Any, pairs: list[str], prefix: str) -> Any:
    """Apply ``--set key=value`` pairs to a dataclass; unknown keys raise ``DataError``."""
    for pair in pairs:
        if "=" not in pair:
            raise DataError(f"--set {pair!r}: expected key=value")
        key, raw = pair.split("=", 1)
        key = key.strip()
        if key.startswith(prefix + "."):
            key = key[len(prefix) + 1 :]
        elif "." in key:
            continue  # belongs to another config
        names = {f.name: f for f in dataclasses.fields(obj)}
        if key not in names:
            raise DataError(f"--set {pair!r}: unknown option {prefix}.{key}")
        obj = dataclasses.replace(obj, **{key: _coerce(getattr(obj, key), raw, pair)})
    return obj


def _coerce(old: Any, raw: str, pair: str) -> Any:
    try:
        if isinstance(old, bool):
            if raw.lower() not in ("true", "false", "1", "0"):
                raise ValueError
            return raw.lower() in ("true", "1")
        if isinstance(old, int):
            return int(raw)
        if isinstance(old, float):
            return float(raw)
        if isinstance(old, tuple):
            parts = [p for p in raw.split(",") if p]
            return tuple(type(old[0])(p) for p in parts) if old else tuple(parts)
    except ValueError:
        raise DataError(f"--set {pair!r}: cannot read {raw!r} as {type(old).__name__}") from None
    return raw
