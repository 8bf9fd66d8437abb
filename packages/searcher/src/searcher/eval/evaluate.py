"""Evaluation: greedy episodes over a question file, per-question traces and a summary.

Closed questions: exact match and token F1 of the final answer. Open questions: the
findings precision / recall / F1 (MiniLM, Hungarian matching at cos ≥ 0.75) and the
open-ended reward; optionally an LLM judge through any OpenAI-compatible endpoint.

Optionally each question is also played ``samples`` times at a sampling temperature (the
policy GRPO optimises is the sampled one, not the greedy one): each trace then holds its
sampled rewards, and the summary their mean over questions with a 95% interval.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import numpy as np

from labcore.io import write_json, write_jsonl
from labcore.metrics import exact_match, f1_score
from searcher.agent.loop import AgentConfig, run_episodes
from searcher.agent.policy import Policy
from searcher.agent.rewards import finding_scores, split_findings
from searcher.eval.scoring import trajectory_reward

_JUDGE_PROMPT = (
    "Pair each input finding with at most one target finding that states the same fact. "
    "Each target may be used once. Reply with JSON only: a list of [input_index, target_index] "
    "pairs (0-based).\n\nInput findings:\n{inputs}\n\nTarget findings:\n{targets}"
)


def judge_scores(judge, generated: list[str], references: list[str]) -> dict:
    """LLM-judged findings P/R/F1 (unique matched inputs / targets), as the paper's ``lfs``."""
    if not generated:
        return {"judge_precision": 0.0, "judge_recall": 0.0, "judge_f1": 0.0}
    text = judge.chat(
        [
            [
                {
                    "role": "user",
                    "content": _JUDGE_PROMPT.format(
                        inputs="\n".join(f"{i}. {g}" for i, g in enumerate(generated)),
                        targets="\n".join(f"{i}. {r}" for i, r in enumerate(references)),
                    ),
                }
            ]
        ],
        max_new_tokens=512,
    )[0]
    try:
        pairs = json.loads(re.search(r"\[.*\]", text, re.DOTALL).group(0))
        pairs = [
            (int(a), int(b))
            for a, b in pairs
            if 0 <= int(a) < len(generated) and 0 <= int(b) < len(references)
        ]
    except (AttributeError, ValueError, TypeError):
        pairs = []
    p = len({a for a, _ in pairs}) / len(generated)
    r = len({b for _, b in pairs}) / len(references)
    return {
        "judge_precision": p,
        "judge_recall": r,
        "judge_f1": 2 * p * r / (p + r) if p + r else 0.0,
    }


