"""The real-model experiment: a pretrained causal LM learns new people, then Q&A fine-tuning.

A pretrained language model (the bundled SmolLM2-135M by default, or any Hugging Face
causal LM folder / hub id) is

1. continued-pretrained on English biographies of people it has never seen (made-up
   names), the facts and statements drawn by :class:`onelayer_theory.synth.World`
   exactly as for the one-layer model (each fact stated with ``multiplicity`` of its
   relation's templates, fresh relation order every draw);
2. Q&A fine-tuned (full, or LoRA through ``peft``) on the fine-tuning subjects with the
   covered question templates, the loss on the answer tokens only;
3. measured as the one-layer model is: ``stored_acc`` (a held-out person's fact
   completed after its biography statement, ``"<name> was born in"``), ``heldout_acc``
   (held-out people asked in Q&A format, every question template) and ``ft_acc``
   (the fine-tuning pairs), each at three points: the base model, after continued
   pre-training, after fine-tuning. A fact counts as answered when greedy decoding
   would produce every token of the answer (teacher-forced argmax at each answer token).

:func:`run_real_model` is the whole experiment; sizes are in :class:`RealModelConfig`.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence

import numpy as np
import torch

from onelayer_theory.config import DataConfig, RealModelConfig
from onelayer_theory.synth import World

#: Relations: (statement templates, question templates with ``{name}``, answers).
RELATIONS: list[tuple[list[str], list[str], list[str]]] = [
    (
        ["was born in", "spent early childhood in", "grew up in", "is a native of"],
        [
            "Where was {name} born?",
            "In which city did {name} spend early childhood?",
            "Where did {name} grow up?",
            "Which city is {name} a native of?",
        ],
        "Lisbon Oslo Dakar Quito Hanoi Perth Lagos Tunis Riga Lima Kyoto Porto Bergen Cusco Turin Nantes".split(),
    ),
    (
        ["studied", "earned a degree in", "majored in", "trained in"],
        [
            "What did {name} study?",
            "In what did {name} earn a degree?",
            "What did {name} major in?",
            "What was {name} trained in?",
        ],
        "chemistry geology botany law music history physics nursing economics dentistry "
        "linguistics astronomy zoology architecture philosophy statistics".split(),
    ),
    (
        ["works for", "is employed by", "draws a salary from", "has a job at"],
        [
            "Which company does {name} work for?",
            "Who employs {name}?",
            "Which company pays {name}'s salary?",
            "Where does {name} have a job?",
        ],
        "Boeing Nokia Siemens Pfizer Oracle Lego Volvo Nestle Canon Shell Intel Bosch Ikea "
        "Sony Philips Adidas".split(),
    ),
    (
        ["plays the", "practises the", "performs on the", "is learning the"],
        [
            "Which instrument does {name} play?",
            "Which instrument does {name} practise?",
            "Which instrument does {name} perform on?",
            "Which instrument is {name} learning?",
        ],
        "violin cello flute guitar piano trumpet harp oboe drums banjo clarinet saxophone "
        "accordion ukulele trombone bassoon".split(),
    ),
]
_SYLLABLES = "ka lo mi ren du sa vo tel bri an ku zor fe li ma dan no sti ra ve".split()


def person_names(n: int, seed: int) -> list[str]:
    """``n`` distinct made-up two-part names (``"Kalomi Brisaren"``), reproducible from ``seed``."""
    rng = np.random.default_rng([seed, 17])
    names: list[str] = []
    while len(names) < n:
        parts = ["".join(rng.choice(_SYLLABLES, size=rng.integers(2, 4))) for _ in range(2)]
        name = " ".join(p.capitalize() for p in parts)
        if name not in names:
            names.append(name)
    return names


class TextWorld:
    """A :class:`World` rendered as English: biographies, statement prompts, Q&A prompts."""

    def __init__(self, cfg: DataConfig, seed: int):
        self.world = World(cfg)
        self.names = person_names(cfg.n_subjects, seed)

    def answer(self, s: int, r: int) -> str:
        return RELATIONS[r][2][self.world.facts[s, r]]

    def biography(self, s: int, rng: np.random.Generator) -> str:
        """One draw of subject ``s``'s biography: every fact, random order and statements."""
        w, stmts = self.world, self.world.statement_templates
        sentences = []
        for r in rng.permutation(w.cfg.n_relations):
            tau = stmts[s, r, rng.integers(w.cfg.multiplicity)]
            sentences.append(f"{self.names[s]} {RELATIONS[r][0][tau]} {self.answer(s, r)}.")
        return " ".join(sentences)

    def stored_pairs(self, subjects: Sequence[int]) -> list[tuple[str, str]]:
        """(prompt, answer) in biography form, with each fact's own statements."""
        w = self.world
        return [
            (f"{self.names[s]} {RELATIONS[r][0][tau]}", self.answer(s, r))
            for s in subjects
            for r in range(w.cfg.n_relations)
            for tau in w.statement_templates[s, r]
        ]

    def qa_pairs(self, subjects: Sequence[int], mask: np.ndarray) -> list[tuple[str, str]]:
        """(prompt, answer) in Q&A form for every (relation, template) with ``mask[r, tau]``."""
        return [
            (
                f"Question: {RELATIONS[r][1][tau].format(name=self.names[s])}\nAnswer:",
                self.answer(s, r),
            )
            for s in subjects
            for r, tau in zip(*np.nonzero(mask), strict=True)
        ]


