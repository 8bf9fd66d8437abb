"""Every command's options as dataclasses: the ``searcher`` CLI turns their fields into dotted
options (``--sft.lr 1e-4``), their docstrings into ``--help`` and their defaults into presets.

Nothing here imports torch, so ``--help`` and refusals stay fast.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Literal

from labcore.config import check_choices
from labcore.errors import DataError

IndexKind = Literal["bm25", "dense", "hybrid"]
LearningsKind = Literal["paraphrased", "extractive", "llm"]
DEFAULT_MODEL = "smollm2-135m-instruct"


@dataclass(frozen=True)
class SynthConfig:
    """Size of the embedded benchmark's world and of its splits."""

    seed: int = 0
    """Random seed of the world, the texts and the splits."""
    n_countries: int = 4
    """Countries in the world."""
    n_cities: int = 12
    """Cities in the world."""
    n_orgs: int = 20
    """Organisations in the world."""
    n_people: int = 60
    """People in the world."""
    n_events: int = 16
    """Events in the world."""
    closed_test: int = 60
    """Closed test questions (half single-hop, half 2-hop)."""
    open_test_fraction: float = 0.25
    """Share of the open questions held out for testing."""
    sft_closed: int = 120
    """Closed cold-start conversations written by the scripted expert."""
    sft_open: int = 60
    """Open cold-start conversations written by the scripted expert (a third of the cold
    start, as in the paper; open questions are replayed with their aspects reordered)."""

    def validate(self) -> None:
        for k, v in asdict(self).items():
            if k != "seed" and v < 0:
                raise DataError(f"synth.{k} must be non-negative (got {v})")
        if min(self.n_countries, self.n_cities, self.n_orgs, self.n_people) < 2:
            raise DataError("the world needs at least two countries, cities, orgs and people")
        if not 0 <= self.open_test_fraction < 1:
            raise DataError("synth.open_test_fraction must be in [0, 1)")


@dataclass(frozen=True)
class AgentConfig:
    """Rollout settings of the agent loop."""

    max_turns: int = 4
    """Search rounds; one more generation follows, with search disabled."""
    max_new_tokens: int = 128
    """Tokens per assistant turn (2048 in the paper)."""
    max_obs_tokens: int = 400
    """Observation tokens per turn (2048 in the paper); longer keeps head and 10-token tail."""
    temperature: float = 1.0
    """Sampling temperature (0 = greedy)."""
    top_p: float = 1.0
    """Nucleus sampling mass."""
    max_queries: int | None = 5
    """Truncate a search to this many queries (null = no limit; the official code has none)."""
    last_turn_note: bool = True
    """Tell the model, in the last observation, that no searches are left."""
    batch_size: int = 64
    """Most trajectories per ``generate`` call."""
    reuse_kv: bool = True
    """Keep each trajectory's keys and values between turns, so a turn processes only the
    reply and observation added since the last one (false = the whole context each turn)."""

    def validate(self, group: str = "agent") -> None:
        if self.max_turns < 0 or self.max_new_tokens < 1 or self.max_obs_tokens < 16:
            raise DataError(
                f"{group}.max_turns must be >= 0, {group}.max_new_tokens >= 1 and "
                f"{group}.max_obs_tokens >= 16"
            )
        if self.batch_size < 1:
            raise DataError(f"{group}.batch_size must be >= 1")
        if self.temperature < 0 or not 0 < self.top_p <= 1:
            raise DataError(f"{group}.temperature must be >= 0 and {group}.top_p in (0, 1]")
        if self.max_queries is not None and self.max_queries < 1:
            raise DataError(f"{group}.max_queries must be >= 1 or null")


def _greedy_agent() -> AgentConfig:
    return AgentConfig(temperature=0.0)


