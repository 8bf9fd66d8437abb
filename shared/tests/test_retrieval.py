"""labcore.retrieval: embedder, BM25, dense (flat/HNSW), RRF, hybrid, and index folders."""

from __future__ import annotations

import json
from itertools import pairwise

import faiss
import numpy as np
import pytest

from labcore.errors import DataError
from labcore.retrieval import (
    MANIFEST_NAME,
    BM25Index,
    DenseIndex,
    DenseTextIndex,
    Embedder,
    HybridIndex,
    faiss_gpu_available,
    reciprocal_rank_fusion,
)

# Short documents on distinct topics. The queries below rely on which words they
# share (after English stopwords) with which documents; edit both together.
CORPUS = {
    "photosynthesis": "Photosynthesis lets plants turn sunlight, water and carbon dioxide into sugar.",
    "volcano": "A volcano erupts when molten rock and gas escape through the crust.",
    "espresso": "Espresso is brewed by forcing hot water through finely ground coffee beans.",
    "marathon": "The marathon is a long-distance running race of about forty-two kilometres.",
    "quarkbot": "The Quarkbot X7 vacuum robot maps apartments with a lidar sensor.",
    "chess": "In chess, castling moves the king two squares towards a rook.",
    "tides": "Ocean tides are caused mainly by the gravitational pull of the Moon.",
    "vaccine": "Vaccines train the immune system to recognise a pathogen without causing disease.",
    "bread": "Sourdough bread rises thanks to wild yeast and lactic acid bacteria in the starter.",
    "guitar": "A standard guitar has six strings tuned E, A, D, G, B and E.",
    "bitcoin": "Bitcoin transactions are recorded on a public blockchain ledger secured by mining.",
    "glacier": "Glaciers form where accumulated snow compresses into thick ice over many years.",
    "tax": "Income tax returns must be filed by the deadline to avoid late penalties.",
    "penguin": "Emperor penguins huddle together to survive the Antarctic winter.",
    "saturn": "Saturn's rings are made mostly of ice particles and rocky debris.",
}
IDS = list(CORPUS)
TEXTS = list(CORPUS.values())

KEYWORD_QUERY = "quarkbot lidar"  # two rare words, both only in the "quarkbot" document
# No word in common with any document: only the dense index can find it.
PARAPHRASE_QUERY = "How do green leaves make food from light?"


@pytest.fixture(scope="module")
def embedder() -> Embedder:
    return Embedder(device="cpu")


@pytest.fixture(scope="module")
def hybrid(embedder: Embedder) -> HybridIndex:
    return HybridIndex.build(TEXTS, IDS, embedder, use_gpu=False)


def _random_unit_vectors(n: int, dim: int, seed: int) -> np.ndarray:
    vectors = np.random.default_rng(seed).standard_normal((n, dim)).astype(np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


# ---------------------------------------------------------------- embedder


def test_minilm_embeddings_are_normalised_and_meaningful(embedder: Embedder) -> None:
    vectors = embedder.encode(
        [
            "A cat is sleeping on the sofa.",
            "A kitten naps on the couch.",
            "The central bank raised interest rates.",
        ]
    )
    assert embedder.dim == 384 and embedder.model_name == "all-minilm-l6-v2"
    assert vectors.shape == (3, 384) and vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    similar, unrelated = vectors[0] @ vectors[1], vectors[0] @ vectors[2]
    assert similar > unrelated + 0.3
    assert embedder.encode([]).shape == (0, 384)


def test_embedder_wraps_a_loaded_model(embedder: Embedder) -> None:
    wrapped = Embedder(embedder.model, batch_size=2, model_name="minilm")
    texts = ["one", "two", "three"]  # more texts than batch_size
    np.testing.assert_allclose(wrapped.encode(texts), embedder.encode(texts), atol=1e-5)
    assert wrapped.model_name == "minilm" and wrapped.dim == 384
    with pytest.raises(TypeError):
        wrapped.encode("a single string")


# ---------------------------------------------------------------- BM25


def test_bm25_search_and_round_trip(tmp_path) -> None:
    index = BM25Index.build(TEXTS, IDS)
    queries = [KEYWORD_QUERY, "ice and rock", PARAPHRASE_QUERY, ""]
    results = index.search(queries, k=3)
    assert results[0][0][0] == "quarkbot"
    assert {doc_id for doc_id, _ in results[1]} <= {"volcano", "glacier", "saturn"}
    assert results[2] == [] and results[3] == []  # no shared term: no hits, not k zero-score ones

    # k above the corpus size is clamped, not an error.
    assert len(index.search(["water"], k=1000)[0]) == 2

    index.save(tmp_path / "bm25")
    loaded = BM25Index.load(tmp_path / "bm25")
    assert len(loaded) == len(IDS) and loaded.ids == IDS
    assert loaded.search(queries, k=3) == results
    manifest = json.loads((tmp_path / "bm25" / MANIFEST_NAME).read_text())
    assert manifest["kind"] == "bm25" and manifest["num_documents"] == len(IDS)
    assert manifest["ids"] == IDS and manifest["settings"]["stopwords"] == "en"


def test_bm25_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match="duplicate"):
        BM25Index(["a text", "another text"], ["x", "x"])
    with pytest.raises(ValueError, match="ids"):
        BM25Index(["a text"], ["x", "y"])
    with pytest.raises(ValueError, match="at least one"):
        BM25Index([], [])
    with pytest.raises(ValueError, match="k must be"):
        BM25Index(["a text"], ["x"]).search(["text"], k=0)


