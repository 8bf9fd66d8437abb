"""The semantic layer: UMAP + Gaussian-mixture clustering (BIC), soft membership, recursion.

Parameters follow the official code (``n_components = min(10, N-2)``,
``n_neighbors = min(30, max(5, 0.2 N))``, BIC over 1..min(50, N-1), membership >= 0.01)
and are clamped for small inputs: at most N-1 neighbours, PCA instead of UMAP below 12
points (UMAP's spectral start fails there), one cluster for 3 points or fewer.
"""

from __future__ import annotations

import warnings

import numpy as np
from sklearn.decomposition import PCA
from sklearn.mixture import GaussianMixture


def reduce(emb: np.ndarray, seed: int) -> np.ndarray:
    """Low-dimensional coordinates for clustering."""
    n = emb.shape[0]
    dims = max(1, min(10, n - 2))
    if n < 12:
        return PCA(n_components=min(dims, emb.shape[1]), random_state=seed).fit_transform(emb)
    import umap

    neighbors = min(30, max(5, int(0.2 * n)), n - 1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        reducer = umap.UMAP(
            n_components=dims,
            n_neighbors=neighbors,
            metric="cosine",
            random_state=seed,
            init="spectral" if n > dims + 2 else "random",
        )
        return reducer.fit_transform(emb)


def gmm_clusters(
    coords: np.ndarray, threshold: float, seed: int, max_clusters: int = 50
) -> list[list[int]]:
    """Soft clusters (member indices, most confident first) with #clusters by minimum BIC."""
    n = coords.shape[0]
    if n <= 3:
        return [list(range(n))]
    best, best_bic = None, np.inf
    for k in range(1, min(max_clusters, n - 1) + 1):
        gm = GaussianMixture(
            n_components=k, covariance_type="full", random_state=seed, reg_covar=1e-4
        )
        try:
            gm.fit(coords)
        except (ValueError, np.linalg.LinAlgError):
            continue
        bic = gm.bic(coords)
        if bic < best_bic:
            best, best_bic = gm, bic
    if best is None:
        return [list(range(n))]
    probs = best.predict_proba(coords)
    clusters = []
    for c in range(probs.shape[1]):
        members = [i for i in range(n) if probs[i, c] >= threshold or probs[i].argmax() == c]
        members.sort(key=lambda i: -probs[i, c])
        if members:
            clusters.append(members)
    return clusters


def cluster(emb: np.ndarray, threshold: float, seed: int, recluster_min: int) -> list[list[int]]:
    """Global clusters, then local re-clustering of the big ones (RAPTOR style)."""
    n = emb.shape[0]
    if n <= 3:
        return [list(range(n))]
    out: list[list[int]] = []
    for members in gmm_clusters(reduce(emb, seed), threshold, seed):
        if len(members) >= recluster_min and len(members) < n:
            sub = gmm_clusters(reduce(emb[members], seed), threshold, seed)
            out.extend([[members[i] for i in s] for s in sub])
        else:
            out.append(members)
    # Soft membership can repeat a cluster; keep each member set once.
    seen, unique = set(), []
    for members in out:
        key = frozenset(members)
        if key not in seen:
            seen.add(key)
            unique.append(members)
    return unique
