"""Rollouts, SFT and GRPO: real log-probs, batching, masking, group ids, smoke steps."""

from __future__ import annotations

import pytest
import torch

from labcore.errors import DataError
from labcore.io import read_jsonl
from searcher.agent.loop import AgentConfig, run_episodes
from searcher.agent.policy import Policy
from searcher.config import GRPOSettings, SFTConfig
from searcher.train.grpo import group_ids, grpo_config, run_grpo, screen_curriculum
from searcher.train.sft import run_sft, tokenize_conversation


def test_rollout_logprobs_are_real_and_batched(tiny_model, tokenizer, env):
    policy = Policy(tiny_model, tokenizer)
    calls = []
    original = policy.generate

    def spy(contexts, **kw):
        calls.append(len(contexts))
        return original(contexts, **kw)

    policy.generate = spy
    qs = ["Who founded it?", "Where is the city?", "Tell me about the institute"]
    trajs = run_episodes(
        policy,
        env,
        qs,
        ["closed", "closed", "open"],
        AgentConfig(max_turns=2, max_new_tokens=6, temperature=1.0),
    )
    # A random model never writes tags: every turn is invalid, so all three stay live for
    # 3 turns and each turn is one generate call over all of them.
    assert calls == [3, 3, 3]
    for t in trajs:
        assert len(t.completion_ids) == len(t.env_mask) == len(t.logprobs)
        ids = torch.tensor([t.prompt_ids + t.completion_ids])
        with torch.no_grad():
            logp = torch.log_softmax(tiny_model(ids).logits[0, :-1].float(), -1)
        p = len(t.prompt_ids)
        for j, (tok, m, lp) in enumerate(
            zip(t.completion_ids, t.env_mask, t.logprobs, strict=True)
        ):
            if m:
                assert lp == pytest.approx(logp[p + j - 1, tok].item(), abs=2e-3)
            else:
                assert lp == 0.0


def test_turns_reusing_cached_keys_and_values_equal_full_recomputation(tiny_model, tokenizer, env):
    """Greedy multi-turn rollouts with the per-trajectory KV cache give the same tokens and
    log-probs as processing each turn's whole context again, with rows of unequal lengths
    (one question is much longer) and rows that leave the batch early."""
    tiny_model.lm_head.weight.data.mul_(20)  # peaked logits: greedy ties cannot flip
    policy = Policy(tiny_model, tokenizer)
    qs = ["Who founded it?", "Where is the city of the long and winding northern river?", "Hi"]
    abilities = ["closed", "closed", "open"]
    runs = {}
    for reuse in (False, True):
        cfg = AgentConfig(max_turns=3, max_new_tokens=5, temperature=0.0, reuse_kv=reuse)
        runs[reuse] = run_episodes(policy, env, qs, abilities, cfg)
    for a, b in zip(runs[False], runs[True], strict=True):
        assert a.completion_ids == b.completion_ids and a.env_mask == b.env_mask
        assert a.logprobs == pytest.approx(b.logprobs, abs=1e-4)
    # A cache entry is only used for a context that extends it.
    from searcher.agent.kv_cache import PrefixCache

    cache = PrefixCache()
    ctx = policy.prompt_ids("Who founded it?")
    first = policy.generate([ctx], max_new_tokens=3, temperature=0.0, cache=cache, keys=[0])[0]
    assert cache.usable(0, ctx + first.ids + [5, 6]) == len(ctx) + len(first.ids) - 1
    assert cache.usable(0, [7, *ctx]) == 0 and len(cache) == 0  # a different context drops it


def test_sft_labels_and_step(tiny_model, tokenizer, bench, tmp_path):
    rows = read_jsonl(bench / "coldstart.jsonl")
    policy = Policy(tiny_model, tokenizer)
    _ids, labels = tokenize_conversation(policy, rows[0]["messages"], 4096)
    trained = tokenizer.decode([x for x in labels if x != -100])
    assert "<learnings>" not in trained and "<search>" in trained and "<answer>" in trained
    before = [p.detach().clone() for p in tiny_model.parameters()]
    out = run_sft(
        tiny_model,
        tokenizer,
        bench / "coldstart.jsonl",
        tmp_path / "sft",
        SFTConfig(max_examples=2, batch_size=2, lr=1e-3, warmup_steps=1),
        log=lambda m: None,
    )
    assert (out / "config.json").is_file()
    assert any(not torch.equal(a, b) for a, b in zip(before, tiny_model.parameters(), strict=True))