# ---------------------------------------------------------------- dense


@pytest.mark.parametrize("hnsw", [False, True], ids=["flat", "hnsw"])
def test_dense_search_and_round_trip(tmp_path, hnsw: bool) -> None:
    vectors = _random_unit_vectors(300, 32, seed=0)
    ids = [f"doc{i}" for i in range(len(vectors))]
    index = DenseIndex(32, hnsw=hnsw, hnsw_m=16, use_gpu=False)
    index.add(vectors[:200], ids[:200])
    index.add(vectors[200:], ids[200:])  # adding in several calls keeps ids aligned
    assert len(index) == 300

    queries = vectors[[0, 150, 299]] + 0.01 * _random_unit_vectors(3, 32, seed=1)
    results = index.search(queries, k=5)
    assert [hits[0][0] for hits in results] == ["doc0", "doc150", "doc299"]
    assert all(len(hits) == 5 for hits in results)
    assert all(a[1] >= b[1] for hits in results for a, b in pairwise(hits))

    index.save(tmp_path / "dense")
    loaded = DenseIndex.load(tmp_path / "dense", use_gpu=False)
    assert loaded.ids == ids and loaded.hnsw == hnsw
    assert loaded.search(queries, k=5) == results
    # k above the corpus size returns every document.
    assert len(loaded.search(queries[:1], k=10_000)[0]) == 300


def test_dense_rejects_bad_input() -> None:
    index = DenseIndex(4, use_gpu=False)
    assert index.search(np.zeros((2, 4), dtype=np.float32), k=3) == [[], []]  # empty index
    index.add(np.eye(4, dtype=np.float32), ["a", "b", "c", "d"])
    with pytest.raises(ValueError, match="duplicate"):
        index.add(np.eye(4, dtype=np.float32)[:1], ["a"])
    with pytest.raises(ValueError, match="shape"):
        index.add(np.ones((1, 3), dtype=np.float32), ["e"])
    with pytest.raises(ValueError, match="NaN"):
        index.search(np.full((1, 4), np.nan, dtype=np.float32), k=1)
    assert len(index) == 4


def test_dense_gpu_placement_and_cpu_save(tmp_path, monkeypatch) -> None:
    """The GPU code path, run against a stand-in for faiss-gpu's API."""
    if not faiss_gpu_available():
        with pytest.raises(DataError, match="use_gpu=True"):
            DenseIndex(4, use_gpu=True)

    calls: list[str] = []

    class FakeGpuResources:
        pass

    def to_gpu(resources, device, index):
        calls.append(f"to_gpu:{device}")
        return index

    def to_cpu(index):
        calls.append("to_cpu")
        return index

    monkeypatch.setattr(faiss, "StandardGpuResources", FakeGpuResources, raising=False)
    monkeypatch.setattr(faiss, "get_num_gpus", lambda: 1)
    monkeypatch.setattr(faiss, "index_cpu_to_gpu", to_gpu, raising=False)
    monkeypatch.setattr(faiss, "index_gpu_to_cpu", to_cpu, raising=False)

    index = DenseIndex(4)
    assert index.on_gpu and calls == ["to_gpu:0"]
    index.add(np.eye(4, dtype=np.float32), ["a", "b", "c", "d"])
    assert index.search(np.eye(4, dtype=np.float32)[:1], k=1) == [[("a", 1.0)]]
    index.save(tmp_path / "gpu")
    assert calls[-1] == "to_cpu"  # faiss can only write CPU indexes
    assert not DenseIndex.load(tmp_path / "gpu", use_gpu=False).on_gpu
    assert DenseIndex.load(tmp_path / "gpu").on_gpu

    # faiss has no GPU HNSW: "auto" keeps it on the CPU, True is refused.
    assert not DenseIndex(4, hnsw=True).on_gpu
    with pytest.raises(ValueError, match="HNSW"):
        DenseIndex(4, hnsw=True, use_gpu=True)


