"""Open-ended reward of copying the observations (as bullets, or raw) against answering with
the reference findings, for every open question of the default benchmark, with extractive
and paraphrased learnings. Run: uv run --package searcher python packages/searcher/benchmarks/copy_reward.py"""

from searcher.agent.rewards import open_ended_reward
from searcher.synth.build import world_environment
from searcher.synth.questions import open_questions
from searcher.synth.world import make_world

world = make_world(0, 4, 12, 20, 60, 16)
qs = open_questions(world)
for kind in ("extractive", "paraphrased"):
    _, _, env = world_environment(world, 0, learnings=kind)
    rows = []
    for q in qs:
        obs = env.observe([q["aspects"]], ["open"])[0]
        lines = [ln for ln in obs.splitlines() if ln.strip()]
        copy_raw = open_ended_reward(f"<answer>{obs}</answer>", q["findings"], q["aspects"]).total
        copy_bul = open_ended_reward(
            "<answer>" + "\n".join(f"- {ln}" for ln in lines) + "</answer>",
            q["findings"],
            q["aspects"],
        )
        ref = open_ended_reward(
            "<answer>" + "\n".join(f"- {f}" for f in q["findings"]) + "</answer>",
            q["findings"],
            q["aspects"],
        )
        rows.append((copy_raw, copy_bul.total, copy_bul.factual, ref.total, ref.factual))
    import statistics as st

    means = [st.mean(c) for c in zip(*rows, strict=True)]
    print(
        f"{kind}: copy raw {means[0]:.3f}, copy as bullets {means[1]:.3f} (F1 {means[2]:.3f}), "
        f"reference findings {means[3]:.3f} (F1 {means[4]:.3f})"
    )