def test_group_ids():
    assert group_ids(["a", "a", "b", "b"], 2) == [0, 0, 1, 1]
    assert group_ids(["a", "a", "a", "a"], 2) == [0, 0, 1, 1]  # copies of a question: own groups
    with pytest.raises(ValueError, match="mixes"):
        group_ids(["a", "b", "b", "a"], 2)
    with pytest.raises(ValueError):
        group_ids(["a", "a", "b"], 2)


def _tiny_trainer(model, tokenizer, tmp_path, rollout_func, steps=1):
    from datasets import Dataset
    from trl import GRPOConfig, GRPOTrainer

    args = GRPOConfig(
        output_dir=str(tmp_path / "t"),
        per_device_train_batch_size=4,
        num_generations=2,
        max_steps=steps,
        learning_rate=1e-3,
        beta=0.1,
        loss_type="grpo",
        report_to="none",
        use_cpu=True,
        logging_steps=1,
        save_strategy="no",
        disable_tqdm=True,
        gradient_checkpointing=False,
    )
    data = Dataset.from_list([{"prompt": "first question"}, {"prompt": "second question"}])
    return GRPOTrainer(
        model=model,
        processing_class=tokenizer,
        reward_funcs=[lambda prompts, completions, r, **kw: r],
        args=args,
        train_dataset=data,
        rollout_func=rollout_func,
    )


def test_observation_tokens_get_zero_gradient_and_groups_are_per_prompt(
    tiny_model, tokenizer, tmp_path
):
    seen_prompts = []

    def scripted(prompts, trainer):
        seen_prompts.append(list(prompts))
        out = {"prompt_ids": [], "completion_ids": [], "logprobs": [], "env_mask": [], "r": []}
        for i, p in enumerate(prompts):
            model_a, obs, model_b = [100 + i, 101, 102], [7, 8, 9, 10], [103, 104]
            out["prompt_ids"].append(tokenizer(p)["input_ids"])
            out["completion_ids"].append(model_a + obs + model_b)
            out["env_mask"].append([1] * 3 + [0] * 4 + [1] * 2)
            out["logprobs"].append([-1.0] * 9)
            out["r"].append(float(i % 2))  # both groups have reward variance
        return out

    trainer = _tiny_trainer(tiny_model, tokenizer, tmp_path, scripted)
    captured = {}
    original_logps = trainer._get_per_token_logps_and_entropies
    original_loss = trainer.compute_loss

    def logps_hook(*args, **kwargs):
        logps, entropies, *rest = original_logps(*args, **kwargs)
        if logps.requires_grad:
            logps.retain_grad()
            captured["logps"] = logps
        return (logps, entropies, *rest)

    def loss_hook(model, inputs, *args, **kwargs):
        captured["inputs"] = inputs
        return original_loss(model, inputs, *args, **kwargs)

    trainer._get_per_token_logps_and_entropies = logps_hook
    trainer.compute_loss = loss_hook
    trainer.train()

    grad = captured["logps"].grad
    mask = captured["inputs"]["tool_mask"]
    completion_mask = captured["inputs"]["completion_mask"]
    assert grad is not None and grad.shape == mask.shape
    obs = (mask == 0) & (completion_mask == 1)
    assert obs.sum() == 4 * 4
    assert torch.all(grad[obs] == 0)  # observation tokens: no loss, no KL, no gradient
    assert torch.all(grad[(mask == 1) & (completion_mask == 1)] != 0)
    # TRL's sampler repeats each prompt num_generations times in a row: groups never mix prompts.
    prompts = seen_prompts[0]
    assert group_ids(prompts, 2) == [0, 0, 1, 1]
    assert prompts[0] != prompts[2]