def evaluate(
    model,
    tokenizer,
    env,
    rows: list[dict],
    agent: AgentConfig,
    out: str | os.PathLike | None = None,
    *,
    open_scale: float = 0.5,
    judge=None,
    embedder=None,
    samples: int = 0,
    sample_temperature: float = 0.7,
    seed: int = 0,
    log=print,
) -> dict:
    """Run greedy episodes on ``rows`` and score them; writes ``traces.jsonl`` and
    ``summary.json`` into ``out`` when given.

    With ``samples > 0`` every question is also played that many times at
    ``sample_temperature`` (seeded by ``seed``); its trace gains ``sampled_rewards``."""
    import torch

    cfg = AgentConfig(**{**agent.__dict__, "temperature": 0.0})
    policy = Policy(model, tokenizer)
    trajs = run_episodes(
        policy, env, [r["question"] for r in rows], [r["ability"] for r in rows], cfg
    )
    sampled: list[list[float]] = [[] for _ in rows]
    if samples > 0:
        torch.manual_seed(seed)
        hot = AgentConfig(**{**agent.__dict__, "temperature": sample_temperature})
        repeated = [r for r in rows for _ in range(samples)]
        plays = run_episodes(
            policy, env, [r["question"] for r in repeated], [r["ability"] for r in repeated], hot
        )
        for i, (t, r) in enumerate(zip(plays, repeated, strict=True)):
            reward, _ = trajectory_reward(t, r, open_scale=open_scale, embedder=embedder)
            sampled[i // samples].append(reward)
    traces = []
    for t, r in zip(trajs, rows, strict=True):
        reward, parts = trajectory_reward(t, r, open_scale=open_scale, embedder=embedder)
        rec = {"id": r.get("id"), **t.trace(), "reward": reward, **parts}
        if samples > 0:
            rec["sampled_rewards"] = sampled[len(traces)]
        if r["ability"] == "closed":
            ans = t.answer or ""
            rec.update(
                golden_answers=r["golden_answers"],
                em=exact_match(ans, r["golden_answers"]) if t.answer else 0.0,
                f1=f1_score(ans, r["golden_answers"]) if t.answer else 0.0,
            )
        else:
            gen = split_findings(t.answer) if t.answer else []
            fs = finding_scores(gen, r["findings"], embedder=embedder)
            rec.update(
                findings_precision=fs.precision,
                findings_recall=fs.recall,
                findings_f1=fs.f1,
                num_findings=len(gen),
            )
            if judge is not None:
                rec.update(judge_scores(judge, gen, r["findings"]))
        traces.append(rec)
    summary = summarize(traces)
    if out is not None:
        out = Path(out)
        out.mkdir(parents=True, exist_ok=True)
        write_jsonl(out / "traces.jsonl", traces)
        write_json(out / "summary.json", summary)
    log(json.dumps(summary))
    return summary


def summarize(traces: list[dict]) -> dict:
    """Means over closed and open questions; with sampled episodes, their mean reward and
    its 95% interval over questions (each question's samples averaged first)."""
    from labcore.report import ci95

    closed = [t for t in traces if t["ability"] == "closed"]
    opened = [t for t in traces if t["ability"] == "open"]
    mean = lambda xs: float(np.mean(xs)) if xs else None
    s = {
        "n": len(traces),
        "n_closed": len(closed),
        "n_open": len(opened),
        "mean_reward": mean([t["reward"] for t in traces]),
        "answered": mean([t["answer"] is not None for t in traces]),
        "mean_searches": mean([t["num_searches"] for t in traces]),
    }
    if closed:
        s.update(
            closed_em=mean([t["em"] for t in closed]),
            closed_f1=mean([t["f1"] for t in closed]),
            closed_reward=mean([t["reward"] for t in closed]),
        )
    if opened:
        s.update(
            open_findings_precision=mean([t["findings_precision"] for t in opened]),
            open_findings_recall=mean([t["findings_recall"] for t in opened]),
            open_findings_f1=mean([t["findings_f1"] for t in opened]),
            open_reward=mean([t["reward"] for t in opened]),
        )
        if "judge_f1" in opened[0]:
            s["open_judge_f1"] = mean([t["judge_f1"] for t in opened])
    if traces and traces[0].get("sampled_rewards"):
        per_question = [float(np.mean(t["sampled_rewards"])) for t in traces]
        lo, hi = ci95(per_question)
        s.update(
            samples=len(traces[0]["sampled_rewards"]),
            sampled_reward=mean(per_question),
            sampled_reward_ci95=[lo, hi],
        )
        for name, group in (("closed", closed), ("open", opened)):
            if group:
                s[f"{name}_sampled_reward"] = mean(
                    [float(np.mean(t["sampled_rewards"])) for t in group]
                )
    return s


def log_traces(run) -> None:
    """One ``metrics.csv`` row per evaluated question and a bar plot of the summary."""
    from labcore.io import read_json, read_jsonl
    from labcore.plots import plot_bars

    for i, t in enumerate(read_jsonl(run.path / "traces.jsonl"), 1):
        row = {
            "ability": t["ability"],
            "reward": t["reward"],
            "answered": int(t["answer"] is not None),
            "searches": t["num_searches"],
        }
        if "em" in t:
            row.update(em=t["em"], f1=t["f1"])
        if "findings_f1" in t:
            row.update(findings_f1=t["findings_f1"])
        run.log(i, **row)
    summary = read_json(run.path / "summary.json")
    bars = {k: summary[k] for k in SUMMARY_BARS if summary.get(k) is not None}
    if bars:
        plot_bars(run.plots / "eval.png", bars, title="evaluation")


#: Summary keys shown in evaluation bar plots.
SUMMARY_BARS = ("closed_em", "closed_f1", "open_findings_f1", "open_reward", "mean_reward")
