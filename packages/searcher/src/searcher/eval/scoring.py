"""One scalar reward per trajectory, routed by the question's ability."""

from __future__ import annotations

from searcher.agent.loop import Trajectory
from searcher.agent.protocol import SYSTEM_PROMPT
from searcher.agent.rewards import closed_ended_reward, open_ended_reward


def trajectory_reward(
    traj: Trajectory, row: dict, *, open_scale: float = 0.5, faithful: bool = False, embedder=None
) -> tuple[float, dict]:
    """``(reward, parts)``: exact match for closed rows, the open-ended reward for open rows.

    Only the assistant turns are read; with ``faithful`` the system prompt is prepended,
    as the official code decodes prompt + response.
    """
    prompt = SYSTEM_PROMPT if faithful else ""
    if row["ability"] == "closed":
        r = closed_ended_reward(
            traj.response_text, row["golden_answers"], prompt=prompt, faithful=faithful
        )
        return r, {"em": r}
    res = open_ended_reward(
        traj.response_text,
        row["findings"],
        traj.queries,
        prompt=prompt,
        faithful=faithful,
        scale=open_scale,
        embedder=embedder,
    )
    return res.total, res.as_dict()