@dataclass(frozen=True)
class EnvConfig:
    """The search environment: an index folder in this process, or a running server."""

    index: str | None = None
    """Index folder written by `searcher index` (or give `env.url`)."""
    url: str | None = None
    """A running `searcher serve`, e.g. http://127.0.0.1:8000."""
    topk: int = 3
    """Passages or pages per query (3 in the paper)."""
    learnings: LearningsKind = "paraphrased"
    """How open-ended results become learnings: paraphrased (page sentences restated by a
    deterministic paraphraser, no LLM), extractive (the sentences verbatim) or llm."""
    learnings_model: str = DEFAULT_MODEL
    """Chat model (name or folder) for `env.learnings llm`."""

    def validate(self, *, url: bool = True) -> None:
        check_choices(self, "env")
        if self.topk < 1:
            raise DataError(f"env.topk must be at least 1 (got {self.topk})")
        if not url and self.url:
            raise DataError("env.url: this command serves an index folder; give env.index")
        if not self.index and not self.url:
            raise DataError("give --env.index DIR" + (" or --env.url URL" if url else ""))
        if self.index and self.url:
            raise DataError("give either --env.index or --env.url, not both")


@dataclass(frozen=True)
class IndexConfig:
    """`searcher index`: a FlashRAG corpus (and a web-page cache) into an index folder."""

    corpus: str
    """FlashRAG corpus JSONL: objects with id and contents (title, newline, text)."""
    pages: str | None = None
    """Web-page cache JSONL: objects with url, title and content."""
    kind: IndexKind = "bm25"
    """bm25, dense (MiniLM + faiss flat) or hybrid (reciprocal rank fusion)."""

    def validate(self) -> None:
        check_choices(self)


@dataclass(frozen=True)
class ServeConfig:
    """`searcher serve`: an index folder over HTTP."""

    env: EnvConfig = field(default_factory=EnvConfig)
    host: str = "127.0.0.1"
    """Address to bind (loopback by default)."""
    port: int = 8000
    """TCP port."""
    max_queries: int = 1024
    """Most queries per request."""

    def validate(self) -> None:
        self.env.validate(url=False)
        if not 0 < self.port < 65536 or self.max_queries < 1:
            raise DataError("port must be in 1..65535 and max_queries >= 1")


@dataclass(frozen=True)
class AskConfig:
    """`searcher ask`: one question, with its trace printed."""

    ability: Literal["closed", "open"] = "closed"
    """closed (a short exact answer) or open (a list of key findings)."""
    model: str = DEFAULT_MODEL
    """Model name or folder (e.g. a run's sft/model)."""
    env: EnvConfig = field(default_factory=EnvConfig)
    agent: AgentConfig = field(default_factory=_greedy_agent)

    def validate(self) -> None:
        check_choices(self)
        self.env.validate()
        self.agent.validate()


@dataclass(frozen=True)
class EvalConfig:
    """`searcher eval`: greedy episodes over a question file, scored, in a run folder."""

    data: str
    """Questions: FlashRAG .jsonl (golden_answers), findings .jsonl, O²-QA *_gt.json or
    Search-R1 .parquet."""
    model: str = DEFAULT_MODEL
    """Model name or folder (e.g. a run's grpo/model)."""
    limit: int | None = None
    """First N questions only (null = all)."""
    open_scale: float = 0.5
    """Open-ended reward scale (0.5 in the paper, against 1.0 for closed)."""
    samples: int = 0
    """Sampled episodes per question besides the greedy one (0 = greedy only)."""
    sample_temperature: float = 0.7
    """Temperature of the sampled episodes."""
    judge_model: str | None = None
    """LLM judge model on an OpenAI-compatible endpoint (adds judged findings P/R/F1)."""
    judge_url: str | None = None
    """Base URL of the judge endpoint."""
    env: EnvConfig = field(default_factory=EnvConfig)
    agent: AgentConfig = field(default_factory=_greedy_agent)

    def validate(self) -> None:
        self.env.validate()
        self.agent.validate()
        if self.limit is not None and self.limit < 1:
            raise DataError(f"limit must be >= 1 or null (got {self.limit})")
        if self.samples < 0 or self.sample_temperature <= 0:
            raise DataError("samples must be >= 0 and sample_temperature > 0")
        if self.judge_url and not self.judge_model:
            raise DataError("judge_url needs judge_model")