def test_grpo_smoke_step_with_real_rollouts(tiny_model, tokenizer, env, bench, tmp_path):
    logs = []
    # The curriculum screen with real episodes: a random model never scores, so nothing is
    # kept, and GRPO refuses to start rather than train on zero advantages.
    screen = GRPOSettings(curriculum_pool=2, curriculum_samples=2, group_size=2)
    with pytest.raises(DataError, match="no screened training question"):
        run_grpo(
            tiny_model,
            tokenizer,
            env,
            bench / "rl_train.jsonl",
            tmp_path / "screened",
            screen,
            AgentConfig(max_turns=1, max_new_tokens=4),
            log=logs.append,
        )
    screened = read_jsonl(tmp_path / "screened" / "curriculum.jsonl")
    assert len(screened) == 2 and all(r["rewards"] == [0.0, 0.0] for r in screened)
    assert not (tmp_path / "screened" / "model").exists()
    out = run_grpo(
        tiny_model,
        tokenizer,
        env,
        bench / "rl_train.jsonl",
        tmp_path / "grpo",
        GRPOSettings(
            steps=1, prompts_per_step=2, group_size=2, save_steps=100, lr=1e-4, curriculum=False
        ),
        AgentConfig(max_turns=1, max_new_tokens=6),
        log=logs.append,
    )
    assert (out / "config.json").is_file()
    # One rollout call for all 4 trajectories, trained in 2 micro-batches.
    assert [m.split(":")[0] for m in logs if m.startswith("rollouts")] == ["rollouts 1"]
    history = read_jsonl  # noqa: F841 - the trainer log is JSON, checked below
    import json

    log = json.loads((tmp_path / "grpo" / "grpo_log.json").read_text())
    assert any("loss" in row for row in log)


def test_grpo_raises_the_probability_of_the_rewarded_output(tiny_model, tokenizer, tmp_path):
    """A tiny task whose reward the random model already reaches half the time: the reward is
    the share of sampled tokens with an even id. A few GRPO steps with the default recipe
    (no KL, batch-scaled rewards, two optimiser steps per rollout batch) through TRL and
    our sampler must raise the model's probability of an even token."""
    from datasets import Dataset
    from trl import GRPOTrainer

    # A sharper output layer concentrates the random model on a few tokens per position,
    # as a trained model is: its sampled groups then carry a consistent signal (with a flat
    # 49k-token distribution every sample is a different token and nothing is learnt).
    with torch.no_grad():
        tiny_model.lm_head.weight.mul_(40)
    prompts = ["first question", "second question"]
    contexts = {p: tokenizer(p)["input_ids"] for p in prompts}
    vocab = len(tokenizer)
    even = torch.arange(vocab) % 2 == 0

    def p_even() -> float:
        with torch.no_grad():
            probs = [
                torch.softmax(tiny_model(torch.tensor([c])).logits[0, -1].float(), -1)
                for c in contexts.values()
            ]
        return float(torch.stack([q[even].sum() for q in probs]).mean())

    rewards_seen: list[float] = []

    def rollout(batch, trainer):
        policy = Policy(trainer.accelerator.unwrap_model(trainer.model), tokenizer)
        gens = policy.generate(
            [contexts[p] for p in batch], max_new_tokens=4, temperature=1.0, stop=("\x00",)
        )
        rewards = [sum(t % 2 == 0 for t in g.ids) / max(1, len(g.ids)) for g in gens]
        rewards_seen.extend(rewards)
        return {
            "prompt_ids": [contexts[p] for p in batch],
            "completion_ids": [g.ids for g in gens],
            "logprobs": [g.logprobs for g in gens],
            "r": rewards,
        }

    settings = GRPOSettings(
        steps=6, prompts_per_step=2, group_size=8, lr=3e-3, temperature=1.0, curriculum=False
    )
    assert (settings.beta, settings.scale_rewards, settings.num_iterations) == (0.0, "batch", 2)
    logs: list[dict] = []
    trainer = GRPOTrainer(
        model=tiny_model,
        processing_class=tokenizer,
        reward_funcs=[lambda prompts, completions, r, **kw: r],
        args=grpo_config(settings, tmp_path / "t", cuda=False, save_strategy="no"),
        train_dataset=Dataset.from_list([{"prompt": p} for p in prompts] * 8),
        rollout_func=rollout,
        callbacks=[_collect(logs)],
    )
    before = p_even()
    trainer.train()
    after = p_even()
    steps = [row for row in logs if "grad_norm" in row]
    assert len(steps) == 6 and steps[0]["grad_norm"] > 0
    assert len(rewards_seen) == 3 * 16  # 3 rollout batches, each used for 2 steps
    first, last = rewards_seen[:16], rewards_seen[-16:]
    assert sum(last) / 16 > sum(first) / 16 + 0.1, (first, last)
    assert after > before + 0.1, (before, after)