@pytest.mark.gpu
@pytest.mark.skipif(not faiss_gpu_available(), reason="needs faiss-gpu and a CUDA device")
def test_dense_on_real_gpu_matches_cpu(tmp_path) -> None:
    vectors = _random_unit_vectors(500, 64, seed=2)
    ids = [str(i) for i in range(500)]
    gpu, cpu = DenseIndex(64, use_gpu=True), DenseIndex(64, use_gpu=False)
    gpu.add(vectors, ids)
    cpu.add(vectors, ids)
    gpu_hits, cpu_hits = gpu.search(vectors[:10], 5), cpu.search(vectors[:10], 5)
    assert [[i for i, _ in h] for h in gpu_hits] == [[i for i, _ in h] for h in cpu_hits]
    gpu.save(tmp_path / "gpu")
    loaded = DenseIndex.load(tmp_path / "gpu", use_gpu=False)
    assert [[i for i, _ in h] for h in loaded.search(vectors[:10], 5)] == [
        [i for i, _ in h] for h in cpu_hits
    ]


# ---------------------------------------------------------------- fusion


def test_reciprocal_rank_fusion_matches_hand_computed_values() -> None:
    bm25 = [("a", 9.0), ("b", 5.0), ("c", 1.0)]
    dense = [("c", 0.9), ("a", 0.8), ("d", 0.1)]
    fused = reciprocal_rank_fusion([bm25, dense], k=60)
    assert [doc_id for doc_id, _ in fused] == ["a", "c", "b", "d"]
    expected = {"a": 1 / 61 + 1 / 62, "c": 1 / 63 + 1 / 61, "b": 1 / 62, "d": 1 / 63}
    assert dict(fused) == pytest.approx(expected)

    weighted = dict(reciprocal_rank_fusion([bm25, dense], k=1, weights=[2.0, 1.0]))
    assert weighted == pytest.approx(
        {"a": 2 / 2 + 1 / 3, "b": 2 / 3, "c": 2 / 4 + 1 / 2, "d": 1 / 4}
    )

    # A repeated id counts once, at its best rank; ties keep first-met order.
    assert reciprocal_rank_fusion([[("x", 1.0), ("x", 0.5)], [("y", 1.0)]], k=0) == [
        ("x", 1.0),
        ("y", 1.0),
    ]
    assert reciprocal_rank_fusion([]) == []
    with pytest.raises(ValueError, match="weights"):
        reciprocal_rank_fusion([bm25, dense], weights=[1.0])


# ---------------------------------------------------------------- hybrid


def test_hybrid_finds_keyword_and_paraphrase_matches(hybrid: HybridIndex) -> None:
    keyword, paraphrase = hybrid.search([KEYWORD_QUERY, PARAPHRASE_QUERY], k=3)
    assert keyword[0][0] == "quarkbot"
    assert paraphrase[0][0] == "photosynthesis"
    # The paraphrase shares no word with its document: BM25 alone finds nothing.
    assert hybrid.bm25.search([PARAPHRASE_QUERY], k=3) == [[]]
    assert len(keyword) == 3
    assert len(hybrid.search(["coffee"], k=100)[0]) == len(IDS)


def test_hybrid_round_trip_reloads_embedder_from_manifest(tmp_path, hybrid: HybridIndex) -> None:
    queries = [KEYWORD_QUERY, PARAPHRASE_QUERY, "snow and ice"]
    hybrid.save(tmp_path / "hybrid")
    manifest = json.loads((tmp_path / "hybrid" / MANIFEST_NAME).read_text())
    assert manifest["kind"] == "hybrid" and manifest["embedder"] == "all-minilm-l6-v2"
    assert manifest["ids"] == IDS and manifest["settings"]["rrf_k"] == 60

    loaded = HybridIndex.load(tmp_path / "hybrid", use_gpu=False)  # no embedder given
    assert loaded.embedder is not hybrid.embedder
    assert loaded.embedder.model_name == "all-minilm-l6-v2"
    assert loaded.search(queries, k=5) == hybrid.search(queries, k=5)

    # The dense part is a DenseTextIndex folder of its own.
    dense = DenseTextIndex.load(tmp_path / "hybrid" / "dense", embedder=hybrid.embedder)
    assert dense.search(queries, k=2) == hybrid.dense.search(queries, k=2)


# ---------------------------------------------------------------- index folders


