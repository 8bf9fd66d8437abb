"""Index build with a scripted model: layers, persistence, resume after a kill, add, bad input."""

from __future__ import annotations

import json

import pytest

from comorag.config import IndexConfig
from comorag.index.build import add_text, build_index
from comorag.index.store import FORMAT_VERSION, Index
from labcore.errors import DataError

CFG = IndexConfig(chunk_tokens=20, batch_size=4)


def _build(story_file, out, res, **kw):
    return build_index(
        story_file, out, CFG, res, llm_name="scripted", quiet=True, progress=False, **kw
    )


def _files(folder):
    names = [
        "chunks.jsonl",
        "graph.json",
        "facts.jsonl",
        "entities.json",
        "semantic.jsonl",
        "episodic.jsonl",
    ]
    out = {n: (folder / n).read_text() for n in names}
    for n in ["chunk_emb.npy", "semantic_emb.npy", "episodic_emb.npy", "fact_emb.npy"]:
        out[n] = (folder / n).read_bytes()
    return out


def test_build_and_load(story_file, tmp_path, scripted, reply, make_res):
    llm = scripted(reply)
    manifest = _build(story_file, tmp_path / "idx", make_res(llm))
    assert manifest["status"] == "complete"
    index = Index.load(tmp_path / "idx")
    n = len(index.chunks)
    assert n >= 5 and index.chunk_emb.shape == (n, 384)
    assert index.manifest["format_version"] == FORMAT_VERSION
    assert index.manifest["episodic_window"] == (2 if n <= 5 else 3)
    assert len(index.episodic) == -(-n // index.manifest["episodic_window"])
    assert {"e:mara", "e:tomas", "e:eastport"} <= set(index.graph.nodes)
    assert index.semantic and all(node["chunks"] for node in index.semantic)
    # Independent calls were batched: one batch per stage group, not one per chunk.
    triple_batches = [b for b in llm.batches if b[0][0] == "Triple"]
    assert len(triple_batches) == -(-n // CFG.batch_size)
    assert all(len(b) <= CFG.batch_size for b in llm.batches)


def test_no_kg(story_file, tmp_path, scripted, reply, make_res):
    llm = scripted(reply)
    cfg = IndexConfig(chunk_tokens=20, kg=False)
    build_index(
        story_file, tmp_path / "idx", cfg, make_res(llm), llm_name="s", quiet=True, progress=False
    )
    assert "Triple" not in llm.roles()
    assert Index.load(tmp_path / "idx").facts == []


def test_resume_after_kill_gives_the_same_index(story_file, tmp_path, scripted, reply, make_res):
    # Batches of 2 so that the kill (on the third batch) falls inside the triple stage:
    # the resume must reuse the two logged batches of an unfinished stage.
    cfg = IndexConfig(chunk_tokens=20, batch_size=2)

    def build(out, llm):
        return build_index(
            story_file, out, cfg, make_res(llm), llm_name="scripted", quiet=True, progress=False
        )

    full = scripted(reply)
    build(tmp_path / "full", full)
    killed = scripted(reply, fail_after=2)
    with pytest.raises(KeyboardInterrupt):
        build(tmp_path / "part", killed)
    manifest = json.loads((tmp_path / "part" / "manifest.json").read_text())
    assert manifest["status"] == "building" and "kg" not in manifest["stages"]
    with pytest.raises(DataError, match="incomplete"):
        Index.load(tmp_path / "part")
    again = scripted(reply)
    build(tmp_path / "part", again)
    calls = lambda llm: sum(len(b) for b in llm.batches)
    n_chunks = len(Index.load(tmp_path / "full").chunks)
    assert n_chunks > 4
    # The two batches finished before the kill were triple batches of 2 chunks each...
    assert [r for b in killed.batches for r, _ in b] == ["Triple"] * 4
    # ...and were not sent again: the resumed build sent 4 triple calls fewer than a full
    # build, and everything else exactly once.
    assert again.roles().count("Triple") == n_chunks - 4
    assert full.roles().count("Triple") == n_chunks
    assert calls(again) == calls(full) - 4
    assert _files(tmp_path / "part") == _files(tmp_path / "full")


def test_existing_index_is_not_overwritten(story_file, tmp_path, scripted, reply, make_res):
    _build(story_file, tmp_path / "idx", make_res(scripted(reply)))
    with pytest.raises(DataError, match="already there"):
        _build(story_file, tmp_path / "idx", make_res(scripted(reply)))


def test_incremental_add(story_file, tmp_path, scripted, reply, make_res):
    _build(story_file, tmp_path / "idx", make_res(scripted(reply)))
    before = Index.load(tmp_path / "idx")
    more = tmp_path / "more.txt"
    more.write_text(
        "Chapter 4\n\nIlsa arrived in Greywater and opened a forge. "
        "Ilsa married Bren in Greywater.\n",
        encoding="utf-8",
    )
    llm = scripted(reply)
    add_text(tmp_path / "idx", more, make_res(llm), quiet=True, progress=False)
    after = Index.load(tmp_path / "idx")
    n_old = len(before.chunks)
    assert after.chunks[:n_old] == before.chunks
    assert len(after.chunks) > n_old and after.chunk_emb.shape[0] == len(after.chunks)
    assert after.chunks[n_old]["start"] > before.chunks[-1]["end"]
    # Only the new chunks were sent for triples; the old ones came from the stage log.
    triples_sent = sum(1 for r in llm.roles() if r == "Triple")
    assert triples_sent == len(after.chunks) - n_old
    assert after.semantic[: len(before.semantic)] == before.semantic
    assert max(after.episodic[-1]["chunks"]) == len(after.chunks) - 1


def test_bad_inputs(tmp_path, scripted, reply, make_res):
    res = make_res(scripted(reply))
    empty = tmp_path / "empty.txt"
    empty.write_text("")
    with pytest.raises(DataError, match="no text"):
        _build(empty, tmp_path / "a", res)
    binary = tmp_path / "bin.txt"
    binary.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00")
    with pytest.raises(DataError, match="binary"):
        _build(binary, tmp_path / "b", res)
    with pytest.raises(DataError, match="not found"):
        _build(tmp_path / "missing.txt", tmp_path / "c", res)


def test_other_format_version_is_refused(story_file, tmp_path, scripted, reply, make_res):
    _build(story_file, tmp_path / "idx", make_res(scripted(reply)))
    path = tmp_path / "idx" / "manifest.json"
    manifest = json.loads(path.read_text())
    manifest["format_version"] = 99
    path.write_text(json.dumps(manifest))
    with pytest.raises(DataError, match="format version 99"):
        Index.load(tmp_path / "idx")
