"""Configuration: the index, the loop, the benchmark generator, the LLM, and each command's options.

Every field has a default that runs on a 2-core CPU with the bundled models; the paper's
values are noted where ours differ and the ``gpu`` preset moves towards them. The command
configs (:class:`IndexRun`, :class:`EvalRun`, ...) are what ``comorag CMD`` reads: each
field is an option (``--loop.max_cycles 2``), documented by the string under it.
Nothing here imports torch or numpy, so ``--help`` stays fast.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Literal

from labcore.config import check_choices
from labcore.errors import DataError

DEFAULT_LLM = "local:smollm2-135m-instruct"
LAYERS = ("veridical", "semantic", "episodic")


@dataclass(frozen=True)
class IndexConfig:
    """How a book becomes the three layers."""

    chunk_tokens: int = 240
    """Chunk size in embedder tokens (paper: 512 with BGE-M3; MiniLM reads at most 256)."""
    embedder: str = "all-minilm-l6-v2"
    """Sentence embedder of chunks, summaries, facts and queries."""
    kg: bool = True
    """Build the knowledge graph of the veridical layer (``false`` skips the triple calls)."""
    triple_max_new_tokens: int = 80
    """New tokens per triple-extraction call."""
    ground_triples: bool = True
    """Drop triples whose subject or object their chunk does not mention (``false``: keep all, official)."""
    link_mentions: bool = True
    """Link every chunk to each entity whose name or alias it mentions (``false``: only through triples, official)."""
    synonym_threshold: float = 0.8
    """Cosine at or above which two entities get a synonym edge (official code: 0.8)."""
    synonym_max_per_node: int = 100
    """At most this many synonym edges per entity."""
    cluster_max_levels: int = 5
    """Levels of the semantic cluster tree."""
    membership_threshold: float = 0.01
    """Soft GMM membership needed to join a cluster (official code 0.01; RAPTOR 0.1)."""
    local_recluster_min: int = 12
    """Global clusters with at least this many members are clustered again locally."""
    cluster_input_tokens: int = 1200
    """Members' text given to one cluster summary is cut to this many tokens."""
    cluster_summary_tokens: int = 100
    """New tokens per cluster summary."""
    window_summary_tokens: int = 120
    """New tokens per episodic window summary (official code: 500)."""
    window_overlap: bool = False
    """Official code: non-overlapping windows; ``true`` slides by half a window."""
    batch_size: int = 16
    """Independent LLM calls of one stage sent together (does not change the index)."""
    seed: int = 224
    """Seed of UMAP and the Gaussian mixtures."""

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
    """Probe-retrieve-encode-fuse-answer cycles after step 0."""
    max_probes: int = 3
    """New probing queries per cycle."""
    fuse_share: float = 0.5
    """Share of the memory pool (closest to the question) that the fusion agent reads."""
    linking_top_k: int = 5
    """Facts matched to a query before the fact filter (HippoRAG 2)."""
    fact_filter: bool = True
    """Ask the LLM which matched facts are relevant (``false``: keep them all)."""
    damping: float = 0.5
    """Personalized PageRank damping."""
    passage_weight: float = 0.005
    """Reset weight of chunk nodes in PPR = dense score x this (official override)."""
    ranking: Literal["rrf", "ppr"] = "rrf"
    """Veridical order: ``rrf`` fuses the dense and the PPR chunk rankings by reciprocal rank
    fusion; ``ppr`` is the PPR order alone (official HippoRAG 2 weighting)."""
    rrf_k: int = 60
    """Damping constant of reciprocal rank fusion."""
    pack: Literal["score", "story"] = "score"
    """``score`` fills budgets best-first (ours); ``story`` re-sorts by position first (official)."""
    answer_style: Literal["short", "reasoning"] = "short"
    """``short``: one ``ANSWER:`` line; ``reasoning``: the official four reasoning sections
    then ``### Final Answer`` (the ``gpu`` preset; needs a capable model and more tokens)."""
    mc_answer: Literal["score", "generate"] = "score"
    """Multiple choice: ``score`` picks the option letter (or ``*``) of highest log-probability
    after a pre-filled ``ANSWER:`` when the model can score (local models; others generate);
    ``generate`` lets the model write its ``ANSWER:`` line."""
    mc_choice: Literal["pmi", "text", "letter"] = "pmi"
    """With ``mc_answer=score``, what picks the option. ``pmi``: each option text's summed
    log-probability after ``ANSWER:`` minus the same under an evidence-free, question-free
    prompt (calibrated against the option's own surface prior); ``text``: the summed
    log-probability alone; ``letter``: the option letter's (what the prompt asks for, but
    position-biased in small models: SmolLM2-135M picked ``A`` for 25 of 35 questions).
    ``*`` wins, where allowed, when its letter scores above every option letter."""
    prefill: bool = True
    """Start the answer, probe and fact-filter replies with their format's opening
    (``ANSWER:``, ``PROBE:``, ``KEEP:``) where the model continues a started reply
    (labcore's local model); ``false`` asks for the format in the prompt only. ComoRAG's
    answers that may be ``*`` are never started (a started reply from a small model all
    but never says ``*``, which ended the loop at its first retrieval)."""
    hide_options: bool = True
    """Keep multiple-choice options out of retrieval queries (paper intent; official code leaks them)."""
    star_at_step0_mc: bool = True
    """Allow ``*`` in the first multiple-choice answer (official MC step-0 prompt does not)."""
    force_final: bool = True
    """When every attempt says ``*``, ask once more without the ``*`` option."""
    layers: tuple[str, ...] = LAYERS
    """Layers retrieved from (ablations: drop one, e.g. ``[semantic, episodic]``)."""
    memory: bool = True
    """``false``: no mem-encode/fuse; answers read raw evidence each cycle (paper's w/o metacognition)."""
    probing: bool = True
    """``false``: reuse the question as the only probe each cycle (paper's w/o regulation)."""
    answer_tokens: int = 32
    """New tokens of an answer."""
    probe_tokens: int = 60
    """New tokens of the probing agent."""
    encode_tokens: int = 60
    """New tokens of one memory note."""
    fuse_tokens: int = 80
    """New tokens of the fusion agent."""
    filter_tokens: int = 16
    """New tokens of the fact filter."""
    format_retries: int = 1
    """Extra tries when an agent's output does not parse; then the fallback applies."""

    def validate(self) -> LoopConfig:
        check_choices(self, "loop")
        if self.context_tokens < 64:
            raise DataError(f"loop.context_tokens must be >= 64 (got {self.context_tokens})")
        if self.max_cycles < 0 or not 1 <= self.max_probes <= 10:
            raise DataError("loop.max_cycles must be >= 0 and loop.max_probes in 1..10")
        unknown = set(self.layers) - set(LAYERS)
        if unknown or not self.layers:
            raise DataError(
                f"loop.layers: unknown or empty {sorted(unknown) or list(self.layers)}; "
                f"choose from {', '.join(LAYERS)}"
            )
        if not 0 < self.fuse_share <= 1:
            raise DataError("loop.fuse_share must be in (0, 1]")
        if self.top_k < 1 or self.linking_top_k < 1 or self.format_retries < 0:
            raise DataError(
                "loop.top_k and loop.linking_top_k must be >= 1, loop.format_retries >= 0"
            )
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
    """The generated benchmark narrative (``comorag synth``)."""

    target_tokens: int = 50_000
    """Length of the narrative in embedder tokens (about 1.25 per word)."""
    n_characters: int = 12
    """People in the world (at most 24)."""
    n_places: int = 8
    """Towns in the world (at most 12)."""
    n_events: int = 90
    """Simulated events besides introductions, hints and reveals."""
    n_questions: int = 60
    """Questions written (every other one multiple choice)."""
    seed: int = 0
    """Seed of the generator: the same config gives the same files byte for byte."""

    def validate(self) -> SynthConfig:
        if self.target_tokens < 500:
            raise DataError(f"target_tokens must be >= 500 (got {self.target_tokens})")
        if not 6 <= self.n_characters <= 24 or not 4 <= self.n_places <= 12:
            raise DataError("synth needs n_characters in 6..24 and n_places in 4..12")
        if self.n_events < 10 or self.n_questions < 1:
            raise DataError("synth needs n_events >= 10 and n_questions >= 1")
        return self