@dataclass(frozen=True)
class SFTConfig:
    """Cold-start SFT on the expert conversations (assistant tokens only)."""

    epochs: float = 1.0
    """Passes over the cold-start conversations."""
    lr: float = 5e-5
    """Peak learning rate (AdamW, no weight decay)."""
    batch_size: int = 4
    """Conversations per optimiser step (gradient accumulation, one at a time)."""
    max_length: int = 1536
    """Tokens per conversation (longer ones are cut)."""
    max_examples: int | None = None
    """Use only this many conversations, drawn at random (null = all)."""
    warmup_steps: int = 5
    """Linear warm-up steps, then a constant rate."""
    grad_clip: float = 1.0
    """Gradient-norm clip."""
    save_every: int = 20
    """Checkpoint every N steps (resumed after a kill)."""


@dataclass(frozen=True)
class GRPOSettings:
    """GRPO through TRL's GRPOTrainer with the multi-turn rollout function.

    The defaults are a recipe that moves a small model within a few steps (a learning rate
    of 1e-5, no KL, groups of 8 at temperature 0.7, batch-level reward scaling, two
    optimiser steps per rollout batch, and a curriculum of questions the SFT model sometimes
    but not always solves). The paper's settings are ``lr 1e-6, beta 0.001, temperature 1,
    scale_rewards group, num_iterations 1`` (the ``gpu`` preset)."""

    steps: int = 6
    """Optimiser steps (0 = no GRPO stage); each rollout batch serves num_iterations steps."""
    prompts_per_step: int = 4
    """Questions per rollout batch."""
    group_size: int = 8
    """Trajectories per question (the GRPO group; 8 in the paper)."""
    lr: float = 1e-5
    """Learning rate (constant; 1e-6 in the paper)."""
    beta: float = 0.0
    """KL coefficient, k3 low-variance estimator (0 = no KL and no reference model;
    0.001 in the paper)."""
    epsilon: float = 0.2
    """Clip range of the surrogate."""
    temperature: float = 0.7
    """Rollout sampling temperature (1.0 in the paper)."""
    scale_rewards: Literal["batch", "group", "none"] = "batch"
    """Advantage scaling: by the reward std of the whole batch, of each group (the paper's
    GRPO), or none."""
    num_iterations: int = 2
    """Optimiser steps per rollout batch (1 in the paper); the later ones are clipped
    against the log-probs of the policy that sampled."""
    loss_type: Literal["grpo", "dapo", "dr_grpo", "bnpo"] = "grpo"
    """TRL's loss aggregation: grpo (mean over each sequence's tokens, then over sequences)
    or dapo (mean over all tokens of the batch: verl's token-mean, which the paper's code
    uses); dr_grpo and bnpo as in TRL."""
    entropy_coef: float = 0.0
    """Entropy bonus coefficient (0.001 in the paper's verl recipe)."""
    curriculum: bool = True
    """Train only on questions whose SFT pass rate is strictly between 0 and 1 (open ones:
    whose sampled rewards differ by more than curriculum_min_spread); pre-computed and saved
    as grpo/curriculum.jsonl."""
    curriculum_pool: int | None = 64
    """Training questions screened for the curriculum (null = all)."""
    curriculum_samples: int = 4
    """Sampled episodes per screened question."""
    curriculum_min_spread: float = 0.01
    """Least max - min of an open question's sampled rewards to keep it."""
    open_scale: float = 0.5
    """Open-ended reward scale (0.5 in the paper, against 1.0 for closed)."""
    faithful_rewards: bool = False
    """Read answers from prompt + response and split findings on '-', as the official code."""
    save_steps: int = 5
    """Trainer checkpoint every N steps (resumed after a kill)."""
    micro_batch: int | None = None
    """Trajectories per forward/backward pass (gradient accumulation over the step's
    prompts_per_step * group_size); null = all at once. Long multi-turn completions
    with a 49k vocabulary need a small value on a CPU."""
    gradient_checkpointing: bool = True
    """Recompute each layer's activations in the backward pass instead of keeping them. One
    1,300-token SmolLM2 sequence on a CPU: peak memory 3.4 GiB against 4.9 GiB, no slower
    (benchmarks/update_memory.py)."""
    open_fraction: float = 0.5
    """Share of open-ended prompts in the RL data (the paper has about 44%)."""

    def validate(self) -> None:
        if self.group_size < 2:
            raise DataError("grpo.group_size must be at least 2 (advantages are group-normalised)")
        if self.prompts_per_step < 1 or self.steps < 0:
            raise DataError("grpo.prompts_per_step must be >= 1 and grpo.steps >= 0")
        n = self.prompts_per_step * self.group_size
        if self.micro_batch is not None and (self.micro_batch < 1 or n % self.micro_batch):
            raise DataError(f"grpo.micro_batch must divide prompts_per_step * group_size = {n}")
        if not 0 <= self.open_fraction < 1:
            raise DataError("grpo.open_fraction must be in [0, 1)")
        if self.lr <= 0 or self.temperature <= 0:
            raise DataError("grpo.lr and grpo.temperature must be > 0")
        if self.save_steps < 1 or self.num_iterations < 1:
            raise DataError("grpo.save_steps and grpo.num_iterations must be >= 1")
        if self.beta < 0 or self.entropy_coef < 0:
            raise DataError("grpo.beta and grpo.entropy_coef must be >= 0")
        if self.curriculum_samples < 2 or (
            self.curriculum_pool is not None and self.curriculum_pool < 1
        ):
            raise DataError(
                "grpo.curriculum_samples must be >= 2 and grpo.curriculum_pool >= 1 or null"
            )


