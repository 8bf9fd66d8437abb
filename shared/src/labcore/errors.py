"""User-facing errors: ``DataError`` (``labcore.cli`` prints it on one line and exits with 2)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

F = TypeVar("F", bound=Callable[..., object])

#: Exit code for bad user input (files, options, data).
EXIT_BAD_INPUT = 2


class DataError(Exception):
    """Bad user input: a malformed file, a missing path, an invalid option.

    The message must name what is wrong and where (file, line, option); ``labcore.cli``
    prints it on one line and exits with code 2, without a traceback.
    """
