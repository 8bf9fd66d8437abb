"""The synthetic knowledge world: facts, biographies (pre-training), Q&A pairs (fine-tuning).

Vocabulary (one token per item)::

    PAD BOS Q A | subjects | relation templates (R x T) | answers (R x A, disjoint per relation) | filler

A biography of subject ``s`` states all of its facts, in a random relation order,
each preceded by 0..max_noise filler tokens::

    BOS s  [filler*] t(r1, tau) a(s, r1)  [filler*] t(r2, tau') a(s, r2) ...

Each fact has ``multiplicity`` statements (distinct templates of its relation); a
biography states it with one of them at random. Pre-training draws fresh
biographies every step, so the order, filler and statement choice vary while
the facts and their statements stay fixed. A Q&A prompt is
``BOS Q s t(r, tau) A`` and its answer ``a(s, r)``; fine-tuning uses the
fine-tuning subjects with the covered templates only, and held-out subjects
appear in pre-training alone. With ``qa_format="direct"`` the prompt is
``BOS Q s t(r, tau)``: the answer follows the template as in biographies.

The Bayes-optimal pre-training loss is computed from the generating process:
each sampled token comes with its probability under that process, so the optimum
is the mean negative log-probability over the predicted tokens.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import torch

from onelayer_theory.config import DataConfig

PAD, BOS, Q, A = 0, 1, 2, 3
N_SPECIAL = 4
QA_PROMPT_LEN = 5  # BOS Q s t A
STORED_PROMPT_LEN = 3  # BOS s t


@dataclass(frozen=True)
class Vocab:
    """Token-id layout of a world."""

    n_subjects: int
    n_relations: int
    templates_per_relation: int
    answers_per_relation: int
    noise_tokens: int

    @property
    def subject0(self) -> int:
        return N_SPECIAL

    @property
    def template0(self) -> int:
        return self.subject0 + self.n_subjects

    @property
    def answer0(self) -> int:
        return self.template0 + self.n_relations * self.templates_per_relation

    @property
    def noise0(self) -> int:
        return self.answer0 + self.n_relations * self.answers_per_relation

    @property
    def size(self) -> int:
        return self.noise0 + self.noise_tokens

    def subject(self, s):
        return self.subject0 + s

    def template(self, r, tau):
        return self.template0 + r * self.templates_per_relation + tau

    def answer(self, r, j):
        return self.answer0 + r * self.answers_per_relation + j

    def relation_of_answer(self, token: np.ndarray) -> np.ndarray:
        """Relation index of answer tokens; -1 for tokens that are not answers."""
        token = np.asarray(token)
        rel = (token - self.answer0) // self.answers_per_relation
        is_answer = (token >= self.answer0) & (token < self.noise0)
        return np.where(is_answer, rel, -1)


@dataclass
class World:
    """One seeded world: the fact table, the subject split, the covered templates and all sequences."""

    cfg: DataConfig

    def __post_init__(self) -> None:
        cfg = self.cfg
        rng = np.random.default_rng(cfg.seed)
        self.vocab = Vocab(
            cfg.n_subjects,
            cfg.n_relations,
            cfg.templates_per_relation,
            cfg.answers_per_relation,
            cfg.noise_tokens,
        )
        #: answer index (within its relation's answer set) of every (subject, relation)
        self.facts = rng.integers(
            0, cfg.answers_per_relation, size=(cfg.n_subjects, cfg.n_relations)
        )
        order = rng.permutation(cfg.n_subjects)
        n_ft = round(cfg.ft_subject_fraction * cfg.n_subjects)
        self.ft_subjects = np.sort(order[:n_ft])
        self.heldout_subjects = np.sort(order[n_ft:])
        universe = cfg.n_relations * cfg.templates_per_relation
        n_covered = max(1, round(cfg.coverage * universe))
        #: covered[r, tau]: template tau of relation r appears in fine-tuning prompts
        self.covered = np.zeros((cfg.n_relations, cfg.templates_per_relation), dtype=bool)
        self.covered.flat[rng.choice(universe, size=n_covered, replace=False)] = True

    # ------------------------------------------------------------ pre-training

    @cached_property
    def statement_templates(self) -> np.ndarray:
        """``[n_subjects, n_relations, multiplicity]``: the templates each fact is stated with.

        Distinct templates while ``multiplicity <= templates_per_relation``; beyond
        that the fact's random template order repeats.
        """
        cfg = self.cfg
        rng = np.random.default_rng([cfg.seed, 2])
        perms = rng.random((cfg.n_subjects, cfg.n_relations, cfg.templates_per_relation)).argsort(
            -1
        )
        reps = -(-cfg.multiplicity // cfg.templates_per_relation)
        return np.tile(perms, (1, 1, reps))[..., : cfg.multiplicity]

    @cached_property
    def _template_prob(self) -> torch.Tensor:
        """P(template | subject, relation) in biographies: ``[n_subjects, n_relations, T]``."""
        cfg = self.cfg
        counts = np.zeros((cfg.n_subjects, cfg.n_relations, cfg.templates_per_relation))
        s, r, _ = np.indices(self.statement_templates.shape)
        np.add.at(counts, (s, r, self.statement_templates), 1.0)
        return torch.from_numpy(counts / cfg.multiplicity)

    @property
    def biography_length(self) -> int:
        return 2 + self.cfg.n_relations * (self.cfg.max_noise + 2)

    def sample_biographies(
        self, n: int, generator: torch.Generator
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Draw ``n`` biographies: ``(tokens [n, L], logp [n, L])``, vectorised.

        ``logp`` holds each token's log-probability under the generating process
        (0 for BOS, answers and PAD), which gives the Bayes-optimal loss.
        """
        tokens, logp = sample_biographies([self], n, [generator])
        return tokens[0], logp[0]

    @cached_property
    def fresh_biographies(self) -> tuple[torch.Tensor, torch.Tensor]:
        """A fixed evaluation draw of biographies (four per subject on average).

        Pre-training samples new biographies every step (new relation orders,
        filler and statement choices around the same facts), so the training loss
        estimates this distribution's loss, whose minimum is the Bayes-optimal loss.
        """
        return self.sample_biographies(
            4 * self.cfg.n_subjects, torch.Generator().manual_seed(self.cfg.seed + 1)
        )

    @cached_property
    def bayes_loss(self) -> float:
        """Bayes-optimal mean next-token loss of the process, on :attr:`fresh_biographies`."""
        tokens, logp = self.fresh_biographies
        predicted = tokens[:, 1:] != PAD
        return float(-logp[:, 1:][predicted].mean())

    # ------------------------------------------------------------ prompts

    def _qa(
        self, subjects: np.ndarray, mask: np.ndarray
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Q&A prompts for ``subjects`` x every (r, tau) with ``mask[r, tau]``."""
        v = self.vocab
        r_idx, tau_idx = np.nonzero(mask)
        s = np.repeat(subjects, len(r_idx))
        r = np.tile(r_idx, len(subjects))
        tau = np.tile(tau_idx, len(subjects))
        columns = [np.full_like(s, BOS), np.full_like(s, Q), v.subject(s), v.template(r, tau)]
        if self.cfg.qa_format == "separate":
            columns.append(np.full_like(s, A))  # the answer is predicted at the format token
        prompts = np.stack(columns, axis=1)
        answers = v.answer(r, self.facts[s, r])
        return torch.from_numpy(prompts), torch.from_numpy(answers), torch.from_numpy(r)

    @cached_property
    def finetune_qa(self):
        """``(prompts [n, 5] (4 with ``qa_format="direct"``), answers [n], relations [n])``: fine-tuning subjects x covered templates."""
        return self._qa(self.ft_subjects, self.covered)

    @cached_property
    def heldout_qa(self):
        """Held-out subjects x every template (``heldout_covered`` tells which were covered)."""
        return self._qa(self.heldout_subjects, np.ones_like(self.covered))

    @cached_property
    def heldout_covered(self) -> torch.Tensor:
        """Per held-out Q&A prompt: was its template used in fine-tuning?"""
        prompts = self.heldout_qa[0]
        template_index = (prompts[:, 3] - self.vocab.template0).numpy()
        return torch.from_numpy(self.covered.ravel()[template_index])

    @cached_property
    def heldout_stored(self):
        """Held-out subjects' facts in pre-training format ``BOS s t``, with the templates each
        fact was stated with in pre-training (is the fact stored?)."""
        v, cfg = self.vocab, self.cfg
        subjects = np.repeat(self.heldout_subjects, cfg.n_relations * cfg.multiplicity)
        r = np.tile(
            np.repeat(np.arange(cfg.n_relations), cfg.multiplicity), len(self.heldout_subjects)
        )
        tau = self.statement_templates[self.heldout_subjects].reshape(-1)
        prompts = np.stack(
            [np.full_like(subjects, BOS), v.subject(subjects), v.template(r, tau)], axis=1
        )
        answers = v.answer(r, self.facts[subjects, r])
        return torch.from_numpy(prompts), torch.from_numpy(answers), torch.from_numpy(r)

    # ------------------------------------------------------------ summary

    def card(self) -> dict:
        """Sizes and the Bayes-optimal loss, for printing and for the results."""
        cfg = self.cfg
        return {
            "vocab_size": self.vocab.size,
            "subjects": cfg.n_subjects,
            "relations": cfg.n_relations,
            "facts": cfg.n_subjects * cfg.n_relations,
            "template_universe": cfg.n_relations * cfg.templates_per_relation,
            "covered_templates": int(self.covered.sum()),
            "statements_per_fact": cfg.multiplicity,
            "biography_length": self.biography_length,
            "ft_subjects": len(self.ft_subjects),
            "heldout_subjects": len(self.heldout_subjects),
            "finetune_qa_pairs": int(self.finetune_qa[0].shape[0]),
            "heldout_qa_prompts": int(self.heldout_qa[0].shape[0]),
            "bayes_loss": round(self.bayes_loss, 4),
        }


def sample_biographies(
    worlds: Sequence[World], n: int, generators: Sequence[torch.Generator]
) -> tuple[torch.Tensor, torch.Tensor]:
    """``n`` fresh biographies for each of ``worlds`` (same shapes): ``tokens, logp [E, n, L]``.

    Member ``e``'s random draws come from ``generators[e]`` alone (a handful of
    calls), so its biographies do not depend on the other members; assembling the
    tokens is one set of tensor ops for all members.
    """
    w0 = worlds[0]
    cfg, v = w0.cfg, w0.vocab
    R, M, V = cfg.n_relations, cfg.max_noise, cfg.noise_tokens
    E = len(worlds)
    draws = [
        (
            torch.randint(0, cfg.n_subjects, (n,), generator=g),
            torch.rand(n, R, generator=g).argsort(1),  # relation stated j-th
            torch.randint(0, M + 1, (n, R), generator=g),
            torch.randint(0, cfg.multiplicity, (n, R), generator=g),
            torch.randint(0, V, (n, R, max(M, 1)), generator=g),
        )
        for g in generators
    ]
    subj, order, n_fill, pick, fill = (torch.cat(col) for col in zip(*draws, strict=True))
    # Rows of all members together; ``member`` picks each row's fact table.
    member = torch.arange(E).repeat_interleave(n)[:, None]
    facts = torch.stack([torch.from_numpy(w.facts) for w in worlds])
    stmts = torch.stack([torch.from_numpy(w.statement_templates) for w in worlds])
    template_prob = torch.stack([w._template_prob for w in worlds])
    N = E * n
    tau = stmts[member, subj[:, None], order, pick]
    # Segment j = n_fill[j] filler tokens, then template, then answer.
    seg_len = n_fill + 2
    starts = 2 + seg_len.cumsum(1) - seg_len
    tokens = torch.full((N, w0.biography_length), PAD, dtype=torch.long)
    logp = torch.zeros((N, w0.biography_length), dtype=torch.float64)
    rows = torch.arange(N)[:, None]
    tokens[:, 0], tokens[:, 1] = BOS, v.subject0 + subj
    logp[:, 1] = -math.log(cfg.n_subjects)
    c = torch.arange(max(M, 1))
    is_fill = c < n_fill[..., None]
    fill_pos = (starts[..., None] + c)[is_fill]
    fill_rows = rows[..., None].expand_as(is_fill)[is_fill]
    tokens[fill_rows, fill_pos] = v.noise0 + fill[is_fill]
    # P(another filler | c emitted) = (M - c) / (M - c + 1), filler uniform
    c_fill = c.expand_as(is_fill)[is_fill].double()
    logp[fill_rows, fill_pos] = torch.log((M - c_fill) / (M - c_fill + 1) / V)
    t_pos = starts + n_fill
    tokens[rows, t_pos] = v.template0 + order * cfg.templates_per_relation + tau
    tokens[rows, t_pos + 1] = (
        v.answer0 + order * cfg.answers_per_relation + facts[member, subj[:, None], order]
    )
    # Template: stop filler (1 / (M - k + 1)), a remaining relation (1 / (R - j)), its statement.
    remaining = (R - torch.arange(R)).double()
    p_tau = template_prob[member, subj[:, None], order, tau]
    logp[rows, t_pos] = torch.log(p_tau / ((M - n_fill + 1).double() * remaining))
    return tokens.view(E, n, -1), logp.view(E, n, -1)