@dataclass(frozen=True)
class TrainConfig:
    """`searcher train`: benchmark, index, cold-start SFT, GRPO and evaluation in one run folder."""

    model: str = DEFAULT_MODEL
    """Base model: a bundled name, a hub id available offline, or a folder."""
    index_kind: IndexKind = "bm25"
    """Index of the corpus and the web-page cache: bm25, dense or hybrid."""
    topk: int = 3
    """Passages or pages per query."""
    seed: int = 0
    """Seed of SFT sampling, GRPO and the evaluation order."""
    data: str | None = None
    """A searcher data folder (`searcher synth --out DIR`); null = synthesise one inside --out."""
    train: str | None = None
    """Instead of --data: RL training questions (FlashRAG or findings .jsonl, O²-QA
    *_gt.json or Search-R1 .parquet); needs --test and --corpus."""
    test: str | None = None
    """Instead of --data: test questions (same formats as --train)."""
    corpus: str | None = None
    """Instead of --data: FlashRAG corpus JSONL (id, contents)."""
    pages: str | None = None
    """With --corpus: web-page cache JSONL (url, title, content) for open questions."""
    coldstart: str | None = None
    """With --corpus: cold-start conversations JSONL (messages); without it SFT is skipped."""
    synth: SynthConfig = field(default_factory=SynthConfig)
    sft: SFTConfig = field(default_factory=SFTConfig)
    grpo: GRPOSettings = field(default_factory=GRPOSettings)
    agent: AgentConfig = field(
        default_factory=lambda: AgentConfig(max_new_tokens=96, max_obs_tokens=320)
    )
    eval_closed: int = 40
    """Closed test questions evaluated per model."""
    eval_open: int = 8
    """Open test questions evaluated per model."""
    eval_samples: int = 4
    """Sampled episodes per test question and model, besides the greedy one (0 = greedy
    only); their mean reward, with a 95% interval, is what GRPO is judged on."""
    eval_temperature: float | None = None
    """Temperature of the sampled evaluation (null = grpo.temperature)."""

    def validate(self) -> None:
        check_choices(self)
        self.synth.validate()
        self.agent.validate()
        files = {"train": self.train, "test": self.test, "corpus": self.corpus}
        given = [k for k, v in files.items() if v]
        extra = [k for k in ("pages", "coldstart") if getattr(self, k)]
        if self.data and (given or extra):
            raise DataError(f"give --data or --{'/--'.join(given + extra)}, not both")
        if given and len(given) < 3:
            missing = [k for k in files if k not in given]
            raise DataError(f"--train, --test and --corpus go together (missing --{missing[0]})")
        if extra and not given:
            raise DataError(f"--{extra[0]} needs --train, --test and --corpus")
        if self.topk < 1:
            raise DataError(f"topk must be at least 1 (got {self.topk})")
        self.grpo.validate()
        if self.sft.batch_size < 1 or self.sft.lr <= 0 or self.sft.epochs <= 0:
            raise DataError("sft.batch_size must be >= 1, sft.lr > 0 and sft.epochs > 0")
        if self.sft.max_examples is not None and self.sft.max_examples < 1:
            raise DataError("sft.max_examples must be >= 1 or null")
        if self.sft.warmup_steps < 0 or self.sft.save_every < 1:
            raise DataError("sft.warmup_steps must be >= 0 and sft.save_every >= 1")
        if self.eval_closed < 0 or self.eval_open < 0 or self.eval_samples < 0:
            raise DataError("eval_closed, eval_open and eval_samples must be >= 0")
        if self.eval_temperature is not None and self.eval_temperature <= 0:
            raise DataError("eval_temperature must be > 0 or null")


