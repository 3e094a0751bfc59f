"""Greedy k-center: each pick is the record farthest (lowest best cosine) from every pick so far.

It spreads the picks over the embedding space (the 2-approximation of the
minimax radius) and ignores the score except for the first pick, the best
scoring record.  Equal distances go to the earlier record in the input; rows
without a vector (zero: texts the encoder cannot compare) come last.
"""

from __future__ import annotations

import numpy as np

from instructkit.select.pool import Budget, Picks, Pool


def kcenter(pool: Pool, budget: Budget) -> Picks:
    vectors = pool.vectors
    n = len(pool)
    # Rows without a vector (texts the encoder cannot compare) count as covered: picked last.
    best_sim = np.where(np.abs(vectors).sum(axis=1) > 0, -np.inf, 1.0).astype(np.float32)
    closed = np.zeros(n, bool)  # picked, or refused by a budget (permanently: budgets only fill)
    picks: list[int] = []
    details: dict[int, str] = {}
    queue = iter(pool.rank_order().tolist())  # the first pick: the best admissible score
    while not budget.full:
        if picks:
            key = np.where(closed, np.inf, best_sim)
            i = int(np.argmin(key))
            if closed[i]:  # every row is picked or refused
                break
        else:
            i = next(queue, -1)
            if i < 0:
                break
            if closed[i]:
                continue
        why = budget.refuses(i)
        closed[i] = True
        if why:
            details[i] = why
            continue
        picks.append(i)
        budget.take(i)
        np.maximum(best_sim, vectors @ vectors[i], out=best_sim)
    return Picks(picks, details)
