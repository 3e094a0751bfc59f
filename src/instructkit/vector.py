"""Nearest-neighbour search over unit-normalised embeddings: cosine = dot product.

Small corpora use exact search (a blocked matrix product through BLAS, then
``argpartition`` for the top k); above :data:`EXACT_LIMIT` corpus vectors an
approximate HNSW index from ``usearch`` keeps the cost near-linear.  One small
API for semantic dedup and embedding decontamination alike::

    idx, sims = neighbours(queries, corpus, k=10, threshold=0.95)

``idx[q, t]`` is the corpus row of the t-th nearest neighbour of query q
(best first), ``sims`` its cosine; slots with no neighbour, or one below
``threshold``, hold ``-1`` and ``-inf``.
"""

from __future__ import annotations

import numpy as np

from instructkit.errors import MissingDependency

#: Above this many corpus vectors, search with the usearch HNSW index.
EXACT_LIMIT = 20_000
#: Query rows per matrix-product block: bounds the [block, corpus] similarity matrix.
BLOCK_CELLS = 1 << 24


def neighbours(
    queries: np.ndarray,
    corpus: np.ndarray,
    k: int = 10,
    threshold: float | None = None,
    *,
    exact: bool | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Top-``k`` cosine neighbours of each query row in ``corpus`` (both unit-normalised float32)."""
    queries = np.ascontiguousarray(queries, dtype=np.float32)
    corpus = np.ascontiguousarray(corpus, dtype=np.float32)
    k = min(k, len(corpus))
    if k == 0 or len(queries) == 0:
        return np.full((len(queries), k), -1, np.int64), np.full(
            (len(queries), k), -np.inf, np.float32
        )
    use_exact = len(corpus) <= EXACT_LIMIT if exact is None else exact
    idx, sims = (_exact if use_exact else _approximate)(queries, corpus, k)
    if threshold is not None:
        low = sims < threshold
        idx[low], sims[low] = -1, -np.inf
    return idx, sims


def _exact(queries: np.ndarray, corpus: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    idx = np.empty((len(queries), k), np.int64)
    sims = np.empty((len(queries), k), np.float32)
    block = max(BLOCK_CELLS // len(corpus), 1)
    for s in range(0, len(queries), block):
        sim = queries[s : s + block] @ corpus.T
        top = (
            np.argpartition(-sim, k - 1, axis=1)[:, :k]
            if k < len(corpus)
            else np.tile(np.arange(k), (len(sim), 1))
        )
        top_sim = np.take_along_axis(sim, top, axis=1)
        order = np.argsort(-top_sim, axis=1, kind="stable")
        idx[s : s + block] = np.take_along_axis(top, order, axis=1)
        sims[s : s + block] = np.take_along_axis(top_sim, order, axis=1)
    return idx, sims


def _approximate(queries: np.ndarray, corpus: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    try:
        from usearch.index import Index
    except ImportError:
        raise MissingDependency(
            "usearch", "dedup", "approximate nearest-neighbour search"
        ) from None
    index = Index(ndim=corpus.shape[1], metric="ip", dtype="f32", expansion_search=max(64, 2 * k))
    index.add(np.arange(len(corpus), dtype=np.uint64), corpus)
    found = index.search(queries, k)
    keys = np.asarray(found.keys, dtype=np.int64).reshape(len(queries), -1)
    dist = np.asarray(found.distances, dtype=np.float32).reshape(len(queries), -1)
    counts = np.asarray(found.counts).reshape(-1)
    valid = np.arange(keys.shape[1])[None, :] < counts[:, None]
    idx = np.where(valid, keys, -1)
    sims = np.where(valid, 1.0 - dist, -np.inf).astype(
        np.float32
    )  # usearch "ip" distance = 1 - dot
    return idx, sims
