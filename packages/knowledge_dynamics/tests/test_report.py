"""The verdict table: a finding that needs several seeds is not called true on one."""

from knowledge_dynamics.report import verdicts

SCENARIOS = ("paraphrase", "duplicate", "once")
TYPES = ("memorization", "semantic", "composition")


def _summary(n: int, mean: float, std: float) -> dict:
    values = [mean] if n == 1 else [mean - std, mean, mean + std][:n]
    cell = {"mean": mean, "std": std, "n": n, "values": values}
    per = {sc: {pt: dict(cell) for pt in TYPES} for sc in SCENARIOS}
    keys = ("excess_over_control", "effectivity", "r2", "decay_constant",
            "effectivity_item_specific")  # fmt: skip
    cond = {k: per for k in keys} | {"step_noise": {pt: dict(cell) for pt in TYPES}}
    return {"mid": cond}


def _jump_row(table: str) -> str:
    return next(line for line in table.splitlines() if "jump above the control" in line)


def test_the_jump_over_seeds_is_not_checked_on_one_seed():
    assert _jump_row(verdicts(_summary(1, 0.2, 0.0))).endswith("| n/a |")


def test_the_jump_over_seeds_holds_or_fails_on_its_std():
    assert _jump_row(verdicts(_summary(3, 0.2, 0.05))).endswith("| yes |")
    assert _jump_row(verdicts(_summary(3, 0.2, 0.3))).endswith("| no |")
