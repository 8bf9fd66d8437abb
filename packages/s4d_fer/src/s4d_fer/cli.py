"""Command line for s4d_fer.

Skeleton from the foundation issue: the sub-commands arrive with issue #5.
"""

from __future__ import annotations

import argparse

from labcore.errors import cli_errors
from s4d_fer import __version__


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="s4d-fer",
        description="S4D: dual-modal MAE pre-training and Mixture-of-Adapter-Experts fine-tuning for facial-expression recognition.",
        epilog="Sub-commands land with issue #5.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    return parser


@cli_errors
def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``s4d-fer`` console script."""
    parser = build_parser()
    parser.parse_args(argv)
    parser.print_help()
    return 0


@cli_errors
def train_main(argv: list[str] | None = None) -> int:
    """``train``: the project's headline command (S4D fine-tuning on the embedded default)."""
    parser = argparse.ArgumentParser(
        prog="train",
        description="Train S4D on the embedded synthetic benchmark (lands with issue #5).",
    )
    parser.parse_args(argv)
    parser.print_help()
    return 0
