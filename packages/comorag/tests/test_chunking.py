"""Token-based chunking: limits, exact offsets, sentence ends, streaming, bad files."""

from __future__ import annotations

import pytest

from comorag.index.chunking import TokenCounter, check_fit, chunk_file
from labcore.errors import DataError


@pytest.fixture
def counter(embedder):
    return TokenCounter(embedder.model.tokenizer, embedder.model.max_seq_length)


def test_chunks_fit_and_match_the_file(counter, story_file):
    text = story_file.read_text(encoding="utf-8")
    chunks = list(chunk_file(story_file, counter, 30))
    assert len(chunks) > 3
    for c in chunks:
        assert c.tokens <= 30
        assert text[c.start : c.end] == c.text
        assert counter.count(c.text) <= 30 + 2  # joined sentences may merge a boundary token
        assert c.text.rstrip()[-1] in ".!?" or c.text.startswith("Chapter")
    assert [c.id for c in chunks] == list(range(len(chunks)))
    # Every sentence lands in some chunk.
    assert "Mara died in Ashford" in " ".join(c.text for c in chunks)


def test_long_sentence_is_split_by_tokens(counter, tmp_path):
    path = tmp_path / "long.txt"
    path.write_text("word " * 500 + "end.", encoding="utf-8")
    chunks = list(chunk_file(path, counter, 64))
    assert all(c.tokens <= 64 for c in chunks)
    assert sum(c.tokens for c in chunks) == counter.count(path.read_text())


def test_embedder_fit_warning(counter):
    assert check_fit(512, counter) is not None
    assert check_fit(200, counter) is None


def test_streams_a_large_file(counter, tmp_path, capsys):
    path = tmp_path / "big.txt"
    para = "Mara walked to the market and bought bread for the winter. " * 20 + "\n\n"
    with open(path, "w", encoding="utf-8") as fh:
        for _ in range(1000):  # ~1.2 MB: enough to show the progress bar
            fh.write(para)
    n = 0
    last_end = 0
    for c in chunk_file(path, counter, 240, progress=True):
        assert c.start >= last_end
        last_end = c.end
        n += 1
    assert n > 500
    assert "reading big.txt" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "no text"),
        (b"  \n\n ", "no text"),
        (b"ok line\n\x00\x01\x02", "binary"),
        (b"fine\n\xff\xfe bad\n", "line 2: not valid UTF-8"),
    ],
)
def test_bad_files(counter, tmp_path, content, message):
    path = tmp_path / "bad.txt"
    path.write_bytes(content)
    with pytest.raises(DataError, match=message):
        list(chunk_file(path, counter, 100))