def _encode(tokenizer, pairs: Sequence[tuple[str, str]], device) -> dict[str, torch.Tensor]:
    """Right-padded prompt + ``" " + answer`` ids, with a mask of the answer tokens."""
    rows, answer_masks = [], []
    for prompt, answer in pairs:
        p = tokenizer(prompt, add_special_tokens=False)["input_ids"]
        a = tokenizer(" " + answer, add_special_tokens=False)["input_ids"]
        rows.append(p + a)
        answer_masks.append([0] * len(p) + [1] * len(a))
    width = max(map(len, rows))
    pad = tokenizer.pad_token_id
    ids = torch.tensor([r + [pad] * (width - len(r)) for r in rows], device=device)
    attention = torch.tensor([[1] * len(r) + [0] * (width - len(r)) for r in rows], device=device)
    answers = torch.tensor([m + [0] * (width - len(m)) for m in answer_masks], device=device)
    return {"input_ids": ids, "attention_mask": attention, "answer_mask": answers.bool()}


def _token_nll(model, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    """Next-token NLL and argmax-hit per position ``[B, L-1]``."""
    logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
    logits, targets = logits[:, :-1].float(), batch["input_ids"][:, 1:]
    nll = torch.nn.functional.cross_entropy(logits.transpose(1, 2), targets, reduction="none")
    return nll, logits.argmax(-1) == targets


def _masked_mean(values: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    return (values * mask).sum() / mask.sum().clamp_min(1)


@torch.no_grad()
def answer_accuracy(model, tokenizer, pairs, device, chunk: int = 64) -> float:
    """Share of ``pairs`` whose every answer token is the model's greedy next token."""
    model.eval()
    hits = []
    for i in range(0, len(pairs), chunk):
        batch = _encode(tokenizer, pairs[i : i + chunk], device)
        _, hit = _token_nll(model, batch)
        mask = batch["answer_mask"][:, 1:]
        hits.append((hit | ~mask).all(1).float())
    return float(torch.cat(hits).mean())


def _train(model, params, steps: int, lr: float, next_batch, loss_mask_key: str) -> list[float]:
    """AdamW with 10% linear warm-up then cosine to 10%; returns the loss per step."""
    opt = torch.optim.AdamW(params, lr=lr, weight_decay=0.0)
    warm = max(1, steps // 10)

    def factor(step: int) -> float:
        if step < warm:
            return (step + 1) / warm
        progress = (step - warm) / max(1, steps - warm)
        return 0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * progress))

    sched = torch.optim.lr_scheduler.LambdaLR(opt, factor)
    model.train()
    losses = []
    for _ in range(steps):
        batch = next_batch()
        nll, _ = _token_nll(model, batch)
        loss = _masked_mean(nll, batch[loss_mask_key][:, 1:].float())
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        sched.step()
        losses.append(loss.item())
    model.eval()
    return losses


def run_real_model(cfg: RealModelConfig, device: str | None = None, log=print) -> dict:
    """Continued pre-training, Q&A fine-tuning and the measurements; returns a flat result dict.

    Keys: ``{stored,heldout,ft}_acc_{base,pretrained,finetuned}``, the training losses
    (``pretrain_loss_first`` / ``_last``, ``finetune_loss_first`` / ``_last``) and the
    number of trainable parameters in fine-tuning.
    """
    from labcore.models import load_causal_lm

    cfg.validate()
    torch.manual_seed(cfg.seed)
    model, tokenizer = load_causal_lm(cfg.model, device=device, dtype="float32")
    dev = next(model.parameters()).device
    text = TextWorld(cfg.data, cfg.seed)
    w = text.world
    rng = np.random.default_rng([cfg.seed, 5])
    sets = {
        "stored": text.stored_pairs(w.heldout_subjects),
        "heldout": text.qa_pairs(w.heldout_subjects, np.ones_like(w.covered)),
        "ft": text.qa_pairs(w.ft_subjects, w.covered),
    }
    result: dict = {"model": cfg.model, "finetune": cfg.finetune}

    def measure(stage: str) -> None:
        for name, pairs in sets.items():
            result[f"{name}_acc_{stage}"] = answer_accuracy(model, tokenizer, pairs, dev)
        log(f"{stage}: " + ", ".join(f"{k}={v:.3f}" for k, v in result.items() if stage in k))

    def biography_batch():
        subjects = rng.integers(0, cfg.data.n_subjects, cfg.batch_size)
        enc = tokenizer(
            [text.biography(int(s), rng) for s in subjects],
            return_tensors="pt",
            padding=True,
            add_special_tokens=False,
        ).to(dev)
        return {**enc, "tokens": enc["attention_mask"].bool()}

    def qa_batch():
        idx = rng.integers(0, len(sets["ft"]), cfg.batch_size)
        return _encode(tokenizer, [sets["ft"][i] for i in idx], dev)

    measure("base")
    losses = _train(
        model,
        list(model.parameters()),
        cfg.pretrain_steps,
        cfg.pretrain_lr,
        biography_batch,
        "tokens",
    )
    result["pretrain_loss_first"], result["pretrain_loss_last"] = losses[0], losses[-1]
    measure("pretrained")
    if cfg.finetune == "lora":
        from peft import LoraConfig, get_peft_model

        lora = LoraConfig(
            r=cfg.lora_rank,
            lora_alpha=2 * cfg.lora_rank,
            target_modules="all-linear",
            lora_dropout=0.0,
        )
        model = get_peft_model(model, lora)
    params = [p for p in model.parameters() if p.requires_grad]
    result["finetune_trainable_params"] = sum(p.numel() for p in params)
    losses = _train(model, params, cfg.finetune_steps, cfg.finetune_lr, qa_batch, "answer_mask")
    result["finetune_loss_first"], result["finetune_loss_last"] = losses[0], losses[-1]
    measure("finetuned")
    return result


def smoke_config(**changes) -> RealModelConfig:
    """A seconds-scale configuration (for tests): 8 people, 2 relations, a few steps."""
    data = DataConfig(
        n_subjects=8,
        n_relations=2,
        answers_per_relation=4,
        templates_per_relation=2,
        multiplicity=2,
    )
    base = RealModelConfig(data=data, pretrain_steps=6, finetune_steps=3, batch_size=4)
    return dataclasses.replace(base, **changes)
