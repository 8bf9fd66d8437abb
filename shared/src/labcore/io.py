"""Files: atomic writes, JSON/JSONL readers that name the bad line, the labcore cache folder."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from labcore.errors import DataError


def labcore_home() -> Path:
    """The cache folder for converted models and other derived files.

    ``$LABCORE_HOME`` when set, else ``~/.cache/labcore``.
    """
    return Path(os.environ.get("LABCORE_HOME") or Path.home() / ".cache" / "labcore")


# ---------------------------------------------------------------- atomic writes


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it onto ``path`` on success.

    Works for files and folders. On error the temporary is removed and ``path``
    is left as it was, so readers never see a half-written result.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent))
    tmp.rmdir()  # callers create a file or a folder at this path themselves
    try:
        yield tmp
        if target.is_dir() and not target.is_symlink():
            # A folder cannot be replaced by rename while it has contents:
            # move the old one aside first, then drop it.
            old = target.with_name(f".{target.name}.old-{os.getpid()}")
            os.replace(target, old)
            os.replace(tmp, target)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, target)
    finally:
        if tmp.is_dir():
            shutil.rmtree(tmp, ignore_errors=True)
        elif tmp.exists():
            tmp.unlink()


def write_text_atomic(path: str | os.PathLike, text: str) -> Path:
    """Write ``text`` to ``path`` atomically (temp file + fsync + rename)."""
    with atomic_path(path) as tmp, open(tmp, "w", encoding="utf-8") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())
    return Path(path)


def write_json(path: str | os.PathLike, obj: Any, *, indent: int | None = 2) -> Path:
    """Write ``obj`` as JSON, atomically."""
    return write_text_atomic(path, json.dumps(obj, indent=indent, ensure_ascii=False) + "\n")


def write_jsonl(path: str | os.PathLike, records: Iterable[Any]) -> Path:
    """Write one JSON value per line, atomically."""
    lines = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records)
    return write_text_atomic(path, lines)


# ---------------------------------------------------------------- readers


def read_json(path: str | os.PathLike) -> Any:
    """Read a JSON file; a missing file or bad JSON raises :class:`DataError` naming it."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise DataError(f"{p}: file not found") from None
    except IsADirectoryError:
        raise DataError(f"{p}: is a folder, expected a JSON file") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise DataError(f"{p}: line {exc.lineno}: invalid JSON ({exc.msg})") from None


def iter_jsonl(path: str | os.PathLike) -> Iterator[Any]:
    """Yield the records of a JSONL file, skipping blank lines.

    A line that is not valid JSON raises :class:`DataError` naming the file and
    the 1-based line number.
    """
    p = Path(path)
    try:
        fh = open(p, encoding="utf-8")
    except FileNotFoundError:
        raise DataError(f"{p}: file not found") from None
    with fh:
        for lineno, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                yield json.loads(line)
            except json.JSONDecodeError as exc:
                raise DataError(f"{p}: line {lineno}: invalid JSON ({exc.msg})") from None


def read_jsonl(path: str | os.PathLike) -> list[Any]:
    """Read a whole JSONL file (see :func:`iter_jsonl`)."""
    return list(iter_jsonl(path))
