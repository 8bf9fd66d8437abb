"""Command line for knowledge_dynamics.

Skeleton from the foundation issue: the sub-commands arrive with issue #4.
"""

from __future__ import annotations

import argparse

from knowledge_dynamics import __version__
from labcore.errors import cli_errors


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="knowledge-dynamics",
        description="Inject fictional facts into LM pretraining and measure acquisition and forgetting.",
        epilog="Sub-commands land with issue #4.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    return parser


@cli_errors
def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``knowledge-dynamics`` console script."""
    parser = build_parser()
    parser.parse_args(argv)
    parser.print_help()
    return 0
