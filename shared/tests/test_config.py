from dataclasses import dataclass, field

import pytest

from labcore.config import replace_dotted
from labcore.errors import DataError


@dataclass(frozen=True)
class Inner:
    width: int = 8
    lr: float = 1e-3
    name: str = "a"
    flag: bool = False


@dataclass(frozen=True)
class Outer:
    inner: Inner = field(default_factory=Inner)
    sizes: tuple = (1, 2)


def test_replace_dotted_sets_nested_fields_with_their_types():
    cfg = replace_dotted(Outer(), "inner.width", 16.0)
    assert cfg.inner.width == 16 and isinstance(cfg.inner.width, int)
    assert replace_dotted(cfg, "sizes", [3, 4]).sizes == (3, 4)
    assert Outer().inner.width == 8  # the original is untouched


@pytest.mark.parametrize(
    ("dotted", "value", "message"),
    [
        ("inner.depth", 1, "unknown option 'inner.depth'"),
        ("inner.width", 1.5, "inner.width expects an integer"),
        ("inner.lr", "x", "inner.lr expects a number"),
        ("inner.flag", 1, "inner.flag expects True or False"),
        ("inner", 3, "inner is a group of options"),
    ],
)
def test_replace_dotted_refuses_bad_options(dotted, value, message):
    with pytest.raises(DataError, match=message):
        replace_dotted(Outer(), dotted, value)
