"""Cold-start SFT on the expert conversations.

A conversation is tokenised exactly as a rollout builds it (prompt ids, then each
assistant turn's tokens followed by the observation turn's tokens), and only assistant
tokens carry labels. This is our own short loop rather than TRL's SFTTrainer: TRL's
assistant-only loss needs generation markers in the chat template (SmolLM2's has
none), and it would tokenise whole conversations, not the turn-by-turn token stream
that the GRPO rollouts produce.
"""

from __future__ import annotations

import math
import os
import random
from pathlib import Path

import torch

from labcore.errors import DataError
from labcore.io import atomic_path, write_json
from labcore.schedules import lr_scheduler
from labcore.train import load_checkpoint, save_checkpoint, seed_everything
from searcher.agent.policy import Policy
from searcher.config import SFTConfig
from searcher.data.corpus import read_conversations


def tokenize_conversation(
    policy: Policy, messages: list[dict], max_length: int
) -> tuple[list[int], list[int]]:
    """``(input_ids, labels)`` with labels -100 outside assistant turns."""
    if len(messages) < 3 or messages[0]["role"] != "system" or messages[1]["role"] != "user":
        raise DataError("a cold-start conversation starts with system, user, assistant messages")
    question = messages[1]["content"]
    prefix = "Initial query: "
    ids = policy.prompt_ids(question[len(prefix) :] if question.startswith(prefix) else question)
    labels = [-100] * len(ids)
    for m in messages[2:]:
        if m["role"] == "assistant":
            t = policy.encode_text(m["content"])
            ids += t
            labels += t
        else:
            t = policy.observation_ids(m["content"])
            ids += t
            labels += [-100] * len(t)
    eos = policy.tokenizer.eos_token_id
    if eos is not None:
        # The model learns to close its final turn.
        ids.append(eos)
        labels.append(eos)
    return ids[:max_length], labels[:max_length]


def run_sft(
    model,
    tokenizer,
    data: str | os.PathLike,
    out: str | os.PathLike,
    cfg: SFTConfig,
    seed: int = 0,
    log=print,
    on_step=None,
) -> Path:
    """Train on ``data`` (coldstart.jsonl) and save the model to ``out/model``; resumes from
    ``out/checkpoint.pt`` after a kill. ``on_step(step, loss=, lr=)`` sees every step."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    rows = read_conversations(data)
    seed_everything(seed)
    random.Random(seed).shuffle(rows)
    if cfg.max_examples is not None:
        rows = rows[: cfg.max_examples]
    policy = Policy(model, tokenizer)
    examples = [tokenize_conversation(policy, r["messages"], cfg.max_length) for r in rows]
    total_steps = max(1, math.ceil(len(examples) * cfg.epochs / cfg.batch_size))
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=0.0)
    # Linear warm-up, then the base rate.
    sched = lr_scheduler(
        opt, total_steps=total_steps, warmup_steps=cfg.warmup_steps, schedule="constant"
    )
    start = 0
    ckpt = out / "checkpoint.pt"
    if ckpt.is_file():
        state = load_checkpoint(ckpt)
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["optimizer"])
        sched.load_state_dict(state["scheduler"])
        start = state["step"]
        log(f"resuming SFT at step {start}/{total_steps}")
    device = model.device
    model.train()
    order = [i % len(examples) for i in range(total_steps * cfg.batch_size)]
    history = []
    for step in range(start, total_steps):
        batch = order[step * cfg.batch_size : (step + 1) * cfg.batch_size]
        n_tokens = sum(sum(1 for x in examples[i][1][1:] if x != -100) for i in batch)
        loss_sum = 0.0
        for i in batch:
            ids, labels = examples[i]
            inp = torch.tensor([ids], device=device)
            lab = torch.tensor([labels], device=device)
            # bf16 compute over fp32 master weights on CUDA (pure bf16 weights would lose
            # most small updates to rounding); full precision on a CPU.
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=device.type == "cuda"):
                logits = model(input_ids=inp).logits[:, :-1].float()
            loss = torch.nn.functional.cross_entropy(
                logits.reshape(-1, logits.shape[-1]),
                lab[:, 1:].reshape(-1),
                ignore_index=-100,
                reduction="sum",
            ) / max(1, n_tokens)
            loss.backward()
            loss_sum += loss.item()
        torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
        lr = opt.param_groups[0]["lr"]
        opt.step()
        sched.step()
        opt.zero_grad(set_to_none=True)
        history.append({"step": step + 1, "loss": loss_sum})
        log(f"sft step {step + 1}/{total_steps} loss {loss_sum:.4f}")
        if on_step is not None:
            on_step(step + 1, loss=loss_sum, lr=lr)
        if (step + 1) % cfg.save_every == 0 and step + 1 < total_steps:
            save_checkpoint(
                ckpt,
                {
                    "model": model.state_dict(),
                    "optimizer": opt.state_dict(),
                    "scheduler": sched.state_dict(),
                    "step": step + 1,
                },
            )
    model.eval()
    final = out / "model"
    with atomic_path(final) as tmp:
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
    write_json(out / "sft_history.json", history)
    ckpt.unlink(missing_ok=True)
    return final
