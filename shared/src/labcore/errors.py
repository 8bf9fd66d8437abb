"""User-facing errors and the CLI wrapper that turns them into one-line messages."""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from typing import TypeVar

F = TypeVar("F", bound=Callable[..., object])

#: Exit code for bad user input (files, options, data).
EXIT_BAD_INPUT = 2


class DataError(Exception):
    """Bad user input: a malformed file, a missing path, an invalid option.

    The message must name what is wrong and where (file, line, option); CLIs
    print it on one line and exit with code 2, without a traceback.
    """


def cli_errors(main: F) -> F:
    """Decorate a CLI entry point: a :class:`DataError` becomes ``error: ...`` and exit 2."""

    @functools.wraps(main)
    def wrapper(*args, **kwargs):
        try:
            return main(*args, **kwargs)
        except DataError as exc:
            message = " ".join(str(exc).split())
            print(f"error: {message}", file=sys.stderr)
            raise SystemExit(EXIT_BAD_INPUT) from None

    return wrapper  # type: ignore[return-value]
