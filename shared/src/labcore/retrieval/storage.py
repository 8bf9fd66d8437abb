"""How an index lives on disk: a folder with ``manifest.json``, written atomically.

Every index folder holds a ``manifest.json`` with its kind, format version,
settings, embedder name (``null`` where none applies), document count and
document ids, next to the payload files of that kind.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from labcore.errors import DataError
from labcore.io import atomic_path, read_json, write_json

MANIFEST_NAME = "manifest.json"


@dataclass(frozen=True)
class Manifest:
    """The parsed, validated ``manifest.json`` of an index folder."""

    folder: Path
    kind: str
    format_version: int
    settings: dict[str, Any]
    ids: list[str]
    embedder: str | None = None

    def setting(self, key: str) -> Any:
        """A value from ``settings``; a missing key raises :class:`DataError` naming the folder."""
        try:
            return self.settings[key]
        except KeyError:
            raise DataError(f"{self.folder}: {MANIFEST_NAME} lacks the setting {key!r}") from None


def write_manifest(
    folder: Path,
    *,
    kind: str,
    format_version: int,
    settings: dict[str, Any],
    ids: Sequence[str],
    embedder: str | None = None,
) -> None:
    """Write ``manifest.json`` into ``folder`` (normally the temporary folder of a save)."""
    write_json(
        folder / MANIFEST_NAME,
        {
            "kind": kind,
            "format_version": format_version,
            "settings": settings,
            "embedder": embedder,
            "num_documents": len(ids),
            "ids": list(ids),
        },
    )


def read_manifest(folder: str | os.PathLike, *, kind: str, max_version: int) -> Manifest:
    """Read and check the manifest of an index folder.

    Raises:
        DataError: (one line, naming the folder) when the folder is missing, has no
            manifest, holds another kind of index, was written by a newer format
            version, or has inconsistent ids.
    """
    root = Path(folder)
    if not root.exists():
        raise DataError(f"{root}: index folder not found")
    if not root.is_dir():
        raise DataError(f"{root}: expected an index folder, found a file")
    if not (root / MANIFEST_NAME).is_file():
        raise DataError(f"{root}: not a retrieval index (no {MANIFEST_NAME})")
    data = read_json(root / MANIFEST_NAME)
    if not isinstance(data, dict):
        raise DataError(f"{root}: {MANIFEST_NAME} is not a JSON object")

    found_kind = data.get("kind")
    if found_kind != kind:
        raise DataError(f"{root}: holds a {found_kind!r} index, expected {kind!r}")
    version = data.get("format_version")
    # bool is an int subclass; a manifest saying `true` is corrupt, not version 1.
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise DataError(f"{root}: {MANIFEST_NAME} has an invalid format_version {version!r}")
    if version > max_version:
        raise DataError(
            f"{root}: {kind} index format version {version} is newer than this labcore "
            f"reads (up to {max_version}); upgrade labcore"
        )

    settings = data.get("settings")
    ids = data.get("ids")
    embedder = data.get("embedder")
    if not isinstance(settings, dict):
        raise DataError(f"{root}: {MANIFEST_NAME} has no settings object")
    if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
        raise DataError(f"{root}: {MANIFEST_NAME} ids must be a list of strings")
    if data.get("num_documents") != len(ids):
        raise DataError(
            f"{root}: {MANIFEST_NAME} says {data.get('num_documents')!r} documents "
            f"but lists {len(ids)} ids"
        )
    if embedder is not None and not isinstance(embedder, str):
        raise DataError(f"{root}: {MANIFEST_NAME} embedder must be a model name or null")
    return Manifest(root, kind, version, settings, ids, embedder)


def save_index_folder(folder: str | os.PathLike, write: Callable[[Path], None]) -> Path:
    """Create the index folder ``folder`` atomically; ``write(tmp)`` fills an empty folder.

    The content is written into a temporary folder beside ``folder`` and renamed
    onto it only when ``write`` returns, so a crash leaves either the previous
    index or nothing, never a half-written one.

    Raises:
        DataError: when ``folder`` is a file, or a non-empty folder that is not an
            index: replacing it would delete unrelated files (think ``save(".")``).
    """
    target = Path(folder)
    if target.exists():
        if not target.is_dir():
            raise DataError(f"{target}: exists and is not a folder; cannot save an index there")
        if any(target.iterdir()) and not (target / MANIFEST_NAME).is_file():
            raise DataError(
                f"{target}: refusing to replace a non-empty folder that is not a retrieval index"
            )
    with atomic_path(target) as tmp:
        tmp.mkdir()
        write(tmp)
    return target


def check_new_ids(ids: Iterable[str], count: int, existing: set[str] | None = None) -> list[str]:
    """Validate ids for ``count`` new documents and return them as a list.

    Ids are the only handle callers get back from a search, and they are stored
    in JSON manifests, so they must be unique strings.
    """
    if isinstance(ids, str):
        raise TypeError("ids must be a list of strings, not a single string")
    out = list(ids)
    if len(out) != count:
        raise ValueError(f"got {count} documents but {len(out)} ids")
    bad = next((i for i in out if not isinstance(i, str)), None)
    if bad is not None:
        raise TypeError(f"ids must be strings, got {type(bad).__name__} {bad!r}")
    seen: set[str] = set()
    for doc_id in out:
        if doc_id in seen or (existing is not None and doc_id in existing):
            raise ValueError(f"duplicate document id {doc_id!r}")
        seen.add(doc_id)
    return out


def check_k(k: int) -> int:
    """``k`` (results per query) must be a positive int."""
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise ValueError(f"k must be a positive integer, got {k!r}")
    return k


def check_texts(texts: Sequence[str], what: str = "texts") -> list[str]:
    """A list of strings; a bare string is refused (it would be read as characters)."""
    if isinstance(texts, str):
        raise TypeError(f"{what} must be a list of strings, not a single string")
    out = list(texts)
    bad = next((t for t in out if not isinstance(t, str)), None)
    if bad is not None:
        raise TypeError(f"{what} must be strings, got {type(bad).__name__}")
    return out
