"""Annotation-file readers that name the file and row of every problem."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path

from labcore.errors import DataError


def first_existing(root: Path, candidates: list[str], what: str) -> Path:
    """The first of ``candidates`` (relative to ``root``) that exists."""
    for c in candidates:
        if (root / c).exists():
            return root / c
    raise DataError(f"{root}: no {what} found (looked for {', '.join(candidates)})")


def read_csv_rows(path: Path, columns: list[str]) -> Iterator[tuple[str, dict[str, str]]]:
    """Yield ``(where, row)`` of a CSV with a header holding ``columns``."""
    if not path.is_file():
        raise DataError(f"{path}: annotation file not found")
    with open(path, newline="", encoding="utf-8-sig") as fh:
        reader = csv.DictReader(fh)
        header = [h.strip() for h in (reader.fieldnames or [])]
        missing = [c for c in columns if c not in header]
        if missing:
            raise DataError(
                f"{path}: line 1: missing column(s) {', '.join(missing)} (header: {','.join(header)})"
            )
        reader.fieldnames = header
        for lineno, row in enumerate(reader, start=2):
            if not any((v or "").strip() for v in row.values()):
                continue
            yield f"{path}:{lineno}", {k: (v or "").strip() for k, v in row.items() if k}


def read_space_rows(path: Path, n_fields: int) -> Iterator[tuple[str, list[str]]]:
    """Yield ``(where, fields)`` of a whitespace-separated list without header."""
    if not path.is_file():
        raise DataError(f"{path}: annotation file not found")
    with open(path, encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            fields = line.split()
            if len(fields) < n_fields:
                raise DataError(f"{path}:{lineno}: expected {n_fields} fields, got {len(fields)}")
            yield f"{path}:{lineno}", fields


def parse_int(value: str, where: str, what: str = "label") -> int:
    try:
        return int(float(value))
    except ValueError:
        raise DataError(f"{where}: {what} {value!r} is not a number") from None
