"""Deita's score-first diversity filter, as its code does it.

Walk the records from the best score down; keep one unless its cosine to a
record already kept exceeds the threshold (Deita's default is 0.9; ``select``'s
is tuned per encoder, since cosines differ between encoders); stop at N.
Unlike a filter that compares each record with its nearest neighbour over all
records, two near-duplicate top records never drop each other: the first is kept.
"""

from __future__ import annotations

import numpy as np

from instructkit.select.pool import Budget, Picks, Pool


def deita(pool: Pool, budget: Budget, threshold: float) -> Picks:
    vectors = pool.vectors
    kept = np.zeros((min(budget.n, len(pool)), vectors.shape[1]), np.float32)
    picks: list[int] = []
    details: dict[int, str] = {}
    for i in pool.rank_order().tolist():
        if budget.full:
            break
        if picks:
            sims = kept[: len(picks)] @ vectors[i]
            j = int(np.argmax(sims))
            if sims[j] > threshold:
                details[i] = _similar(pool, i, picks[j], float(sims[j]), threshold)
                continue
        why = budget.refuses(i)
        if why:
            details[i] = why
            continue
        kept[len(picks)] = vectors[i]
        picks.append(i)
        budget.take(i)
    return Picks(picks, details)


def _similar(pool: Pool, i: int, k: int, sim: float, threshold: float) -> str:
    higher = (
        "which scored higher"
        if pool.score[k] > pool.score[i]
        else "which scored the same and comes first in the input"
    )
    return (
        f"similarity {sim:.2f} to {pool.ids[k]}, {higher} "
        f"({pool.score[k]:.4g} vs {pool.score[i]:.4g}; --threshold {threshold})"
    )
