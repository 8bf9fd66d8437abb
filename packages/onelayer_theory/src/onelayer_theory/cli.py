"""Command line for onelayer_theory.

Skeleton from the foundation issue: the sub-commands arrive with issue #3.
"""

from __future__ import annotations

import argparse

from labcore.errors import cli_errors
from onelayer_theory import __version__


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="onelayer",
        description="A testbed for how one-layer transformers store facts (MLP) and extract them (attention), and when extraction fails.",
        epilog="Sub-commands land with issue #3.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    return parser


@cli_errors
def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``onelayer`` console script."""
    parser = build_parser()
    parser.parse_args(argv)
    parser.print_help()
    return 0