@dataclass(frozen=True)
class LLMConfig:
    """The chat model every agent calls."""

    model: str = DEFAULT_LLM
    """``local:NAME_OR_PATH`` (transformers, offline) or ``openai:MODEL`` (a compatible server)."""
    base_url: str | None = None
    """Server of an ``openai:`` model, e.g. http://127.0.0.1:8000/v1 (vLLM) or http://127.0.0.1:11434/v1 (Ollama)."""
    cache: bool = True
    """Reuse earlier answers from the response cache ``<index>/llm_cache.sqlite``."""
    batch_size: int = 16
    """Conversations the local model generates at once."""
    concurrency: int = 4
    """Requests in flight at once to an ``openai:`` server (one batch of agent calls)."""
    timeout: float = 60.0
    """Seconds an ``openai:`` request may take (connect, read and write each)."""
    context_window: int | None = None
    """Tokens the server reads per request, when known (Ollama serves 2048 unless its
    ``num_ctx`` is raised); a loop budget that does not fit prints a warning. Local models:
    read from the model's config."""

    def validate(self) -> LLMConfig:
        kind, _, name = self.model.partition(":")
        if not name or kind not in ("local", "openai"):
            raise DataError(f"llm.model {self.model!r}: expected local:NAME or openai:MODEL")
        if self.batch_size < 1:
            raise DataError(f"llm.batch_size must be >= 1 (got {self.batch_size})")
        if self.concurrency < 1 or self.timeout <= 0:
            raise DataError("llm.concurrency must be >= 1 and llm.timeout > 0")
        if self.context_window is not None and self.context_window < 256:
            raise DataError(f"llm.context_window must be >= 256 (got {self.context_window})")
        if self.base_url is not None and not self.base_url.startswith(("http://", "https://")):
            raise DataError(f"llm.base_url {self.base_url!r}: expected http://... or https://...")
        return self