def _collect(logs):
    from searcher.train.grpo import log_callback

    return log_callback(lambda step, row: logs.append(row))


def test_curriculum_keeps_questions_with_reward_variance(monkeypatch, tmp_path):
    """Control flow only: scripted episodes and rewards stand in for the SFT model."""
    import searcher.train.grpo as grpo

    scripted = {"always": [1.0] * 4, "never": [0.0] * 4, "sometimes": [1.0, 0.0, 0.0, 1.0]}
    scripted |= {"open flat": [0.1, 0.1, 0.1, 0.1], "open varied": [0.05, 0.2, 0.1, 0.1]}
    rows = [
        {"question": q, "ability": "open" if q.startswith("open") else "closed"} for q in scripted
    ]
    rows.append(dict(rows[-1]))  # a copy of an open question stays a copy
    calls = []

    class Episode:
        def __init__(self, q):
            self.question = q

    def fake_episodes(policy, env, questions, abilities, cfg):
        calls.append((len(questions), cfg.temperature))
        return [Episode(q) for q in questions]

    counters: dict[str, int] = {}

    def fake_reward(traj, row, **kw):
        i = counters.get(traj.question, 0)
        counters[traj.question] = i + 1
        return scripted[traj.question][i % 4], {}

    monkeypatch.setattr(grpo, "run_episodes", fake_episodes)
    monkeypatch.setattr(grpo, "trajectory_reward", fake_reward)
    monkeypatch.setattr(grpo, "Policy", lambda model, tok: None)
    settings = GRPOSettings(curriculum_samples=4, curriculum_pool=None, temperature=0.7)
    path = tmp_path / "curriculum.jsonl"
    kept = screen_curriculum(None, None, None, rows, settings, AgentConfig(), path, log=print)
    assert [r["question"] for r in kept] == ["sometimes", "open varied", "open varied"]
    assert calls == [(5 * 4, 0.7)]  # each distinct question sampled 4 times, at GRPO's temperature
    saved = {r["question"]: r for r in read_jsonl(path)}
    assert saved["sometimes"]["pass_rate"] == 0.5 and not saved["always"]["keep"]
    # Pre-computed: a second call reads the file and samples nothing.
    assert screen_curriculum(None, None, None, rows, settings, AgentConfig(), path) == kept
    assert len(calls) == 1
    flat = [r for r in rows if r["question"] in ("always", "never")]
    with pytest.raises(Exception, match="no screened training question"):
        screen_curriculum(None, None, None, flat, settings, AgentConfig(), tmp_path / "c2.jsonl")


def test_cpu_preset_recomputes_activations_one_trajectory_at_a_time(tmp_path):
    """The cpu preset's GRPO step keeps under 8 GB by training one trajectory per
    forward/backward with activation recomputation; both can be turned off."""
    from labcore.config import replace_dotted
    from searcher.config import TRAIN_PRESETS, TrainConfig

    cfg = TrainConfig()
    for key, value in TRAIN_PRESETS["cpu"].items():
        cfg = replace_dotted(cfg, key, value)
    args = grpo_config(cfg.grpo, tmp_path / "a", cuda=False)
    assert args.activation_checkpointing and args.per_device_train_batch_size == 1
    assert args.gradient_accumulation_steps == cfg.grpo.prompts_per_step * cfg.grpo.group_size
    off = replace_dotted(cfg.grpo, "gradient_checkpointing", False)
    assert not grpo_config(off, tmp_path / "b", cuda=False).activation_checkpointing
