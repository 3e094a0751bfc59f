"""Facility location: picks that maximise how well the pool is covered, sum_i max_pick cos(i, pick).

Greedy with lazy gain updates (Minoux): a record's gain can only shrink as
picks are added, so a stale gain is an upper bound and most records are never
re-evaluated.  Pools above :data:`PARTITION` records are split into seeded
random partitions; each nominates twice its share of N by the same greedy
over itself, and the final greedy chooses among the nominees by their gain
over a seeded sample of at most :data:`GROUND` pool records (GreeDi-style).
"""

from __future__ import annotations

import heapq
from collections.abc import Callable

import numpy as np

from instructkit.select.pool import Budget, Picks, Pool

PARTITION = 4096
GROUND = 8192


def facility(pool: Pool, budget: Budget, seed: int) -> Picks:
    n = len(pool)
    vectors = pool.vectors
    rng = np.random.default_rng(seed)
    if n <= PARTITION:
        candidates = np.arange(n)
    else:
        parts = np.array_split(rng.permutation(n), -(-n // PARTITION))
        nominees = []
        for part in parts:
            part = np.sort(part)
            share = min(len(part), 2 * -(-budget.n * len(part) // n) + 1)
            local, _ = lazy_greedy(_cover(vectors[part], vectors[part]), share)
            nominees.append(part[local])
        candidates = np.sort(np.concatenate(nominees))
    ground = np.arange(n) if n <= GROUND else np.sort(rng.choice(n, GROUND, replace=False))
    chosen, refused = lazy_greedy(
        _cover(vectors[candidates], vectors[ground]),
        budget.n,
        refuses=lambda c: budget.refuses(int(candidates[c])),
        take=lambda c: budget.take(int(candidates[c])),
    )
    return Picks(
        [int(candidates[c]) for c in chosen],
        {int(candidates[c]): why for c, why in refused.items()},
    )


def _cover(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Similarity of each candidate row to each ground row, negative cosines counted as 0."""
    sims = a @ b.T
    np.maximum(sims, 0.0, out=sims)
    return sims


def lazy_greedy(
    sims: np.ndarray,
    k: int,
    refuses: Callable[[int], str | None] | None = None,
    take: Callable[[int], None] | None = None,
) -> tuple[list[int], dict[int, str]]:
    """Up to ``k`` rows of ``sims`` (candidates x ground) chosen greedily by coverage gain."""
    cover = np.zeros(sims.shape[1], sims.dtype)
    heap = [(-float(g), c) for c, g in enumerate(sims.sum(axis=1))]
    heapq.heapify(heap)
    chosen: list[int] = []
    refused: dict[int, str] = {}
    while heap and len(chosen) < k:
        _, c = heapq.heappop(heap)
        gain = float(np.maximum(sims[c] - cover, 0.0).sum())
        if heap and gain < -heap[0][0]:
            heapq.heappush(heap, (-gain, c))
            continue
        why = refuses(c) if refuses else None
        if why:
            refused[c] = why
            continue
        chosen.append(c)
        if take:
            take(c)
        np.maximum(cover, sims[c], out=cover)
    return chosen, refused
