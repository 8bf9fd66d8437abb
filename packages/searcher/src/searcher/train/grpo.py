"""GRPO with TRL's ``GRPOTrainer`` and our multi-turn rollouts.

TRL does the policy-gradient part: group-normalised advantages over contiguous groups of
``num_generations`` completions of the same prompt (TRL's sampler repeats each prompt
that many times in a row, so group ids are the prompt's position, never a dataset
index that could collide), the clipped surrogate, and the KL to the reference model
with the k3 ("low-variance") estimator. Our ``rollout_func`` returns, per trajectory,
the prompt ids, the whole multi-turn completion (assistant and observation tokens),
the real per-token sampling log-probabilities and ``env_mask`` (0 on observation
tokens), which TRL multiplies into its loss mask — observation tokens stay in the
context but get no loss, no KL and no gradient.
"""

from __future__ import annotations

import os
import random
from pathlib import Path

from labcore.errors import DataError
from labcore.io import atomic_path, read_jsonl, write_json, write_jsonl
from searcher.agent.loop import AgentConfig, run_episodes
from searcher.agent.policy import Policy
from searcher.config import GRPOSettings
from searcher.data.corpus import read_questions
from searcher.eval.scoring import trajectory_reward


def group_ids(prompts: list, group_size: int) -> list[int]:
    """Group id of each rollout: its block of ``group_size`` identical prompts.

    Raises when a block mixes prompts (that would normalise advantages across questions).
    """
    if len(prompts) % group_size:
        raise ValueError(f"{len(prompts)} rollouts do not split into groups of {group_size}")
    ids = []
    for g in range(len(prompts) // group_size):
        block = prompts[g * group_size : (g + 1) * group_size]
        if any(p != block[0] for p in block):
            raise ValueError(f"group {g} mixes different prompts")
        ids += [g] * group_size
    return ids


def make_rollout_func(
    rows_by_question: dict[str, dict],
    env,
    agent: AgentConfig,
    settings: GRPOSettings,
    embedder=None,
    log=None,
):
    """The ``rollout_func`` for GRPOTrainer: multi-turn episodes with real log-probs and env_mask."""
    stats = {"calls": 0}

    def rollout(prompts: list, trainer) -> dict:
        model = trainer.accelerator.unwrap_model(trainer.model)
        policy = Policy(model, trainer.processing_class)
        questions = [p if isinstance(p, str) else p[-1]["content"] for p in prompts]
        rows = [rows_by_question[q] for q in questions]
        gids = group_ids(questions, trainer.num_generations)
        cfg = AgentConfig(**{**agent.__dict__, "temperature": settings.temperature})
        trajs = run_episodes(policy, env, questions, [r["ability"] for r in rows], cfg)
        rewards, parts = [], []
        for t, r in zip(trajs, rows, strict=True):
            value, detail = trajectory_reward(
                t,
                r,
                open_scale=settings.open_scale,
                faithful=settings.faithful_rewards,
                embedder=embedder,
            )
            rewards.append(value)
            parts.append(detail)
        stats["calls"] += 1
        if log is not None:
            log(
                f"rollouts {stats['calls']}: mean reward {sum(rewards) / len(rewards):.3f} "
                f"answered {sum(t.answer is not None for t in trajs)}/{len(trajs)}"
            )
        return {
            "prompt_ids": [t.prompt_ids for t in trajs],
            "completion_ids": [t.completion_ids for t in trajs],
            "logprobs": [t.logprobs for t in trajs],
            "env_mask": [t.env_mask for t in trajs],
            "searcher_reward": rewards,
            "group_id": gids,
        }

    return rollout


def searcher_reward(prompts, completions, searcher_reward, **kwargs) -> list[float]:
    """The reward TRL sees: computed in the rollout, where the whole trajectory is known."""
    return [float(r) for r in searcher_reward]


def rl_rows(path: str | os.PathLike, open_fraction: float, seed: int) -> list[dict]:
    """Training rows, with open-ended rows repeated (as the paper copies O²-QA) to reach
    ``open_fraction``."""
    rows = read_questions(path)
    closed = [r for r in rows if r["ability"] == "closed"]
    opened = [r for r in rows if r["ability"] == "open"]
    if not rows:
        raise DataError(f"{path}: no rows")
    if opened and closed and 0 < open_fraction < 1:
        want = int(open_fraction / (1 - open_fraction) * len(closed))
        copies = max(1, round(want / len(opened)))
        opened = opened * copies
    mixed = closed + opened
    random.Random(seed).shuffle(mixed)
    return mixed


def log_callback(on_log):
    """A TRL/transformers ``TrainerCallback`` handing every ``on_log`` to ``on_log(step, logs)``."""
    from transformers import TrainerCallback

    class _LogToRun(TrainerCallback):
        def on_log(self, args, state, control, logs=None, **kwargs):
            if logs:
                on_log(state.global_step, dict(logs))

    return _LogToRun()


def screen_curriculum(
    model,
    tokenizer,
    env,
    rows: list[dict],
    settings: GRPOSettings,
    agent: AgentConfig,
    path: str | os.PathLike,
    seed: int = 0,
    log=print,
    embedder=None,
) -> list[dict]:
    """The training questions GRPO can learn from, screened once with the SFT model.

    Each distinct question of (at most ``curriculum_pool`` of) ``rows`` is sampled
    ``curriculum_samples`` times at the GRPO temperature. A closed question is kept when
    its pass rate (exact match) is strictly between 0 and 1; an open question when its
    sampled rewards differ by more than ``curriculum_min_spread``: a group of all-equal
    rewards has zero advantage and teaches nothing. Every screened question, with its
    rewards, pass rate and verdict, is written to ``path`` (JSONL); a later call with that
    file present reads it instead of sampling again. Returns the kept rows (copies of a
    kept question stay copies).
    """
    path = Path(path)
    if path.is_file():
        records = read_jsonl(path)
        log(f"curriculum: read {path}")
    else:
        distinct = list({r["question"]: r for r in rows}.values())
        random.Random(seed).shuffle(distinct)
        if settings.curriculum_pool is not None:
            distinct = distinct[: settings.curriculum_pool]
        k = settings.curriculum_samples
        questions = [r["question"] for r in distinct for _ in range(k)]
        abilities = [r["ability"] for r in distinct for _ in range(k)]
        cfg = AgentConfig(**{**agent.__dict__, "temperature": settings.temperature})
        log(f"curriculum: sampling {k} episodes for each of {len(distinct)} training questions")
        trajs = run_episodes(Policy(model, tokenizer), env, questions, abilities, cfg)
        records = []
        for i, r in enumerate(distinct):
            rewards = [
                trajectory_reward(
                    t,
                    r,
                    open_scale=settings.open_scale,
                    faithful=settings.faithful_rewards,
                    embedder=embedder,
                )[0]
                for t in trajs[i * k : (i + 1) * k]
            ]
            if r["ability"] == "closed":
                passed = sum(x >= 1.0 for x in rewards) / k
                keep = 0.0 < passed < 1.0
            else:
                passed = None
                keep = max(rewards) - min(rewards) > settings.curriculum_min_spread
            records.append(
                {
                    "id": r.get("id"),
                    "question": r["question"],
                    "ability": r["ability"],
                    "rewards": rewards,
                    "pass_rate": passed,
                    "keep": keep,
                }
            )
        write_jsonl(path, records)
    kept = {rec["question"] for rec in records if rec["keep"]}
    by_ability = {
        a: sum(rec["keep"] for rec in records if rec["ability"] == a) for a in ("closed", "open")
    }
    log(
        f"curriculum: kept {len(kept)} of {len(records)} screened questions "
        f"({by_ability['closed']} closed, {by_ability['open']} open)"
    )
    if not kept:
        raise DataError(
            f"{path}: no screened training question has reward variance under the SFT model; "
            "raise grpo.curriculum_pool or grpo.curriculum_samples, or set grpo.curriculum false"
        )
    return [r for r in rows if r["question"] in kept]


def grpo_config(
    settings: GRPOSettings, output_dir: str | os.PathLike, *, cuda: bool, seed: int = 0, **extra
):
    """TRL's ``GRPOConfig`` for these settings: one rollout call of
    ``prompts_per_step * group_size`` trajectories per ``num_iterations`` optimiser steps,
    trained in micro-batches of ``micro_batch``."""
    from trl import GRPOConfig

    n = settings.prompts_per_step * settings.group_size
    micro = settings.micro_batch or n
    return GRPOConfig(
        output_dir=str(output_dir),
        per_device_train_batch_size=micro,
        gradient_accumulation_steps=n // micro,
        steps_per_generation=n // micro,
        num_generations=settings.group_size,
        max_steps=settings.steps,
        learning_rate=settings.lr,
        lr_scheduler_type="constant",
        warmup_steps=0,
        beta=settings.beta,
        epsilon=settings.epsilon,
        loss_type=settings.loss_type,
        scale_rewards=settings.scale_rewards,
        entropy_coef=settings.entropy_coef,
        num_iterations=settings.num_iterations,
        temperature=settings.temperature,
        max_grad_norm=1.0,
        logging_steps=1,
        save_steps=settings.save_steps,
        save_only_model=False,
        report_to="none",
        seed=seed,
        use_cpu=not cuda,
        bf16=cuda,
        disable_tqdm=True,
        activation_checkpointing=settings.gradient_checkpointing,
        **extra,
    )


def run_grpo(
    model,
    tokenizer,
    env,
    data: str | os.PathLike,
    out: str | os.PathLike,
    settings: GRPOSettings,
    agent: AgentConfig,
    seed: int = 0,
    log=print,
    trainer_kwargs: dict | None = None,
    on_log=None,
):
    """Train with GRPO and save the model to ``out/model``; resumes from TRL's last checkpoint.

    ``on_log(step, logs)`` receives TRL's logged metrics (reward, loss, kl, ...) every step.
    """
    from datasets import Dataset
    from trl import GRPOTrainer

    os.environ.setdefault("TRL_EXPERIMENTAL_SILENCE", "1")
    out = Path(out)
    rows = rl_rows(data, settings.open_fraction, seed)
    if settings.curriculum:
        rows = screen_curriculum(
            model, tokenizer, env, rows, settings, agent, out / "curriculum.jsonl", seed, log
        )
    by_question = {r["question"]: r for r in rows}
    # Unique prompts; copies of a question are the same prompt.
    dataset = Dataset.from_list([{"prompt": r["question"]} for r in rows])
    cuda = model.device.type == "cuda"
    args = grpo_config(settings, out / "trainer", cuda=cuda, seed=seed, **(trainer_kwargs or {}))
    trainer = GRPOTrainer(
        model=model,
        processing_class=tokenizer,
        reward_funcs=[searcher_reward],
        args=args,
        train_dataset=dataset,
        rollout_func=make_rollout_func(by_question, env, agent, settings, log=log),
        callbacks=[log_callback(on_log)] if on_log is not None else None,
    )
    resume = None
    ckpt_dir = out / "trainer"
    if ckpt_dir.is_dir() and any(p.name.startswith("checkpoint-") for p in ckpt_dir.iterdir()):
        resume = True
        log(f"resuming GRPO from the last checkpoint in {ckpt_dir}")
    trainer.train(resume_from_checkpoint=resume)
    final = out / "model"
    with atomic_path(final) as tmp:
        trainer.save_model(str(tmp))
        tokenizer.save_pretrained(str(tmp))
    write_json(out / "grpo_log.json", trainer.state.log_history)
    return final
