"""The layers on tiny inputs: window schedule, clustering, graph ranking."""

from __future__ import annotations

import networkx as nx
import numpy as np
import pytest

from comorag.index.episodic import window_size, windows
from comorag.index.graph import add_synonym_edges, add_triples, ppr_chunks
from comorag.index.semantic import cluster, gmm_clusters


@pytest.mark.parametrize(
    ("n", "w"),
    [
        (0, 2),
        (5, 2),
        (6, 3),
        (20, 3),
        (21, 5),
        (50, 5),
        (51, 8),
        (100, 8),
        (101, 10),
        (200, 10),
        (201, 15),
        (1000, 19),
        (5000, 20),
        (10**6, 20),
    ],
)
def test_window_schedule(n, w):
    assert window_size(n) == w


def test_windows_cover_every_chunk_once():
    assert windows(10, 3) == [(0, 3), (3, 6), (6, 9), (9, 10)]
    assert windows(0, 3) == []
    overlapping = windows(10, 4, overlap=True)
    assert overlapping[0] == (0, 4) and overlapping[1] == (2, 6) and overlapping[-1][1] == 10


@pytest.mark.parametrize("n", [1, 2, 3, 4, 7, 11])
def test_clustering_tiny_inputs_does_not_fail(n):
    rng = np.random.default_rng(0)
    emb = rng.normal(size=(n, 16)).astype(np.float32)
    groups = cluster(emb, 0.01, 0, 12)
    covered = {i for g in groups for i in g}
    assert covered == set(range(n))


def test_gmm_by_bic_finds_separated_groups():
    rng = np.random.default_rng(1)
    a = rng.normal(0, 0.1, size=(15, 2))
    b = rng.normal(5, 0.1, size=(15, 2))
    groups = gmm_clusters(np.concatenate([a, b]), 0.01, 0)
    assert sorted(sorted(g) for g in groups) == [list(range(15)), list(range(15, 30))]


@pytest.mark.slow
def test_umap_path_on_moderate_input():
    rng = np.random.default_rng(2)
    centers = rng.normal(size=(3, 32)) * 5
    emb = np.concatenate([c + rng.normal(size=(10, 32)) for c in centers]).astype(np.float32)
    groups = cluster(emb, 0.01, 224, 12)
    assert {i for g in groups for i in g} == set(range(30))
    assert 2 <= len(groups) <= 10


def test_graph_ranking_follows_the_seed_entity():
    graph = nx.Graph()
    facts: dict = {}
    add_triples(graph, facts, 0, [["Mara", "moved to", "Ashford"]])
    add_triples(graph, facts, 1, [["Tomas", "worked in", "Kellmoor"]])
    add_triples(graph, facts, 2, [["Ashford", "has", "a bell tower"]])
    assert facts["Mara moved to Ashford"]["chunks"] == [0]
    ranked = ppr_chunks(graph, {"mara": 1.0}, {}, damping=0.5)
    order = [c for c, _ in ranked]
    # Chunk 0 mentions Mara; chunk 2 is one hop away through Ashford; chunk 1 is unrelated.
    assert order[0] == 0 and order.index(2) < order.index(1)
    assert ranked[-1][1] == pytest.approx(0.0, abs=1e-6)
    assert ppr_chunks(graph, {"nobody": 1.0}, {}, 0.5) == []


def test_synonym_edges_link_close_names():
    graph = nx.Graph()
    names = ["mara", "mara s.", "kellmoor"]
    emb = np.array([[1, 0], [0.99, 0.14], [0, 1]], dtype=np.float32)
    emb /= np.linalg.norm(emb, axis=1, keepdims=True)
    for n in names:
        graph.add_node(f"e:{n}", kind="entity")
    assert add_synonym_edges(graph, names, emb, 0.8, 100) == 1
    assert graph["e:mara"]["e:mara s."]["kind"] == "synonym"
