"""Token-based chunking of a text file, streamed, with sentence boundaries kept when possible.

Chunks are contiguous character spans of the file (``start``/``end`` offsets), so gold
evidence spans can be matched against what a method retrieved.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from labcore.errors import DataError

_SENTENCE = re.compile(r"\S.*?(?:[.!?]+[\"'\u201d\u2019)\]]*(?=\s)|\Z)", re.S)


class TokenCounter:
    """Counts and cuts text in the embedder's tokens (as the official code does)."""

    def __init__(self, tokenizer, max_length: int | None = None) -> None:
        self.tokenizer = tokenizer
        self.max_length = max_length

    def count(self, text: str) -> int:
        return len(self.tokenizer(text, add_special_tokens=False)["input_ids"])

    def counts(self, texts: list[str]) -> list[int]:
        if not texts:
            return []
        ids = self.tokenizer(texts, add_special_tokens=False)["input_ids"]
        return [len(x) for x in ids]

    def offsets(self, text: str) -> list[tuple[int, int]]:
        enc = self.tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
        return [tuple(o) for o in enc["offset_mapping"]]

    def truncate(self, text: str, n: int) -> str:
        """The longest prefix of ``text`` with at most ``n`` tokens."""
        offsets = self.offsets(text)
        if len(offsets) <= n:
            return text
        return text[: offsets[n - 1][1]] if n > 0 else ""


@dataclass
class Chunk:
    id: int
    start: int
    end: int
    text: str
    tokens: int

    def as_dict(self) -> dict:
        return {
            "id": self.id,
            "start": self.start,
            "end": self.end,
            "tokens": self.tokens,
            "text": self.text,
        }


def check_fit(chunk_tokens: int, counter: TokenCounter) -> str | None:
    """A warning when chunks are longer than the embedder reads (it would truncate them)."""
    limit = counter.max_length
    if limit is not None and chunk_tokens + 2 > limit:
        return (
            f"warning: chunk_tokens={chunk_tokens} does not fit the embedder "
            f"(max {limit} tokens incl. 2 special); chunk ends will not be embedded"
        )
    return None


def iter_paragraphs(path: str | os.PathLike, progress: bool = False) -> Iterator[tuple[int, str]]:
    """Yield ``(char offset, paragraph text incl. its line breaks)`` from a UTF-8 file, streamed.

    Raises DataError for a missing, binary or non-UTF-8 file, naming the line.
    """
    p = Path(path)
    if not p.is_file():
        raise DataError(f"{p}: file not found")
    size = p.stat().st_size
    bar = None
    if progress and size > 1_000_000:
        from tqdm import tqdm

        bar = tqdm(total=size, unit="B", unit_scale=True, desc=f"reading {p.name}", file=sys.stderr)
    offset = 0
    buf: list[str] = []
    buf_start = 0
    lineno = 0
    with open(p, "rb") as fh:
        head = fh.read(8192)
        if b"\x00" in head:
            raise DataError(f"{p}: binary data (NUL byte in the first 8 KB); expected UTF-8 text")
        fh.seek(0)
        for raw in fh:
            lineno += 1
            if b"\x00" in raw:
                raise DataError(f"{p}: line {lineno}: binary data (NUL byte); expected UTF-8 text")
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError:
                raise DataError(f"{p}: line {lineno}: not valid UTF-8 text") from None
            if lineno == 1 and line.startswith("\ufeff"):
                line = line[1:]
            if bar is not None:
                bar.update(len(raw))
            if not buf:
                buf_start = offset
            buf.append(line)
            offset += len(line)
            if not line.strip() or sum(len(x) for x in buf) > 20_000:
                yield buf_start, "".join(buf)
                buf = []
    if buf:
        yield buf_start, "".join(buf)
    if bar is not None:
        bar.close()


def chunk_file(
    path: str | os.PathLike,
    counter: TokenCounter,
    chunk_tokens: int,
    *,
    first_id: int = 0,
    base_offset: int = 0,
    progress: bool = False,
) -> Iterator[Chunk]:
    """Chunks of at most ``chunk_tokens`` tokens, ending at sentence ends where possible.

    Offsets are characters of the file plus ``base_offset`` (used when a file is
    appended to an existing index).
    """
    next_id = first_id
    start = -1  # absolute start of the open chunk
    end = -1
    tokens = 0
    window = ""  # raw text from ``start`` to the end of the last paragraph read
    window_start = 0
    seen_text = False

    def emit() -> Chunk:
        nonlocal next_id
        text = window[start - window_start : end - window_start]
        chunk = Chunk(next_id, start + base_offset, end + base_offset, text, tokens)
        next_id += 1
        return chunk

    for para_start, para in iter_paragraphs(path, progress):
        if start < 0:
            window, window_start = para, para_start
        else:
            window += para
        spans = [(m.start() + para_start, m.end() + para_start) for m in _SENTENCE.finditer(para)]
        counts = counter.counts([para[s - para_start : e - para_start] for s, e in spans])
        for (s, e), n in zip(spans, counts, strict=True):
            seen_text = True
            if n > chunk_tokens:
                if start >= 0:
                    yield emit()
                    start = -1
                sentence = para[s - para_start : e - para_start]
                offs = counter.offsets(sentence)
                for i in range(0, len(offs), chunk_tokens):
                    piece = offs[i : i + chunk_tokens]
                    start, end, tokens = s + piece[0][0], s + piece[-1][1], len(piece)
                    window, window_start = para, para_start
                    yield emit()
                start = -1
                continue
            if start >= 0 and tokens + n > chunk_tokens:
                yield emit()
                start = -1
            if start < 0:
                start, tokens = s, 0
                window = window[s - window_start :] if s >= window_start else para
                window_start = s if s >= window_start else para_start
            end = e
            tokens += n
        if start < 0:
            window, window_start = "", para_start + len(para)
    if start >= 0:
        yield emit()
    if not seen_text:
        raise DataError(f"{path}: no text (the file is empty or only whitespace)")


def precheck(path: str | os.PathLike) -> None:
    """Fail fast (before any model loads) on a missing, empty or binary file."""
    p = Path(path)
    if not p.is_file():
        raise DataError(f"{p}: file not found")
    with open(p, "rb") as fh:
        head = fh.read(8192)
        if b"\x00" in head:
            raise DataError(f"{p}: binary data (NUL byte in the first 8 KB); expected UTF-8 text")
        while not head.strip():
            if not head:
                raise DataError(f"{p}: no text (the file is empty or only whitespace)")
            head = fh.read(1 << 20)


def file_length(path: str | os.PathLike) -> int:
    """Length of the file in characters (streamed)."""
    total = 0
    for _, para in iter_paragraphs(path):
        total += len(para)
    return total