_CPU_PRESET = {
    # One trajectory per forward/backward: the same update as larger micro-batches (TRL sums
    # the accumulated losses), a quarter of the activation memory of 4, and no slower.
    "grpo.micro_batch": 1,
    "agent.max_new_tokens": 64,
    "synth.open_test_fraction": 0.375,
    "eval_closed": 60,
    "eval_open": 12,
}

#: ``searcher train`` presets, as dotted keys over the :class:`TrainConfig` defaults.
TRAIN_PRESETS: dict[str, dict] = {
    # Every stage runs once at toy size on a CPU. 32 SFT conversations at a high rate teach
    # SmolLM2 the tags, so some sampled episodes score and the screened GRPO questions have
    # reward variance: the GRPO steps have a non-zero gradient.
    "smoke": {
        "sft.max_examples": 32,
        "sft.batch_size": 2,
        "sft.lr": 1e-4,
        "sft.max_length": 768,
        "sft.save_every": 100,
        "grpo.steps": 2,
        "grpo.prompts_per_step": 2,
        "grpo.group_size": 4,
        "grpo.micro_batch": 4,
        "grpo.save_steps": 100,
        "grpo.curriculum_pool": 8,
        "agent.max_turns": 2,
        "agent.max_new_tokens": 64,
        "agent.max_obs_tokens": 160,
        "eval_closed": 4,
        "eval_open": 2,
        "eval_samples": 2,
    },
    # The CPU recipe: every cold-start conversation, then GRPO on the curriculum; evaluated on
    # 60 closed + 12 open test questions (12 of the benchmark's 32 open ones held out).
    "cpu": _CPU_PRESET,
    "default": _CPU_PRESET,
    # The paper's scale and GRPO settings: Qwen2.5-3B-Instruct, dense retrieval, long turns,
    # verl's token-mean loss with its entropy bonus, KL 0.001, no curriculum.
    "gpu": {
        "model": "Qwen/Qwen2.5-3B-Instruct",
        "index_kind": "dense",
        "sft.epochs": 2,
        "sft.lr": 1e-5,
        "sft.batch_size": 16,
        "sft.max_length": 10240,
        "grpo.steps": 151,
        "grpo.prompts_per_step": 32,
        "grpo.group_size": 8,
        "grpo.lr": 1e-6,
        "grpo.beta": 0.001,
        "grpo.temperature": 1.0,
        "grpo.scale_rewards": "group",
        "grpo.num_iterations": 1,
        "grpo.loss_type": "dapo",
        "grpo.entropy_coef": 0.001,
        "grpo.curriculum": False,
        "grpo.save_steps": 50,
        "agent.max_new_tokens": 2048,
        "agent.max_obs_tokens": 2048,
        "agent.batch_size": 256,
        "synth.open_test_fraction": 0.375,
        "eval_closed": 60,
        "eval_open": 12,
    },
}
