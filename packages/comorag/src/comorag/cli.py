"""Command line for comorag.

Skeleton from the foundation issue: the sub-commands arrive with issue #7.
"""

from __future__ import annotations

import argparse

from comorag import __version__
from labcore.errors import cli_errors


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="comorag",
        description="ComoRAG: a three-layer index plus a metacognitive memory loop for questions over long narratives.",
        epilog="Sub-commands land with issue #7.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    return parser


@cli_errors
def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``comorag`` console script."""
    parser = build_parser()
    parser.parse_args(argv)
    parser.print_help()
    return 0