def _bad_folder(kind: str, tmp_path):
    """Make a folder that is not a loadable BM25 index, in one of several ways."""
    folder = tmp_path / kind
    if kind == "missing":
        return folder
    if kind == "empty":
        folder.mkdir()
        return folder
    if kind == "wrong_kind":
        DenseIndex(4, use_gpu=False).save(folder)
        return folder
    BM25Index(["some text"], ["a"]).save(folder)
    manifest_path = folder / MANIFEST_NAME
    if kind == "newer_version":
        manifest = json.loads(manifest_path.read_text())
        manifest["format_version"] = 99
        manifest_path.write_text(json.dumps(manifest))
    elif kind == "corrupt_manifest":
        manifest_path.write_text("{not json")
    elif kind == "missing_payload":
        for path in (folder / "bm25s").iterdir():
            path.unlink()
    return folder


@pytest.mark.parametrize(
    "kind",
    ["missing", "empty", "wrong_kind", "newer_version", "corrupt_manifest", "missing_payload"],
)
def test_loading_a_bad_folder_raises_data_error(tmp_path, kind: str) -> None:
    folder = _bad_folder(kind, tmp_path)
    with pytest.raises(DataError) as excinfo:
        BM25Index.load(folder)
    message = str(excinfo.value)
    assert str(folder) in message and "\n" not in message
    if kind == "newer_version":
        assert "newer" in message


def test_failed_save_leaves_no_folder_and_no_temp(tmp_path, monkeypatch, hybrid) -> None:
    def broken_write_index(index, path):
        open(path, "wb").close()  # a partial file, as a crash mid-write would leave
        raise OSError("disk full")

    monkeypatch.setattr(faiss, "write_index", broken_write_index)
    with pytest.raises(OSError, match="disk full"):
        hybrid.save(tmp_path / "out" / "index")  # fails after the BM25 part was written
    assert list((tmp_path / "out").iterdir()) == []


def test_failed_save_keeps_the_existing_index(tmp_path, monkeypatch) -> None:
    import bm25s

    folder = tmp_path / "index"
    original = BM25Index(["red apples", "green pears"], ["apple", "pear"])
    original.save(folder)
    before = {p.relative_to(folder): p.read_bytes() for p in folder.rglob("*") if p.is_file()}

    def broken_save(self, save_dir, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(bm25s.BM25, "save", broken_save)
    with pytest.raises(OSError):
        BM25Index(["blue plums"], ["plum"]).save(folder)
    after = {p.relative_to(folder): p.read_bytes() for p in folder.rglob("*") if p.is_file()}
    assert after == before
    assert [p.name for p in tmp_path.iterdir()] == ["index"]
    assert BM25Index.load(folder).search(["pears"], k=2) == original.search(["pears"], k=2)


def test_save_refuses_to_replace_a_folder_that_is_not_an_index(tmp_path) -> None:
    (tmp_path / "notes.txt").write_text("keep me")
    with pytest.raises(DataError, match="not a retrieval index"):
        BM25Index(["text"], ["a"]).save(tmp_path)
    assert (tmp_path / "notes.txt").read_text() == "keep me"


@pytest.mark.parametrize("metric", ["ip", "l2"])
@pytest.mark.parametrize("block", [1 << 24, 7])
def test_exact_cpu_search_equals_faiss_flat_search(metric, block, monkeypatch):
    """The BLAS + topk search of a flat CPU index returns what faiss's own flat search does,
    also when the rows are scored in many small blocks (the last one shorter than k)."""
    from labcore.retrieval import DenseIndex

    rng = np.random.default_rng(3)
    vecs = rng.standard_normal((303, 16)).astype(np.float32)
    queries = rng.standard_normal((5, 16)).astype(np.float32)
    index = DenseIndex(16, metric=metric, use_gpu=False)
    index.add(vecs, [f"d{i}" for i in range(303)])
    monkeypatch.setattr(DenseIndex, "EXACT_BLOCK_SCORES", block * 5)
    for k in (1, 10, 303):
        ours = index.search(queries, k)
        scores, rows = index._index.search(queries, k)
        for got, want_rows, want_scores in zip(ours, rows, scores, strict=True):
            assert [d for d, _ in got] == [f"d{r}" for r in want_rows]
            np.testing.assert_allclose([s for _, s in got], want_scores, rtol=1e-4, atol=1e-4)


def test_bm25_threaded_batches_rank_as_one_thread(monkeypatch):
    from labcore.retrieval import BM25Index

    words = ["river", "tower", "north", "glass", "ember", "salt", "moth", "pine"]
    rng = np.random.default_rng(0)
    texts = [" ".join(rng.choice(words, 6)) for _ in range(200)]
    index = BM25Index(texts, [str(i) for i in range(200)])
    queries = [" ".join(rng.choice(words, 2)) for _ in range(40)]
    threaded = index.search(queries, 5)
    monkeypatch.setattr(BM25Index, "THREADED_BATCH", 10**9)
    assert index.search(queries, 5) == threaded
