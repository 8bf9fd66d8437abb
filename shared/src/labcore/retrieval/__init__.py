"""Document retrieval: BM25, dense (faiss) and hybrid (reciprocal rank fusion) indexes.

Every index searches batches of queries and returns, per query, a list of
``(document id, score)`` pairs, best first. Every index saves to a folder with a
``manifest.json`` (written atomically) and loads back with ``Index.load(folder)``.

Quick start::

    from labcore.retrieval import Embedder, HybridIndex

    index = HybridIndex.build(texts, ids, Embedder())  # bundled all-MiniLM-L6-v2
    index.search(["how do plants make sugar?"], k=5)
    index.save("runs/index")
    index = HybridIndex.load("runs/index")  # reloads the embedder named in the manifest
"""

from labcore.retrieval.bm25 import BM25Index, stemmer_available
from labcore.retrieval.dense import DenseIndex, faiss_gpu_available
from labcore.retrieval.dense_text import DenseTextIndex
from labcore.retrieval.embedder import Embedder
from labcore.retrieval.fusion import reciprocal_rank_fusion
from labcore.retrieval.hits import Hit, Ranking
from labcore.retrieval.hybrid import HybridIndex
from labcore.retrieval.storage import MANIFEST_NAME

__all__ = [
    "MANIFEST_NAME",
    "BM25Index",
    "DenseIndex",
    "DenseTextIndex",
    "Embedder",
    "Hit",
    "HybridIndex",
    "Ranking",
    "faiss_gpu_available",
    "reciprocal_rank_fusion",
    "stemmer_available",
]
