"""The O² agent loop, batched: every live trajectory advances in one generation call per turn.

Up to ``max_turns`` search rounds plus one final turn. A turn ends at the first closing
search or answer tag. A search sends its queries to the environment (all trajectories'
searches of a turn in one batched call) and the results come back as a new user turn in
``<learnings>`` tags; a turn with neither tag gets a corrective user turn. The final
turn may only answer. Observation tokens are recorded with ``env_mask = 0``. With
``reuse_kv`` each turn processes only the tokens added since the last one
(:mod:`searcher.agent.kv_cache`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from searcher.agent.kv_cache import PrefixCache
from searcher.agent.policy import Policy
from searcher.agent.protocol import parse_action, render_invalid, render_observation
from searcher.config import AgentConfig

__all__ = ["AgentConfig", "Trajectory", "run_episodes"]


@dataclass
class Trajectory:
    """One episode, token by token and turn by turn."""

    question: str
    ability: str
    prompt_ids: list[int]
    completion_ids: list[int] = field(default_factory=list)
    env_mask: list[int] = field(default_factory=list)
    logprobs: list[float] = field(default_factory=list)
    turns: list[dict] = field(default_factory=list)
    answer: str | None = None
    done: bool = False

    @property
    def responses(self) -> list[str]:
        """The assistant turns' texts."""
        return [t["response"] for t in self.turns]

    @property
    def response_text(self) -> str:
        """All assistant turns joined: what the rewards read (never the observations)."""
        return "\n".join(self.responses)

    @property
    def queries(self) -> list[str]:
        return [q for t in self.turns for q in t.get("queries", [])]

    def add(self, ids: list[int], logprobs: list[float] | None, model_tokens: bool) -> None:
        self.completion_ids += ids
        self.env_mask += [1 if model_tokens else 0] * len(ids)
        self.logprobs += logprobs if logprobs is not None else [0.0] * len(ids)

    def trace(self) -> dict:
        """A JSON-ready record: turns, queries, learnings, answer."""
        return {
            "question": self.question,
            "ability": self.ability,
            "turns": self.turns,
            "queries": self.queries,
            "answer": self.answer,
            "num_searches": sum(1 for t in self.turns if t["action"] == "search"),
        }


def run_episodes(
    policy: Policy, env, questions: list[str], abilities: list[str], cfg: AgentConfig
) -> list[Trajectory]:
    """Roll out one trajectory per question, all in lock-step."""
    trajs = [
        Trajectory(q, a, policy.prompt_ids(q)) for q, a in zip(questions, abilities, strict=True)
    ]
    eos = policy.tokenizer.eos_token_id
    cache = PrefixCache() if cfg.reuse_kv else None
    for turn in range(cfg.max_turns + 1):
        live = [i for i, t in enumerate(trajs) if not t.done]
        if not live:
            break
        outs = policy.generate(
            [trajs[i].prompt_ids + trajs[i].completion_ids for i in live],
            max_new_tokens=cfg.max_new_tokens,
            temperature=cfg.temperature,
            top_p=cfg.top_p,
            batch_size=cfg.batch_size,
            cache=cache,
            keys=live,
        )
        live = [trajs[i] for i in live]
        last = turn + 1 == cfg.max_turns and cfg.last_turn_note
        searching: list[tuple[Trajectory, list[str]]] = []
        for t, g in zip(live, outs, strict=True):
            t.add(g.ids, g.logprobs, True)
            action = parse_action(g.text, max_queries=cfg.max_queries)
            record = {"response": g.text, "action": action.kind}
            t.turns.append(record)
            if action.kind == "answer":
                t.answer, t.done = action.answer, True
            elif turn == cfg.max_turns:
                t.done = True  # the final turn may only answer
            elif action.kind == "search":
                record["queries"] = action.queries
                searching.append((t, action.queries))
            else:
                t.add(policy.observation_ids(render_invalid(last_turn=last)), None, False)
        if cache is not None:
            for i, t in enumerate(trajs):
                if t.done:
                    cache.drop(i)
        if searching:
            results = env.observe([q for _, q in searching], [t.ability for t, _ in searching])
            for (t, _), text in zip(searching, results, strict=True):
                t.turns[-1]["learnings"] = text
                obs = render_observation(text, last_turn=last)
                t.add(policy.observation_ids(obs, cfg.max_obs_tokens), None, False)
    for t in trajs:
        if eos is not None:
            t.add([eos], None, False)  # closes the last turn; not sampled, so not trained
    return trajs
