"""Command line for searcher.

Skeleton from the foundation issue: the sub-commands arrive with issue #6.
"""

from __future__ import annotations

import argparse

from labcore.errors import cli_errors
from searcher import __version__


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="searcher",
        description="O²-Searcher: an RL-trained search agent for open- and closed-ended questions over a local search environment.",
        epilog="Sub-commands land with issue #6.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    return parser


@cli_errors
def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``searcher`` console script."""
    parser = build_parser()
    parser.parse_args(argv)
    parser.print_help()
    return 0
