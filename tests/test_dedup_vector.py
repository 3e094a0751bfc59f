"""Nearest-neighbour search: exact BLAS path against brute force, usearch path against exact."""

from __future__ import annotations

import numpy as np

from instructkit.vector import neighbours


def unit(rng: np.random.Generator, n: int, d: int = 32) -> np.ndarray:
    v = rng.normal(size=(n, d)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def test_exact_matches_brute_force() -> None:
    rng = np.random.default_rng(0)
    corpus, queries = unit(rng, 500), unit(rng, 40)
    idx, sims = neighbours(queries, corpus, k=5, exact=True)
    full = queries @ corpus.T
    want = np.argsort(-full, axis=1)[:, :5]
    assert np.array_equal(idx, want)
    assert np.allclose(sims, np.take_along_axis(full, want, axis=1), atol=1e-6)


def test_threshold_masks_and_k_larger_than_corpus() -> None:
    rng = np.random.default_rng(1)
    corpus = unit(rng, 3)
    idx, sims = neighbours(corpus, corpus, k=10, threshold=0.999)
    assert idx.shape == (3, 3)
    assert (
        idx[:, 0].tolist() == [0, 1, 2] and (idx[:, 1:] == -1).all() and np.isinf(sims[:, 1:]).all()
    )


def test_usearch_agrees_with_exact() -> None:
    rng = np.random.default_rng(2)
    corpus = unit(rng, 2000)
    queries = corpus[:100] + 0.05 * unit(rng, 100)
    queries /= np.linalg.norm(queries, axis=1, keepdims=True)
    e_idx, e_sims = neighbours(queries, corpus, k=3, exact=True)
    a_idx, a_sims = neighbours(queries, corpus, k=3, exact=False)
    assert (a_idx[:, 0] == e_idx[:, 0]).mean() >= 0.98
    assert np.allclose(a_sims[:, 0], e_sims[:, 0], atol=1e-4)


def test_empty_inputs() -> None:
    idx, sims = neighbours(np.zeros((0, 4), np.float32), np.zeros((0, 4), np.float32), k=3)
    assert idx.shape[0] == 0 and sims.shape[0] == 0