# ---------------------------------------------------------------------- command configs


@dataclass(frozen=True)
class IndexRun:
    """``comorag index FILE --out DIR``."""

    index: IndexConfig = field(default_factory=IndexConfig)
    llm: LLMConfig = field(default_factory=LLMConfig)
    force: bool = False
    """Rebuild an index that is already in ``--out`` (only a comorag index is ever replaced)."""
    quiet: bool = False
    """No progress messages."""

    def validate(self) -> None:
        self.index.validate()
        self.llm.validate()


@dataclass(frozen=True)
class AddRun:
    """``comorag add INDEX FILE``: the index settings come from the index's manifest."""

    llm: LLMConfig = field(default_factory=LLMConfig)
    batch_size: int = 16
    """Independent LLM calls of one stage sent together."""
    quiet: bool = False
    """No progress messages."""

    def validate(self) -> None:
        self.llm.validate()
        if self.batch_size < 1:
            raise DataError(f"batch_size must be >= 1 (got {self.batch_size})")


@dataclass(frozen=True)
class AskRun:
    """``comorag ask INDEX QUESTION``."""

    loop: LoopConfig = field(default_factory=LoopConfig)
    llm: LLMConfig = field(default_factory=LLMConfig)
    choices: list[str] | None = None
    """Multiple-choice options, e.g. ``[Mara, Tomas, Ilsa, Bren]``."""
    trace: str | None = None
    """Write the full trace (JSON) to this new file."""

    def validate(self) -> None:
        self.loop.validate()
        self.llm.validate()
        if self.choices is not None and not 2 <= len(self.choices) <= 10:
            raise DataError(f"choices: give 2-10 options (got {len(self.choices)})")


@dataclass(frozen=True)
class RetrieveRun:
    """``comorag retrieve INDEX QUERY``."""

    loop: LoopConfig = field(default_factory=LoopConfig)
    llm: LLMConfig = field(default_factory=LLMConfig)
    layer: Literal["veridical", "semantic", "episodic"] = "veridical"
    """The layer to search."""
    k: int = 5
    """How many units to show."""

    def validate(self) -> None:
        check_choices(self)
        self.loop.validate()
        self.llm.validate()
        if self.k < 1:
            raise DataError(f"k must be >= 1 (got {self.k})")


@dataclass(frozen=True)
class EvalRun:
    """``comorag eval --data FILE --index DIR --out RUN``."""

    data: str
    """Questions JSONL (``comorag synth`` or ``comorag convert``)."""
    index: str
    """A complete comorag index of the text the questions are about."""
    method: Literal["comorag", "naive", "raptor", "gold"] = "comorag"
    """The memory loop, naive RAG (dense chunks), a RAPTOR-style collapsed tree, or
    ``gold``: naive RAG with the gold-evidence chunks put first (a reading check; needs
    questions with evidence spans)."""
    limit: int | None = None
    """Evaluate the first N questions only."""
    loop: LoopConfig = field(default_factory=LoopConfig)
    llm: LLMConfig = field(default_factory=LLMConfig)

    def validate(self) -> None:
        check_choices(self)
        self.loop.validate()
        self.llm.validate()
        if self.limit is not None and self.limit < 1:
            raise DataError(f"limit must be >= 1 (got {self.limit})")


# ---------------------------------------------------------------------- presets


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
            answer_style="reasoning",
            answer_tokens=1024,
            probe_tokens=200,
            encode_tokens=300,
            fuse_tokens=500,
            filter_tokens=64,
        ),
        SynthConfig(),
    ),
}


def command_presets(section: str) -> dict[str, dict]:
    """The presets of one command: ``section`` (``index``, ``loop`` or ``synth``) per name.

    ``synth`` presets set top-level fields (``comorag synth`` reads a :class:`SynthConfig`).
    """
    out = {}
    for name, bundle in PRESETS.items():
        values = getattr(bundle, section)
        out[name] = asdict(values) if section == "synth" else {section: values}
    return out
