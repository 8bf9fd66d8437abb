"""LR schedules, choice checks and report statistics."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Literal

import pytest
import torch

from labcore.config import check_choices
from labcore.errors import DataError
from labcore.report import ci95, format_mean_std, markdown_table, mean_std
from labcore.schedules import lr_factor, lr_scheduler


def test_warmup_then_cosine_linear_constant_step():
    kw = {"total_steps": 110, "warmup_steps": 10}
    assert lr_factor(0, **kw) == pytest.approx(0.1)
    assert lr_factor(9, **kw) == pytest.approx(1.0)
    assert lr_factor(10, **kw) == pytest.approx(1.0)
    assert lr_factor(60, **kw) == pytest.approx(0.5)
    assert lr_factor(110, **kw, min_ratio=0.1) == pytest.approx(0.1)
    assert lr_factor(60, **kw, schedule="linear") == pytest.approx(0.5)
    assert lr_factor(100, **kw, schedule="constant") == 1.0
    assert lr_factor(70, **kw, schedule="step") == pytest.approx(0.1)
    assert lr_factor(90, **kw, schedule="step") == pytest.approx(0.01)
    with pytest.raises(DataError, match="schedule"):
        lr_factor(0, total_steps=1, schedule="cosin")


def test_lr_scheduler_drives_an_optimizer():
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
    sched = lr_scheduler(opt, total_steps=4, warmup_steps=2, schedule="linear")
    seen = []
    for _ in range(4):
        seen.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    assert seen == pytest.approx([0.5, 1.0, 1.0, 0.5])


@dataclass(frozen=True)
class Inner:
    kind: Literal["a", "b"] = "a"


@dataclass(frozen=True)
class Outer:
    inner: Inner = field(default_factory=Inner)
    mode: Literal["x", "y"] = "x"


def test_check_choices_names_the_option_and_the_closest():
    check_choices(Outer())
    with pytest.raises(DataError, match=r"cfg\.inner\.kind must be one of a, b"):
        check_choices(Outer(inner=Inner(kind="c")), "cfg")
    with pytest.raises(DataError, match="did you mean 'y'"):
        check_choices(Outer(mode="yy"))


def test_statistics_and_tables():
    assert mean_std([1.0, 3.0]) == (2.0, pytest.approx(math.sqrt(2)))
    lo, hi = ci95([1.0, 2.0, 3.0])
    assert lo == pytest.approx(2 - 4.303 / math.sqrt(3)) and hi == pytest.approx(
        2 + 4.303 / math.sqrt(3)
    )
    assert format_mean_std([0.5]) == "0.500"
    assert format_mean_std([1.0, 3.0], digits=1) == "2.0 ± 1.4"
    table = markdown_table([{"a": 1, "b": 0.5}, {"a": 2}], ["a", "b"])
    assert table.splitlines() == ["| a | b |", "|---|---|", "| 1 | 0.500 |", "| 2 |  |"]
